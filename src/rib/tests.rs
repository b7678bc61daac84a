//! RIB behaviour, driven through `Rib::handle` and inspected at two levels: the decided
//! plan (what each group / peer is sent, before encoding) and the encoded bytes decoded back
//! with `wire::decode`.

use super::plan::{Plan, PlannedSend, Routes, SendKind};
use super::snapshot::FamilyCounts;
use super::*;
use crate::msg::ToWorker;
use crate::wire::{
    self, AsPath, AsSegment, CodecCtx, Family, Message, MpReach, MpUnreach, NextHop, NlriSet,
    Prefix4, Prefix6, SegmentKind, Update,
};
use std::net::{IpAddr, Ipv6Addr};

mod echo;

const US: Ipv4Addr = Ipv4Addr::new(1, 1, 1, 1);
const CLUSTER: Ipv4Addr = Ipv4Addr::new(1, 1, 1, 100);

fn rib() -> Rib {
    Rib::new(RibConfig {
        asn: 65000,
        router_id: US,
        cluster_id: CLUSTER,
    })
}

/// The time every message of these tests is handled at: the RIB reads no clock, so its
/// timers are driven by the times passed (`handle`, `expire`).
fn t0() -> Instant {
    static T0: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *T0.get_or_init(Instant::now)
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

fn withdraw(peer: PeerId, prefixes: &[&str]) -> ToRib {
    ToRib::updates(
        peer,
        vec![Update {
            withdrawn: prefixes.iter().map(|p| p4(p)).collect(),
            ..Update::default()
        }],
    )
}

/// A RIB with these peers up and their initial dumps already planned.
fn rib_with(peers: &[(PeerId, bool)]) -> Rib {
    let mut r = rib();
    for &(p, client) in peers {
        r.handle(ToRib::PeerUp(peer_up(p, client)), t0());
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
    let empty = match &s.routes {
        Routes::V4(rs) => rs.announce.is_empty() && rs.withdraw.is_empty() && !rs.end_of_rib,
        Routes::V6(rs) => rs.announce.is_empty() && rs.withdraw.is_empty() && !rs.end_of_rib,
        Routes::EndOfRibOnly(_) => false,
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

// ---------------------------------------------------------------- reflection rules

#[test]
fn client_route_is_reflected_to_clients_and_non_clients_with_originator_and_cluster_list_set() {
    let mut r = rib_with(&[(1, true), (2, true), (3, false)]);
    r.handle(announce(1, &["10.0.0.0/8"], attrs([192, 0, 2, 1])), t0());
    let sends = v4(&r.plan());
    assert_eq!(sends.len(), 2);
    // The clients' group less client 1, which is never sent its own route.
    for group in [&[2][..], &[3][..]] {
        let s = only_to(&sends, group);
        assert_eq!(
            s.kind,
            SendKind::Delta(match group[0] {
                2 => 0,
                _ => 1,
            })
        );
        assert_eq!(s.announce.len(), 1);
        let (p, a) = &s.announce[0];
        assert_eq!(*p, p4("10.0.0.0/8"));
        assert_eq!(a.originator_id, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(a.cluster_list, vec![CLUSTER]);
        // Everything else unchanged.
        let mut back = a.clone();
        back.originator_id = None;
        back.cluster_list.clear();
        assert_eq!(back, attrs([192, 0, 2, 1]));
    }
}

#[test]
fn non_client_route_is_reflected_to_clients_only() {
    let mut r = rib_with(&[(1, true), (2, true), (3, false), (4, false)]);
    r.handle(announce(3, &["10.0.0.0/8"], attrs([192, 0, 2, 3])), t0());
    let sends = v4(&r.plan());
    assert_eq!(sends.len(), 1, "{sends:#?}");
    assert_eq!(sends[0].peers, vec![1, 2]);
    assert_eq!(
        sends[0].announce[0].1.originator_id,
        Some(Ipv4Addr::new(10, 0, 0, 3))
    );
}

#[test]
fn non_clients_are_sent_a_withdraw_when_the_best_path_moves_to_a_non_client() {
    let mut r = rib_with(&[(1, true), (3, false)]);
    r.handle(announce(1, &["10.0.0.0/8"], attrs([192, 0, 2, 1])), t0());
    r.plan();
    r.handle(announce(3, &["10.0.0.0/8"], lp([192, 0, 2, 3], 200)), t0());
    let sends = v4(&r.plan());
    let clients = only_to(&sends, &[1]);
    assert_eq!(clients.announce[0].1.local_pref, Some(200));
    let non_clients = only_to(&sends, &[3]);
    assert!(non_clients.announce.is_empty());
    assert_eq!(non_clients.withdraw, vec![p4("10.0.0.0/8")]);
    assert_eq!(
        counts(&mut r, 3).2,
        0,
        "non-client group advertises nothing"
    );
    assert_eq!(counts(&mut r, 1).2, 1);
}

#[test]
fn an_existing_originator_id_is_kept_when_reflecting() {
    let mut r = rib_with(&[(1, true), (2, true)]);
    let a = PathAttrs {
        originator_id: Some(Ipv4Addr::new(9, 9, 9, 9)),
        ..attrs([192, 0, 2, 1])
    };
    r.handle(announce(1, &["10.0.0.0/8"], a), t0());
    let sends = v4(&r.plan());
    assert_eq!(
        sends[0].announce[0].1.originator_id,
        Some(Ipv4Addr::new(9, 9, 9, 9))
    );
}

#[test]
fn route_with_our_router_id_as_originator_is_dropped_and_counted_as_received_only() {
    let mut r = rib_with(&[(1, true), (2, true)]);
    let looped = PathAttrs {
        originator_id: Some(US),
        ..attrs([192, 0, 2, 1])
    };
    r.handle(announce(1, &["10.0.0.0/8"], looped), t0());
    assert!(v4(&r.plan()).is_empty());
    assert_eq!(r.best(p4("10.0.0.0/8")), None);
    assert_eq!(counts(&mut r, 1), (1, 0, 0));
    assert_eq!(r.attr_sets(), 0, "looped attributes are not interned");
}

#[test]
fn route_with_our_cluster_id_in_the_cluster_list_replaces_the_previous_path_as_a_withdraw() {
    let mut r = rib_with(&[(1, true), (2, true)]);
    r.handle(announce(1, &["10.0.0.0/8"], attrs([192, 0, 2, 1])), t0());
    r.plan();
    let looped = PathAttrs {
        cluster_list: vec![Ipv4Addr::new(7, 7, 7, 7), CLUSTER],
        ..attrs([192, 0, 2, 1])
    };
    r.handle(announce(1, &["10.0.0.0/8"], looped), t0());
    let sends = v4(&r.plan());
    assert_eq!(only_to(&sends, &[2]).withdraw, vec![p4("10.0.0.0/8")]);
    assert_eq!(counts(&mut r, 1), (1, 0, 0));
    // Withdrawing the looped route clears the received count.
    r.handle(withdraw(1, &["10.0.0.0/8"]), t0());
    assert!(v4(&r.plan()).is_empty());
    assert_eq!(counts(&mut r, 1), (0, 0, 0));
}

#[test]
fn route_with_our_as_in_its_as_path_loses_to_a_loop_free_one_and_is_not_reflected() {
    // RFC 4271 §9.1.2: such a route is excluded from the decision; BIRD, FRR and OpenBGPD
    // drop it the same way, whichever kind of peer sent it.
    let mut r = rib_with(&[(1, true), (2, true), (3, true)]);
    let looped = PathAttrs {
        as_path: AsPath {
            segments: vec![AsSegment {
                kind: SegmentKind::Sequence,
                asns: vec![64512, 65000, 3356],
            }],
        },
        local_pref: Some(300),
        ..attrs([192, 0, 2, 1])
    };
    r.handle(announce(1, &["10.0.0.0/8"], looped), t0());
    assert!(v4(&r.plan()).is_empty());
    assert_eq!(counts(&mut r, 1), (1, 0, 0));
    // A loop-free path from another client is best although its LOCAL_PREF is lower.
    r.handle(announce(2, &["10.0.0.0/8"], attrs([192, 0, 2, 2])), t0());
    assert_eq!(r.best(p4("10.0.0.0/8")).map(|b| b.0), Some(2));
    let sends = v4(&r.plan());
    // The clients are one group; client 2 is not sent its own route.
    let (p, a) = &only_to(&sends, &[1, 3]).announce[0];
    assert_eq!(
        (*p, a.next_hop),
        (p4("10.0.0.0/8"), NextHop::V4([192, 0, 2, 2].into()))
    );
}

// ---------------------------------------------------------------- withdraws and best path

#[test]
fn withdraw_propagates_to_the_group() {
    let mut r = rib_with(&[(1, true), (2, true), (3, false)]);
    r.handle(
        announce(1, &["10.0.0.0/8", "10.1.0.0/16"], attrs([192, 0, 2, 1])),
        t0(),
    );
    r.plan();
    r.handle(withdraw(1, &["10.1.0.0/16"]), t0());
    let sends = v4(&r.plan());
    for group in [&[2][..], &[3][..]] {
        let s = only_to(&sends, group);
        assert_eq!(s.withdraw, vec![p4("10.1.0.0/16")]);
        assert!(s.announce.is_empty());
    }
    assert!(
        sends.iter().all(|s| !s.peers.contains(&1)),
        "the source was never sent its route, so nothing to withdraw: {sends:#?}"
    );
}

#[test]
fn peer_down_withdraws_its_paths_from_every_group() {
    let mut r = rib_with(&[(1, true), (2, true), (3, false)]);
    r.handle(
        announce(1, &["10.0.0.0/8", "10.1.0.0/16"], attrs([192, 0, 2, 1])),
        t0(),
    );
    r.plan();
    r.handle(ToRib::PeerDown { peer: 1 }, t0());
    let sends = v4(&r.plan());
    assert_eq!(
        only_to(&sends, &[2]).withdraw,
        vec![p4("10.0.0.0/8"), p4("10.1.0.0/16")]
    );
    assert_eq!(
        only_to(&sends, &[3]).withdraw,
        vec![p4("10.0.0.0/8"), p4("10.1.0.0/16")]
    );
    assert_eq!(r.peer_down_scans(), 1);
    assert_eq!(r.attr_sets(), 0);
    let s = r.snapshot(0);
    assert!(s.peers.iter().all(|p| p.peer != 1));
    assert_eq!(s.families[0].prefixes, 0);
}

#[test]
fn a_better_path_is_announced_to_the_group() {
    let mut r = rib_with(&[(1, true), (2, true)]);
    r.handle(announce(1, &["10.0.0.0/8"], attrs([192, 0, 2, 1])), t0());
    r.plan();
    r.handle(announce(2, &["10.0.0.0/8"], lp([192, 0, 2, 2], 300)), t0());
    let sends = v4(&r.plan());
    let s = only_to(&sends, &[1]);
    assert_eq!(s.announce.len(), 1);
    assert_eq!(s.announce[0].1.local_pref, Some(300));
    assert_eq!(
        s.announce[0].1.originator_id,
        Some(Ipv4Addr::new(10, 0, 0, 2))
    );
    // Client 2 held client 1's path from us: now that its own path is best, that one is
    // withdrawn, and its own is not sent back (BIRD and OpenBGPD do the same).
    let s = only_to(&sends, &[2]);
    assert_eq!(
        (s.withdraw.as_slice(), s.announce.len()),
        (&[p4("10.0.0.0/8")][..], 0)
    );
    // A worse path changes nothing that is advertised.
    r.handle(announce(1, &["10.0.0.0/8"], lp([192, 0, 2, 1], 50)), t0());
    assert!(v4(&r.plan()).is_empty());
}

#[test]
fn when_the_best_path_is_withdrawn_the_fallback_path_is_announced() {
    let mut r = rib_with(&[(1, true), (2, true)]);
    r.handle(announce(1, &["10.0.0.0/8"], attrs([192, 0, 2, 1])), t0());
    r.handle(announce(2, &["10.0.0.0/8"], lp([192, 0, 2, 2], 300)), t0());
    r.plan();
    r.handle(withdraw(2, &["10.0.0.0/8"]), t0());
    let sends = v4(&r.plan());
    // Client 1's own path is best again: it is withdrawn what it held (client 2's path),
    // and client 2 is sent client 1's.
    assert_eq!(only_to(&sends, &[1]).withdraw, vec![p4("10.0.0.0/8")]);
    assert!(only_to(&sends, &[1]).announce.is_empty());
    let s = only_to(&sends, &[2]);
    assert!(s.withdraw.is_empty());
    assert_eq!(
        s.announce[0].1.next_hop,
        NextHop::V4(Ipv4Addr::new(192, 0, 2, 1))
    );
    assert_eq!(
        s.announce[0].1.originator_id,
        Some(Ipv4Addr::new(10, 0, 0, 1))
    );
}

#[test]
fn a_change_undone_within_one_batch_sends_nothing() {
    let mut r = rib_with(&[(1, true), (2, true)]);
    r.handle(announce(1, &["10.0.0.0/8"], attrs([192, 0, 2, 1])), t0());
    r.plan();
    r.handle(announce(2, &["10.0.0.0/8"], lp([192, 0, 2, 2], 300)), t0());
    r.handle(withdraw(2, &["10.0.0.0/8"]), t0());
    assert!(v4(&r.plan()).is_empty());
}

#[test]
fn best_path_in_the_table_never_depends_on_arrival_order() {
    // Peers 1..=4 with a MED cycle across neighbor ASes and a local-pref-free tie.
    let path = |asn: u32, med: u32| PathAttrs {
        as_path: AsPath {
            segments: vec![AsSegment {
                kind: SegmentKind::Sequence,
                asns: vec![asn],
            }],
        },
        med: Some(med),
        ..attrs([192, 0, 2, 9])
    };
    let paths = [
        (1, path(65001, 10)),
        (2, path(65001, 5)),
        (3, path(65002, 0)),
        (4, path(65002, 7)),
    ];
    let mut expected = None;
    let orders: Vec<Vec<usize>> = {
        let mut all = Vec::new();
        for a in 0..4 {
            for b in 0..4 {
                for c in 0..4 {
                    for d in 0..4 {
                        let v = vec![a, b, c, d];
                        let mut s = v.clone();
                        s.sort_unstable();
                        s.dedup();
                        if s.len() == 4 {
                            all.push(v);
                        }
                    }
                }
            }
        }
        all
    };
    assert_eq!(orders.len(), 24);
    for order in orders {
        let mut r = rib_with(&[(1, true), (2, true), (3, true), (4, true)]);
        for &i in &order {
            let (peer, a) = &paths[i];
            r.handle(announce(*peer, &["10.0.0.0/8"], a.clone()), t0());
        }
        let (best, _) = r.best(p4("10.0.0.0/8")).unwrap();
        assert_eq!(*expected.get_or_insert(best), best, "order {order:?}");
        // And withdrawing in that order leaves the same best as inserting the rest.
    }
    // 65001: peer 2 (MED 5); 65002: peer 3 (MED 0); then lowest router id: 10.0.0.2.
    assert_eq!(expected, Some(2));
}

#[test]
fn treat_as_withdraw_removes_the_peers_paths_for_the_updates_prefixes() {
    let mut r = rib_with(&[(1, true), (2, true)]);
    r.handle(announce(1, &["10.0.0.0/8"], attrs([192, 0, 2, 1])), t0());
    r.plan();
    let bad = Update {
        attrs: Some(attrs([192, 0, 2, 1])),
        nlri: vec![p4("10.0.0.0/8")],
        treat_as_withdraw: true,
        ..Update::default()
    };
    r.handle(ToRib::updates(1, vec![bad]), t0());
    assert_eq!(
        only_to(&v4(&r.plan()), &[2]).withdraw,
        vec![p4("10.0.0.0/8")]
    );
}

#[test]
fn routes_of_a_family_not_negotiated_and_messages_about_unknown_peers_are_ignored() {
    let mut r = rib();
    let mut up = peer_up(1, true);
    up.families = FamilySet::EMPTY.with(Family::Ipv6Unicast);
    r.handle(ToRib::PeerUp(up), t0());
    r.handle(ToRib::PeerUp(peer_up(2, true)), t0());
    r.plan();
    r.handle(announce(1, &["10.0.0.0/8"], attrs([192, 0, 2, 1])), t0());
    r.handle(announce(9, &["10.0.0.0/8"], attrs([192, 0, 2, 9])), t0());
    for m in [
        ToRib::PeerDown { peer: 9 },
        ToRib::Xoff { peer: 9 },
        ToRib::Xon { peer: 9 },
    ] {
        r.handle(m, t0());
    }
    r.handle(
        ToRib::RouteRefresh {
            peer: 9,
            family: Family::Ipv4Unicast,
        },
        t0(),
    );
    assert!(r.plan().sends.is_empty());
    assert_eq!(r.best(p4("10.0.0.0/8")), None);
}

#[test]
fn ipv6_routes_carry_the_mp_reach_next_hop_and_are_withdrawn_by_mp_unreach() {
    let mut r = rib_with(&[(1, true), (2, true)]);
    let nh = NextHop::V6 {
        global: "2001:db8::1".parse().unwrap(),
        link_local: None,
    };
    let u = Update {
        attrs: Some(PathAttrs {
            next_hop: NextHop::None,
            ..attrs([0, 0, 0, 0])
        }),
        mp_reach: Some(MpReach {
            next_hop: nh,
            nlri: NlriSet::Ipv6Unicast(vec![p6("2001:db8:1::/48")]),
        }),
        ..Update::default()
    };
    r.handle(ToRib::updates(1, vec![u]), t0());
    let plan = r.plan();
    let Routes::V6(rs) = parts(&plan.sends[0])[0].1 else {
        panic!("v6 send expected")
    };
    assert_eq!(rs.announced()[0].0, p6("2001:db8:1::/48"));
    assert_eq!(rs.announced()[0].1.next_hop, nh);
    let u = Update {
        mp_unreach: Some(MpUnreach {
            nlri: NlriSet::Ipv6Unicast(vec![p6("2001:db8:1::/48")]),
        }),
        ..Update::default()
    };
    r.handle(ToRib::updates(1, vec![u]), t0());
    let plan = r.plan();
    let Routes::V6(rs) = parts(&plan.sends[0])[0].1 else {
        panic!("v6 send expected")
    };
    assert_eq!(rs.withdraw, vec![p6("2001:db8:1::/48")]);
    let _ = Ipv6Addr::UNSPECIFIED;
}

// ---------------------------------------------------------------- groups, dumps, throttling

#[test]
fn two_clients_with_identical_codec_share_one_planned_send_with_both_peers() {
    let mut r = rib_with(&[(1, true), (2, true), (3, true)]);
    r.handle(
        announce(1, &["10.0.0.0/8", "10.1.0.0/16"], attrs([192, 0, 2, 1])),
        t0(),
    );
    let plan = r.plan();
    assert_eq!(plan.sends.len(), 1);
    let sends = v4(&plan);
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].peers, vec![2, 3]);
    // Both prefixes share one outbound attribute set: one announcement bucket.
    assert_eq!(sends[0].sets, 1);
}

#[test]
fn clients_with_different_codecs_are_in_different_groups() {
    let mut r = rib();
    r.handle(ToRib::PeerUp(peer_up(1, true)), t0());
    let mut up = peer_up(2, true);
    up.codec.four_octet_as = false;
    r.handle(ToRib::PeerUp(up), t0());
    r.handle(ToRib::PeerUp(peer_up(3, true)), t0());
    r.plan();
    r.handle(announce(3, &["10.0.0.0/8"], attrs([192, 0, 2, 3])), t0());
    let sends = v4(&r.plan());
    assert_eq!(sends.len(), 2);
    only_to(&sends, &[1]);
    only_to(&sends, &[2]);
}

#[test]
fn a_new_peer_gets_a_full_dump_then_end_of_rib_and_no_delta_in_the_same_flush() {
    let mut r = rib_with(&[(1, true), (3, false)]);
    r.handle(announce(1, &["10.0.0.0/8"], attrs([192, 0, 2, 1])), t0());
    r.handle(announce(3, &["10.2.0.0/16"], attrs([192, 0, 2, 3])), t0());
    r.plan();
    r.handle(announce(1, &["10.1.0.0/16"], attrs([192, 0, 2, 1])), t0());
    r.handle(ToRib::PeerUp(peer_up(2, true)), t0());
    r.handle(ToRib::PeerUp(peer_up(4, false)), t0());
    let sends = v4(&r.plan());
    // Deltas go to the established members only, less the source (client 1 is not sent
    // its own route, and is the only established member of its group).
    assert!(to_peers(&sends, &[1]).is_empty(), "{sends:#?}");
    assert_eq!(only_to(&sends, &[3]).kind, SendKind::Delta(1));
    let dump = only_to(&sends, &[2]);
    assert_eq!(dump.kind, SendKind::Dump(0));
    assert!(dump.eor);
    let prefixes: Vec<Prefix4> = dump.announce.iter().map(|(p, _)| *p).collect();
    assert_eq!(
        prefixes,
        vec![p4("10.0.0.0/8"), p4("10.1.0.0/16"), p4("10.2.0.0/16")]
    );
    let dump = only_to(&sends, &[4]);
    let prefixes: Vec<Prefix4> = dump.announce.iter().map(|(p, _)| *p).collect();
    assert_eq!(
        prefixes,
        vec![p4("10.0.0.0/8"), p4("10.1.0.0/16")],
        "non-client routes stay off non-clients"
    );
    // From then on the new peer is in its group's deltas.
    r.handle(withdraw(1, &["10.0.0.0/8"]), t0());
    let sends = v4(&r.plan());
    only_to(&sends, &[2]);
    only_to(&sends, &[3, 4]);
}

#[test]
fn a_family_without_a_table_still_gets_end_of_rib_on_peer_up() {
    let mut r = rib();
    let mut up = peer_up(1, true);
    up.families = up.families.with(Family::Ipv4Vpn);
    r.handle(ToRib::PeerUp(up), t0());
    let plan = r.plan();
    let families: Vec<Family> = plan.sends.iter().map(|s| s.routes.family()).collect();
    assert_eq!(
        families,
        vec![Family::Ipv4Unicast, Family::Ipv6Unicast, Family::Ipv4Vpn]
    );
    assert!(plan
        .sends
        .iter()
        .all(|s| s.peers() == vec![1] && s.kind == SendKind::Dump(0)));
    assert!(matches!(
        plan.sends[2].routes,
        Routes::EndOfRibOnly(Family::Ipv4Vpn)
    ));
}

#[test]
fn peers_coming_up_together_share_one_encoded_dump() {
    let mut r = rib_with(&[(1, true)]);
    r.handle(announce(1, &["10.0.0.0/8"], attrs([192, 0, 2, 1])), t0());
    r.plan();
    r.handle(ToRib::PeerUp(peer_up(2, true)), t0());
    r.handle(ToRib::PeerUp(peer_up(3, true)), t0());
    let sends = v4(&r.plan());
    let dump = only_to(&sends, &[2, 3]);
    assert_eq!(dump.kind, SendKind::Dump(0));
    assert_eq!(counts(&mut r, 2).2, 1);
}

#[test]
fn route_refresh_resends_the_family_to_that_peer_only() {
    let mut r = rib_with(&[(1, true), (2, true)]);
    r.handle(announce(1, &["10.0.0.0/8"], attrs([192, 0, 2, 1])), t0());
    r.plan();
    r.handle(
        ToRib::RouteRefresh {
            peer: 2,
            family: Family::Ipv4Unicast,
        },
        t0(),
    );
    let plan = r.plan();
    assert_eq!(plan.sends.len(), 1);
    let sends = v4(&plan);
    let dump = only_to(&sends, &[2]);
    assert!(dump.eor);
    assert_eq!(dump.announce.len(), 1);
}

#[test]
fn a_throttled_peer_catches_up_on_pending_announces_and_withdraws_after_xon() {
    let mut r = rib_with(&[(1, true), (2, true), (3, true)]);
    r.handle(
        announce(1, &["10.0.0.0/8", "10.9.0.0/16"], attrs([192, 0, 2, 1])),
        t0(),
    );
    r.plan();
    r.handle(ToRib::Xoff { peer: 2 }, t0());
    r.handle(withdraw(1, &["10.0.0.0/8"]), t0());
    r.handle(announce(1, &["10.1.0.0/16"], attrs([192, 0, 2, 1])), t0());
    let sends = v4(&r.plan());
    assert_eq!(sends.len(), 1);
    assert_eq!(
        sends[0].peers,
        vec![3],
        "the throttled peer is out of the send list (and the source is not sent its own)"
    );
    // More changes while throttled; one of them undone (announced then withdrawn).
    r.handle(announce(1, &["10.2.0.0/16"], attrs([192, 0, 2, 1])), t0());
    r.plan();
    r.handle(withdraw(1, &["10.2.0.0/16"]), t0());
    r.plan();
    assert_eq!(r.fams.v4.pending.len(2), 3);
    r.handle(ToRib::Xon { peer: 2 }, t0());
    r.handle(announce(1, &["10.3.0.0/16"], attrs([192, 0, 2, 1])), t0());
    let sends = v4(&r.plan());
    // The batch's delta goes to the active members; the catch-up (current state of every
    // prefix changed since Xoff, including this batch) to the peer alone.
    assert_eq!(only_to(&sends, &[3]).announce.len(), 1);
    let c = only_to(&sends, &[2]);
    assert_eq!(c.kind, SendKind::CatchUp(2));
    let announced: Vec<Prefix4> = c.announce.iter().map(|(p, _)| *p).collect();
    assert_eq!(announced, vec![p4("10.1.0.0/16"), p4("10.3.0.0/16")]);
    assert_eq!(c.withdraw, vec![p4("10.0.0.0/8"), p4("10.2.0.0/16")]);
    // Back in the group.
    r.handle(withdraw(1, &["10.9.0.0/16"]), t0());
    let sends = v4(&r.plan());
    only_to(&sends, &[2, 3]);
    assert_eq!(r.fams.v4.pending.len(2), 0);
}

// ---------------------------------------------------------------- snapshot and interning

#[test]
fn snapshot_counts_and_routes_best_first_sorted_by_prefix() {
    let mut r = rib_with(&[(1, true), (2, true), (3, false)]);
    r.handle(
        announce(1, &["10.1.0.0/16", "10.0.0.0/8"], attrs([192, 0, 2, 1])),
        t0(),
    );
    r.handle(announce(2, &["10.0.0.0/8"], lp([192, 0, 2, 2], 200)), t0());
    r.handle(announce(3, &["10.2.0.0/16"], attrs([192, 0, 2, 3])), t0());
    r.plan();
    let s = r.snapshot(7);
    assert_eq!(s.queue_depth, 7);
    assert!(s.routes.is_none());
    assert_eq!(
        s.families[0],
        FamilyCounts {
            family: Family::Ipv4Unicast,
            prefixes: 3,
            paths: 4
        }
    );
    let fam = |peer: PeerId| s.peers.iter().find(|p| p.peer == peer).unwrap().per_family[0];
    // The clients' group advertises 3; each client holds them less its own best path.
    assert_eq!(fam(1), (Family::Ipv4Unicast, 2, 2, 2));
    assert_eq!(fam(2), (Family::Ipv4Unicast, 1, 1, 2));
    assert_eq!(
        fam(3),
        (Family::Ipv4Unicast, 1, 1, 2),
        "non-clients get client routes only"
    );
    r.handle(ToRib::PublishRoutes, t0());
    let s = r.snapshot(0);
    assert_eq!(s.routes_generation, s.generation);
    let routes = s.routes.unwrap();
    let prefixes: Vec<String> = routes.iter().map(|v| v.prefix.to_string()).collect();
    assert_eq!(prefixes, ["10.0.0.0/8", "10.1.0.0/16", "10.2.0.0/16"]);
    let first = &routes[0].paths;
    assert_eq!(
        (first[0].peer, first[0].best, first[1].peer, first[1].best),
        (2, true, 1, false)
    );
    // Later snapshots keep the published routes until asked again.
    let s2 = r.snapshot(0);
    assert_eq!(s2.routes_generation, s.generation);
}

#[test]
fn attribute_sets_are_shared_and_freed_with_their_last_route() {
    let mut r = rib_with(&[(1, true), (2, true)]);
    let many: Vec<String> = (0..100).map(|i| format!("10.{i}.0.0/16")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    r.handle(announce(1, &many, attrs([192, 0, 2, 1])), t0());
    r.handle(announce(2, &many, attrs([192, 0, 2, 1])), t0());
    assert_eq!(r.attr_sets(), 1);
    r.plan();
    r.handle(announce(2, &many[..50], lp([192, 0, 2, 1], 10)), t0());
    assert_eq!(r.attr_sets(), 2);
    r.handle(withdraw(1, &many), t0());
    r.handle(ToRib::PeerDown { peer: 2 }, t0());
    // Dirty entries keep the old best alive until the flush.
    r.plan();
    assert_eq!(r.attr_sets(), 0);
}

// ---------------------------------------------------------------- encoded output

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

fn sends(out: &Outbox) -> Vec<(usize, Vec<PeerId>, Vec<Message>)> {
    out.msgs
        .iter()
        .map(|(w, m)| match m {
            ToWorker::Send { peers, data } => (*w, peers.to_vec(), decode_all(data, &codec())),
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[test]
fn encoded_update_is_shared_by_both_clients_and_decodes_with_reflection_attributes() {
    let mut r = rib_with(&[(1, true), (2, true), (3, true)]);
    r.handle(
        announce(1, &["10.0.0.0/8", "10.1.0.0/16"], attrs([192, 0, 2, 1])),
        t0(),
    );
    let mut out = Outbox::default();
    r.flush(&mut out);
    let s = sends(&out);
    assert_eq!(s.len(), 1, "one encoded Bytes for the group");
    assert_eq!((s[0].0, &s[0].1), (0, &vec![2, 3]));
    let Message::Update(u) = &s[0].2[0] else {
        panic!("UPDATE expected")
    };
    let mut nlri = u.nlri.clone();
    nlri.sort_unstable();
    assert_eq!(nlri, vec![p4("10.0.0.0/8"), p4("10.1.0.0/16")]);
    let a = u.attrs.as_ref().unwrap();
    assert_eq!(a.next_hop, NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(a.originator_id, Some(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(a.cluster_list, vec![CLUSTER]);
    assert_eq!(a.communities, vec![0xfde8_0001]);
}

#[test]
fn encoded_dump_ends_with_end_of_rib_and_withdraws_decode() {
    let mut r = rib_with(&[(1, true)]);
    r.handle(announce(1, &["10.0.0.0/8"], attrs([192, 0, 2, 1])), t0());
    r.plan();
    r.handle(ToRib::PeerUp(peer_up(2, true)), t0());
    let mut out = Outbox::default();
    r.flush(&mut out);
    let s = sends(&out);
    let dump = s
        .iter()
        .find(|s| s.1 == vec![2])
        .expect("dump to the new peer");
    let Message::Update(first) = &dump.2[0] else {
        panic!()
    };
    assert_eq!(first.nlri, vec![p4("10.0.0.0/8")]);
    let mut eors: Vec<Family> = s
        .iter()
        .flat_map(|s| s.2.iter())
        .filter_map(|m| match m {
            Message::Update(u) => u.end_of_rib(),
            _ => None,
        })
        .collect();
    eors.sort_unstable();
    assert_eq!(eors, vec![Family::Ipv4Unicast, Family::Ipv6Unicast]);
    r.handle(withdraw(1, &["10.0.0.0/8"]), t0());
    let mut out = Outbox::default();
    r.flush(&mut out);
    let s = sends(&out);
    let Message::Update(u) = &s[0].2[0] else {
        panic!()
    };
    assert_eq!(u.withdrawn, vec![p4("10.0.0.0/8")]);
}

// ---------------------------------------------------------------- the thread loop

fn worker() -> (WorkerHandle, crossbeam_channel::Receiver<ToWorker>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    (
        WorkerHandle {
            tx,
            poller: Arc::new(polling::Poller::new().unwrap()),
        },
        rx,
    )
}

#[test]
fn run_publishes_a_snapshot_per_batch_and_returns_on_shutdown() {
    let (tx, rx) = crossbeam_channel::unbounded();
    let snap = Arc::new(arc_swap::ArcSwap::from_pointee(RibSnapshot::default()));
    let cfg = RibConfig {
        asn: 65000,
        router_id: US,
        cluster_id: CLUSTER,
    };
    let (w, _wrx) = worker();
    let mut up = peer_up(1, true);
    up.families = FamilySet::EMPTY;
    tx.send(ToRib::PeerUp(up)).unwrap();
    tx.send(ToRib::PublishRoutes).unwrap();
    tx.send(ToRib::Shutdown).unwrap();
    let s2 = snap.clone();
    std::thread::spawn(move || run(cfg, rx, vec![w], s2))
        .join()
        .unwrap();
    let s = snap.load();
    assert!(s.generation >= 1);
    assert_eq!(s.routes_generation, s.generation);
    assert_eq!(s.peers.len(), 1);
}

#[test]
fn run_takes_each_batch_off_the_shared_inbox_weight() {
    let (tx, rx) = crossbeam_channel::unbounded();
    let weight = crate::msg::InboxWeight::default();
    let updates = vec![
        Update {
            withdrawn: vec![p4("10.0.0.0/8")],
            ..Update::default()
        },
        Update {
            attrs: Some(attrs([192, 0, 2, 1])),
            nlri: vec![p4("10.1.0.0/16"), p4("10.2.0.0/16")],
            ..Update::default()
        },
    ];
    let msg = ToRib::updates(1, updates);
    let ToRib::Updates { weight: w, .. } = msg else {
        unreachable!()
    };
    // As a worker does: the weight goes up when the batch is handed over.
    weight.fetch_add(w + 7, Relaxed);
    tx.send(ToRib::PeerUp(peer_up(1, true))).unwrap();
    tx.send(msg).unwrap();
    tx.send(ToRib::Shutdown).unwrap();
    let snap = Arc::new(arc_swap::ArcSwap::from_pointee(RibSnapshot::default()));
    let cfg = RibConfig {
        asn: 65000,
        router_id: US,
        cluster_id: CLUSTER,
    };
    let (h, _wrx) = worker();
    let wt = weight.clone();
    std::thread::spawn(move || run_weighted(cfg, rx, vec![h], snap, wt))
        .join()
        .unwrap();
    assert_eq!(
        weight.load(Relaxed),
        7,
        "exactly the batch's weight taken off"
    );
}

#[test]
fn run_returns_when_every_sender_is_gone() {
    let (tx, rx) = crossbeam_channel::unbounded::<ToRib>();
    drop(tx);
    let snap = Arc::new(arc_swap::ArcSwap::from_pointee(RibSnapshot::default()));
    run(
        RibConfig {
            asn: 1,
            router_id: US,
            cluster_id: CLUSTER,
        },
        rx,
        Vec::new(),
        snap,
    );
}

#[test]
fn run_sends_reflected_updates_to_the_owning_workers() {
    let (tx, rx) = crossbeam_channel::unbounded();
    let snap = Arc::new(arc_swap::ArcSwap::from_pointee(RibSnapshot::default()));
    let cfg = RibConfig {
        asn: 65000,
        router_id: US,
        cluster_id: CLUSTER,
    };
    let (w0, rx0) = worker();
    let (w1, rx1) = worker();
    let mut up2 = peer_up(2, true);
    up2.worker = 1;
    tx.send(ToRib::PeerUp(peer_up(1, true))).unwrap();
    tx.send(ToRib::PeerUp(up2)).unwrap();
    tx.send(ToRib::PeerUp(peer_up(3, true))).unwrap();
    let handle = std::thread::spawn(move || run(cfg, rx, vec![w0, w1], snap));
    // Both get their (empty) dumps: End-of-RIB for each family.
    for rx in [&rx0, &rx1] {
        let ToWorker::Send { data, .. } = rx.recv().unwrap() else {
            panic!()
        };
        assert!(!data.is_empty());
    }
    while rx0.try_recv().is_ok() {}
    while rx1.try_recv().is_ok() {}
    tx.send(announce(1, &["10.0.0.0/8"], attrs([192, 0, 2, 1])))
        .unwrap();
    tx.send(ToRib::Shutdown).unwrap();
    handle.join().unwrap();
    let mut got = Vec::new();
    for (i, rx) in [&rx0, &rx1].into_iter().enumerate() {
        for m in rx.try_iter() {
            let ToWorker::Send { peers, data } = m else {
                panic!()
            };
            for msg in decode_all(&data, &codec()) {
                if let Message::Update(u) = msg {
                    if !u.nlri.is_empty() {
                        got.push((i, peers.to_vec(), u.nlri));
                    }
                }
            }
        }
    }
    assert_eq!(
        got,
        vec![
            (0, vec![3], vec![p4("10.0.0.0/8")]),
            (1, vec![2], vec![p4("10.0.0.0/8")])
        ],
        "each worker its own members, less the source"
    );
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

#[test]
fn a_peer_past_max_prefixes_is_stopped_with_cease_1_and_its_excess_is_not_stored() {
    let mut r = rib_with(&[(2, true)]);
    r.handle(limited(1, 3), t0());
    let five = [
        "10.0.1.0/24",
        "10.0.2.0/24",
        "10.0.3.0/24",
        "10.0.4.0/24",
        "10.0.5.0/24",
    ];
    r.handle(announce(1, &five, attrs([192, 0, 2, 1])), t0());
    let s = stops(&mut r);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0, 1);
    // RFC 4486 §4: AFI 1, SAFI 1, limit 3.
    let n = &s[0].1;
    assert_eq!((n.code, n.subcode), (6, 1));
    assert_eq!(n.data, [0, 1, 1, 0, 0, 0, 3]);
    assert_eq!(held(&r, 1), 3);
    assert!(r.best(p4("10.0.4.0/24")).is_none());
    // Everything else the peer sends is ignored, and it is not stopped twice.
    r.handle(announce(1, &["10.0.9.0/24"], attrs([192, 0, 2, 1])), t0());
    assert!(r.best(p4("10.0.9.0/24")).is_none());
    assert!(stops(&mut r).is_empty());
    // Other peers are untouched.
    r.handle(announce(2, &five, attrs([192, 0, 2, 2])), t0());
    assert_eq!(held(&r, 2), 5);
    assert!(stops(&mut r).is_empty());
}

#[test]
fn the_limit_is_summed_over_families_and_names_the_family_that_crossed_it() {
    let mut r = rib_with(&[]);
    r.handle(limited(1, 2), t0());
    r.handle(
        announce(1, &["10.0.1.0/24", "10.0.2.0/24"], attrs([192, 0, 2, 1])),
        t0(),
    );
    assert!(stops(&mut r).is_empty());
    let mut a = attrs([192, 0, 2, 1]);
    a.next_hop = NextHop::V6 {
        global: "2001:db8::1".parse().unwrap(),
        link_local: None,
    };
    r.handle(
        ToRib::updates(
            1,
            vec![Update {
                attrs: Some(a.clone()),
                mp_reach: Some(MpReach {
                    next_hop: a.next_hop,
                    nlri: NlriSet::Ipv6Unicast(vec![p6("2001:db8:1::/48")]),
                }),
                ..Update::default()
            }],
        ),
        t0(),
    );
    let s = stops(&mut r);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].1.data, [0, 2, 1, 0, 0, 0, 2]);
}

#[test]
fn re_announcing_held_prefixes_at_the_limit_is_not_an_excess() {
    let mut r = rib_with(&[]);
    r.handle(limited(1, 2), t0());
    r.handle(
        announce(1, &["10.0.1.0/24", "10.0.2.0/24"], attrs([192, 0, 2, 1])),
        t0(),
    );
    r.handle(
        announce(1, &["10.0.1.0/24", "10.0.2.0/24"], lp([192, 0, 2, 1], 200)),
        t0(),
    );
    assert!(stops(&mut r).is_empty());
    // A withdrawal makes room again.
    r.handle(withdraw(1, &["10.0.1.0/24"]), t0());
    r.handle(announce(1, &["10.0.3.0/24"], attrs([192, 0, 2, 1])), t0());
    assert!(stops(&mut r).is_empty());
    assert_eq!(held(&r, 1), 2);
}

#[test]
fn a_stop_for_a_session_that_went_down_in_the_same_batch_is_dropped() {
    let mut r = rib_with(&[]);
    r.handle(limited(1, 1), t0());
    r.handle(
        announce(1, &["10.0.1.0/24", "10.0.2.0/24"], attrs([192, 0, 2, 1])),
        t0(),
    );
    r.handle(ToRib::PeerDown { peer: 1 }, t0());
    assert!(stops(&mut r).is_empty());
}

/// Withdrawals a throttled peer missed survive its ROUTE-REFRESH: the refresh dump only
/// announces, so they must be caught up too.
fn withdrawn_at(r: &mut Rib, peer: PeerId) -> Vec<Prefix4> {
    v4(&r.plan())
        .iter()
        .filter(|s| s.peers.contains(&peer))
        .flat_map(|s| s.withdraw.clone())
        .collect()
}

#[test]
fn route_refresh_while_throttled_keeps_the_missed_withdrawals() {
    let mut r = rib_with(&[(1, true), (2, true)]);
    r.handle(
        announce(1, &["10.0.0.0/8", "10.9.0.0/16"], attrs([192, 0, 2, 1])),
        t0(),
    );
    r.plan();
    r.handle(ToRib::Xoff { peer: 2 }, t0());
    r.handle(withdraw(1, &["10.0.0.0/8"]), t0());
    r.plan();
    r.handle(
        ToRib::RouteRefresh {
            peer: 2,
            family: Family::Ipv4Unicast,
        },
        t0(),
    );
    r.plan();
    r.handle(ToRib::Xon { peer: 2 }, t0());
    assert!(
        withdrawn_at(&mut r, 2).contains(&p4("10.0.0.0/8")),
        "stale route left at peer 2"
    );
}

#[test]
fn route_refresh_in_the_same_batch_as_xon_keeps_the_missed_withdrawals() {
    let mut r = rib_with(&[(1, true), (2, true)]);
    r.handle(
        announce(1, &["10.0.0.0/8", "10.9.0.0/16"], attrs([192, 0, 2, 1])),
        t0(),
    );
    r.plan();
    r.handle(ToRib::Xoff { peer: 2 }, t0());
    r.handle(withdraw(1, &["10.0.0.0/8"]), t0());
    r.plan();
    r.handle(
        ToRib::RouteRefresh {
            peer: 2,
            family: Family::Ipv4Unicast,
        },
        t0(),
    );
    r.handle(ToRib::Xon { peer: 2 }, t0());
    assert!(
        withdrawn_at(&mut r, 2).contains(&p4("10.0.0.0/8")),
        "stale route left at peer 2"
    );
}

#[path = "graceful_tests.rs"]
mod graceful_tests;
