//! Writes the per-neighbor series and the RIB's per-family counts at scrape time, from the
//! workers' published statuses and the RIB snapshot, so neither the RIB thread nor the
//! workers do metrics work per route or per message.
//!
//! Why at scrape time and not through the `metrics` recorder: the recorder
//! (metrics-exporter-prometheus) cannot remove a series; its only way to forget one is an
//! idle timeout, which also made counters vanish and left a removed neighbor's gauges
//! frozen until it expired. Written here, a neighbor's series are exactly those of the
//! neighbors configured right now (the listener's index, published by a reload before it
//! returns), with their values as of the worker's last publish (at most one tick old); a
//! neighbor that is down shows its state and zero prefixes for its configured families.

use crate::fsm::State;
use crate::listener::NeighborIndex;
use crate::metrics::{self as m, Page};
use crate::rib::snapshot::RibSnapshot;
use crate::wire::{Family, MessageType};
use crate::worker::status::{MessageCounts, NeighborStatus};
use std::time::Instant;

/// Every FSM state, in BGP4-MIB order, with its stateset label (the MIB's lower-case names).
const STATES: [(State, &str); 6] = [
    (State::Idle, "idle"),
    (State::Connect, "connect"),
    (State::Active, "active"),
    (State::OpenSent, "opensent"),
    (State::OpenConfirm, "openconfirm"),
    (State::Established, "established"),
];

/// The statuses of the configured neighbors, by address. A status whose neighbor was
/// removed (or replaced by a changed one, which gets a new peer id) is left out even if its
/// worker has not published since.
pub fn configured(lists: &[&[NeighborStatus]], index: &NeighborIndex) -> Vec<NeighborStatus> {
    let mut out: Vec<NeighborStatus> = lists
        .iter()
        .flat_map(|l| l.iter())
        .filter(|s| index.get(&s.address).is_some_and(|a| a.peer == s.peer))
        .cloned()
        .collect();
    out.sort_by_key(|s| s.address);
    out
}

