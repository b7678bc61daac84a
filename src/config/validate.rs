//! Raw -> typed: range checks, address parsing, defaults, and the rules that span keys
//! (duplicate neighbors, iBGP only, address families). Each error names the line of the
//! offending value (from `Spanned`), its dotted key, its kind, and what to write instead.
//!
//! The shapes that recur (a number within bounds, seconds with a default, a key that means
//! nothing without another) are one function each. A neighbor is checked one concern at a
//! time, in the order of its keys in `Neighbor`: with several mistakes in one neighbor, the
//! one reported does not depend on how the checks are grouped.

use super::hint;
use super::raw::{RawConfig, RawListen, RawNeighbor, RawWorkers};
use super::{Config, ConfigError, ErrorKind, LogLevel, Neighbor, Password};
use crate::wire::Family;
use serde_saphyr::Spanned;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

pub const DEFAULT_PORT: u16 = 179;
pub const DEFAULT_HOLD_TIME: u16 = 90;
pub const DEFAULT_CONNECT_RETRY: u16 = 30;
/// Graceful Restart times in seconds (RFC 4724 §3: the Restart Time field has 12 bits).
pub const DEFAULT_GR_TIME: u16 = 120;
pub const DEFAULT_GR_STALE_TIME: u16 = 360;
pub const MAX_GR_TIME: u16 = 4095;
pub const MAX_WORKERS: u64 = 256;
pub const MAX_DESCRIPTION: usize = 80;
/// TCP_MD5SIG_MAXKEYLEN in <linux/tcp.h>.
pub const MAX_MD5_KEY: usize = crate::sockopt::MD5_MAX_KEY;
/// RFC 6793 §9: AS_TRANS stands in for a 4-byte AS in 2-byte fields; never a real AS.
pub const AS_TRANS: u64 = 23456;

/// RFC 4271 §4.2: 0 (no keepalives) or at least 3 seconds.
const HOLD_TIME: Bounds<u16> = Bounds::seconds(3, u16::MAX)
    .or_zero("no keepalives")
    .why("RFC 4271 §4.2")
    .default(DEFAULT_HOLD_TIME);
const CONNECT_RETRY: Bounds<u16> = Bounds::seconds(1, u16::MAX).default(DEFAULT_CONNECT_RETRY);
const GR_TIME: Bounds<u16> = Bounds::seconds(1, MAX_GR_TIME)
    .why("RFC 4724's 12-bit field")
    .default(DEFAULT_GR_TIME);
const GR_STALE_TIME: Bounds<u16> = GR_TIME.default(DEFAULT_GR_STALE_TIME);
const MAX_PREFIXES_RESTART: Bounds<u32> =
    Bounds::seconds(0, u32::MAX).or_zero("stay down until reload");
const PORT: Bounds<u16> = Bounds {
    unit: Unit::Port,
    ..Bounds::seconds(1, u16::MAX).why("BGP is 179")
};

struct Ctx<'a> {
    file: &'a Path,
}

type R<T> = Result<T, ConfigError>;

impl Ctx<'_> {
    /// An error of `kind` on the line of the value `at`.
    fn err<T, V>(
        &self,
        kind: ErrorKind,
        at: &Spanned<V>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> R<T> {
        Err(ConfigError {
            file: self.file.to_path_buf(),
            line: Some(line(at)),
            key: key.into(),
            kind,
            message: message.into(),
        })
    }
}

fn line<T>(s: &Spanned<T>) -> usize {
    usize::try_from(s.referenced.line()).unwrap_or(1).max(1)
}

/// The dotted keys of `neighbors[i]`.
struct Keys(usize);

impl Keys {
    fn at(&self, k: &str) -> String {
        format!("neighbors[{}].{k}", self.0)
    }
}

pub(super) fn validate(raw: RawConfig, file: &Path) -> R<Config> {
    let cx = Ctx { file };
    let asn = asn(&cx, &raw.asn, "asn")?;
    let router_id = bgp_id(&cx, &raw.router_id, "router_id")?;
    let cluster_id = match &raw.cluster_id {
        Some(c) => bgp_id(&cx, c, "cluster_id")?,
        None => router_id,
    };
    let listen = match &raw.listen {
        None => vec![
            SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), DEFAULT_PORT),
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), DEFAULT_PORT),
        ],
        Some(l) => listeners(&cx, l)?,
    };
    let (workers, workers_auto) = match &raw.workers {
        None => (auto_workers(), true),
        Some(w) => workers(&cx, w)?,
    };
    let api = optional(&raw.api, |a| socket(&cx, a, "api"))?;
    let metrics = optional(&raw.metrics, |m| socket(&cx, m, "metrics"))?;
    if let (Some(a), Some(m), Some(raw_m)) = (api, metrics, &raw.metrics) {
        if a == m {
            return cx.err(
                ErrorKind::Conflict,
                raw_m,
                "metrics",
                format!("{m} is also the api address: give metrics its own port"),
            );
        }
    }
    let log = match &raw.log {
        None => LogLevel::Info,
        Some(l) => log_level(&cx, l)?,
    };
    let neighbors = neighbors(&cx, &raw.neighbors.unwrap_or_default(), asn)?;

    Ok(Config {
        path: file.to_path_buf(),
        asn,
        router_id,
        cluster_id,
        listen,
        workers,
        workers_auto,
        api,
        metrics,
        log,
        neighbors,
    })
}

