//! `reflectd --config X --check`: a short, deterministic, human summary of a valid config.

use super::Config;
use std::fmt::Write as _;

impl Config {
    /// A few lines for operators: identity, sockets, workers, and a table of neighbors in
    /// config order. Same config, same text.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let clients = self.neighbors.iter().filter(|n| n.rr_client).count();
        let listen: Vec<String> = self.listen.iter().map(|a| a.to_string()).collect();
        let opt = |a: Option<std::net::SocketAddr>| a.map_or("off".to_string(), |a| a.to_string());
        // Writing to a String cannot fail.
        let _ = writeln!(s, "config {}", self.path.display());
        let _ = writeln!(
            s,
            "  AS {}, router id {}, cluster id {}",
            self.asn, self.router_id, self.cluster_id
        );
        let _ = writeln!(s, "  listen {}", listen.join(", "));
        let _ = writeln!(s, "  workers {}, log {}", self.workers, self.log);
        let _ = writeln!(s, "  api {}, metrics {}", opt(self.api), opt(self.metrics));
        let plural = if self.neighbors.len() == 1 { "" } else { "s" };
        let _ = writeln!(
            s,
            "  {} neighbor{plural} ({clients} route-reflector client{})",
            self.neighbors.len(),
            if clients == 1 { "" } else { "s" }
        );
        if self.neighbors.is_empty() {
            return s;
        }

        let header = [
            "ADDRESS",
            "ASN",
            "CLIENT",
            "PASSIVE",
            "FAMILIES",
            "DESCRIPTION",
        ];
        let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
        let rows: Vec<[String; 6]> = self
            .neighbors
            .iter()
            .map(|n| {
                let fams: Vec<&str> = n.families.iter().map(|f| f.name()).collect();
                [
                    n.address.to_string(),
                    n.asn.to_string(),
                    yes_no(n.rr_client),
                    yes_no(n.passive),
                    fams.join(","),
                    n.description.clone().unwrap_or_default(),
                ]
            })
            .collect();
        let mut width = header.map(str::len);
        for row in &rows {
            for (w, cell) in width.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut line = |cells: &[&str]| {
            let mut l = String::from("   ");
            for (cell, w) in cells.iter().zip(width) {
                let _ = write!(l, " {cell:<w$}");
            }
            let _ = writeln!(s, "{}", l.trim_end());
        };
        line(&header);
        for row in &rows {
            line(&row.each_ref().map(String::as_str));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::super::test_util::parsed;
    use std::path::Path;

    #[test]
    fn the_summary_names_identity_sockets_and_a_neighbor_table() {
        let text = "\
asn: 65000
router_id: 10.0.0.1
listen: [{address: 127.0.0.1, port: 1179}]
workers: 2
api: 127.0.0.1:8179
neighbors:
  - {address: 192.0.2.1, asn: 65000, rr_client: true, description: edge-1,
     families: [ipv4-unicast, ipv6-unicast]}
  - {address: 2001:db8::2, asn: 65000, passive: true}
";
        let c = parse(text, Path::new("r.yaml")).unwrap();
        let expected = "\
config r.yaml
  AS 65000, router id 10.0.0.1, cluster id 10.0.0.1
  listen 127.0.0.1:1179
  workers 2, log info
  api 127.0.0.1:8179, metrics off
  2 neighbors (1 route-reflector client)
    ADDRESS     ASN   CLIENT PASSIVE FAMILIES                  DESCRIPTION
    192.0.2.1   65000 yes    no      ipv4-unicast,ipv6-unicast edge-1
    2001:db8::2 65000 no     yes     ipv4-unicast
";
        assert_eq!(c.summary(), expected);
        assert_eq!(c.summary(), c.clone().summary(), "deterministic");
    }

    #[test]
    fn a_config_without_neighbors_says_so_and_has_no_table() {
        let c = parsed("asn: 65000\nrouter_id: 10.0.0.1\nworkers: 1\n");
        let s = c.summary();
        assert!(
            s.contains("  0 neighbors (0 route-reflector clients)\n"),
            "{s}"
        );
        assert!(s.contains("listen [::]:179, 0.0.0.0:179"), "{s}");
        assert!(!s.contains("ADDRESS"));
    }
}
