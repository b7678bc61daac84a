//! The JSON API behind `reflectd neighbors` and `reflectd routes`: read-only, served from the
//! workers' and the RIB's `arc-swap` snapshots, never by asking a worker.
//!
//! `GET /neighbors`, `GET /routes[?prefix=P]` (exact prefix, or the longest match for a bare
//! address), `GET /summary`. A route list may be up to max(250 ms, 10x its build time) old:
//! building one costs the RIB thread O(table), so polling clients share recent lists. Bind it to loopback unless it is behind something that
//! authenticates: it has no authentication of its own.

use super::view::*;
use crate::msg::ToRib;
use crate::rib::snapshot::{RibSnapshot, RouteView};
use crate::wire::{AnyPrefix, Family, Label};
use crate::wire::{NextHop, Origin, PathAttrs};
use crate::worker::status::NeighborStatus;
use arc_swap::ArcSwap;
use crossbeam_channel::Sender;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::warn;

/// How long `/routes` waits for the RIB thread to publish a fresh route list.
const ROUTES_WAIT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct ApiState {
    pub statuses: Vec<Arc<ArcSwap<Vec<NeighborStatus>>>>,
    pub rib: Arc<ArcSwap<RibSnapshot>>,
    pub rib_tx: Sender<ToRib>,
    /// When the last fresh route list was asked for and how long it took to arrive.
    pub last_routes: Arc<std::sync::Mutex<Option<(Instant, Duration)>>>,
}

/// A route list younger than this is served again instead of asking the RIB thread, so a
/// client polling `/routes` cannot keep the RIB thread busy building lists: at most one
/// build per max(250 ms, 10 × the last build's wait).
fn reuse_window(last_wait: Duration) -> Duration {
    (last_wait * 10).max(Duration::from_millis(250))
}

pub struct ApiServer {
    server: Arc<tiny_http::Server>,
    join: std::thread::JoinHandle<()>,
}

impl ApiServer {
    pub fn shutdown(self) {
        self.server.unblock();
        let _ = self.join.join();
    }
}

pub fn spawn(addr: SocketAddr, state: ApiState) -> std::io::Result<ApiServer> {
    let server = tiny_http::Server::http(addr)
        .map_err(|e| std::io::Error::other(format!("cannot listen on {addr} for the API: {e}")))?;
    let server = Arc::new(server);
    let s = server.clone();
    let join = std::thread::Builder::new()
        .name("api".into())
        .spawn(move || {
            for req in s.incoming_requests() {
                let (code, body) = route(&state, req.method(), req.url());
                let header = tiny_http::Header::from_bytes("Content-Type", "application/json")
                    .expect("static header");
                let resp = tiny_http::Response::from_string(body)
                    .with_status_code(code)
                    .with_header(header);
                if let Err(e) = req.respond(resp) {
                    warn!("API response failed: {e}");
                }
            }
        })?;
    Ok(ApiServer { server, join })
}

fn route(state: &ApiState, method: &tiny_http::Method, url: &str) -> (u16, String) {
    if *method != tiny_http::Method::Get {
        return (405, error_json("only GET is supported"));
    }
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let result = match path {
        "/neighbors" => serde_json::to_string_pretty(&neighbors(state)),
        "/summary" => serde_json::to_string_pretty(&summary(&state.rib.load())),
        "/routes" => {
            let param = |k: &str| {
                query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('='))
            };
            let family = match param("family").map(str::parse::<Family>).transpose() {
                Ok(f) => f,
                Err(msg) => return (400, error_json(&msg)),
            };
            match routes(state, param("prefix"), family) {
                Ok(r) => serde_json::to_string_pretty(&r),
                Err((code, msg)) => return (code, error_json(&msg)),
            }
        }
        _ => {
            return (
                404,
                error_json("unknown path; try /neighbors, /routes, /summary"),
            )
        }
    };
    match result {
        Ok(body) => (200, body),
        Err(e) => (500, error_json(&e.to_string())),
    }
}

fn error_json(msg: &str) -> String {
    serde_json::json!({ "error": msg }).to_string()
}