/// Number of available cores, at least 1.
pub(super) fn auto_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().max(1))
}

/// `check` applied to the value of an optional key.
fn optional<V, T>(v: &Option<V>, check: impl FnOnce(&V) -> R<T>) -> R<Option<T>> {
    v.as_ref().map(check).transpose()
}

/// What a bounded number counts, for "`N seconds` is out of range".
#[derive(Clone, Copy)]
enum Unit {
    Seconds,
    Port,
}

/// The whole numbers a key takes: `min..=max`, and 0 where it has a meaning of its own.
struct Bounds<T> {
    min: T,
    max: T,
    /// What 0 means, where 0 is accepted (below `min`, or as `min`).
    zero: Option<&'static str>,
    /// Where the bounds come from, said after them.
    why: Option<&'static str>,
    /// The value when the key is absent, said after the bounds. None: the key is optional,
    /// or (a port) its default goes without saying.
    default: Option<T>,
    unit: Unit,
}

impl<T: Copy + Into<u64> + TryFrom<u64>> Bounds<T> {
    const fn seconds(min: T, max: T) -> Self {
        Bounds {
            min,
            max,
            zero: None,
            why: None,
            default: None,
            unit: Unit::Seconds,
        }
    }

    const fn default(self, default: T) -> Self {
        Bounds {
            default: Some(default),
            ..self
        }
    }

    const fn or_zero(self, meaning: &'static str) -> Self {
        Bounds {
            zero: Some(meaning),
            ..self
        }
    }

    const fn why(self, why: &'static str) -> Self {
        Bounds {
            why: Some(why),
            ..self
        }
    }

    fn accepts(&self, v: u64) -> bool {
        (self.min.into()..=self.max.into()).contains(&v) || (v == 0 && self.zero.is_some())
    }

    /// `0 (no keepalives) or 3 to 65535 (RFC 4271 §4.2)`
    fn advice(&self) -> String {
        let (min, max) = (self.min.into(), self.max.into());
        let range = match self.zero {
            Some(zero) if min == 0 => format!("0 ({zero}) to {max}"),
            Some(zero) => format!("0 ({zero}) or {min} to {max}"),
            None => format!("{min} to {max}"),
        };
        match self.why {
            Some(why) => format!("{range} ({why})"),
            None => range,
        }
    }
}

/// `v` if `b` accepts it, else OutOfRange saying the bounds and the default.
fn bounded<T: Copy + Into<u64> + TryFrom<u64>>(
    cx: &Ctx,
    v: &Spanned<u64>,
    key: &str,
    b: &Bounds<T>,
) -> R<T> {
    match T::try_from(v.value) {
        Ok(t) if b.accepts(v.value) => Ok(t),
        _ => {
            let shown = match b.unit {
                Unit::Seconds => format!("{} seconds", v.value),
                Unit::Port => format!("port {}", v.value),
            };
            let default = b
                .default
                .map_or(String::new(), |d| format!("; the default is {}", d.into()));
            let kind = ErrorKind::OutOfRange {
                min: b.min.into(),
                max: b.max.into(),
            };
            let advice = b.advice();
            cx.err(
                kind,
                v,
                key,
                format!("{shown} is out of range: use {advice}{default}"),
            )
        }
    }
}

/// A number of seconds with a default: `b.default` when the key is absent.
fn seconds<T: Copy + Into<u64> + TryFrom<u64>>(
    cx: &Ctx,
    v: &Option<Spanned<u64>>,
    key: &str,
    b: &Bounds<T>,
) -> R<T> {
    match v {
        Some(v) => bounded(cx, v, key, b),
        None => Ok(b.default.unwrap_or(b.min)),
    }
}

/// An optional port, 179 when absent.
fn port(cx: &Ctx, v: &Option<Spanned<u64>>, key: &str) -> R<u16> {
    v.as_ref()
        .map_or(Ok(DEFAULT_PORT), |p| bounded(cx, p, key, &PORT))
}

/// A key set where another key makes it meaningless.
fn no_effect<T>(cx: &Ctx, v: &Spanned<u64>, key: &str, when: &str, fix: &str) -> R<T> {
    cx.err(
        ErrorKind::Conflict,
        v,
        key,
        format!(
            "has no effect {when}: {fix}remove this key (was {})",
            v.value
        ),
    )
}

fn asn(cx: &Ctx, v: &Spanned<u64>, key: &str) -> R<u32> {
    match v.value {
        0 => cx.err(
            ErrorKind::Reserved,
            v,
            key,
            "AS 0 is reserved (RFC 7607): use your AS number, 1 to 4294967295",
        ),
        AS_TRANS => cx.err(
            ErrorKind::Reserved,
            v,
            key,
            "AS 23456 is AS_TRANS (RFC 6793), a placeholder, not a real AS: use your own AS number",
        ),
        n => u32::try_from(n).or_else(|_| {
            cx.err(
                ErrorKind::OutOfRange {
                    min: 1,
                    max: u32::MAX.into(),
                },
                v,
                key,
                format!("AS {n} is out of range: an AS number is 1 to 4294967295"),
            )
        }),
    }
}

