//! Configuration: YAML text -> raw (serde, unknown keys rejected) -> validated -> typed.
//! Every error names the file, the line and the key. `diff` tells reload what changed;
//! `summary` and `canonical` are what `--check` prints.

mod canonical;
mod diff;
mod hint;
mod locate;
mod raw;
mod summary;
mod validate;
mod yaml_error;

pub use validate::{
    AS_TRANS, DEFAULT_CONNECT_RETRY, DEFAULT_HOLD_TIME, DEFAULT_PORT, MAX_DESCRIPTION, MAX_WORKERS,
};

use crate::wire::Family;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Where it was read from (for messages and reload).
    pub path: PathBuf,
    pub asn: u32,
    pub router_id: Ipv4Addr,
    /// Defaults to `router_id`.
    pub cluster_id: Ipv4Addr,
    /// Defaults to `[::]:179` and `0.0.0.0:179`.
    pub listen: Vec<SocketAddr>,
    /// Resolved: `auto` becomes the number of available cores (at least 1).
    pub workers: usize,
    /// `workers: auto`, or no `workers` key: the count above follows the machine's cores.
    pub workers_auto: bool,
    pub api: Option<SocketAddr>,
    pub metrics: Option<SocketAddr>,
    pub log: LogLevel,
    pub neighbors: Vec<Neighbor>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbor {
    pub address: IpAddr,
    pub asn: u32,
    pub rr_client: bool,
    pub description: Option<String>,
    /// Remote port when connecting (default 179).
    pub port: u16,
    /// Only accept, never connect.
    pub passive: bool,
    pub local_address: Option<IpAddr>,
    /// Seconds; 0 or 3..=65535 (RFC 4271 §4.2). Keepalive = hold_time / 3.
    pub hold_time: u16,
    /// Seconds between connection attempts (RFC 4271 ConnectRetryTime, default 30).
    pub connect_retry: u16,
    /// Non-empty; default `[ipv4-unicast]`.
    pub families: Vec<Family>,
    /// Prefixes held from this neighbor, summed over its families (looped ones included:
    /// they cost memory too); one more ends the session with Cease 1 (RFC 4486 §4).
    pub max_prefixes: Option<u64>,
    /// After a max_prefixes Cease: seconds to stay down (0: until the next reload).
    /// None: reconnect at once, with the usual back-off.
    pub max_prefixes_restart: Option<u32>,
    /// TCP MD5 signature key (RFC 2385), on the listening and the outbound sockets.
    pub md5_password: Option<Password>,
    /// GTSM (RFC 5082): send with TTL 255 and accept only TTL 255 (one hop).
    pub ttl_security: bool,
    /// Graceful Restart (RFC 4724): advertise the capability and, as the receiving speaker,
    /// keep a restarting peer's routes as stale instead of withdrawing them (default true).
    pub graceful_restart: bool,
    /// Seconds: our advertised Restart Time, and the longest we keep a lost peer's routes
    /// whatever Restart Time it advertised (1..=4095, the field's 12 bits; default 120).
    pub graceful_restart_time: u16,
    /// Seconds the stale routes of a peer that came back wait for its End-of-RIB before
    /// they are withdrawn (FRR's stalepath-time; 1..=4095, default 360).
    pub graceful_restart_stale_time: u16,
}

/// A secret from the config: compared like a string, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

/// A config that cannot be used. `Display` gives `FILE:LINE: KEY: message`, or
/// `FILE: message` for a file that could not be read at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based; None only when the file could not be read at all.
    pub line: Option<usize>,
    /// Dotted path of the offending key, e.g. `neighbors[2].hold_time`.
    pub key: String,
    /// What is wrong, for code and tests; `message` says the same in words, with the fix.
    pub kind: ErrorKind,
    pub message: String,
}

