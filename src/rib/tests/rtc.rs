//! RT-Constraint (RFC 4684): VPN routes go to a member only when its membership admits one
//! of their route targets, once its membership is complete; a membership that changes is
//! sent the difference; memberships are reflected, or the default alone is sent while a
//! peer needs every VPN route.

use super::*;
use crate::wire::route_target::RouteTarget;
use crate::wire::rtc::RtcNlri;
use crate::wire::{Label, Labeled, Vpn4};

/// Route target 65000:`n`.
fn rt(n: u32) -> RouteTarget {
    RouteTarget::as2(65000, n)
}

/// The membership of route target 65000:`n`, as a PE in AS 65000 announces it.
fn member(n: u32) -> RtcNlri {
    RtcNlri::exact(65000, rt(n))
}

fn up(peer: PeerId, families: &[Family]) -> ToRib {
    let mut up = peer_up(peer, true);
    up.families = families.iter().copied().collect();
    ToRib::PeerUp(up)
}

/// A VPN-IPv4 client that does RT-Constraint (and Graceful Restart: it sends End-of-RIB,
/// and its VPN routes wait for its RT-Constraint End-of-RIB).
fn member_up(peer: PeerId) -> ToRib {
    let ToRib::PeerUp(mut up) = up(peer, &[Family::Ipv4Vpn, Family::RtConstraint]) else {
        unreachable!()
    };
    up.graceful_restart = Some(graceful_restart_for(up.families));
    ToRib::PeerUp(up)
}

/// A member without Graceful Restart, which may never send End-of-RIB (GoBGP 3.10).
fn member_up_no_gr(peer: PeerId) -> ToRib {
    up(peer, &[Family::Ipv4Vpn, Family::RtConstraint])
}

/// A VPN-IPv4 client that does not.
fn plain_up(peer: PeerId) -> ToRib {
    up(peer, &[Family::Ipv4Vpn])
}

fn mp(peer: PeerId, nlri: NlriSet, a: PathAttrs) -> ToRib {
    ToRib::updates(
        peer,
        vec![Update {
            mp_reach: Some(MpReach {
                next_hop: NextHop::V4(Ipv4Addr::new(192, 0, 2, peer as u8)),
                nlri,
            }),
            attrs: Some(a),
            ..Update::default()
        }],
    )
}

fn unreach(peer: PeerId, nlri: NlriSet) -> ToRib {
    ToRib::updates(
        peer,
        vec![Update {
            mp_unreach: Some(MpUnreach { nlri }),
            ..Update::default()
        }],
    )
}

/// `peer` asks for route targets 65000:`targets`.
fn join(peer: PeerId, targets: &[u32]) -> ToRib {
    let nlri = NlriSet::RtConstraint(targets.iter().map(|&n| member(n)).collect());
    mp(peer, nlri, lp([192, 0, 2, peer as u8], 100))
}

fn leave(peer: PeerId, targets: &[u32]) -> ToRib {
    unreach(
        peer,
        NlriSet::RtConstraint(targets.iter().map(|&n| member(n)).collect()),
    )
}

fn end_of_rib(peer: PeerId) -> ToRib {
    unreach(peer, NlriSet::RtConstraint(Vec::new()))
}

/// `peer` announces VPN-IPv4 `route` with route target 65000:`target`.
fn vpn(peer: PeerId, route: &str, target: u32) -> ToRib {
    let mut l = Labeled::default();
    l.push(route.parse::<Vpn4>().unwrap(), Label::new(100));
    let a = PathAttrs {
        ext_communities: vec![rt(target).octets()],
        ..lp([192, 0, 2, peer as u8], 100)
    };
    mp(peer, NlriSet::Ipv4Vpn(l), a)
}

fn v(s: &str) -> Vpn4 {
    s.parse().unwrap()
}

/// What one peer was sent in one flush.
#[derive(Debug, Default, PartialEq, Eq)]
struct Seen {
    vpn: Vec<Vpn4>,
    vpn_withdrawn: Vec<Vpn4>,
    rtc: Vec<(RtcNlri, PathAttrs)>,
    rtc_withdrawn: Vec<RtcNlri>,
    end_of_rib: Vec<Family>,
}