/// A BGP identifier (router_id, cluster_id): a non-zero IPv4 address (RFC 6286, RFC 4456 §7).
fn bgp_id(cx: &Ctx, v: &Spanned<String>, key: &str) -> R<Ipv4Addr> {
    let text = v.value.trim();
    match text.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) if a.is_unspecified() => cx.err(
            ErrorKind::Reserved,
            v,
            key,
            format!(
                "{key} must not be 0.0.0.0: use a unique non-zero IPv4 address, e.g. a loopback"
            ),
        ),
        Ok(IpAddr::V4(a)) => Ok(a),
        Ok(IpAddr::V6(_)) => cx.err(
            ErrorKind::BadAddress,
            v,
            key,
            format!(
                "`{text}` is IPv6, but {key} is a 32-bit identifier: write it as an IPv4 \
                 address (it need not be configured on an interface)"
            ),
        ),
        Err(_) => cx.err(
            ErrorKind::BadAddress,
            v,
            key,
            format!("`{text}` is not an IPv4 address: write four numbers like 10.0.0.1"),
        ),
    }
}

fn ip(cx: &Ctx, v: &Spanned<String>, key: &str) -> R<IpAddr> {
    let text = v.value.trim();
    text.parse::<IpAddr>().or_else(|_| {
        cx.err(
            ErrorKind::BadAddress,
            v,
            key,
            format!(
                "`{text}` is not an IP address: write IPv4 like 192.0.2.1 or IPv6 like 2001:db8::1 \
                 (no prefix length, no port)"
            ),
        )
    })
}

/// A unicast address a BGP session can use at either end. A v4-mapped IPv6 address
/// (`::ffff:a.b.c.d`) is the IPv4 host it maps: that is how the listener sees its
/// connections, and it makes `192.0.2.1` and `::ffff:192.0.2.1` one neighbor for the
/// duplicate check.
fn host_ip(cx: &Ctx, v: &Spanned<String>, key: &str) -> R<IpAddr> {
    let a = ip(cx, v, key)?.to_canonical();
    let bad = match a {
        IpAddr::V4(v4) => v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast(),
        IpAddr::V6(v6) => v6.is_unspecified() || v6.is_multicast(),
    };
    if bad {
        return cx.err(
            ErrorKind::BadAddress,
            v,
            key,
            format!("{a} is not a unicast host address: give the address of one router"),
        );
    }
    Ok(a)
}

fn listeners(cx: &Ctx, l: &Spanned<Vec<RawListen>>) -> R<Vec<SocketAddr>> {
    if l.value.is_empty() {
        return cx.err(
            ErrorKind::Empty,
            l,
            "listen",
            "the list is empty, so no neighbor could connect: add `- address: 0.0.0.0`, \
             or remove `listen` for the default ([::]:179 and 0.0.0.0:179)",
        );
    }
    let mut out: Vec<SocketAddr> = Vec::with_capacity(l.value.len());
    for (i, item) in l.value.iter().enumerate() {
        let address = ip(cx, &item.address, &format!("listen[{i}].address"))?;
        let port = port(cx, &item.port, &format!("listen[{i}].port"))?;
        let sa = SocketAddr::new(address, port);
        if let Some(j) = out.iter().position(|o| *o == sa) {
            return cx.err(
                ErrorKind::Duplicate,
                &item.address,
                format!("listen[{i}]"),
                format!("{sa} is already listed as listen[{j}]: remove one"),
            );
        }
        out.push(sa);
    }
    Ok(out)
}

/// The thread count, and whether it was `auto`.
fn workers(cx: &Ctx, w: &Spanned<RawWorkers>) -> R<(usize, bool)> {
    let range = format!("`auto` or a number of threads from 1 to {MAX_WORKERS}");
    match &w.value {
        RawWorkers::Auto => Ok((auto_workers(), true)),
        RawWorkers::Count(n) if (1..=MAX_WORKERS).contains(n) => {
            Ok((usize::try_from(*n).unwrap_or(1), false))
        }
        RawWorkers::Count(n) => cx.err(
            ErrorKind::OutOfRange {
                min: 1,
                max: MAX_WORKERS,
            },
            w,
            "workers",
            format!("{n} is out of range: use {range}"),
        ),
        RawWorkers::Other(s) => cx.err(
            ErrorKind::WrongType,
            w,
            "workers",
            format!("expected {range}, found `{s}`"),
        ),
    }
}

fn socket(cx: &Ctx, v: &Spanned<String>, key: &str) -> R<SocketAddr> {
    let text = v.value.trim();
    match text.parse::<SocketAddr>() {
        Ok(sa) if sa.port() == 0 => cx.err(
            ErrorKind::BadAddress,
            v,
            key,
            format!("port 0 in `{text}` would pick a random port: give a fixed port, e.g. 127.0.0.1:8179"),
        ),
        Ok(sa) => Ok(sa),
        Err(_) => cx.err(
            ErrorKind::BadAddress,
            v,
            key,
            format!(
                "`{text}` is not an IP:PORT address: write e.g. 127.0.0.1:8179 or [::1]:8179 \
                 (remove the key to disable it)"
            ),
        ),
    }
}

