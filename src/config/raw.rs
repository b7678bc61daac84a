//! Raw configuration: the YAML shape exactly as written, checked only for structure.
//!
//! Every struct rejects unknown keys. Values keep loose types (`String` for addresses,
//! `u64` for numbers) and their source location (`Spanned`), so that `validate` can range-check
//! them and name the line and the fix. Nothing here knows about BGP rules.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::fmt;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub asn: Spanned<u64>,
    pub router_id: Spanned<String>,
    #[serde(default)]
    pub cluster_id: Option<Spanned<String>>,
    #[serde(default)]
    pub listen: Option<Spanned<Vec<RawListen>>>,
    #[serde(default)]
    pub workers: Option<Spanned<RawWorkers>>,
    #[serde(default)]
    pub api: Option<Spanned<String>>,
    #[serde(default)]
    pub metrics: Option<Spanned<String>>,
    #[serde(default)]
    pub log: Option<Spanned<String>>,
    #[serde(default)]
    pub neighbors: Option<Vec<RawNeighbor>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawListen {
    pub address: Spanned<String>,
    #[serde(default)]
    pub port: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNeighbor {
    pub address: Spanned<String>,
    pub asn: Spanned<u64>,
    #[serde(default)]
    pub rr_client: Option<bool>,
    #[serde(default)]
    pub description: Option<Spanned<String>>,
    #[serde(default)]
    pub port: Option<Spanned<u64>>,
    #[serde(default)]
    pub passive: Option<bool>,
    #[serde(default)]
    pub local_address: Option<Spanned<String>>,
    #[serde(default)]
    pub hold_time: Option<Spanned<u64>>,
    #[serde(default)]
    pub connect_retry: Option<Spanned<u64>>,
    #[serde(default)]
    pub families: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub max_prefixes: Option<Spanned<u64>>,
    #[serde(default)]
    pub max_prefixes_restart: Option<Spanned<u64>>,
    #[serde(default)]
    pub md5_password: Option<Spanned<String>>,
    #[serde(default)]
    pub ttl_security: Option<bool>,
    #[serde(default)]
    pub graceful_restart: Option<bool>,
    #[serde(default)]
    pub graceful_restart_time: Option<Spanned<u64>>,
    #[serde(default)]
    pub graceful_restart_stale_time: Option<Spanned<u64>>,
}

/// `workers: auto` or `workers: N`; the range is checked in `validate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RawWorkers {
    Auto,
    Count(u64),
    /// Any other word: kept so `validate` can say what is accepted.
    Other(String),
}

impl<'de> Deserialize<'de> for RawWorkers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawWorkers;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`auto` or a number of worker threads")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawWorkers, E> {
                Ok(RawWorkers::Count(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawWorkers, E> {
                Ok(u64::try_from(v).map_or(RawWorkers::Other(v.to_string()), RawWorkers::Count))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawWorkers, E> {
                Ok(if v == "auto" {
                    RawWorkers::Auto
                } else {
                    RawWorkers::Other(v.to_string())
                })
            }
        }
        d.deserialize_any(V)
    }
}
