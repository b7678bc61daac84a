//! What a SIGHUP reload must do: compare two validated configs.
//!
//! Neighbors are matched by address. Global keys that the running process cannot change in
//! place (sockets already bound, threads already pinned, identity already announced) are
//! listed in `needs_restart`; the reload applies everything else and logs those.

use super::{Config, ConfigDiff};

pub(super) fn diff(old: &Config, new: &Config) -> ConfigDiff {
    let mut d = ConfigDiff::default();

    for n in &new.neighbors {
        match old.neighbors.iter().find(|o| o.address == n.address) {
            None => d.added.push(n.clone()),
            Some(o) if o != n => d.changed.push(n.clone()),
            Some(_) => {}
        }
    }
    d.removed = old
        .neighbors
        .iter()
        .filter(|o| !new.neighbors.iter().any(|n| n.address == o.address))
        .map(|o| o.address)
        .collect();

    let checks: [(&'static str, bool); 7] = [
        ("asn", old.asn != new.asn),
        ("router_id", old.router_id != new.router_id),
        ("cluster_id", old.cluster_id != new.cluster_id),
        ("listen", old.listen != new.listen),
        ("workers", old.workers != new.workers),
        ("api", old.api != new.api),
        ("metrics", old.metrics != new.metrics),
    ];
    d.needs_restart = checks.iter().filter(|(_, c)| *c).map(|(k, _)| *k).collect();
    d.log_changed = old.log != new.log;
    d
}

impl ConfigDiff {
    /// Nothing to do: no neighbor change, no global change.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.needs_restart.is_empty()
            && !self.log_changed
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse, LogLevel};
    use super::*;
    use std::net::IpAddr;
    use std::path::Path;

    const BASE: &str = "\
asn: 65000
router_id: 10.0.0.1
workers: 2
neighbors:
  - address: 192.0.2.1
    asn: 65000
  - address: 192.0.2.2
    asn: 65000
    rr_client: true
  - address: 192.0.2.3
    asn: 65000
";

    fn cfg(text: &str) -> Config {
        parse(text, Path::new("test.yaml")).unwrap_or_else(|e| panic!("{e}"))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn identical_configs_have_an_empty_diff() {
        let d = diff(&cfg(BASE), &cfg(BASE));
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(d, ConfigDiff::default());
    }

    #[test]
    fn neighbors_are_matched_by_address_into_added_removed_and_changed() {
        let new = "\
asn: 65000
router_id: 10.0.0.1
workers: 2
neighbors:
  - address: 192.0.2.3
    asn: 65000
  - address: 192.0.2.2
    asn: 65000
    rr_client: true
    hold_time: 30
  - address: 2001:db8::4
    asn: 65000
";
        let d = diff(&cfg(BASE), &cfg(new));
        assert_eq!(
            d.added.iter().map(|n| n.address).collect::<Vec<_>>(),
            [ip("2001:db8::4")]
        );
        assert_eq!(d.removed, [ip("192.0.2.1")]);
        assert_eq!(d.changed.len(), 1);
        assert_eq!(d.changed[0].address, ip("192.0.2.2"));
        assert_eq!(
            d.changed[0].hold_time, 30,
            "changed carries the new settings"
        );
        assert!(d.needs_restart.is_empty());
        assert!(!d.log_changed);
    }

    #[test]
    fn reordering_neighbors_is_not_a_change() {
        let reordered = "\
asn: 65000
router_id: 10.0.0.1
workers: 2
neighbors:
  - address: 192.0.2.3
    asn: 65000
  - address: 192.0.2.2
    rr_client: true
    asn: 65000
  - address: 192.0.2.1
    asn: 65000
";
        assert!(diff(&cfg(BASE), &cfg(reordered)).is_empty());
    }

    #[test]
    fn global_changes_that_need_a_restart_are_listed_in_key_order() {
        let new = "\
asn: 65001
router_id: 10.0.0.2
cluster_id: 10.0.0.9
listen: [{address: 127.0.0.1, port: 1179}]
workers: 3
api: 127.0.0.1:8179
metrics: 127.0.0.1:9179
log: debug
neighbors: []
";
        let d = diff(&cfg(BASE), &cfg(new));
        assert_eq!(
            d.needs_restart,
            [
                "asn",
                "router_id",
                "cluster_id",
                "listen",
                "workers",
                "api",
                "metrics"
            ]
        );
        assert!(d.log_changed);
        assert_eq!(d.removed.len(), 3);
    }

    #[test]
    fn a_log_level_change_alone_is_applied_live() {
        let mut new = cfg(BASE);
        new.log = LogLevel::Trace;
        let d = diff(&cfg(BASE), &new);
        assert!(d.log_changed);
        assert!(d.needs_restart.is_empty());
        assert!(!d.is_empty());
    }

    #[test]
    fn cluster_id_follows_router_id_when_defaulted() {
        let new = BASE.replace("router_id: 10.0.0.1", "router_id: 10.0.0.7");
        assert_eq!(
            diff(&cfg(BASE), &cfg(&new)).needs_restart,
            ["router_id", "cluster_id"]
        );
    }
}