fn log_level(cx: &Ctx, v: &Spanned<String>) -> R<LogLevel> {
    let names: Vec<&str> = LogLevel::ALL.iter().map(|l| l.as_str()).collect();
    let text = v.value.trim();
    match LogLevel::ALL.iter().find(|l| l.as_str() == text) {
        Some(l) => Ok(*l),
        None => cx.err(
            ErrorKind::UnknownName,
            v,
            "log",
            format!(
                "unknown log level `{text}`{}: use one of {}",
                hint::suggestion(text, &names),
                hint::list(&names)
            ),
        ),
    }
}

/// Each neighbor in turn; an address may appear once.
fn neighbors(cx: &Ctx, raw: &[RawNeighbor], local_asn: u32) -> R<Vec<Neighbor>> {
    let mut out: Vec<Neighbor> = Vec::with_capacity(raw.len());
    for (i, rn) in raw.iter().enumerate() {
        let n = neighbor(cx, i, rn, local_asn)?;
        if let Some(j) = out.iter().position(|o| o.address == n.address) {
            return cx.err(
                ErrorKind::Duplicate,
                &rn.address,
                format!("neighbors[{i}].address"),
                format!(
                    "neighbor {} is already defined at line {} (neighbors[{j}]): \
                     each address may appear once; merge the two entries",
                    n.address,
                    line(&raw[j].address)
                ),
            );
        }
        out.push(n);
    }
    Ok(out)
}

/// One neighbor, its keys checked in the order of `Neighbor`'s fields.
fn neighbor(cx: &Ctx, i: usize, n: &RawNeighbor, local_asn: u32) -> R<Neighbor> {
    let k = Keys(i);
    // Identity.
    let address = host_ip(cx, &n.address, &k.at("address"))?;
    let asn = ibgp_asn(cx, &k, &n.asn, local_asn)?;
    let description = optional(&n.description, |d| description(cx, &k, d))?;
    // Transport.
    let port = port(cx, &n.port, &k.at("port"))?;
    let local_address = optional(&n.local_address, |la| local_address(cx, &k, la, address))?;
    // Timers.
    let hold_time = seconds(cx, &n.hold_time, &k.at("hold_time"), &HOLD_TIME)?;
    let connect_retry = seconds(cx, &n.connect_retry, &k.at("connect_retry"), &CONNECT_RETRY)?;
    // What it carries, and how much.
    let families = match &n.families {
        None => vec![Family::Ipv4Unicast],
        Some(f) => families(cx, i, f)?,
    };
    let (max_prefixes, max_prefixes_restart) = limits(cx, &k, n)?;
    // Security and graceful restart.
    let md5_password = optional(&n.md5_password, |p| md5_password(cx, &k, p))?;
    let (graceful_restart, graceful_restart_time, graceful_restart_stale_time) =
        graceful_restart(cx, &k, n)?;

    Ok(Neighbor {
        address,
        asn,
        rr_client: n.rr_client.unwrap_or(false),
        description,
        port,
        passive: n.passive.unwrap_or(false),
        local_address,
        hold_time,
        connect_retry,
        families,
        max_prefixes,
        max_prefixes_restart,
        md5_password,
        ttl_security: n.ttl_security.unwrap_or(false),
        graceful_restart,
        graceful_restart_time,
        graceful_restart_stale_time,
    })
}

/// The neighbor's AS: valid, and the local one (reflectd speaks iBGP only).
fn ibgp_asn(cx: &Ctx, k: &Keys, v: &Spanned<u64>, local_asn: u32) -> R<u32> {
    let asn = asn(cx, v, &k.at("asn"))?;
    if asn != local_asn {
        return cx.err(
            ErrorKind::Unsupported,
            v,
            k.at("asn"),
            format!(
                "AS {asn} differs from the local AS {local_asn}: eBGP neighbors are not supported \
                 yet (reflectd speaks iBGP only); set `asn: {local_asn}`"
            ),
        );
    }
    Ok(asn)
}

/// One plain line of at most `MAX_DESCRIPTION` characters.
fn description(cx: &Ctx, k: &Keys, d: &Spanned<String>) -> R<String> {
    let count = d.value.chars().count();
    if count > MAX_DESCRIPTION {
        return cx.err(
            ErrorKind::OutOfRange {
                min: 0,
                max: MAX_DESCRIPTION as u64,
            },
            d,
            k.at("description"),
            format!("{count} characters is too long: keep it to {MAX_DESCRIPTION} or fewer"),
        );
    }
    if d.value.chars().any(char::is_control) {
        return cx.err(
            ErrorKind::BadText,
            d,
            k.at("description"),
            "control characters (newlines, tabs, ...) are not allowed: use one plain line",
        );
    }
    Ok(d.value.clone())
}

/// A unicast source address of the neighbor address's family.
fn local_address(cx: &Ctx, k: &Keys, la: &Spanned<String>, address: IpAddr) -> R<IpAddr> {
    let a = host_ip(cx, la, &k.at("local_address"))?;
    if a.is_ipv4() != address.is_ipv4() {
        let fam = |x: IpAddr| if x.is_ipv4() { "IPv4" } else { "IPv6" };
        return cx.err(
            ErrorKind::Conflict,
            la,
            k.at("local_address"),
            format!(
                "{a} is {} but the neighbor address {address} is {}: the session's two \
                 ends must be the same family; give an {} local address or remove the key",
                fam(a),
                fam(address),
                fam(address)
            ),
        );
    }
    Ok(a)
}

