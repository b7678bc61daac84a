//! The effective config as YAML: every key in the order of the config contract, defaults
//! filled in, one spelling per value. `reflectd --config X --check --print` prints it, and
//! the golden files under `tests/config/` pin it for every shipped and test config.
//!
//! It parses back to the same config, with one exception: the MD5 password is a secret and
//! is never printed (a comment says whether one is set). `workers: auto` stays `auto`, so the
//! text does not depend on the machine.

use super::{Config, Neighbor};
use std::fmt::{Display, Write as _};

impl Config {
    /// The effective config, as YAML that `config::parse` reads back. Same config, same text.
    pub fn canonical(&self) -> String {
        let mut s = format!(
            "# {}: the effective configuration, defaults filled in\n",
            self.path.display()
        );
        put(&mut s, "", "asn", self.asn);
        put(&mut s, "", "router_id", self.router_id);
        put(&mut s, "", "cluster_id", self.cluster_id);
        put(&mut s, "", "listen", "");
        for l in &self.listen {
            put(&mut s, "  - ", "address", quoted(l.ip()));
            put(&mut s, "    ", "port", l.port());
        }
        let workers = if self.workers_auto {
            "auto".to_string()
        } else {
            self.workers.to_string()
        };
        put(&mut s, "", "workers", workers);
        put(&mut s, "", "api", optional(self.api.map(quoted)));
        put(&mut s, "", "metrics", optional(self.metrics.map(quoted)));
        put(&mut s, "", "log", self.log);
        let none = if self.neighbors.is_empty() { "[]" } else { "" };
        put(&mut s, "", "neighbors", none);
        for n in &self.neighbors {
            neighbor(&mut s, n);
        }
        s
    }
}

fn neighbor(s: &mut String, n: &Neighbor) {
    let families: Vec<&str> = n.families.iter().map(|f| f.name()).collect();
    // serde_json's string is a valid YAML double-quoted scalar (a description has no
    // control characters to escape).
    let description = n.description.as_ref().map(|d| {
        serde_json::to_string(d).unwrap_or_else(|_| format!("\"{}\"", d.escape_default()))
    });
    let i = "    ";
    put(s, "  - ", "address", quoted(n.address));
    put(s, i, "asn", n.asn);
    put(s, i, "rr_client", n.rr_client);
    put(s, i, "description", optional(description));
    put(s, i, "port", n.port);
    put(s, i, "passive", n.passive);
    put(s, i, "local_address", optional(n.local_address.map(quoted)));
    put(s, i, "hold_time", n.hold_time);
    put(s, i, "connect_retry", n.connect_retry);
    put(s, i, "families", format!("[{}]", families.join(", ")));
    put(s, i, "max_prefixes", optional(n.max_prefixes));
    put(
        s,
        i,
        "max_prefixes_restart",
        optional(n.max_prefixes_restart),
    );
    match n.md5_password {
        Some(_) => put(s, i, "# md5_password", "set (not shown)"),
        None => put(s, i, "md5_password", "~"),
    }
    put(s, i, "ttl_security", n.ttl_security);
    put(s, i, "graceful_restart", n.graceful_restart);
    // With graceful restart off the two times are unused, and refused if given.
    let on = |t: u16| optional(n.graceful_restart.then_some(t));
    put(s, i, "graceful_restart_time", on(n.graceful_restart_time));
    put(
        s,
        i,
        "graceful_restart_stale_time",
        on(n.graceful_restart_stale_time),
    );
}

/// `key: value`, or `key:` before a block.
fn put(s: &mut String, indent: &str, key: &str, value: impl Display) {
    let value = value.to_string();
    let sep = if value.is_empty() { "" } else { " " };
    // Writing to a String cannot fail.
    let _ = writeln!(s, "{indent}{key}:{sep}{value}");
}