impl Seen {
    fn memberships(&self) -> Vec<RtcNlri> {
        self.rtc.iter().map(|(n, _)| *n).collect()
    }
}

/// Flushes once and decodes what each of `peers` was sent.
fn flush(r: &mut Rib, peers: &[PeerId]) -> Vec<Seen> {
    let mut out = Outbox::default();
    r.flush(&mut out);
    let mut seen: Vec<Seen> = peers.iter().map(|_| Seen::default()).collect();
    for (_, m) in &out.msgs {
        let ToWorker::Send { peers: to, data } = m else {
            continue;
        };
        for (i, p) in peers.iter().enumerate() {
            if !to.contains(p) {
                continue;
            }
            let s = &mut seen[i];
            for msg in decode_all(data, &codec()) {
                let Message::Update(u) = msg else { continue };
                if let Some(f) = u.end_of_rib() {
                    s.end_of_rib.push(f);
                    continue;
                }
                let next_hop = u.mp_reach.as_ref().map(|m| m.next_hop);
                match u.mp_reach.map(|m| m.nlri) {
                    Some(NlriSet::Ipv4Vpn(l)) => s.vpn.extend(l.keys),
                    Some(NlriSet::RtConstraint(ns)) => {
                        // The next hop with the attributes (it came in MP_REACH_NLRI).
                        let a = PathAttrs {
                            next_hop: next_hop.unwrap_or(NextHop::None),
                            ..u.attrs.clone().expect("attributes")
                        };
                        s.rtc.extend(ns.into_iter().map(|n| (n, a.clone())));
                    }
                    _ => {}
                }
                match u.mp_unreach.map(|m| m.nlri) {
                    Some(NlriSet::Ipv4Vpn(l)) => s.vpn_withdrawn.extend(l.keys),
                    Some(NlriSet::RtConstraint(ns)) => s.rtc_withdrawn.extend(ns),
                    _ => {}
                }
            }
        }
    }
    for s in &mut seen {
        s.vpn.sort_unstable();
        s.vpn_withdrawn.sort_unstable();
        s.rtc.sort_by_key(|(n, _)| *n);
        s.rtc_withdrawn.sort_unstable();
    }
    seen
}

const A: &str = "65000:1:10.1.0.0/24";
const B: &str = "65000:2:10.2.0.0/24";
const C: &str = "65000:3:10.3.0.0/24";

/// Peer 1 (no RT-Constraint) originates A (target 1), B (target 2) and C (target 3);
/// members 2.. are up, their first flush done.
/// The plan's one VPN-IPv4 send (asserted: exactly one), and its peers in order.
fn the_one_vpn4_send(plan: &Plan) -> (&PlannedSend, Vec<PeerId>) {
    let sends: Vec<_> = plan
        .sends
        .iter()
        .filter(|s| matches!(s.routes, Routes::Vpn4(_)))
        .collect();
    assert_eq!(sends.len(), 1, "{sends:#?}");
    let mut to = sends[0].peers();
    to.sort_unstable();
    (sends[0], to)
}

/// Flushes once and decodes what `peer` was sent.
fn flush_one(r: &mut Rib, peer: PeerId) -> Seen {
    flush(r, &[peer]).pop().unwrap_or_default()
}

/// `member_up` for a peer back from a restart of its own (Restart State bit: it waits for
/// our End-of-RIB before it sends its own).
fn member_restarting(peer: PeerId) -> ToRib {
    let ToRib::PeerUp(mut up) = member_up(peer) else {
        unreachable!("member_up is a PeerUp")
    };
    if let Some(g) = up.graceful_restart.as_mut() {
        g.restarting = true;
    }
    ToRib::PeerUp(up)
}

fn with_routes(members: &[PeerId]) -> Rib {
    let mut r = rib();
    r.feed(plain_up(1));
    for &m in members {
        r.feed(member_up(m));
    }
    r.feed(vpn(1, A, 1));
    r.feed(vpn(1, B, 2));
    r.feed(vpn(1, C, 3));
    flush(&mut r, &[]);
    r
}

