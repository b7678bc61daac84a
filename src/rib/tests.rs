//! RIB behaviour, driven through `Rib::handle` and inspected at two levels: the decided
//! plan (what each group / peer is sent, before encoding) and the encoded bytes decoded back
//! with `wire::decode`.
//!
//! One file per subject under `tests/`; the helpers they share are here. Every message
//! reaches the RIB through `Feed::feed`, so a change to how `Rib::handle` is called is made
//! in that one place.

use super::plan::{Plan, PlannedSend, RouteSet, Routes, SendKind};
use super::snapshot::FamilyCounts;
use super::*;
use crate::msg::ToWorker;
use crate::wire::{
    self, AsPath, AsSegment, CodecCtx, Family, Message, MpReach, MpUnreach, NextHop, NlriSet,
    Prefix4, Prefix6, SegmentKind, Update,
};
use std::net::{IpAddr, Ipv6Addr};

mod best_path;
mod echo;
mod encoded;
mod evpn;
mod graceful;
mod groups;
mod max_prefixes;
mod reflection;
mod rtc;
mod snapshots;
mod thread;
mod vpn;

const US: Ipv4Addr = Ipv4Addr::new(1, 1, 1, 1);
const CLUSTER: Ipv4Addr = Ipv4Addr::new(1, 1, 1, 100);

/// Hands the RIB one inbox message, as the RIB thread does. The tests here and in
/// `mem_test` call `Rib::handle` only through this, so a change to its signature is made
/// on one line. Every message is handled at `t0()`.
pub(super) trait Feed {
    fn feed(&mut self, msg: ToRib);
}

impl Feed for Rib {
    fn feed(&mut self, msg: ToRib) {
        self.handle(msg, t0());
    }
}

/// The time the tests' messages are handled at: the RIB reads no clock, so its timers are
/// driven by the times passed (`handle`, `expire`).
pub(super) fn t0() -> Instant {
    static T0: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *T0.get_or_init(Instant::now)
}

fn config() -> RibConfig {
    RibConfig {
        asn: 65000,
        router_id: US,
        cluster_id: CLUSTER,
    }
}

fn rib() -> Rib {
    Rib::new(config())
}

fn codec() -> CodecCtx {
    CodecCtx {
        four_octet_as: true,
        ..CodecCtx::default()
    }
}

fn both() -> FamilySet {
    FamilySet::EMPTY
        .with(Family::Ipv4Unicast)
        .with(Family::Ipv6Unicast)
}

fn peer_up(peer: PeerId, client: bool) -> PeerUp {
    PeerUp {
        peer,
        worker: 0,
        address: IpAddr::from([192, 0, 2, peer as u8]),
        remote_asn: 65000,
        remote_id: Ipv4Addr::new(10, 0, 0, peer as u8),
        rr_client: client,
        families: both(),
        codec: codec(),
        route_refresh: true,
        max_prefixes: None,
        graceful_restart: None,
    }
}

fn p4(s: &str) -> Prefix4 {
    s.parse().unwrap()
}

fn p6(s: &str) -> Prefix6 {
    s.parse().unwrap()
}

fn attrs(nh: [u8; 4]) -> PathAttrs {
    PathAttrs {
        as_path: AsPath {
            segments: vec![AsSegment {
                kind: SegmentKind::Sequence,
                asns: vec![65001],
            }],
        },
        next_hop: NextHop::V4(Ipv4Addr::from(nh)),
        local_pref: Some(100),
        communities: vec![0xfde8_0001],
        ..PathAttrs::default()
    }
}

fn lp(nh: [u8; 4], local_pref: u32) -> PathAttrs {
    PathAttrs {
        local_pref: Some(local_pref),
        ..attrs(nh)
    }
}

fn announce(peer: PeerId, prefixes: &[&str], a: PathAttrs) -> ToRib {
    ToRib::updates(
        peer,
        vec![Update {
            attrs: Some(a),
            nlri: prefixes.iter().map(|p| p4(p)).collect(),
            ..Update::default()
        }],
    )
}