/// What is wrong with a config, one variant per kind of message the reader and the
/// validator give. Not shown to operators (the message is); it lets callers and tests tell
/// errors apart without matching on words.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file could not be read at all.
    Unreadable,
    /// Not YAML the reader accepts: a syntax error, or more than one document.
    Syntax,
    /// A key the schema does not have at that place.
    UnknownKey,
    /// A required key is absent, or the file has no settings at all.
    Missing,
    /// A key given twice in one mapping, or a neighbor, listener or family listed twice.
    Duplicate,
    /// A value of the wrong type or shape: a word for a number, a list for an address.
    WrongType,
    /// A number, or the length of a text, outside `min..=max`. Where 0 has a meaning of
    /// its own below `min` (`hold_time: 0`), the message says so.
    OutOfRange { min: u64, max: u64 },
    /// A value the RFCs set aside: AS 0, AS_TRANS, the BGP identifier 0.0.0.0.
    Reserved,
    /// Not an address of the kind the key takes: not an IP address, IPv6 for a 32-bit
    /// identifier, not a unicast host, no fixed port in IP:PORT.
    BadAddress,
    /// A word that is not one of the names the key takes (a log level, a family).
    UnknownName,
    /// Understood but not carried yet: an eBGP neighbor.
    Unsupported,
    /// An empty list where at least one item is needed.
    Empty,
    /// Text the key cannot carry: control characters.
    BadText,
    /// Two keys that cannot go together: api and metrics on one address, a local address
    /// of the other family, a key that has no effect with (or without) another.
    Conflict,
}

/// What a reload must do: neighbors to start, stop, restart; global changes that need a
/// process restart are reported and not applied.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConfigDiff {
    pub added: Vec<Neighbor>,
    pub removed: Vec<IpAddr>,
    pub changed: Vec<Neighbor>,
    /// Human-readable names of global keys whose change needs a restart (e.g. `asn`).
    pub needs_restart: Vec<&'static str>,
    /// `log` level changed (applied live).
    pub log_changed: bool,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let file = self.file.display();
        match (self.line, self.key.as_str()) {
            (Some(line), key) => write!(f, "{file}:{line}: {key}: {}", self.message),
            (None, "") => write!(f, "{file}: {}", self.message),
            (None, key) => write!(f, "{file}: {key}: {}", self.message),
        }
    }
}

impl ConfigError {
    pub fn new(
        file: impl Into<PathBuf>,
        line: Option<usize>,
        key: impl Into<String>,
        kind: ErrorKind,
        message: impl Into<String>,
    ) -> Self {
        ConfigError {
            file: file.into(),
            line,
            key: key.into(),
            kind,
            message: message.into(),
        }
    }
}

impl LogLevel {
    /// In increasing verbosity.
    pub const ALL: [LogLevel; 5] = [
        LogLevel::Error,
        LogLevel::Warn,
        LogLevel::Info,
        LogLevel::Debug,
        LogLevel::Trace,
    ];

    /// The config spelling, which is also a valid `tracing` / `EnvFilter` directive.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

impl std::fmt::Display for LogLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Neighbor {
    /// Seconds between KEEPALIVEs: a third of the hold time (RFC 4271 §4.4); 0 = none.
    pub fn keepalive(&self) -> u16 {
        self.hold_time / 3
    }
}

impl Config {
    /// The neighbor configured at `address`, if any.
    pub fn neighbor(&self, address: IpAddr) -> Option<&Neighbor> {
        self.neighbors.iter().find(|n| n.address == address)
    }
}

/// Read and parse the file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let message = format!("cannot read: {e}");
        ConfigError::new(path, None, "", ErrorKind::Unreadable, message)
    })?;
    parse(&text, path)
}

/// Parse config text; `path` is used in messages and kept in `Config::path`.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let raw = yaml_error::read(text, path)?;
    validate::validate(raw, path)
}