#[test]
fn a_member_is_sent_only_the_vpn_routes_its_membership_admits_and_others_everything() {
    let mut r = rib();
    r.feed(plain_up(1));
    r.feed(member_up(2));
    r.feed(member_up(3));
    r.feed(plain_up(4));
    for (m, t) in [(2, 1), (3, 2)] {
        r.feed(join(m, &[t]));
        r.feed(end_of_rib(m));
    }
    flush(&mut r, &[]);
    r.feed(vpn(1, A, 1));
    r.feed(vpn(1, B, 2));
    r.feed(vpn(1, C, 3));
    let [to2, to3, to4] = <[Seen; 3]>::try_from(flush(&mut r, &[2, 3, 4])).unwrap();
    assert_eq!(to2.vpn, [v(A)]);
    assert_eq!(to3.vpn, [v(B)]);
    assert_eq!(to4.vpn, [v(A), v(B), v(C)], "no RT-Constraint: everything");
    // The withdrawal of a route a member was never sent goes to no one of them.
    r.feed(unreach(
        1,
        NlriSet::Ipv4Vpn(Labeled {
            keys: vec![v(C)],
            labels: vec![Label::WITHDRAWN],
        }),
    ));
    let [to2, to3, to4] = <[Seen; 3]>::try_from(flush(&mut r, &[2, 3, 4])).unwrap();
    assert_eq!((to2, to3), (Seen::default(), Seen::default()));
    assert_eq!(to4.vpn_withdrawn, [v(C)]);
}

#[test]
fn a_member_gets_no_vpn_route_until_its_end_of_rib_then_one_dump_of_what_it_asked() {
    let mut r = with_routes(&[2]);
    r.feed(join(2, &[1]));
    let to2 = flush_one(&mut r, 2);
    assert!(to2.vpn.is_empty(), "{to2:?}");
    assert!(!to2.end_of_rib.contains(&Family::Ipv4Vpn), "{to2:?}");
    r.feed(join(2, &[3]));
    r.feed(end_of_rib(2));
    let to2 = flush_one(&mut r, 2);
    assert_eq!(to2.vpn, [v(A), v(C)]);
    assert_eq!(to2.end_of_rib, [Family::Ipv4Vpn]);
}

#[test]
fn without_end_of_rib_the_membership_filters_after_the_deferral() {
    let mut r = with_routes(&[2]);
    r.feed(join(2, &[2]));
    flush(&mut r, &[2]);
    let at = r.next_deadline().expect("the deferral is a deadline");
    assert_eq!(at, t0() + rt_filter::DEFERRAL);
    r.expire(at);
    let to2 = flush_one(&mut r, 2);
    assert_eq!(to2.vpn, [v(B)]);
    assert_eq!(to2.end_of_rib, [Family::Ipv4Vpn]);
    assert_eq!(r.next_deadline(), None);
}

#[test]
fn a_second_target_brings_its_routes_once_and_a_target_left_is_withdrawn() {
    let mut r = with_routes(&[2]);
    r.feed(join(2, &[1]));
    r.feed(end_of_rib(2));
    let to2 = flush_one(&mut r, 2);
    assert_eq!(to2.vpn, [v(A)]);
    r.feed(join(2, &[2]));
    let to2 = flush_one(&mut r, 2);
    assert_eq!(to2.vpn, [v(B)], "only the new target's routes");
    assert!(to2.vpn_withdrawn.is_empty() && to2.end_of_rib.is_empty());
    r.feed(leave(2, &[1]));
    let to2 = flush_one(&mut r, 2);
    assert_eq!((to2.vpn, to2.vpn_withdrawn), (vec![], vec![v(A)]));
    // Changes after the move reach it as a member of its new group.
    r.feed(vpn(1, "65000:2:10.9.0.0/24", 2));
    r.feed(vpn(1, "65000:1:10.8.0.0/24", 1));
    let to2 = flush_one(&mut r, 2);
    assert_eq!(to2.vpn, [v("65000:2:10.9.0.0/24")]);
}