pub fn neighbors(state: &ApiState) -> Vec<NeighborView> {
    let rib = state.rib.load();
    let mut out: Vec<NeighborView> = state
        .statuses
        .iter()
        .flat_map(|s| s.load().iter().cloned().collect::<Vec<_>>())
        .map(|s| {
            let prefixes = rib
                .peers
                .iter()
                .find(|p| p.peer == s.peer)
                .map(|p| {
                    p.per_family
                        .iter()
                        .map(|&(f, received, accepted, advertised)| FamilyPrefixes {
                            family: f.name().to_string(),
                            received,
                            accepted,
                            advertised,
                        })
                        .collect()
                })
                .unwrap_or_default();
            NeighborView {
                address: s.address.to_string(),
                asn: s.asn,
                description: s.description,
                rr_client: s.rr_client,
                state: s.state.to_string(),
                state_seconds: s.state_seconds,
                remote_id: s.remote_id.map(|r| r.to_string()),
                families: s.families.iter().map(|f| f.to_string()).collect(),
                hold_time: s.hold_time,
                established_transitions: s.established_transitions,
                messages_received: s.messages_received,
                messages_sent: s.messages_sent,
                updates_received: s.updates_received,
                updates_sent: s.updates_sent,
                last_error: s.last_error,
                prefixes,
            }
        })
        .collect();
    out.sort_by_key(|n| n.address.parse::<IpAddr>().ok());
    out
}

pub fn summary(rib: &RibSnapshot) -> SummaryJson {
    SummaryJson {
        families: rib
            .families
            .iter()
            .map(|f| FamilySummary {
                family: f.family.name().to_string(),
                prefixes: f.prefixes,
                paths: f.paths,
            })
            .collect(),
        rib_queue_depth: rib.queue_depth,
    }
}

fn routes(
    state: &ApiState,
    filter: Option<&str>,
    family: Option<Family>,
) -> Result<Vec<RouteJson>, (u16, String)> {
    let filter = filter.map(|f| {
        f.replace("%2F", "/")
            .replace("%2f", "/")
            .replace("%3A", ":")
            .replace("%3a", ":")
    });
    let want = match filter.as_deref() {
        None => None,
        Some(f) => Some(
            Filter::parse(f).ok_or((400, format!("{f:?} is neither a prefix nor an address")))?,
        ),
    };
    let snap = fresh_routes(state)?;
    let Some(all) = snap.routes.as_ref() else {
        return Ok(Vec::new());
    };
    let of_family = |r: &&RouteView| family.is_none_or(|f| r.prefix.family() == f);
    let selected: Vec<&RouteView> = match &want {
        None => all.iter().filter(of_family).collect(),
        Some(Filter::Exact(p)) => all.iter().filter(|r| r.prefix == *p).collect(),
        // Without a family, an address is looked up in the unicast tables: a VPN has as
        // many routes for it as RDs.
        Some(Filter::Longest(ip)) => all
            .iter()
            .filter(|r| match family {
                Some(f) => r.prefix.family() == f,
                None => matches!(r.prefix.family(), Family::Ipv4Unicast | Family::Ipv6Unicast),
            })
            .filter(|r| r.prefix.contains(*ip))
            .max_by_key(|r| r.prefix.ip_prefix().map(|(_, len)| len))
            .into_iter()
            .collect(),
    };
    Ok(selected.into_iter().map(route_json).collect())
}