/// What changed between the running config and a newly loaded one.
pub fn diff(old: &Config, new: &Config) -> ConfigDiff {
    diff::diff(old, new)
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::{parse, Config, ConfigError, ErrorKind};
    use std::path::Path;

    /// Parse `text` as `t.yaml`, expecting success.
    #[track_caller]
    pub fn parsed(text: &str) -> Config {
        parse(text, Path::new("t.yaml")).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Parse `text` expecting failure; the error must name `t.yaml`.
    pub fn error(text: &str) -> ConfigError {
        match parse(text, Path::new("t.yaml")) {
            Ok(c) => panic!("expected an error, got {c:?}"),
            Err(e) => {
                assert_eq!(e.file, Path::new("t.yaml"));
                e
            }
        }
    }

    /// Parse `text` expecting failure, and assert the error as `assert_error` does.
    #[track_caller]
    pub fn assert_refused(text: &str, kind: ErrorKind, line: usize, key: &str, fragments: &[&str]) {
        assert_error(&error(text), kind, line, key, fragments);
    }

    /// Assert kind, line, key, and that the message contains every fragment.
    #[track_caller]
    pub fn assert_error(
        e: &ConfigError,
        kind: ErrorKind,
        line: usize,
        key: &str,
        fragments: &[&str],
    ) {
        assert_eq!((e.line, e.key.as_str()), (Some(line), key), "{e}");
        assert_eq!(e.kind, kind, "{e}");
        for f in fragments {
            assert!(e.message.contains(f), "message lacks {f:?}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
asn: 4200000000
router_id: 10.0.0.1
listen:
  - address: 192.0.2.1
  - address: 2001:db8::1
    port: 1179
workers: 4
api: 127.0.0.1:8179
log: debug
neighbors:
  - address: 192.0.2.10
    asn: 4200000000
  - address: 2001:db8::20
    asn: 4200000000
    rr_client: true
    description: edge-2
    port: 1790
    passive: true
    local_address: 2001:db8::1
    hold_time: 0
    connect_retry: 5
    families: [ipv6-unicast, ipv4-unicast]
    max_prefixes: 1000
    max_prefixes_restart: 60
    ttl_security: false
    graceful_restart_time: 30
    graceful_restart_stale_time: 90
";

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_good_config_parses_to_the_typed_value_with_defaults_applied() {
        let c = parse(GOOD, Path::new("good.yaml")).unwrap_or_else(|e| panic!("{e}"));
        let expected = Config {
            path: PathBuf::from("good.yaml"),
            asn: 4_200_000_000,
            router_id: Ipv4Addr::new(10, 0, 0, 1),
            cluster_id: Ipv4Addr::new(10, 0, 0, 1),
            listen: vec![
                "192.0.2.1:179".parse().unwrap(),
                "[2001:db8::1]:1179".parse().unwrap(),
            ],
            workers: 4,
            workers_auto: false,
            api: Some("127.0.0.1:8179".parse().unwrap()),
            metrics: None,
            log: LogLevel::Debug,
            neighbors: vec![
                Neighbor {
                    address: ip("192.0.2.10"),
                    asn: 4_200_000_000,
                    rr_client: false,
                    description: None,
                    port: 179,
                    passive: false,
                    local_address: None,
                    hold_time: 90,
                    connect_retry: 30,
                    families: vec![Family::Ipv4Unicast],
                    max_prefixes: None,
                    max_prefixes_restart: None,
                    md5_password: None,
                    ttl_security: false,
                    graceful_restart: true,
                    graceful_restart_time: 120,
                    graceful_restart_stale_time: 360,
                },
                Neighbor {
                    address: ip("2001:db8::20"),
                    asn: 4_200_000_000,
                    rr_client: true,
                    description: Some("edge-2".into()),
                    port: 1790,
                    passive: true,
                    local_address: Some(ip("2001:db8::1")),
                    hold_time: 0,
                    connect_retry: 5,
                    families: vec![Family::Ipv6Unicast, Family::Ipv4Unicast],
                    max_prefixes: Some(1000),
                    max_prefixes_restart: Some(60),
                    md5_password: None,
                    ttl_security: false,
                    graceful_restart: true,
                    graceful_restart_time: 30,
                    graceful_restart_stale_time: 90,
                },
            ],
        };
        assert_eq!(c, expected);
    }

    #[test]
    fn a_minimal_config_gets_every_global_default() {
        let c = parse("asn: 65000\nrouter_id: 10.0.0.1\n", Path::new("m.yaml")).unwrap();
        assert_eq!(c.cluster_id, c.router_id);
        assert_eq!(
            c.listen,
            [
                "[::]:179".parse::<SocketAddr>().unwrap(),
                "0.0.0.0:179".parse().unwrap()
            ]
        );
        assert_eq!(c.workers, validate::auto_workers());
        assert!(c.workers >= 1);
        assert!(c.workers_auto);
        assert_eq!((c.api, c.metrics, c.log), (None, None, LogLevel::Info));
        assert!(c.neighbors.is_empty());
    }

    #[test]
    fn workers_auto_means_the_available_cores() {
        let c = test_util::parsed("asn: 1\nrouter_id: 10.0.0.1\nworkers: auto\nneighbors:\n");
        assert_eq!(c.workers, validate::auto_workers());
        assert!(
            c.neighbors.is_empty(),
            "an empty `neighbors:` is an empty list"
        );
    }

    #[test]
    fn the_example_config_in_the_repo_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/reflectd.example.yaml");
        let c = load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.path, path);
        assert_eq!(c.neighbors.len(), 2);
        assert_eq!(c.neighbors[0].max_prefixes, Some(2_000_000));
        assert_eq!(c.listen.len(), 2);
    }

    #[test]
    fn the_demo_config_in_the_repo_loads_with_the_demo_topology() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo.yaml");
        let c = load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.asn, c.router_id), (65000, Ipv4Addr::new(10, 255, 0, 1)));
        assert_eq!(c.listen, ["127.0.0.1:1179".parse::<SocketAddr>().unwrap()]);
        assert_eq!(c.workers, 2);
        assert_eq!(c.api, Some("127.0.0.1:8179".parse().unwrap()));
        assert_eq!(c.metrics, Some("127.0.0.1:9179".parse().unwrap()));
        assert_eq!(c.log, LogLevel::Info);
        let both = vec![Family::Ipv4Unicast, Family::Ipv6Unicast];
        let table: Vec<(IpAddr, bool, Option<&str>, Vec<Family>)> = c
            .neighbors
            .iter()
            .map(|n| {
                (
                    n.address,
                    n.rr_client,
                    n.description.as_deref(),
                    n.families.clone(),
                )
            })
            .collect();
        assert_eq!(
            table,
            [
                (ip("127.0.0.11"), true, Some("edge-1"), both.clone()),
                (ip("127.0.0.12"), true, Some("edge-2"), both.clone()),
                (
                    ip("127.0.0.13"),
                    true,
                    Some("edge-3"),
                    vec![Family::Ipv4Unicast]
                ),
                (ip("127.0.0.21"), false, Some("core-1"), both),
            ]
        );
        assert!(c
            .neighbors
            .iter()
            .all(|n| n.passive && n.hold_time == 30 && n.asn == 65000));
    }

    #[test]
    fn the_example_in_the_config_contract_parses() {
        // Verbatim from design/CONFIG.md.
        let text = "\
asn: 65000                    # local AS (4-byte allowed)
router_id: 10.0.0.1
cluster_id: 10.0.0.1          # optional; default router_id
listen:                       # optional; default [::]:179 and 0.0.0.0:179
  - address: 0.0.0.0
    port: 179
workers: auto                 # pinned worker threads; auto = available cores
api: 127.0.0.1:8179           # JSON API for the CLI and tools; optional
metrics: 127.0.0.1:9179       # Prometheus /metrics; optional
log: info                     # error | warn | info | debug | trace
neighbors:
  - address: 192.0.2.10       # IPv4 or IPv6
    asn: 65000                # equal to local asn: iBGP
    rr_client: true           # RFC 4456 client (default false)
    description: edge-1       # optional
    port: 179                 # remote port when connecting (default 179)
    passive: false            # true: only accept, never connect
    local_address: 192.0.2.1  # optional source address
    hold_time: 90             # seconds; keepalive = hold_time / 3
    families: [ipv4-unicast, ipv6-unicast]   # default: ipv4-unicast
    max_prefixes: 2000000     # optional limit
";
        let c = parse(text, Path::new("contract.yaml")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.neighbors[0].description.as_deref(), Some("edge-1"));
        assert_eq!(c.neighbors[0].local_address, Some(ip("192.0.2.1")));
    }

    #[test]
    fn an_unreadable_file_is_an_error_without_a_line_or_key() {
        let e = load(Path::new("/nonexistent/reflectd.yaml")).unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (None, ""));
        assert_eq!(e.kind, ErrorKind::Unreadable);
        assert_eq!(
            e.to_string(),
            "/nonexistent/reflectd.yaml: cannot read: No such file or directory (os error 2)"
        );
    }

    #[test]
    fn display_is_file_line_key_message() {
        let e = test_util::error("asn: 65000\nrouter_id: 10.0.0.1\nlog: loud\n");
        assert!(
            e.to_string()
                .starts_with("t.yaml:3: log: unknown log level `loud`"),
            "{e}"
        );
        assert_eq!(e.kind, ErrorKind::UnknownName);
    }

    #[test]
    fn keepalive_is_a_third_of_hold_time() {
        let c = parse(GOOD, Path::new("good.yaml")).unwrap();
        assert_eq!(c.neighbors[0].keepalive(), 30);
        assert_eq!(
            c.neighbor(ip("2001:db8::20")).map(Neighbor::keepalive),
            Some(0)
        );
        assert!(c.neighbor(ip("192.0.2.99")).is_none());
    }
}