#[test]
fn a_membership_change_and_a_route_change_in_one_batch_send_each_route_once() {
    let mut r = with_routes(&[2]);
    r.feed(join(2, &[1]));
    r.feed(end_of_rib(2));
    flush(&mut r, &[2]);
    // A moves from target 1 to target 3, then the membership follows it.
    r.feed(vpn(1, A, 3));
    r.feed(join(2, &[3]));
    r.feed(leave(2, &[1]));
    let to2 = flush_one(&mut r, 2);
    assert_eq!(to2.vpn, [v(A), v(C)]);
    assert!(to2.vpn_withdrawn.is_empty(), "{to2:?}");
}

#[test]
fn members_with_the_same_membership_share_one_group_and_one_encoding() {
    let mut r = with_routes(&[2, 3, 4]);
    for (m, ts) in [(2, &[1, 2][..]), (3, &[2, 1]), (4, &[1])] {
        r.feed(join(m, ts));
        r.feed(end_of_rib(m));
    }
    flush(&mut r, &[]);
    let group = |r: &Rib, p: PeerId| r.peers[&p].group;
    assert_eq!(group(&r, 2), group(&r, 3));
    assert_ne!(group(&r, 2), group(&r, 4));
    r.feed(vpn(1, "65000:2:10.9.0.0/24", 2));
    let plan = r.plan();
    // Encoded once for 2 and 3; 4 does not ask for target 2, 1 is its source.
    let (_, to) = the_one_vpn4_send(&plan);
    assert_eq!(to, [2, 3]);
    // 3 narrows its membership to 4's: it moves to 4's group.
    r.feed(leave(3, &[2]));
    flush(&mut r, &[]);
    assert_eq!(group(&r, 3), group(&r, 4));
}

#[test]
fn memberships_are_reflected_with_originator_and_cluster_list_while_every_peer_filters() {
    let mut r = rib();
    r.feed(member_up(2));
    r.feed(member_up(3));
    flush(&mut r, &[]);
    r.feed(join(2, &[1]));
    let [to2, to3] = <[Seen; 2]>::try_from(flush(&mut r, &[2, 3])).unwrap();
    assert!(to2.rtc.is_empty(), "not back to its source");
    assert_eq!(to3.memberships(), [member(1)]);
    let a = &to3.rtc[0].1;
    assert_eq!(a.originator_id, Some(Ipv4Addr::new(10, 0, 0, 2)));
    assert_eq!(a.cluster_list, [CLUSTER]);
    assert_eq!(a.next_hop, NextHop::V4(Ipv4Addr::new(192, 0, 2, 2)));
    r.feed(leave(2, &[1]));
    let [_, to3] = <[Seen; 2]>::try_from(flush(&mut r, &[2, 3])).unwrap();
    assert_eq!(to3.rtc_withdrawn, [member(1)]);
}

#[test]
fn a_peer_without_rt_constraint_makes_every_member_get_the_default_membership_alone() {
    let mut r = rib();
    r.feed(member_up(2));
    r.feed(member_up(3));
    r.feed(join(2, &[1]));
    r.feed(join(3, &[2]));
    flush(&mut r, &[]);
    // A VPN peer that cannot say what it wants: we must ask for everything.
    r.feed(plain_up(4));
    let [to2, to3] = <[Seen; 2]>::try_from(flush(&mut r, &[2, 3])).unwrap();
    for s in [&to2, &to3] {
        assert_eq!(s.memberships(), [RtcNlri::DEFAULT], "{s:?}");
    }
    assert!(
        to2.rtc_withdrawn.contains(&member(2)),
        "what it held from 3"
    );
    assert!(to3.rtc_withdrawn.contains(&member(1)));
    assert_eq!(to2.rtc[0].1.next_hop, NextHop::V4(US));
    // A member coming up now is sent the default alone, then End-of-RIB.
    r.feed(member_up(5));
    let to5 = flush_one(&mut r, 5);
    assert_eq!(to5.memberships(), [RtcNlri::DEFAULT]);
    assert!(to5.end_of_rib.contains(&Family::RtConstraint));
    // New memberships are not reflected meanwhile.
    r.feed(join(5, &[7]));
    let to2 = flush_one(&mut r, 2);
    assert_eq!(to2, Seen::default());
    // When it goes, the default goes and the memberships come back.
    r.feed(ToRib::PeerDown { peer: 4 });
    let [to2, to5] = <[Seen; 2]>::try_from(flush(&mut r, &[2, 5])).unwrap();
    assert!(to2.rtc_withdrawn.contains(&RtcNlri::DEFAULT));
    assert_eq!(to2.memberships(), [member(2), member(7)]);
    assert_eq!(to5.memberships(), [member(1), member(2)]);
}

