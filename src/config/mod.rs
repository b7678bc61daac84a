//! Configuration: YAML text -> raw (serde, unknown keys rejected) -> validated -> typed.
//! Every error names the file, the line and the key. `diff` tells reload what changed.

mod diff;
mod hint;
mod locate;
mod raw;
mod summary;
mod validate;
mod yaml_error;

pub use validate::{
    AS_TRANS, DEFAULT_CONNECT_RETRY, DEFAULT_HOLD_TIME, DEFAULT_PORT, MAX_DESCRIPTION, MAX_WORKERS,
    SUPPORTED_FAMILIES,
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
    pub max_prefixes: Option<u64>,
}

/// A config that cannot be used. `Display` gives `FILE:LINE: KEY: message`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}:{}: {key}: {message}", file.display(), line.map_or("?".to_string(), |l| l.to_string()))]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based; None only when the file could not be read at all.
    pub line: Option<usize>,
    /// Dotted path of the offending key, e.g. `neighbors[2].hold_time`.
    pub key: String,
    pub message: String,
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

impl ConfigError {
    pub fn new(
        file: impl Into<PathBuf>,
        line: Option<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ConfigError {
            file: file.into(),
            line,
            key: key.into(),
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
        ConfigError::new(path, None, "", format!("cannot read the config file: {e}"))
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