/// Appends every per-neighbor family and the RIB's per-family counts to `page`.
pub fn render(page: &mut Page, neighbors: &[NeighborStatus], rib: &RibSnapshot, now: Instant) {
    let addrs: Vec<String> = neighbors.iter().map(|n| n.address.to_string()).collect();
    let each = || neighbors.iter().zip(addrs.iter().map(String::as_str));

    for (n, a) in each() {
        let asn = n.asn.to_string();
        page.sample(
            m::NEIGHBOR_INFO,
            &[
                ("neighbor", a),
                ("remote_as", &asn),
                ("description", n.description.as_deref().unwrap_or("")),
                ("rr_client", if n.rr_client { "true" } else { "false" }),
            ],
            1u64,
        );
    }
    for (n, a) in each() {
        page.sample(
            m::NEIGHBOR_STATE,
            &[("neighbor", a)],
            u64::from(n.fsm_state.as_u8()),
        );
    }
    for (n, a) in each() {
        for (st, label) in STATES {
            let on = u64::from(n.fsm_state == st);
            page.sample(
                m::NEIGHBOR_STATE_SET,
                &[("neighbor", a), ("state", label)],
                on,
            );
        }
    }
    for (n, a) in each() {
        let up = if n.fsm_state == State::Established {
            now.saturating_duration_since(n.since).as_secs_f64()
        } else {
            0.0
        };
        page.sample(m::NEIGHBOR_UPTIME, &[("neighbor", a)], up);
    }
    for (n, a) in each() {
        let c = n.counters.established;
        page.sample(m::NEIGHBOR_ESTABLISHED, &[("neighbor", a)], c);
    }
    type Counts = fn(&NeighborStatus) -> &MessageCounts;
    let by_type: [(&str, Counts); 2] = [
        (m::NEIGHBOR_MESSAGES_IN, |n| &n.counters.msgs_in),
        (m::NEIGHBOR_MESSAGES_OUT, |n| &n.counters.msgs_out),
    ];
    for (name, counts) in by_type {
        for (n, a) in each() {
            for (t, v) in counts(n).iter() {
                page.sample(name, &[("neighbor", a), ("type", t.name())], v);
            }
        }
    }
    type Pick = fn(&NeighborStatus) -> u64;
    let per_neighbor: [(&str, Pick); 5] = [
        (m::NEIGHBOR_UPDATES_IN, |n| {
            n.counters.msgs_in[MessageType::Update]
        }),
        (m::NEIGHBOR_UPDATES_OUT, |n| {
            n.counters.msgs_out[MessageType::Update]
        }),
        (m::NEIGHBOR_BYTES_IN, |n| n.counters.bytes_in),
        (m::NEIGHBOR_BYTES_OUT, |n| n.counters.bytes_out),
        (m::NEIGHBOR_OUTPUT_QUEUE_BYTES, |n| n.output_queue_bytes),
    ];
    for (name, value) in per_neighbor {
        for (n, a) in each() {
            page.sample(name, &[("neighbor", a)], value(n));
        }
    }
    for (name, inbound) in [
        (m::NEIGHBOR_NOTIFICATIONS_OUT, false),
        (m::NEIGHBOR_NOTIFICATIONS_IN, true),
    ] {
        for (n, a) in each() {
            let map = if inbound {
                &n.counters.notif_in
            } else {
                &n.counters.notif_out
            };
            let mut seen: Vec<(&(u8, u8), &u64)> = map.iter().collect();
            seen.sort_unstable();
            for (&(code, sub), &v) in seen {
                let (code, sub) = (code.to_string(), sub.to_string());
                let labels = [("neighbor", a), ("code", &code), ("subcode", &sub)];
                page.sample(name, &labels, v);
            }
        }
    }
    for (n, a) in each() {
        let c = &n.counters;
        for (action, v) in [
            ("treat_as_withdraw", c.treat_as_withdraw),
            ("attribute_discard", c.attr_discard),
        ] {
            page.sample(
                m::NEIGHBOR_ATTR_ERRORS,
                &[("neighbor", a), ("action", action)],
                v,
            );
        }
    }
    let prefixes: Vec<Vec<(Family, [u64; 3])>> = neighbors
        .iter()
        .map(|n| neighbor_prefixes(n, rib))
        .collect();
    for (i, name) in [
        m::NEIGHBOR_PREFIXES_RECEIVED,
        m::NEIGHBOR_PREFIXES_ACCEPTED,
        m::NEIGHBOR_PREFIXES_ADVERTISED,
    ]
    .into_iter()
    .enumerate()
    {
        for (per_family, a) in prefixes.iter().zip(addrs.iter()) {
            for (fam, counts) in per_family {
                page.sample(name, &[("neighbor", a), ("family", fam.name())], counts[i]);
            }
        }
    }

    for f in &rib.families {
        page.sample(
            m::RIB_PREFIXES,
            &[("family", f.family.name())],
            f.prefixes as u64,
        );
    }
    for f in &rib.families {
        page.sample(m::RIB_PATHS, &[("family", f.family.name())], f.paths as u64);
    }
}