#[test]
fn a_member_asking_for_everything_gets_every_route_and_we_ask_for_everything_too() {
    let mut r = rib();
    r.feed(member_up(2));
    r.feed(member_up(3));
    r.feed(join(3, &[1]));
    r.feed(end_of_rib(3));
    r.feed(vpn(3, A, 1));
    r.feed(vpn(3, B, 2));
    flush(&mut r, &[]);
    let default = NlriSet::RtConstraint(vec![RtcNlri::DEFAULT]);
    r.feed(mp(2, default, lp([192, 0, 2, 2], 100)));
    r.feed(end_of_rib(2));
    let [to2, to3] = <[Seen; 2]>::try_from(flush(&mut r, &[2, 3])).unwrap();
    assert_eq!(to2.vpn, [v(A), v(B)]);
    // 3 is asked for everything by us, with our default alone: 2's is not reflected.
    assert_eq!(to3.memberships(), [RtcNlri::DEFAULT]);
    assert_eq!(to3.rtc[0].1.next_hop, NextHop::V4(US));
    assert_eq!(to2.memberships(), [RtcNlri::DEFAULT]);
}

#[test]
fn a_member_without_graceful_restart_filters_from_the_start_and_gets_what_it_asks_later() {
    let mut r = rib();
    r.feed(plain_up(1));
    r.feed(member_up_no_gr(2));
    r.feed(vpn(1, A, 1));
    r.feed(vpn(1, B, 2));
    let to2 = flush_one(&mut r, 2);
    assert!(to2.vpn.is_empty(), "it asked for nothing yet: {to2:?}");
    assert!(to2.end_of_rib.contains(&Family::Ipv4Vpn));
    assert_eq!(r.next_deadline(), None, "nothing waits");
    r.feed(join(2, &[2]));
    let to2 = flush_one(&mut r, 2);
    assert_eq!(to2.vpn, [v(B)]);
    // It held nothing of the family: a dump of it, End-of-RIB included.
    assert_eq!(to2.end_of_rib, [Family::Ipv4Vpn]);
    // A second target: only its routes, no dump.
    r.feed(vpn(1, C, 3));
    flush(&mut r, &[2]);
    r.feed(join(2, &[3]));
    let to2 = flush_one(&mut r, 2);
    assert_eq!(to2.vpn, [v(C)]);
    assert!(to2.end_of_rib.is_empty());
}

#[test]
fn a_member_restarting_itself_is_not_kept_waiting_for_its_end_of_rib() {
    let mut r = rib();
    r.feed(plain_up(1));
    r.feed(member_restarting(2));
    r.feed(vpn(1, A, 1));
    r.feed(join(2, &[1]));
    let to2 = flush_one(&mut r, 2);
    assert_eq!(to2.vpn, [v(A)]);
    assert!(to2.end_of_rib.contains(&Family::Ipv4Vpn));
    assert_eq!(r.next_deadline(), None);
}

#[test]
fn a_member_back_from_a_restart_is_filtered_by_the_memberships_kept_for_it() {
    let mut r = with_routes(&[2]);
    r.feed(join(2, &[1]));
    r.feed(end_of_rib(2));
    flush(&mut r, &[2]);
    r.feed(ToRib::PeerLost { peer: 2 });
    flush(&mut r, &[]);
    // Back, restarting itself (it waits for our End-of-RIB before it sends its own).
    r.feed(member_restarting(2));
    let to2 = flush_one(&mut r, 2);
    assert_eq!(to2.vpn, [v(A)], "its stale membership still filters");
    assert!(to2.end_of_rib.contains(&Family::Ipv4Vpn));
    // It re-announces the membership, then End-of-RIB: nothing changes for it.
    r.feed(join(2, &[1]));
    r.feed(end_of_rib(2));
    let to2 = flush_one(&mut r, 2);
    assert!(
        to2.vpn.is_empty() && to2.vpn_withdrawn.is_empty(),
        "{to2:?}"
    );
}