/// `~` (YAML null: the key is unset) or the value.
fn optional(v: Option<impl Display>) -> String {
    v.map_or_else(|| "~".to_string(), |v| v.to_string())
}

/// Addresses with a colon (IPv6, IP:PORT) in double quotes: a bare `::` or `[::1]:179`
/// means something else to YAML.
fn quoted(v: impl Display) -> String {
    let text = v.to_string();
    if text.contains(':') {
        format!("\"{text}\"")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{error, parsed};
    use super::super::{parse, Config};

    /// Every key set, most to a value other than its default.
    const EVERY_KEY: &str = include_str!("../../tests/config/valid/every-key.yaml");

    fn reparsed(c: &Config) -> Config {
        parse(&c.canonical(), &c.path).unwrap_or_else(|e| panic!("{e}\n{}", c.canonical()))
    }

    /// `c` less its MD5 passwords, which the canonical text leaves out.
    fn without_passwords(c: &Config) -> Config {
        let mut c = c.clone();
        for n in &mut c.neighbors {
            n.md5_password = None;
        }
        c
    }

    #[test]
    fn the_canonical_text_parses_back_to_the_same_config_less_passwords() {
        for text in [EVERY_KEY, "asn: 65000\nrouter_id: 10.0.0.1\n"] {
            let c = parsed(text);
            assert_eq!(reparsed(&c), without_passwords(&c), "{}", c.canonical());
            let c = without_passwords(&c);
            assert_eq!(reparsed(&c).canonical(), c.canonical(), "a fixed point");
        }
    }

    #[test]
    fn defaults_are_written_out_and_auto_workers_stays_auto() {
        let c = parsed(
            "asn: 65000\nrouter_id: 10.0.0.1\nneighbors:\n  - {address: 192.0.2.1, asn: 65000}\n",
        );
        let expected = "\
# t.yaml: the effective configuration, defaults filled in
asn: 65000
router_id: 10.0.0.1
cluster_id: 10.0.0.1
listen:
  - address: \"::\"
    port: 179
  - address: 0.0.0.0
    port: 179
workers: auto
api: ~
metrics: ~
log: info
neighbors:
  - address: 192.0.2.1
    asn: 65000
    rr_client: false
    description: ~
    port: 179
    passive: false
    local_address: ~
    hold_time: 90
    connect_retry: 30
    families: [ipv4-unicast]
    max_prefixes: ~
    max_prefixes_restart: ~
    md5_password: ~
    ttl_security: false
    graceful_restart: true
    graceful_restart_time: 120
    graceful_restart_stale_time: 360
";
        assert_eq!(c.canonical(), expected);
    }

    #[test]
    fn an_md5_password_is_never_printed_but_said_to_be_set() {
        let c = parsed(EVERY_KEY);
        assert!(c.neighbors[0].md5_password.is_some());
        let out = c.canonical();
        assert!(!out.contains("hunter2"), "{out}");
        assert!(
            out.contains("    # md5_password: set (not shown)\n"),
            "{out}"
        );
    }

    #[test]
    fn every_neighbor_key_the_reader_knows_is_printed() {
        // The reader's own list of keys, from the error for one it does not know: a key
        // added to the schema but not here fails this test.
        let e = error(
            "asn: 1\nrouter_id: 10.0.0.1\nneighbors:\n  - {address: 192.0.2.1, asn: 1, zz: 1}\n",
        );
        let (_, keys) = e.message.split_once("valid keys here: ").unwrap();
        let out = parsed(EVERY_KEY).canonical();
        for k in keys.split(", ") {
            assert!(out.contains(&format!(" {k}:")), "{k} missing from:\n{out}");
        }
        let e = error("asn: 1\nrouter_id: 10.0.0.1\nzz: 1\n");
        let (_, keys) = e.message.split_once("valid keys here: ").unwrap();
        for k in keys.split(", ") {
            assert!(out.contains(&format!("\n{k}:")), "{k} missing from:\n{out}");
        }
    }
}
