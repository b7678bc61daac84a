//! Raw -> typed: range checks, address parsing, defaults, and the rules that span keys
//! (duplicate neighbors, iBGP only, address families). Each error names the line of the
//! offending value (from `Spanned`), its dotted key, and what to write instead.

use super::hint;
use super::raw::{RawConfig, RawListen, RawNeighbor, RawWorkers};
use super::{Config, ConfigError, LogLevel, Neighbor, Password};
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
/// Families the RIB and codec carry today; the others parse but are refused.
pub const SUPPORTED_FAMILIES: [Family; 2] = [Family::Ipv4Unicast, Family::Ipv6Unicast];

struct Ctx<'a> {
    file: &'a Path,
}

type R<T> = Result<T, ConfigError>;

impl Ctx<'_> {
    fn err<T>(&self, line: usize, key: impl Into<String>, message: impl Into<String>) -> R<T> {
        Err(ConfigError {
            file: self.file.to_path_buf(),
            line: Some(line.max(1)),
            key: key.into(),
            message: message.into(),
        })
    }
}

fn line<T>(s: &Spanned<T>) -> usize {
    usize::try_from(s.referenced.line()).unwrap_or(1).max(1)
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
    let workers = match &raw.workers {
        None => auto_workers(),
        Some(w) => workers(&cx, w)?,
    };
    let api = raw
        .api
        .as_ref()
        .map(|a| socket(&cx, a, "api"))
        .transpose()?;
    let metrics = raw
        .metrics
        .as_ref()
        .map(|m| socket(&cx, m, "metrics"))
        .transpose()?;
    if let (Some(a), Some(m), Some(raw_m)) = (api, metrics, &raw.metrics) {
        if a == m {
            return cx.err(
                line(raw_m),
                "metrics",
                format!("{m} is also the api address: give metrics its own port"),
            );
        }
    }
    let log = match &raw.log {
        None => LogLevel::Info,
        Some(l) => log_level(&cx, l)?,
    };

    let raw_neighbors = raw.neighbors.unwrap_or_default();
    let mut neighbors: Vec<Neighbor> = Vec::with_capacity(raw_neighbors.len());
    for (i, rn) in raw_neighbors.iter().enumerate() {
        let n = neighbor(&cx, i, rn, asn)?;
        if let Some(j) = neighbors.iter().position(|o| o.address == n.address) {
            return cx.err(
                line(&rn.address),
                format!("neighbors[{i}].address"),
                format!(
                    "neighbor {} is already defined at line {} (neighbors[{j}]): \
                     each address may appear once; merge the two entries",
                    n.address,
                    line(&raw_neighbors[j].address)
                ),
            );
        }
        neighbors.push(n);
    }

    Ok(Config {
        path: file.to_path_buf(),
        asn,
        router_id,
        cluster_id,
        listen,
        workers,
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

fn asn(cx: &Ctx, v: &Spanned<u64>, key: &str) -> R<u32> {
    match v.value {
        0 => cx.err(
            line(v),
            key,
            "AS 0 is reserved (RFC 7607): use your AS number, 1 to 4294967295",
        ),
        AS_TRANS => cx.err(
            line(v),
            key,
            "AS 23456 is AS_TRANS (RFC 6793), a placeholder, not a real AS: use your own AS number",
        ),
        n => u32::try_from(n).or_else(|_| {
            cx.err(
                line(v),
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
            line(v),
            key,
            format!(
                "{key} must not be 0.0.0.0: use a unique non-zero IPv4 address, e.g. a loopback"
            ),
        ),
        Ok(IpAddr::V4(a)) => Ok(a),
        Ok(IpAddr::V6(_)) => cx.err(
            line(v),
            key,
            format!(
                "`{text}` is IPv6, but {key} is a 32-bit identifier: write it as an IPv4 \
                 address (it need not be configured on an interface)"
            ),
        ),
        Err(_) => cx.err(
            line(v),
            key,
            format!("`{text}` is not an IPv4 address: write four numbers like 10.0.0.1"),
        ),
    }
}

fn ip(cx: &Ctx, v: &Spanned<String>, key: &str) -> R<IpAddr> {
    let text = v.value.trim();
    text.parse::<IpAddr>().or_else(|_| {
        cx.err(
            line(v),
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
            line(v),
            key,
            format!("{a} is not a unicast host address: give the address of one router"),
        );
    }
    Ok(a)
}

fn port(cx: &Ctx, v: &Spanned<u64>, key: &str) -> R<u16> {
    match u16::try_from(v.value) {
        Ok(p) if p >= 1 => Ok(p),
        _ => cx.err(
            line(v),
            key,
            format!(
                "port {} is out of range: use 1 to 65535 (BGP is 179)",
                v.value
            ),
        ),
    }
}

fn listeners(cx: &Ctx, l: &Spanned<Vec<RawListen>>) -> R<Vec<SocketAddr>> {
    if l.value.is_empty() {
        return cx.err(
            line(l),
            "listen",
            "the list is empty, so no neighbor could connect: add `- address: 0.0.0.0`, \
             or remove `listen` for the default ([::]:179 and 0.0.0.0:179)",
        );
    }
    let mut out: Vec<SocketAddr> = Vec::with_capacity(l.value.len());
    for (i, item) in l.value.iter().enumerate() {
        let address = ip(cx, &item.address, &format!("listen[{i}].address"))?;
        let port = match &item.port {
            Some(p) => port(cx, p, &format!("listen[{i}].port"))?,
            None => DEFAULT_PORT,
        };
        let sa = SocketAddr::new(address, port);
        if let Some(j) = out.iter().position(|o| *o == sa) {
            return cx.err(
                line(&item.address),
                format!("listen[{i}]"),
                format!("{sa} is already listed as listen[{j}]: remove one"),
            );
        }
        out.push(sa);
    }
    Ok(out)
}

fn workers(cx: &Ctx, w: &Spanned<RawWorkers>) -> R<usize> {
    let range = format!("`auto` or a number of threads from 1 to {MAX_WORKERS}");
    match &w.value {
        RawWorkers::Auto => Ok(auto_workers()),
        RawWorkers::Count(n) if (1..=MAX_WORKERS).contains(n) => {
            Ok(usize::try_from(*n).unwrap_or(1))
        }
        RawWorkers::Count(n) => cx.err(
            line(w),
            "workers",
            format!("{n} is out of range: use {range}"),
        ),
        RawWorkers::Other(s) => {
            cx.err(line(w), "workers", format!("expected {range}, found `{s}`"))
        }
    }
}

fn socket(cx: &Ctx, v: &Spanned<String>, key: &str) -> R<SocketAddr> {
    let text = v.value.trim();
    match text.parse::<SocketAddr>() {
        Ok(sa) if sa.port() == 0 => cx.err(
            line(v),
            key,
            format!("port 0 in `{text}` would pick a random port: give a fixed port, e.g. 127.0.0.1:8179"),
        ),
        Ok(sa) => Ok(sa),
        Err(_) => cx.err(
            line(v),
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
            line(v),
            "log",
            format!(
                "unknown log level `{text}`{}: use one of {}",
                hint::suggestion(text, &names),
                hint::list(&names)
            ),
        ),
    }
}

fn neighbor(cx: &Ctx, i: usize, n: &RawNeighbor, local_asn: u32) -> R<Neighbor> {
    let key = |k: &str| format!("neighbors[{i}].{k}");
    let address = host_ip(cx, &n.address, &key("address"))?;

    let asn = asn(cx, &n.asn, &key("asn"))?;
    if asn != local_asn {
        return cx.err(
            line(&n.asn),
            key("asn"),
            format!(
                "AS {asn} differs from the local AS {local_asn}: eBGP neighbors are not supported \
                 yet (reflectd speaks iBGP only); set `asn: {local_asn}`"
            ),
        );
    }

    let description = match &n.description {
        None => None,
        Some(d) => {
            let count = d.value.chars().count();
            if count > MAX_DESCRIPTION {
                return cx.err(
                    line(d),
                    key("description"),
                    format!(
                        "{count} characters is too long: keep it to {MAX_DESCRIPTION} or fewer"
                    ),
                );
            }
            if d.value.chars().any(char::is_control) {
                return cx.err(
                    line(d),
                    key("description"),
                    "control characters (newlines, tabs, ...) are not allowed: use one plain line",
                );
            }
            Some(d.value.clone())
        }
    };

    let port = match &n.port {
        Some(p) => port(cx, p, &key("port"))?,
        None => DEFAULT_PORT,
    };

    let local_address = match &n.local_address {
        None => None,
        Some(la) => {
            let a = host_ip(cx, la, &key("local_address"))?;
            if a.is_ipv4() != address.is_ipv4() {
                let fam = |x: IpAddr| if x.is_ipv4() { "IPv4" } else { "IPv6" };
                return cx.err(
                    line(la),
                    key("local_address"),
                    format!(
                        "{a} is {} but the neighbor address {address} is {}: the session's two \
                         ends must be the same family; give an {} local address or remove the key",
                        fam(a),
                        fam(address),
                        fam(address)
                    ),
                );
            }
            Some(a)
        }
    };

    let hold_time = match &n.hold_time {
        None => DEFAULT_HOLD_TIME,
        Some(h) => match u16::try_from(h.value) {
            Ok(t) if t == 0 || t >= 3 => t,
            _ => {
                return cx.err(
                    line(h),
                    key("hold_time"),
                    format!(
                        "{} seconds is out of range: use 0 (no keepalives) or 3 to 65535 \
                         (RFC 4271 §4.2); the default is {DEFAULT_HOLD_TIME}",
                        h.value
                    ),
                )
            }
        },
    };

    let connect_retry = match &n.connect_retry {
        None => DEFAULT_CONNECT_RETRY,
        Some(c) => match u16::try_from(c.value) {
            Ok(t) if t >= 1 => t,
            _ => {
                return cx.err(
                    line(c),
                    key("connect_retry"),
                    format!(
                        "{} seconds is out of range: use 1 to 65535; the default is \
                         {DEFAULT_CONNECT_RETRY}",
                        c.value
                    ),
                )
            }
        },
    };

    let families = match &n.families {
        None => vec![Family::Ipv4Unicast],
        Some(f) => families(cx, i, f)?,
    };

    let max_prefixes = match &n.max_prefixes {
        None => None,
        Some(m) if m.value == 0 => return cx.err(
            line(m),
            key("max_prefixes"),
            "0 would refuse every route: use a limit of at least 1, or remove the key for no limit",
        ),
        Some(m) => Some(m.value),
    };

    let max_prefixes_restart = match &n.max_prefixes_restart {
        None => None,
        Some(r) if max_prefixes.is_none() => {
            return cx.err(
                line(r),
                key("max_prefixes_restart"),
                format!(
                    "has no effect without `max_prefixes`: add a limit, or remove this key \
                     (was {})",
                    r.value
                ),
            )
        }
        Some(r) => match u32::try_from(r.value) {
            Ok(s) => Some(s),
            Err(_) => {
                return cx.err(
                    line(r),
                    key("max_prefixes_restart"),
                    format!(
                        "{} seconds is out of range: use 0 (stay down until reload) to {}",
                        r.value,
                        u32::MAX
                    ),
                )
            }
        },
    };

    let md5_password = match &n.md5_password {
        None => None,
        Some(p) => {
            let len = p.value.len();
            // Linux TCP_MD5SIG_MAXKEYLEN; RFC 2385 itself sets no limit.
            if len == 0 || len > MAX_MD5_KEY {
                return cx.err(
                    line(p),
                    key("md5_password"),
                    format!(
                        "{len} bytes: use 1 to {MAX_MD5_KEY} bytes (the kernel's limit), \
                         the same on both routers"
                    ),
                );
            }
            Some(Password(p.value.clone()))
        }
    };

    let ttl_security = n.ttl_security.unwrap_or(false);

    let graceful_restart = n.graceful_restart.unwrap_or(true);
    let gr_seconds = |v: &Option<Spanned<u64>>, name: &str, default: u16| -> R<u16> {
        let Some(t) = v else { return Ok(default) };
        if !graceful_restart {
            return cx.err(
                line(t),
                key(name),
                format!(
                    "has no effect with `graceful_restart: false`: remove this key (was {})",
                    t.value
                ),
            );
        }
        match u16::try_from(t.value) {
            Ok(s) if (1..=MAX_GR_TIME).contains(&s) => Ok(s),
            _ => cx.err(
                line(t),
                key(name),
                format!(
                    "{} seconds is out of range: use 1 to {MAX_GR_TIME} (RFC 4724's 12-bit \
                     field); the default is {default}",
                    t.value
                ),
            ),
        }
    };
    let graceful_restart_time = gr_seconds(
        &n.graceful_restart_time,
        "graceful_restart_time",
        DEFAULT_GR_TIME,
    )?;
    let graceful_restart_stale_time = gr_seconds(
        &n.graceful_restart_stale_time,
        "graceful_restart_stale_time",
        DEFAULT_GR_STALE_TIME,
    )?;

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
        ttl_security,
        graceful_restart,
        graceful_restart_time,
        graceful_restart_stale_time,
    })
}

fn families(cx: &Ctx, i: usize, f: &Spanned<Vec<Spanned<String>>>) -> R<Vec<Family>> {
    let all: Vec<&str> = Family::ALL.iter().map(|f| f.name()).collect();
    let supported: Vec<&str> = SUPPORTED_FAMILIES.iter().map(|f| f.name()).collect();
    if f.value.is_empty() {
        return cx.err(
            line(f),
            format!("neighbors[{i}].families"),
            format!(
                "the list is empty: name at least one family ({}), or remove the key for \
                 ipv4-unicast",
                hint::list(&supported)
            ),
        );
    }
    let mut out: Vec<Family> = Vec::with_capacity(f.value.len());
    for (j, name) in f.value.iter().enumerate() {
        let key = format!("neighbors[{i}].families[{j}]");
        let text = name.value.trim();
        let Some(fam) = Family::from_name(text) else {
            return cx.err(
                line(name),
                key,
                format!(
                    "unknown family `{text}`{}: valid names are {}",
                    hint::suggestion(text, &all),
                    hint::list(&all)
                ),
            );
        };
        if !SUPPORTED_FAMILIES.contains(&fam) {
            return cx.err(
                line(name),
                key,
                format!(
                    "family {fam} is not supported yet: reflectd carries {} for now",
                    hint::list(&supported)
                ),
            );
        }
        if out.contains(&fam) {
            return cx.err(
                line(name),
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
    use super::super::test_util::{assert_error, error};

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
        let e = error(&second_neighbor("address: 192.0.2.300\nasn: 65000"));
        assert_error(
            &e,
            6,
            "neighbors[1].address",
            &["`192.0.2.300` is not an IP address", "192.0.2.1"],
        );
    }

    #[test]
    fn a_neighbor_address_with_a_prefix_length_is_a_bad_ip() {
        let e = error(&second_neighbor("address: 192.0.2.0/24\nasn: 65000"));
        assert_error(&e, 6, "neighbors[1].address", &["no prefix length"]);
    }

    #[test]
    fn a_duplicate_neighbor_names_the_line_of_the_second_and_of_the_first() {
        let e = error(&second_neighbor("address: 192.0.2.1\nasn: 65000"));
        assert_error(
            &e,
            6,
            "neighbors[1].address",
            &["192.0.2.1 is already defined at line 4 (neighbors[0])"],
        );
    }

    #[test]
    fn the_same_ipv6_neighbor_written_two_ways_is_a_duplicate() {
        let e = error(&format!(
            "{HEAD}neighbors:\n  - {{address: '2001:db8::1', asn: 65000}}\n  - {{address: '2001:0db8:0::1', asn: 65000}}\n"
        ));
        assert_error(
            &e,
            5,
            "neighbors[1].address",
            &["already defined at line 4"],
        );
    }

    #[test]
    fn an_unknown_family_lists_the_valid_names_and_suggests_one() {
        let e = error(&second_neighbor(
            "address: 192.0.2.2\nasn: 65000\nfamilies: [ipv4-unicast, ipv6-unicst]",
        ));
        assert_error(
            &e,
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
    fn a_known_but_uncarried_family_is_not_supported_yet() {
        let e = error(&second_neighbor(
            "address: 192.0.2.2\nasn: 65000\nfamilies:\n  - ipv4-unicast\n  - l2vpn-evpn",
        ));
        assert_error(
            &e,
            10,
            "neighbors[1].families[1]",
            &[
                "family l2vpn-evpn is not supported yet",
                "ipv4-unicast, ipv6-unicast",
            ],
        );
    }

    #[test]
    fn a_family_listed_twice_is_an_error_on_the_second() {
        let e = error(&second_neighbor(
            "address: 192.0.2.2\nasn: 65000\nfamilies: [ipv4-unicast, ipv4-unicast]",
        ));
        assert_error(&e, 8, "neighbors[1].families[1]", &["listed twice"]);
    }

    #[test]
    fn an_empty_family_list_is_an_error() {
        let e = error(&second_neighbor(
            "address: 192.0.2.2\nasn: 65000\nfamilies: []",
        ));
        assert_error(
            &e,
            8,
            "neighbors[1].families",
            &["empty", "remove the key for ipv4-unicast"],
        );
    }

    #[test]
    fn hold_time_of_one_or_two_seconds_is_out_of_range() {
        let e = error(&second_neighbor(
            "address: 192.0.2.2\nasn: 65000\nhold_time: 2",
        ));
        assert_error(
            &e,
            8,
            "neighbors[1].hold_time",
            &["2 seconds is out of range", "0", "3 to 65535"],
        );
    }

    #[test]
    fn hold_time_above_65535_is_out_of_range() {
        let e = error(&second_neighbor(
            "address: 192.0.2.2\nasn: 65000\nhold_time: 65536",
        ));
        assert_error(
            &e,
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
            8,
            "neighbors[1].port",
            &["port 0 is out of range", "1 to 65535"],
        );
        let e = error(&second_neighbor(
            "address: 192.0.2.2\nasn: 65000\nport: 70000",
        ));
        assert_error(&e, 8, "neighbors[1].port", &["port 70000 is out of range"]);
    }

    #[test]
    fn listen_port_out_of_range_names_the_listener() {
        let e = error(&format!(
            "{HEAD}listen:\n  - address: 0.0.0.0\n    port: 65536\n"
        ));
        assert_error(&e, 5, "listen[0].port", &["port 65536 is out of range"]);
    }

    #[test]
    fn connect_retry_zero_is_out_of_range() {
        let e = error(&second_neighbor(
            "address: 192.0.2.2\nasn: 65000\nconnect_retry: 0",
        ));
        assert_error(
            &e,
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
            3,
            "workers",
            &[
                "0 is out of range",
                "`auto` or a number of threads from 1 to 256",
            ],
        );
        let e = error(&format!("{HEAD}workers: 257\n"));
        assert_error(&e, 3, "workers", &["257 is out of range"]);
    }

    #[test]
    fn workers_given_as_another_word_says_what_is_accepted() {
        let e = error(&format!("{HEAD}workers: all\n"));
        assert_error(
            &e,
            3,
            "workers",
            &["expected `auto` or a number", "found `all`"],
        );
    }

    #[test]
    fn asn_zero_is_reserved() {
        let e = error("asn: 0\nrouter_id: 10.0.0.1\n");
        assert_error(&e, 1, "asn", &["AS 0 is reserved", "1 to 4294967295"]);
    }

    #[test]
    fn asn_23456_is_as_trans() {
        let e = error("asn: 23456\nrouter_id: 10.0.0.1\n");
        assert_error(&e, 1, "asn", &["AS_TRANS"]);
    }

    #[test]
    fn asn_above_32_bits_is_out_of_range() {
        let e = error("asn: 4294967296\nrouter_id: 10.0.0.1\n");
        assert_error(&e, 1, "asn", &["out of range"]);
    }

    #[test]
    fn a_neighbor_asn_zero_is_reserved() {
        let e = error(&second_neighbor("address: 192.0.2.2\nasn: 0"));
        assert_error(&e, 7, "neighbors[1].asn", &["AS 0 is reserved"]);
    }

    #[test]
    fn an_ebgp_neighbor_is_not_supported_yet() {
        let e = error(&second_neighbor("address: 192.0.2.2\nasn: 65001"));
        assert_error(
            &e,
            7,
            "neighbors[1].asn",
            &["eBGP neighbors are not supported yet", "set `asn: 65000`"],
        );
    }

    #[test]
    fn a_local_address_of_the_other_family_is_an_error() {
        let e = error(&second_neighbor(
            "address: 192.0.2.2\nasn: 65000\nlocal_address: 2001:db8::1",
        ));
        assert_error(
            &e,
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
        let e = error("asn: 65000\nrouter_id: 0.0.0.0\n");
        assert_error(&e, 2, "router_id", &["must not be 0.0.0.0"]);
    }

    #[test]
    fn a_router_id_that_is_not_an_address_is_refused() {
        let e = error("asn: 65000\nrouter_id: core1\n");
        assert_error(&e, 2, "router_id", &["`core1` is not an IPv4 address"]);
    }

    #[test]
    fn an_ipv6_cluster_id_is_refused_as_the_wrong_family() {
        let e = error(&format!("{HEAD}cluster_id: 2001:db8::1\n"));
        assert_error(&e, 3, "cluster_id", &["is IPv6", "32-bit identifier"]);
    }

    #[test]
    fn a_duplicate_listener_is_an_error_on_the_second() {
        let e = error(&format!(
            "{HEAD}listen:\n  - address: 0.0.0.0\n  - address: 0.0.0.0\n    port: 179\n"
        ));
        assert_error(
            &e,
            5,
            "listen[1]",
            &["0.0.0.0:179 is already listed as listen[0]"],
        );
    }

    #[test]
    fn an_empty_listen_list_is_an_error() {
        let e = error(&format!("{HEAD}listen: []\n"));
        assert_error(
            &e,
            3,
            "listen",
            &["empty", "remove `listen` for the default"],
        );
    }

    #[test]
    fn an_api_address_without_a_port_is_an_error() {
        let e = error(&format!("{HEAD}api: 127.0.0.1\n"));
        assert_error(&e, 3, "api", &["not an IP:PORT address", "127.0.0.1:8179"]);
    }

    #[test]
    fn metrics_on_the_api_address_is_an_error() {
        let e = error(&format!(
            "{HEAD}api: 127.0.0.1:8179\nmetrics: 127.0.0.1:8179\n"
        ));
        assert_error(&e, 4, "metrics", &["also the api address"]);
    }

    #[test]
    fn an_unknown_log_level_lists_the_levels() {
        let e = error(&format!("{HEAD}log: warning\n"));
        assert_error(
            &e,
            3,
            "log",
            &["did you mean `warn`?", "error, warn, info, debug, trace"],
        );
    }

    #[test]
    fn a_description_over_80_characters_is_too_long() {
        let long = "x".repeat(81);
        let e = error(&second_neighbor(&format!(
            "address: 192.0.2.2\nasn: 65000\ndescription: {long}"
        )));
        assert_error(
            &e,
            8,
            "neighbors[1].description",
            &["81 characters is too long", "80"],
        );
    }

    #[test]
    fn max_prefixes_zero_is_refused() {
        let e = error(&second_neighbor(
            "address: 192.0.2.2\nasn: 65000\nmax_prefixes: 0",
        ));
        assert_error(&e, 8, "neighbors[1].max_prefixes", &["at least 1"]);
    }

    #[test]
    fn max_prefixes_restart_without_a_limit_is_refused() {
        let e = error(&second_neighbor(
            "address: 192.0.2.2\nasn: 65000\nmax_prefixes_restart: 30",
        ));
        assert_error(
            &e,
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
            let e = error(&second_neighbor(&format!(
                "address: 192.0.2.2\nasn: 65000\n{k}: {v}"
            )));
            assert_error(
                &e,
                8,
                &format!("neighbors[1].{k}"),
                &[&format!("{v} seconds is out of range"), "1 to 4095"],
            );
        }
    }

    #[test]
    fn graceful_restart_times_with_graceful_restart_off_are_refused() {
        let e = error(&second_neighbor(
            "address: 192.0.2.2\nasn: 65000\ngraceful_restart: false\ngraceful_restart_stale_time: 60",
        ));
        assert_error(
            &e,
            9,
            "neighbors[1].graceful_restart_stale_time",
            &["no effect with `graceful_restart: false`"],
        );
    }

    #[test]
    fn an_md5_password_longer_than_the_kernel_allows_is_refused() {
        let long = "x".repeat(81);
        let e = error(&second_neighbor(&format!(
            "address: 192.0.2.2\nasn: 65000\nmd5_password: {long}"
        )));
        assert_error(&e, 8, "neighbors[1].md5_password", &["81 bytes", "1 to 80"]);
    }

    #[test]
    fn md5_password_and_ttl_security_are_carried_to_the_neighbor() {
        let c = crate::config::parse(
            &second_neighbor(
                "address: 192.0.2.2\nasn: 65000\nmd5_password: s3cret\nttl_security: true",
            ),
            std::path::Path::new("t.yaml"),
        )
        .unwrap();
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
        let c = crate::config::parse(&ok, std::path::Path::new("t.yaml")).unwrap();
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
        assert_error(&e, 8, "neighbors[1].md5_password", &["0 bytes", "1 to 80"]);
        let e = error(&second_neighbor(
            "address: 192.0.2.2\nasn: 65000\nttl_security: 255",
        ));
        assert!(e.key.contains("ttl_security"), "{e}");
    }

    #[test]
    fn an_md5_password_never_shows_in_debug_output() {
        let p = super::super::Password("hunter2".into());
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn an_ipv4_neighbor_and_its_v4_mapped_form_are_duplicates() {
        let e = error(&second_neighbor("address: '::ffff:192.0.2.1'\nasn: 65000"));
        assert_error(
            &e,
            6,
            "neighbors[1].address",
            &["192.0.2.1 is already defined at line 4 (neighbors[0])"],
        );
    }

    #[test]
    fn v4_mapped_neighbor_and_local_addresses_are_kept_as_ipv4() {
        // The listener looks inbound connections up by their IPv4 form: a neighbor kept as
        // ::ffff:a.b.c.d would be refused as unknown_source.
        let c = crate::config::parse(
            &second_neighbor(
                "address: '::ffff:192.0.2.2'\nasn: 65000\nlocal_address: '::ffff:192.0.2.9'",
            ),
            std::path::Path::new("t.yaml"),
        )
        .unwrap();
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
            let c = crate::config::parse(
                &second_neighbor(&format!("address: {a}\nasn: 65000\nlocal_address: {la}")),
                std::path::Path::new("t.yaml"),
            )
            .unwrap();
            assert!(c.neighbors[1].local_address.is_some_and(|x| x.is_ipv4()));
        }
    }

    #[test]
    fn a_v4_mapped_unspecified_neighbor_address_is_refused() {
        let e = error(&second_neighbor("address: '::ffff:0.0.0.0'\nasn: 65000"));
        assert_error(
            &e,
            6,
            "neighbors[1].address",
            &["0.0.0.0 is not a unicast host address"],
        );
    }

    #[test]
    fn an_unspecified_neighbor_address_is_refused() {
        let e = error(&second_neighbor("address: 0.0.0.0\nasn: 65000"));
        assert_error(
            &e,
            6,
            "neighbors[1].address",
            &["not a unicast host address"],
        );
    }
}