#[test]
fn a_kept_membership_not_announced_again_is_swept_and_its_routes_withdrawn() {
    let mut r = with_routes(&[2]);
    r.feed(join(2, &[1, 2]));
    r.feed(end_of_rib(2));
    let to2 = flush_one(&mut r, 2);
    assert_eq!(to2.vpn, [v(A), v(B)]);
    r.feed(ToRib::PeerLost { peer: 2 });
    flush(&mut r, &[]);
    r.feed(member_restarting(2));
    let to2 = flush_one(&mut r, 2);
    assert_eq!(to2.vpn, [v(A), v(B)]);
    // Only target 1 comes back before its End-of-RIB: target 2's membership is swept.
    r.feed(join(2, &[1]));
    r.feed(end_of_rib(2));
    let to2 = flush_one(&mut r, 2);
    assert_eq!((to2.vpn, to2.vpn_withdrawn), (vec![], vec![v(B)]));
}

#[test]
fn a_waiting_member_is_sent_no_withdrawal_of_routes_it_never_had() {
    let mut r = rib();
    r.feed(plain_up(1));
    r.feed(vpn(1, A, 1));
    flush(&mut r, &[]);
    r.feed(member_up(2));
    r.feed(vpn(1, B, 1));
    r.feed(unreach(
        1,
        NlriSet::Ipv4Vpn(Labeled {
            keys: vec![v(A)],
            labels: vec![Label::WITHDRAWN],
        }),
    ));
    let to2 = flush_one(&mut r, 2);
    assert!(
        to2.vpn.is_empty() && to2.vpn_withdrawn.is_empty(),
        "{to2:?}"
    );
    r.feed(ToRib::Xoff { peer: 2 });
    r.feed(vpn(1, C, 1));
    flush(&mut r, &[2]);
    r.feed(ToRib::Xon { peer: 2 });
    let to2 = flush_one(&mut r, 2);
    assert!(
        to2.vpn.is_empty() && to2.vpn_withdrawn.is_empty(),
        "{to2:?}"
    );
    r.feed(join(2, &[1]));
    r.feed(end_of_rib(2));
    let to2 = flush_one(&mut r, 2);
    assert_eq!(to2.vpn, [v(B), v(C)]);
    assert!(to2.vpn_withdrawn.is_empty());
}

#[test]
fn a_route_refresh_from_a_member_resends_what_its_membership_admits() {
    let mut r = with_routes(&[2]);
    r.feed(join(2, &[1, 3]));
    r.feed(end_of_rib(2));
    flush(&mut r, &[2]);
    r.feed(ToRib::RouteRefresh {
        peer: 2,
        family: Family::Ipv4Vpn,
    });
    let to2 = flush_one(&mut r, 2);
    assert_eq!(to2.vpn, [v(A), v(C)]);
    assert_eq!(to2.end_of_rib, [Family::Ipv4Vpn]);
    r.feed(ToRib::RouteRefresh {
        peer: 2,
        family: Family::RtConstraint,
    });
    let to2 = flush_one(&mut r, 2);
    assert_eq!(
        to2.memberships(),
        [RtcNlri::DEFAULT],
        "asked for everything"
    );
    assert_eq!(to2.end_of_rib, [Family::RtConstraint]);
}