/// `max_prefixes` (at least 1) and `max_prefixes_restart` (only beside it).
fn limits(cx: &Ctx, k: &Keys, n: &RawNeighbor) -> R<(Option<u64>, Option<u32>)> {
    let max_prefixes = match &n.max_prefixes {
        Some(m) if m.value == 0 => {
            return cx.err(
                ErrorKind::OutOfRange {
                    min: 1,
                    max: u64::MAX,
                },
                m,
                k.at("max_prefixes"),
                "0 would refuse every route: use a limit of at least 1, or remove the key for \
                 no limit",
            )
        }
        m => m.as_ref().map(|m| m.value),
    };
    let key = k.at("max_prefixes_restart");
    let restart = optional(&n.max_prefixes_restart, |r| match max_prefixes {
        None => no_effect(cx, r, &key, "without `max_prefixes`", "add a limit, or "),
        Some(_) => bounded(cx, r, &key, &MAX_PREFIXES_RESTART),
    })?;
    Ok((max_prefixes, restart))
}

/// 1 to `MAX_MD5_KEY` bytes: Linux's TCP_MD5SIG_MAXKEYLEN (RFC 2385 itself sets no limit).
fn md5_password(cx: &Ctx, k: &Keys, p: &Spanned<String>) -> R<Password> {
    let len = p.value.len();
    if len == 0 || len > MAX_MD5_KEY {
        return cx.err(
            ErrorKind::OutOfRange {
                min: 1,
                max: MAX_MD5_KEY as u64,
            },
            p,
            k.at("md5_password"),
            format!(
                "{len} bytes: use 1 to {MAX_MD5_KEY} bytes (the kernel's limit), \
                 the same on both routers"
            ),
        );
    }
    Ok(Password(p.value.clone()))
}

/// `graceful_restart` (default on) and its two times, which mean nothing with it off.
fn graceful_restart(cx: &Ctx, k: &Keys, n: &RawNeighbor) -> R<(bool, u16, u16)> {
    let on = n.graceful_restart.unwrap_or(true);
    let time = |v: &Option<Spanned<u64>>, name: &str, b: &Bounds<u16>| match v {
        Some(t) if !on => no_effect(cx, t, &k.at(name), "with `graceful_restart: false`", ""),
        _ => seconds(cx, v, &k.at(name), b),
    };
    let restart_time = time(&n.graceful_restart_time, "graceful_restart_time", &GR_TIME)?;
    let stale_time = time(
        &n.graceful_restart_stale_time,
        "graceful_restart_stale_time",
        &GR_STALE_TIME,
    )?;
    Ok((on, restart_time, stale_time))
}