/// A route list no older than the reuse window: the RIB thread is asked for a new one and
/// waited for (bounded) only when the last one is too old.
fn fresh_routes(state: &ApiState) -> Result<Arc<RibSnapshot>, (u16, String)> {
    let mut last = state.last_routes.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((at, wait)) = *last {
        let snap = state.rib.load_full();
        if snap.routes.is_some() && at.elapsed() < reuse_window(wait) {
            return Ok(snap);
        }
    }
    let before = state.rib.load().routes_generation;
    let asked = Instant::now();
    state
        .rib_tx
        .send(ToRib::PublishRoutes)
        .map_err(|_| (503, "RIB thread is not running".to_string()))?;
    loop {
        let snap = state.rib.load_full();
        if snap.routes_generation > before {
            *last = Some((asked, asked.elapsed()));
            return Ok(snap);
        }
        if asked.elapsed() >= ROUTES_WAIT {
            return Err((503, "RIB thread did not publish routes in time".to_string()));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

enum Filter {
    Exact(AnyPrefix),
    Longest(IpAddr),
}

impl Filter {
    fn parse(s: &str) -> Option<Filter> {
        if s.contains('/') {
            crate::speaker::parse_any_prefix(s).map(Filter::Exact)
        } else {
            s.parse().ok().map(Filter::Longest)
        }
    }
}

fn route_json(r: &RouteView) -> RouteJson {
    let (rd, ip_prefix) = match &r.prefix {
        AnyPrefix::Vpn4(v) => (Some(v.rd.to_string()), Some(v.prefix.to_string())),
        AnyPrefix::Vpn6(v) => (Some(v.rd.to_string()), Some(v.prefix.to_string())),
        AnyPrefix::Evpn(k) => (
            k.rd().map(|rd| rd.to_string()),
            match k.view() {
                crate::wire::evpn::KeyView::IpPrefix {
                    prefix, prefix_len, ..
                } => Some(format!("{prefix}/{prefix_len}")),
                _ => None,
            },
        ),
        AnyPrefix::V4(_) | AnyPrefix::V6(_) | AnyPrefix::Rtc(_) => (None, None),
    };
    let path = |p: &crate::rib::snapshot::PathView| {
        let base = path_json(&p.attrs, p.best, p.peer_address);
        match (&r.prefix, p.path_data.as_deref()) {
            (AnyPrefix::Evpn(k), Some(d)) => super::evpn_view::with_path_data(k, d, base),
            (_, Some(d)) => PathJson {
                label: Label::from_path_data(d).map(Label::value),
                ..base
            },
            (_, None) => base,
        }
    };
    RouteJson {
        prefix: r.prefix.to_string(),
        family: r.prefix.family().name().to_string(),
        rd,
        ip_prefix,
        evpn: match &r.prefix {
            AnyPrefix::Evpn(k) => Some(super::evpn_view::key_json(k)),
            _ => None,
        },
        paths: r.paths.iter().map(path).collect(),
    }
}

pub fn path_json(a: &PathAttrs, best: bool, from: IpAddr) -> PathJson {
    PathJson {
        best,
        from: from.to_string(),
        next_hop: match a.next_hop {
            NextHop::None => "-".to_string(),
            NextHop::V4(a) => a.to_string(),
            NextHop::V6 {
                global,
                link_local: None,
            } => global.to_string(),
            NextHop::V6 {
                global,
                link_local: Some(ll),
            } => format!("{global} ({ll})"),
        },
        as_path: a.as_path.to_string(),
        origin: match a.origin {
            Origin::Igp => "i",
            Origin::Egp => "e",
            Origin::Incomplete => "?",
        }
        .to_string(),
        local_pref: a.local_pref,
        med: a.med,
        communities: a
            .communities
            .iter()
            .map(|c| format!("{}:{}", c >> 16, c & 0xffff))
            .collect(),
        ext_communities: a.ext_communities.iter().map(ext_community).collect(),
        large_communities: a
            .large_communities
            .iter()
            .map(|l| format!("{}:{}:{}", l[0], l[1], l[2]))
            .collect(),
        originator_id: a.originator_id.map(|o| o.to_string()),
        cluster_list: a.cluster_list.iter().map(|c| c.to_string()).collect(),
        label: None,
        labels: Vec::new(),
        esi: None,
        gateway: None,
    }
}

/// RFC 4360 route target / origin in the usual `rt ASN:N` notation, raw hex otherwise.
fn ext_community(c: &[u8; 8]) -> String {
    if let Some(s) = super::evpn_view::ext_community(c) {
        return s;
    }
    let kind = match c[1] {
        0x02 => "rt",
        0x03 => "soo",
        _ => return c.iter().map(|b| format!("{b:02x}")).collect(),
    };
    match c[0] & 0x3f {
        0x00 => format!(
            "{kind} {}:{}",
            u16::from_be_bytes([c[2], c[3]]),
            u32::from_be_bytes([c[4], c[5], c[6], c[7]])
        ),
        0x01 => format!(
            "{kind} {}.{}.{}.{}:{}",
            c[2],
            c[3],
            c[4],
            c[5],
            u16::from_be_bytes([c[6], c[7]])
        ),
        0x02 => format!(
            "{kind} {}:{}",
            u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
            u16::from_be_bytes([c[6], c[7]])
        ),
        _ => c.iter().map(|b| format!("{b:02x}")).collect(),
    }
}