#[test]
fn members_asking_for_the_same_targets_together_get_one_dump_encoded_once() {
    let mut r = rib();
    r.feed(plain_up(1));
    r.feed(member_up_no_gr(2));
    r.feed(member_up_no_gr(3));
    r.feed(vpn(1, A, 1));
    r.feed(vpn(1, B, 2));
    flush(&mut r, &[]);
    r.feed(join(2, &[1]));
    r.feed(join(3, &[1]));
    let plan = r.plan();
    let (send, to) = the_one_vpn4_send(&plan);
    assert_eq!(to, [2, 3]);
    let Routes::Vpn4(rs) = &send.routes else {
        unreachable!()
    };
    assert_eq!(rs.prefixes, [v(A)]);
    assert!(rs.withdraw.is_empty());
}

#[test]
fn a_route_refresh_while_the_membership_is_awaited_sends_nothing_before_it() {
    let mut r = with_routes(&[2]);
    r.feed(ToRib::RouteRefresh {
        peer: 2,
        family: Family::Ipv4Vpn,
    });
    let to2 = flush_one(&mut r, 2);
    assert_eq!(to2, Seen::default());
    r.feed(join(2, &[2]));
    r.feed(end_of_rib(2));
    let to2 = flush_one(&mut r, 2);
    assert_eq!(to2.vpn, [v(B)]);
    assert_eq!(to2.end_of_rib, [Family::Ipv4Vpn]);
}

/// Shape (b) of the load workloads, in the RIB alone: one originator of VPN routes in 100
/// route targets, 1000 members each asking for 10 of them (100 distinct memberships), and
/// the same with members that do not do RT-Constraint. Prints the RIB time (apply, plan and
/// encode) and the bytes encoded for the workers. `RTC_SCALE=10` divides routes and
/// members by 10 (a debug build).
#[test]
#[ignore = "100k routes x 1000 members: run alone with --ignored --nocapture, in release"]
fn scale_one_originator_to_members_of_ten_targets_each() {
    let scale: u32 = std::env::var("RTC_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let (routes, members) = (100_000 / scale, 1000 / scale);
    for rtc in [true, false] {
        let mut r = rib();
        let start = std::time::Instant::now();
        let mut bytes = 0usize;
        let mut drain = |r: &mut Rib| {
            let mut out = Outbox::default();
            r.flush(&mut out);
            for (_, m) in &out.msgs {
                if let ToWorker::Send { peers, data } = m {
                    bytes += data.len();
                    let _ = peers;
                }
            }
        };
        r.feed(plain_up(1));
        for m in 0..members {
            let peer = 2 + m;
            if rtc {
                r.feed(member_up(peer));
                let targets: Vec<u32> = (0..10).map(|k| (m + k) % 100).collect();
                r.feed(join(peer, &targets));
                r.feed(end_of_rib(peer));
            } else {
                r.feed(plain_up(peer));
            }
        }
        drain(&mut r);
        let ready = start.elapsed();
        // Routes in UPDATEs of 100 (one RD and target each), as a PE sends a VRF's table.
        let mut sent = 0;
        while sent < routes {
            let t = sent / (routes / 100).max(1) % 100;
            let mut l = Labeled::default();
            for i in sent..(sent + 100).min(routes) {
                let rd = format!("65000:{t}");
                let key: Vpn4 = format!(
                    "{rd}:{}.{}.{}.0/24",
                    10 + i / 65536,
                    (i / 256) % 256,
                    i % 256
                )
                .parse()
                .unwrap();
                l.push(key, Label::new(16 + t));
            }
            let a = PathAttrs {
                ext_communities: vec![rt(t).octets()],
                ..lp([192, 0, 2, 1], 100)
            };
            r.feed(mp(1, NlriSet::Ipv4Vpn(l), a));
            sent += 100;
            if sent % 10_000 == 0 {
                drain(&mut r);
            }
        }
        drain(&mut r);
        let all = start.elapsed();
        // One member asks for one more target: a table walk and its catch-up.
        let before = std::time::Instant::now();
        if rtc {
            r.feed(join(2, &[50]));
            drain(&mut r);
        }
        println!(
            "rtc={rtc}: one more target for one member in {:?}",
            before.elapsed()
        );
        println!(
            "rtc={rtc}: {members} members up in {:?}; {routes} routes to them in {:?}; {} kB encoded, {} groups",
            ready,
            all - ready,
            bytes / 1000,
            r.groups.len()
        );
    }
}