fn families(cx: &Ctx, i: usize, f: &Spanned<Vec<Spanned<String>>>) -> R<Vec<Family>> {
    let all: Vec<&str> = Family::ALL.iter().map(|f| f.name()).collect();
    if f.value.is_empty() {
        return cx.err(
            ErrorKind::Empty,
            f,
            format!("neighbors[{i}].families"),
            format!(
                "the list is empty: name at least one family ({}), or remove the key for \
                 ipv4-unicast",
                hint::list(&all)
            ),
        );
    }
    let mut out: Vec<Family> = Vec::with_capacity(f.value.len());
    for (j, name) in f.value.iter().enumerate() {
        let key = format!("neighbors[{i}].families[{j}]");
        let text = name.value.trim();
        let Some(fam) = Family::from_name(text) else {
            return cx.err(
                ErrorKind::UnknownName,
                name,
                key,
                format!(
                    "unknown family `{text}`{}: valid names are {}",
                    hint::suggestion(text, &all),
                    hint::list(&all)
                ),
            );
        };
        if out.contains(&fam) {
            return cx.err(
                ErrorKind::Duplicate,
                name,
                key,
                format!("family {fam} is listed twice: remove one"),
            );
        }
        out.push(fam);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_error, assert_refused, error, parsed};
    use super::super::ErrorKind::*;

    const HEAD: &str = "asn: 65000\nrouter_id: 10.0.0.1\n";

    /// HEAD, then `neighbors:` with one good neighbor (lines 4-5), then `extra` as the second
    /// neighbor's keys (its first key on line 6).
    fn second_neighbor(extra: &str) -> String {
        let keys: Vec<String> = extra.lines().map(|l| format!("    {l}\n")).collect();
        let mut keys = keys.concat();
        keys.replace_range(0..4, "  - ");
        format!("{HEAD}neighbors:\n  - address: 192.0.2.1\n    asn: 65000\n{keys}")
    }

    #[test]
    fn a_bad_neighbor_ip_names_the_key_and_shows_the_right_form() {
        assert_refused(
            &second_neighbor("address: 192.0.2.300\nasn: 65000"),
            BadAddress,
            6,
            "neighbors[1].address",
            &["`192.0.2.300` is not an IP address", "192.0.2.1"],
        );
    }

    #[test]
    fn a_neighbor_address_with_a_prefix_length_is_a_bad_ip() {
        assert_refused(
            &second_neighbor("address: 192.0.2.0/24\nasn: 65000"),
            BadAddress,
            6,
            "neighbors[1].address",
            &["no prefix length"],
        );
    }

    #[test]
    fn a_duplicate_neighbor_names_the_line_of_the_second_and_of_the_first() {
        assert_refused(
            &second_neighbor("address: 192.0.2.1\nasn: 65000"),
            Duplicate,
            6,
            "neighbors[1].address",
            &["192.0.2.1 is already defined at line 4 (neighbors[0])"],
        );
    }

    #[test]
    fn the_same_ipv6_neighbor_written_two_ways_is_a_duplicate() {
        assert_refused(
            &format!(
                "{HEAD}neighbors:\n  - {{address: '2001:db8::1', asn: 65000}}\n  - {{address: '2001:0db8:0::1', asn: 65000}}\n"
            ),
            Duplicate,
            5,
            "neighbors[1].address",
            &["already defined at line 4"],
        );
    }

    #[test]
    fn an_unknown_family_lists_the_valid_names_and_suggests_one() {
        assert_refused(
            &second_neighbor(
                "address: 192.0.2.2\nasn: 65000\nfamilies: [ipv4-unicast, ipv6-unicst]",
            ),
            UnknownName,
            8,
            "neighbors[1].families[1]",
            &[
                "unknown family `ipv6-unicst`",
                "did you mean `ipv6-unicast`?",
                "ipv4-unicast, ipv6-unicast, ipv4-vpn, ipv6-vpn, l2vpn-evpn",
            ],
        );
    }

    #[test]
    fn a_family_listed_twice_is_an_error_on_the_second() {
        assert_refused(
            &second_neighbor(
                "address: 192.0.2.2\nasn: 65000\nfamilies: [ipv4-unicast, ipv4-unicast]",
            ),
            Duplicate,
            8,
            "neighbors[1].families[1]",
            &["listed twice"],
        );
    }

    #[test]
    fn an_empty_family_list_is_an_error() {
        assert_refused(
            &second_neighbor("address: 192.0.2.2\nasn: 65000\nfamilies: []"),
            Empty,
            8,
            "neighbors[1].families",
            &["empty", "remove the key for ipv4-unicast"],
        );
    }

    #[test]
    fn hold_time_of_one_or_two_seconds_is_out_of_range() {
        assert_refused(
            &second_neighbor("address: 192.0.2.2\nasn: 65000\nhold_time: 2"),
            OutOfRange { min: 3, max: 65535 },
            8,
            "neighbors[1].hold_time",
            &["2 seconds is out of range", "0", "3 to 65535"],
        );
    }

    #[test]
    fn hold_time_above_65535_is_out_of_range() {
        assert_refused(
            &second_neighbor("address: 192.0.2.2\nasn: 65000\nhold_time: 65536"),
            OutOfRange { min: 3, max: 65535 },
            8,
            "neighbors[1].hold_time",
            &["65536 seconds is out of range"],
        );
    }

    #[test]
    fn neighbor_port_zero_and_above_65535_are_out_of_range() {
        let e = error(&second_neighbor("address: 192.0.2.2\nasn: 65000\nport: 0"));
        assert_error(
            &e,
            OutOfRange { min: 1, max: 65535 },
            8,
            "neighbors[1].port",
            &["port 0 is out of range", "1 to 65535"],
        );
        assert_refused(
            &second_neighbor("address: 192.0.2.2\nasn: 65000\nport: 70000"),
            OutOfRange { min: 1, max: 65535 },
            8,
            "neighbors[1].port",
            &["port 70000 is out of range"],
        );
    }

    #[test]
    fn listen_port_out_of_range_names_the_listener() {
        assert_refused(
            &format!("{HEAD}listen:\n  - address: 0.0.0.0\n    port: 65536\n"),
            OutOfRange { min: 1, max: 65535 },
            5,
            "listen[0].port",
            &["port 65536 is out of range"],
        );
    }

    #[test]
    fn connect_retry_zero_is_out_of_range() {
        assert_refused(
            &second_neighbor("address: 192.0.2.2\nasn: 65000\nconnect_retry: 0"),
            OutOfRange { min: 1, max: 65535 },
            8,
            "neighbors[1].connect_retry",
            &["out of range", "1 to 65535"],
        );
    }

    #[test]
    fn workers_zero_and_above_256_are_out_of_range() {
        let e = error(&format!("{HEAD}workers: 0\n"));
        assert_error(
            &e,
            OutOfRange { min: 1, max: 256 },
            3,
            "workers",
            &[
                "0 is out of range",
                "`auto` or a number of threads from 1 to 256",
            ],
        );
        assert_refused(
            &format!("{HEAD}workers: 257\n"),
            OutOfRange { min: 1, max: 256 },
            3,
            "workers",
            &["257 is out of range"],
        );
    }

    #[test]
    fn workers_given_as_another_word_says_what_is_accepted() {
        assert_refused(
            &format!("{HEAD}workers: all\n"),
            WrongType,
            3,
            "workers",
            &["expected `auto` or a number", "found `all`"],
        );
    }

    #[test]
    fn asn_zero_is_reserved() {
        assert_refused(
            "asn: 0\nrouter_id: 10.0.0.1\n",
            Reserved,
            1,
            "asn",
            &["AS 0 is reserved", "1 to 4294967295"],
        );
    }

    #[test]
    fn asn_23456_is_as_trans() {
        assert_refused(
            "asn: 23456\nrouter_id: 10.0.0.1\n",
            Reserved,
            1,
            "asn",
            &["AS_TRANS"],
        );
    }

    #[test]
    fn asn_above_32_bits_is_out_of_range() {
        assert_refused(
            "asn: 4294967296\nrouter_id: 10.0.0.1\n",
            OutOfRange {
                min: 1,
                max: 4294967295,
            },
            1,
            "asn",
            &["out of range"],
        );
    }

    #[test]
    fn a_neighbor_asn_zero_is_reserved() {
        assert_refused(
            &second_neighbor("address: 192.0.2.2\nasn: 0"),
            Reserved,
            7,
            "neighbors[1].asn",
            &["AS 0 is reserved"],
        );
    }

    #[test]
    fn an_ebgp_neighbor_is_not_supported_yet() {
        assert_refused(
            &second_neighbor("address: 192.0.2.2\nasn: 65001"),
            Unsupported,
            7,
            "neighbors[1].asn",
            &["eBGP neighbors are not supported yet", "set `asn: 65000`"],
        );
    }

    #[test]
    fn a_local_address_of_the_other_family_is_an_error() {
        assert_refused(
            &second_neighbor("address: 192.0.2.2\nasn: 65000\nlocal_address: 2001:db8::1"),
            Conflict,
            8,
            "neighbors[1].local_address",
            &[
                "2001:db8::1 is IPv6 but the neighbor address 192.0.2.2 is IPv4",
                "same family",
            ],
        );
    }

    #[test]
    fn a_router_id_of_zero_is_refused() {
        assert_refused(
            "asn: 65000\nrouter_id: 0.0.0.0\n",
            Reserved,
            2,
            "router_id",
            &["must not be 0.0.0.0"],
        );
    }

    #[test]
    fn a_router_id_that_is_not_an_address_is_refused() {
        assert_refused(
            "asn: 65000\nrouter_id: core1\n",
            BadAddress,
            2,
            "router_id",
            &["`core1` is not an IPv4 address"],
        );
    }

    #[test]
    fn an_ipv6_cluster_id_is_refused_as_the_wrong_family() {
        assert_refused(
            &format!("{HEAD}cluster_id: 2001:db8::1\n"),
            BadAddress,
            3,
            "cluster_id",
            &["is IPv6", "32-bit identifier"],
        );
    }

    #[test]
    fn a_duplicate_listener_is_an_error_on_the_second() {
        assert_refused(
            &format!("{HEAD}listen:\n  - address: 0.0.0.0\n  - address: 0.0.0.0\n    port: 179\n"),
            Duplicate,
            5,
            "listen[1]",
            &["0.0.0.0:179 is already listed as listen[0]"],
        );
    }

    #[test]
    fn an_empty_listen_list_is_an_error() {
        assert_refused(
            &format!("{HEAD}listen: []\n"),
            Empty,
            3,
            "listen",
            &["empty", "remove `listen` for the default"],
        );
    }

    #[test]
    fn an_api_address_without_a_port_is_an_error() {
        assert_refused(
            &format!("{HEAD}api: 127.0.0.1\n"),
            BadAddress,
            3,
            "api",
            &["not an IP:PORT address", "127.0.0.1:8179"],
        );
    }

    #[test]
    fn metrics_on_the_api_address_is_an_error() {
        assert_refused(
            &format!("{HEAD}api: 127.0.0.1:8179\nmetrics: 127.0.0.1:8179\n"),
            Conflict,
            4,
            "metrics",
            &["also the api address"],
        );
    }

    #[test]
    fn an_unknown_log_level_lists_the_levels() {
        assert_refused(
            &format!("{HEAD}log: warning\n"),
            UnknownName,
            3,
            "log",
            &["did you mean `warn`?", "error, warn, info, debug, trace"],
        );
    }

    #[test]
    fn a_description_over_80_characters_is_too_long() {
        let long = "x".repeat(81);
        assert_refused(
            &second_neighbor(&format!(
                "address: 192.0.2.2\nasn: 65000\ndescription: {long}"
            )),
            OutOfRange { min: 0, max: 80 },
            8,
            "neighbors[1].description",
            &["81 characters is too long", "80"],
        );
    }

    #[test]
    fn max_prefixes_zero_is_refused() {
        assert_refused(
            &second_neighbor("address: 192.0.2.2\nasn: 65000\nmax_prefixes: 0"),
            OutOfRange {
                min: 1,
                max: u64::MAX,
            },
            8,
            "neighbors[1].max_prefixes",
            &["at least 1"],
        );
    }

    #[test]
    fn max_prefixes_restart_without_a_limit_is_refused() {
        assert_refused(
            &second_neighbor("address: 192.0.2.2\nasn: 65000\nmax_prefixes_restart: 30"),
            Conflict,
            8,
            "neighbors[1].max_prefixes_restart",
            &["no effect without `max_prefixes`"],
        );
    }

    #[test]
    fn graceful_restart_times_outside_the_12_bit_field_are_refused() {
        for (k, v) in [
            ("graceful_restart_time", 0),
            ("graceful_restart_stale_time", 4096),
        ] {
            assert_refused(
                &second_neighbor(&format!("address: 192.0.2.2\nasn: 65000\n{k}: {v}")),
                OutOfRange { min: 1, max: 4095 },
                8,
                &format!("neighbors[1].{k}"),
                &[&format!("{v} seconds is out of range"), "1 to 4095"],
            );
        }
    }

    #[test]
    fn graceful_restart_times_with_graceful_restart_off_are_refused() {
        assert_refused(
            &second_neighbor(
                "address: 192.0.2.2\nasn: 65000\ngraceful_restart: false\ngraceful_restart_stale_time: 60",
            ),
            Conflict,
            9,
            "neighbors[1].graceful_restart_stale_time",
            &["no effect with `graceful_restart: false`"],
        );
    }

    #[test]
    fn an_md5_password_longer_than_the_kernel_allows_is_refused() {
        let long = "x".repeat(81);
        assert_refused(
            &second_neighbor(&format!(
                "address: 192.0.2.2\nasn: 65000\nmd5_password: {long}"
            )),
            OutOfRange { min: 1, max: 80 },
            8,
            "neighbors[1].md5_password",
            &["81 bytes", "1 to 80"],
        );
    }

    #[test]
    fn md5_password_and_ttl_security_are_carried_to_the_neighbor() {
        let c = parsed(&second_neighbor(
            "address: 192.0.2.2\nasn: 65000\nmd5_password: s3cret\nttl_security: true",
        ));
        let n = &c.neighbors[1];
        assert_eq!(
            n.md5_password,
            Some(super::super::Password("s3cret".into()))
        );
        assert!(n.ttl_security);
        // Both stay off unless asked for.
        assert_eq!(c.neighbors[0].md5_password, None);
        assert!(!c.neighbors[0].ttl_security);
        let longest = "x".repeat(80);
        let ok = second_neighbor(&format!(
            "address: 192.0.2.2\nasn: 65000\nmd5_password: {longest}\nttl_security: false"
        ));
        let c = parsed(&ok);
        assert_eq!(
            c.neighbors[1].md5_password.as_ref().map(|p| p.0.len()),
            Some(80)
        );
        assert!(!c.neighbors[1].ttl_security);
    }

    #[test]
    fn an_empty_md5_password_or_a_non_boolean_ttl_security_is_refused() {
        let e = error(&second_neighbor(
            "address: 192.0.2.2\nasn: 65000\nmd5_password: \"\"",
        ));
        assert_error(
            &e,
            OutOfRange { min: 1, max: 80 },
            8,
            "neighbors[1].md5_password",
            &["0 bytes", "1 to 80"],
        );
        let e = error(&second_neighbor(
            "address: 192.0.2.2\nasn: 65000\nttl_security: 255",
        ));
        assert!(e.key.contains("ttl_security"), "{e}");
        assert_eq!(e.kind, WrongType, "{e}");
    }

    #[test]
    fn an_md5_password_never_shows_in_debug_output() {
        let p = super::super::Password("hunter2".into());
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn an_ipv4_neighbor_and_its_v4_mapped_form_are_duplicates() {
        assert_refused(
            &second_neighbor("address: '::ffff:192.0.2.1'\nasn: 65000"),
            Duplicate,
            6,
            "neighbors[1].address",
            &["192.0.2.1 is already defined at line 4 (neighbors[0])"],
        );
    }

    #[test]
    fn v4_mapped_neighbor_and_local_addresses_are_kept_as_ipv4() {
        // The listener looks inbound connections up by their IPv4 form: a neighbor kept as
        // ::ffff:a.b.c.d would be refused as unknown_source.
        let c = parsed(&second_neighbor(
            "address: '::ffff:192.0.2.2'\nasn: 65000\nlocal_address: '::ffff:192.0.2.9'",
        ));
        let n = &c.neighbors[1];
        assert_eq!(n.address, "192.0.2.2".parse::<std::net::IpAddr>().unwrap());
        assert_eq!(
            n.local_address,
            Some("192.0.2.9".parse::<std::net::IpAddr>().unwrap())
        );
        // An IPv4 neighbor may name its local address in the mapped form, and the reverse.
        for (a, la) in [
            ("192.0.2.3", "'::ffff:192.0.2.9'"),
            ("'::ffff:192.0.2.3'", "192.0.2.9"),
        ] {
            let c = parsed(&second_neighbor(&format!(
                "address: {a}\nasn: 65000\nlocal_address: {la}"
            )));
            assert!(c.neighbors[1].local_address.is_some_and(|x| x.is_ipv4()));
        }
    }

    #[test]
    fn a_v4_mapped_unspecified_neighbor_address_is_refused() {
        assert_refused(
            &second_neighbor("address: '::ffff:0.0.0.0'\nasn: 65000"),
            BadAddress,
            6,
            "neighbors[1].address",
            &["0.0.0.0 is not a unicast host address"],
        );
    }

    #[test]
    fn an_unspecified_neighbor_address_is_refused() {
        assert_refused(
            &second_neighbor("address: 0.0.0.0\nasn: 65000"),
            BadAddress,
            6,
            "neighbors[1].address",
            &["not a unicast host address"],
        );
    }
}