/// `peer`'s plain route for `prefixes`: `attrs` with its own next hop, 192.0.2.`peer`.
fn route(peer: PeerId, prefixes: &[&str]) -> ToRib {
    announce(peer, prefixes, attrs([192, 0, 2, peer as u8]))
}

fn withdraw(peer: PeerId, prefixes: &[&str]) -> ToRib {
    ToRib::updates(
        peer,
        vec![Update {
            withdrawn: prefixes.iter().map(|p| p4(p)).collect(),
            ..Update::default()
        }],
    )
}

/// An IPv6 announcement: `a` as the path attributes, `next_hop` and `prefixes` in
/// MP_REACH_NLRI.
fn announce6(peer: PeerId, prefixes: &[&str], next_hop: NextHop, a: PathAttrs) -> ToRib {
    ToRib::updates(
        peer,
        vec![Update {
            attrs: Some(a),
            mp_reach: Some(MpReach {
                next_hop,
                nlri: NlriSet::Ipv6Unicast(prefixes.iter().map(|p| p6(p)).collect()),
            }),
            ..Update::default()
        }],
    )
}

fn withdraw6(peer: PeerId, prefixes: &[&str]) -> ToRib {
    ToRib::updates(
        peer,
        vec![Update {
            mp_unreach: Some(MpUnreach {
                nlri: NlriSet::Ipv6Unicast(prefixes.iter().map(|p| p6(p)).collect()),
            }),
            ..Update::default()
        }],
    )
}

fn v6_next_hop(global: &str) -> NextHop {
    NextHop::V6 {
        global: global.parse().unwrap(),
        link_local: None,
    }
}

fn refresh(peer: PeerId) -> ToRib {
    ToRib::RouteRefresh {
        peer,
        family: Family::Ipv4Unicast,
    }
}

/// A RIB with these peers up and their initial dumps already planned.
fn rib_with(peers: &[(PeerId, bool)]) -> Rib {
    let mut r = rib();
    for &(p, client) in peers {
        r.feed(ToRib::PeerUp(peer_up(p, client)));
    }
    r.plan();
    r
}

/// `rib_with(peers)` that has also been given `msgs` and planned what they changed.
fn planned(peers: &[(PeerId, bool)], msgs: impl IntoIterator<Item = ToRib>) -> Rib {
    let mut r = rib_with(peers);
    for m in msgs {
        r.feed(m);
    }
    r.plan();
    r
}

/// One planned IPv4 send, flattened: sorted peers, sorted announcements, sorted withdrawals.
/// A part of a send that leaves a peer out is a send of its own here, to the others.
#[derive(Debug)]
struct V4Send {
    kind: SendKind,
    peers: Vec<PeerId>,
    announce: Vec<(Prefix4, PathAttrs)>,
    withdraw: Vec<Prefix4>,
    eor: bool,
    /// Outbound attribute sets.
    sets: usize,
}

/// A send's parts, each with the sorted peers it goes to (a part that leaves a peer out
/// goes to the others; the send's own routes to all, left out when empty beside parts).
fn parts(s: &PlannedSend) -> Vec<(Vec<PeerId>, &Routes)> {
    let mut all = s.peers();
    all.sort_unstable();
    let mut out: Vec<(Vec<PeerId>, &Routes)> = s
        .except
        .iter()
        .map(|(left_out, r)| (all.iter().copied().filter(|p| p != left_out).collect(), r))
        .collect();
    fn none<N>(rs: &RouteSet<N>) -> bool {
        rs.announce.is_empty() && rs.withdraw.is_empty() && !rs.end_of_rib
    }
    let empty = match &s.routes {
        Routes::V4(rs) => none(rs),
        Routes::V6(rs) => none(rs),
        Routes::Vpn4(rs) => none(rs),
        Routes::Vpn6(rs) => none(rs),
        Routes::Evpn(rs) => none(rs),
        Routes::Rtc(rs) => none(rs),
    };
    if !empty || s.except.is_empty() {
        out.push((all, &s.routes));
    }
    out.retain(|(peers, _)| !peers.is_empty());
    out
}