/// (received, accepted, advertised) per family: every configured family (0 while the
/// session is down or the RIB holds nothing of it), then any other the RIB reports.
fn neighbor_prefixes(n: &NeighborStatus, rib: &RibSnapshot) -> Vec<(Family, [u64; 3])> {
    let mut out: Vec<(Family, [u64; 3])> = n.config.families.iter().map(|f| (*f, [0; 3])).collect();
    if let Some(pc) = rib.peers.iter().find(|p| p.peer == n.peer) {
        for &(fam, received, accepted, advertised) in &pc.per_family {
            let counts = [received, accepted, advertised];
            match out.iter_mut().find(|(f, _)| *f == fam) {
                Some(slot) => slot.1 = counts,
                None => out.push((fam, counts)),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listener::Admit;
    use crate::rib::snapshot::PeerCounts;
    use crate::worker::status::Counters;
    use std::sync::Arc;

    fn status(peer: u32, address: &str, state: State) -> NeighborStatus {
        let text = format!(
            "asn: 65000\nrouter_id: 10.0.0.1\nneighbors:\n  - address: {address}\n    asn: 65000\n    families: [ipv4-unicast, ipv6-unicast]\n"
        );
        let cfg =
            crate::config::parse(&text, std::path::Path::new("test.yaml")).expect("test config");
        let n = Arc::new(cfg.neighbors[0].clone());
        NeighborStatus {
            peer,
            address: n.address,
            asn: n.asn,
            description: None,
            rr_client: false,
            state: state.name(),
            state_seconds: 0,
            remote_id: None,
            families: Vec::new(),
            hold_time: None,
            established_transitions: 0,
            messages_received: 0,
            messages_sent: 0,
            updates_received: 0,
            updates_sent: 0,
            last_error: None,
            output_queue_bytes: 0,
            fsm_state: state,
            since: Instant::now(),
            counters: Counters::default(),
            config: n,
        }
    }

    fn index(entries: &[(&str, u32)]) -> NeighborIndex {
        entries
            .iter()
            .map(|(a, peer)| {
                let admit = Admit {
                    peer: *peer,
                    worker: 0,
                    gtsm: false,
                    md5: None,
                };
                (a.parse().expect("address"), admit)
            })
            .collect()
    }

    fn page(statuses: &[NeighborStatus], index: &NeighborIndex, rib: &RibSnapshot) -> String {
        let mut p = Page::default();
        render(&mut p, &configured(&[statuses], index), rib, Instant::now());
        p.text
    }

    #[test]
    fn a_neighbor_no_longer_in_the_index_has_no_series_even_before_its_worker_publishes() {
        let up = status(1, "192.0.2.1", State::Established);
        let removed = status(2, "192.0.2.2", State::Established);
        // A changed neighbor comes back under a new peer id; the old status is not it.
        let replaced = status(3, "192.0.2.3", State::Established);
        let idx = index(&[("192.0.2.1", 1), ("192.0.2.3", 4)]);
        let text = page(&[up, removed, replaced], &idx, &RibSnapshot::default());
        assert!(text.contains("neighbor=\"192.0.2.1\""), "{text}");
        assert!(!text.contains("192.0.2.2"), "{text}");
        assert!(!text.contains("192.0.2.3"), "{text}");
    }

    #[test]
    fn a_down_neighbor_shows_its_state_and_zero_prefixes_for_each_configured_family() {
        let down = status(1, "192.0.2.1", State::Active);
        let idx = index(&[("192.0.2.1", 1)]);
        // The RIB dropped the peer's counts when its session ended.
        let text = page(&[down], &idx, &RibSnapshot::default());
        for fam in ["ipv4-unicast", "ipv6-unicast"] {
            let line = format!(
                "reflectd_neighbor_prefixes_received{{neighbor=\"192.0.2.1\",family=\"{fam}\"}} 0\n"
            );
            assert!(text.contains(&line), "{text}");
        }
        assert!(text.contains("reflectd_neighbor_session_state{neighbor=\"192.0.2.1\"} 3\n"));
        assert!(text.contains("reflectd_neighbor_uptime_seconds{neighbor=\"192.0.2.1\"} 0\n"));
        for (st, on) in [("active", 1), ("established", 0), ("idle", 0)] {
            let line =
                format!("reflectd_neighbor_state{{neighbor=\"192.0.2.1\",state=\"{st}\"}} {on}\n");
            assert!(text.contains(&line), "{text}");
        }
        assert_eq!(text.matches("reflectd_neighbor_state{").count(), 6);
    }

    #[test]
    fn an_established_neighbor_shows_the_ribs_counts_and_its_counters() {
        let mut up = status(7, "2001:db8::7", State::Established);
        up.counters.msgs_in = [1, 5, 0, 3, 2].into();
        up.counters.notif_out.insert((6, 4), 2);
        up.output_queue_bytes = 4096;
        let idx = index(&[("2001:db8::7", 7)]);
        let rib = RibSnapshot {
            peers: vec![PeerCounts {
                peer: 7,
                per_family: vec![(Family::Ipv6Unicast, 10, 9, 8)],
            }],
            ..RibSnapshot::default()
        };
        let text = page(&[up], &idx, &rib);
        for line in [
            "reflectd_neighbor_prefixes_received{neighbor=\"2001:db8::7\",family=\"ipv6-unicast\"} 10\n",
            "reflectd_neighbor_prefixes_accepted{neighbor=\"2001:db8::7\",family=\"ipv6-unicast\"} 9\n",
            "reflectd_neighbor_prefixes_advertised{neighbor=\"2001:db8::7\",family=\"ipv6-unicast\"} 8\n",
            "reflectd_neighbor_prefixes_received{neighbor=\"2001:db8::7\",family=\"ipv4-unicast\"} 0\n",
            "reflectd_neighbor_messages_received_total{neighbor=\"2001:db8::7\",type=\"route_refresh\"} 2\n",
            "reflectd_neighbor_updates_received_total{neighbor=\"2001:db8::7\"} 5\n",
            "reflectd_neighbor_notifications_sent_total{neighbor=\"2001:db8::7\",code=\"6\",subcode=\"4\"} 2\n",
            "reflectd_neighbor_output_queue_bytes{neighbor=\"2001:db8::7\"} 4096\n",
            "reflectd_neighbor_state{neighbor=\"2001:db8::7\",state=\"established\"} 1\n",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }
}