fn v4(plan: &Plan) -> Vec<V4Send> {
    let mut out = Vec::new();
    for s in &plan.sends {
        for (peers, routes) in parts(s) {
            let Routes::V4(rs) = routes else {
                continue;
            };
            let mut announce = rs.announced();
            announce.sort_by_key(|(p, _)| *p);
            let mut withdraw = rs.withdraw.clone();
            withdraw.sort_unstable();
            out.push(V4Send {
                kind: s.kind,
                peers,
                announce,
                withdraw,
                eor: rs.end_of_rib,
                sets: rs.announce.len(),
            });
        }
    }
    out
}

fn to_peers<'a>(sends: &'a [V4Send], peers: &[PeerId]) -> Vec<&'a V4Send> {
    sends.iter().filter(|s| s.peers == peers).collect()
}

fn only_to<'a>(sends: &'a [V4Send], peers: &[PeerId]) -> &'a V4Send {
    let found = to_peers(sends, peers);
    assert_eq!(found.len(), 1, "one send to {peers:?} in {sends:#?}");
    found[0]
}

fn counts(r: &mut Rib, peer: PeerId) -> (u64, u64, u64) {
    let s = r.snapshot(0);
    let p = s
        .peers
        .iter()
        .find(|p| p.peer == peer)
        .expect("peer in snapshot");
    let (_, rx, acc, adv) = *p
        .per_family
        .iter()
        .find(|f| f.0 == Family::Ipv4Unicast)
        .unwrap();
    (rx, acc, adv)
}

/// Every message in the bytes sent, decoded.
fn decode_all(data: &[u8], ctx: &CodecCtx) -> Vec<Message> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let n = wire::frame(rest, ctx.extended_message as usize * 61439 + 4096)
            .expect("valid framing")
            .expect("whole messages");
        out.push(wire::decode(&rest[..n], ctx).expect("decodes"));
        rest = &rest[n..];
    }
    out
}

/// The UPDATEs of one flush that `peer` is among the receivers of, decoded.
fn updates_to(r: &mut Rib, peer: PeerId) -> Vec<Update> {
    let mut out = Outbox::default();
    r.flush(&mut out);
    let mut updates = Vec::new();
    for (_, m) in &out.msgs {
        let ToWorker::Send { peers, data } = m else {
            continue;
        };
        if !peers.contains(&peer) {
            continue;
        }
        for msg in decode_all(data, &codec()) {
            if let Message::Update(u) = msg {
                updates.push(u);
            }
        }
    }
    updates
}

/// Graceful Restart agreed for `families`, forwarding state kept, not restarting itself.
fn graceful_restart_for(families: FamilySet) -> crate::msg::GracefulRestartPeer {
    crate::msg::GracefulRestartPeer {
        families,
        forwarding: families,
        restart_time: std::time::Duration::from_secs(120),
        stale_time: std::time::Duration::from_secs(360),
        restarting: false,
    }
}

fn limited(peer: PeerId, limit: u64) -> ToRib {
    ToRib::PeerUp(PeerUp {
        max_prefixes: Some(limit),
        graceful_restart: None,
        ..peer_up(peer, true)
    })
}

/// The StopPeer messages of one flush: (peer, notification).
fn stops(r: &mut Rib) -> Vec<(PeerId, crate::wire::Notification)> {
    let mut out = Outbox::default();
    r.flush(&mut out);
    out.msgs
        .into_iter()
        .filter_map(|(_, m)| match m {
            ToWorker::StopPeer { peer, notification } => Some((peer, notification)),
            _ => None,
        })
        .collect()
}

fn held(r: &Rib, peer: PeerId) -> u64 {
    r.peers.get(&peer).map_or(0, limit::held)
}
