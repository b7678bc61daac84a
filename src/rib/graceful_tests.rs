//! Graceful Restart, receiving speaker (RFC 4724 §4.2): stale routes kept, refreshed,
//! swept on End-of-RIB and on the timers. Uses the helpers of `rib::tests`.

use super::*;
use crate::msg::GracefulRestartPeer;
use std::time::Duration;

const RESTART: Duration = Duration::from_secs(120);
const STALE: Duration = Duration::from_secs(360);

/// Peer `peer` up with Graceful Restart for both families, F bits as given.
fn gr_up(peer: PeerId, client: bool, forwarding: bool) -> PeerUp {
    let mut up = peer_up(peer, client);
    up.graceful_restart = Some(GracefulRestartPeer {
        families: both(),
        forwarding: if forwarding { both() } else { FamilySet::EMPTY },
        restart_time: RESTART,
        stale_time: STALE,
    });
    up
}

fn eor_v4(peer: PeerId) -> ToRib {
    ToRib::updates(peer, vec![Update::default()])
}

const ABC: [&str; 3] = ["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"];

/// Peer 1 (GR, client) announced A, B and C, reflected to peer 2 (a non-client, so in a
/// group of its own); then peer 1's session was lost.
fn restarting() -> Rib {
    let mut r = rib();
    r.handle(ToRib::PeerUp(gr_up(1, true, true)), t0());
    r.handle(ToRib::PeerUp(peer_up(2, false)), t0());
    r.plan();
    r.handle(announce(1, &ABC, attrs([192, 0, 2, 1])), t0());
    let sends = v4(&r.plan());
    assert_eq!(only_to(&sends, &[2]).announce.len(), 3);
    r.handle(ToRib::PeerLost { peer: 1 }, t0());
    r
}

fn withdrawn_to(r: &mut Rib, peer: PeerId) -> Vec<Prefix4> {
    let sends = v4(&r.plan());
    to_peers(&sends, &[peer])
        .iter()
        .flat_map(|s| s.withdraw.clone())
        .collect()
}

#[test]
fn a_lost_graceful_peer_keeps_its_routes_stale_and_they_stay_best_and_reflected() {
    let mut r = restarting();
    let mut out = Outbox::default();
    r.flush(&mut out);
    assert!(
        out.msgs
            .iter()
            .any(|(_, m)| matches!(m, ToWorker::PeerDownAck { peer: 1 })),
        "PeerLost is acknowledged like PeerDown"
    );
    assert!(
        !out.msgs
            .iter()
            .any(|(_, m)| matches!(m, ToWorker::Send { .. })),
        "nothing withdrawn: {:?}",
        out.msgs
    );
    assert_eq!(r.stale_routes(), 3);
    for p in ABC {
        assert_eq!(r.best(p4(p)).map(|b| b.0), Some(1), "{p} still best");
    }
    assert_eq!(counts(&mut r, 1), (3, 3, 0));
    assert!(r.next_deadline().is_some(), "restart timer armed");
    // A new client still gets the stale routes (they are reflected like any other).
    r.handle(ToRib::PeerUp(peer_up(3, true)), t0());
    let sends = v4(&r.plan());
    let dump = only_to(&sends, &[3]);
    assert_eq!(dump.announce.len(), 3);
}

#[test]
fn end_of_rib_withdraws_only_the_stale_routes_not_announced_again() {
    let mut r = restarting();
    r.plan();
    r.handle(ToRib::PeerUp(gr_up(1, true, true)), t0());
    r.plan();
    assert_eq!(r.stale_routes(), 3, "kept while waiting for End-of-RIB");
    r.handle(announce(1, &ABC[..1], attrs([192, 0, 2, 1])), t0());
    r.handle(announce(1, &ABC[1..2], attrs([192, 0, 2, 9])), t0());
    let sends = v4(&r.plan());
    let s = only_to(&sends, &[2]);
    assert!(s.withdraw.is_empty(), "{s:?}");
    // Same attributes: nothing to re-send; new ones: announced.
    assert_eq!(
        s.announce.iter().map(|a| a.0).collect::<Vec<_>>(),
        vec![p4(ABC[1])]
    );
    assert_eq!(r.stale_routes(), 1);
    r.handle(eor_v4(1), t0());
    assert_eq!(withdrawn_to(&mut r, 2), vec![p4(ABC[2])]);
    assert_eq!(r.stale_routes(), 0);
    assert_eq!(r.next_deadline(), None, "stale-path timer disarmed");
    assert_eq!(counts(&mut r, 1).0, 2);
}

#[test]
fn the_restart_timer_withdraws_everything_when_the_peer_does_not_come_back() {
    let mut r = restarting();
    r.plan();
    let start = t0();
    r.expire(start);
    assert_eq!(r.stale_routes(), 3, "not due yet");
    r.expire(start + RESTART + Duration::from_secs(1));
    let mut got = withdrawn_to(&mut r, 2);
    got.sort_unstable();
    assert_eq!(got, ABC.map(p4).to_vec());
    assert_eq!(r.stale_routes(), 0);
    assert_eq!(r.next_deadline(), None);
    assert!(r.snapshot(0).peers.iter().all(|p| p.peer != 1));
}

#[test]
fn the_stale_path_timer_withdraws_what_no_end_of_rib_came_for() {
    let mut r = restarting();
    r.plan();
    r.handle(ToRib::PeerUp(gr_up(1, true, true)), t0());
    r.handle(announce(1, &ABC[..1], attrs([192, 0, 2, 1])), t0());
    r.plan();
    r.expire(t0() + STALE + Duration::from_secs(1));
    let mut got = withdrawn_to(&mut r, 2);
    got.sort_unstable();
    assert_eq!(got, vec![p4(ABC[1]), p4(ABC[2])]);
    assert_eq!(r.best(p4(ABC[0])).map(|b| b.0), Some(1));
}

#[test]
fn a_peer_back_without_graceful_restart_or_forwarding_state_loses_its_stale_routes_at_once() {
    for up in [peer_up(1, true), gr_up(1, true, false)] {
        let mut r = restarting();
        r.plan();
        r.handle(ToRib::PeerUp(up.clone()), t0());
        let mut got = withdrawn_to(&mut r, 2);
        got.sort_unstable();
        assert_eq!(got, ABC.map(p4).to_vec(), "{:?}", up.graceful_restart);
        assert_eq!(r.stale_routes(), 0);
        assert_eq!(counts(&mut r, 1).0, 0);
    }
}

#[test]
fn a_peer_back_with_another_identity_starts_afresh() {
    let mut r = restarting();
    r.plan();
    let mut up = gr_up(1, true, true);
    up.remote_id = Ipv4Addr::new(10, 9, 9, 9);
    r.handle(ToRib::PeerUp(up), t0());
    let mut got = withdrawn_to(&mut r, 2);
    got.sort_unstable();
    assert_eq!(got, ABC.map(p4).to_vec());
    assert_eq!(r.stale_routes(), 0);
}

#[test]
fn a_session_ended_by_a_notification_withdraws_at_once_even_with_graceful_restart() {
    let mut r = rib();
    r.handle(ToRib::PeerUp(gr_up(1, true, true)), t0());
    r.handle(ToRib::PeerUp(peer_up(2, false)), t0());
    r.plan();
    r.handle(announce(1, &ABC, attrs([192, 0, 2, 1])), t0());
    r.plan();
    r.handle(ToRib::PeerDown { peer: 1 }, t0());
    let mut got = withdrawn_to(&mut r, 2);
    got.sort_unstable();
    assert_eq!(got, ABC.map(p4).to_vec());
    assert_eq!(r.stale_routes(), 0);
    assert_eq!(r.next_deadline(), None);
}

#[test]
fn a_lost_peer_without_graceful_restart_is_withdrawn_at_once() {
    let mut r = rib_with(&[(1, true), (2, false)]);
    r.handle(announce(1, &ABC, attrs([192, 0, 2, 1])), t0());
    r.plan();
    r.handle(ToRib::PeerLost { peer: 1 }, t0());
    assert_eq!(withdrawn_to(&mut r, 2).len(), 3);
    assert_eq!(r.stale_routes(), 0);
}

#[test]
fn only_the_families_the_peer_listed_are_kept() {
    let mut r = rib();
    let mut up = gr_up(1, true, true);
    if let Some(g) = up.graceful_restart.as_mut() {
        g.families = FamilySet::EMPTY.with(Family::Ipv6Unicast);
    }
    r.handle(ToRib::PeerUp(up), t0());
    r.handle(ToRib::PeerUp(peer_up(2, false)), t0());
    r.plan();
    r.handle(announce(1, &ABC, attrs([192, 0, 2, 1])), t0());
    r.plan();
    r.handle(ToRib::PeerLost { peer: 1 }, t0());
    assert_eq!(withdrawn_to(&mut r, 2).len(), 3, "IPv4 was not listed");
    assert_eq!(r.stale_routes(), 0);
}

#[test]
fn a_better_path_from_another_peer_wins_over_a_stale_one_and_the_stale_one_returns() {
    // Stale routes are ordinary candidates: the decision process alone picks.
    let mut r = restarting();
    r.plan();
    r.handle(ToRib::PeerUp(peer_up(3, true)), t0());
    r.plan();
    r.handle(announce(3, &ABC[..1], lp([192, 0, 2, 3], 300)), t0());
    r.plan();
    assert_eq!(r.best(p4(ABC[0])).map(|b| b.0), Some(3));
    r.handle(withdraw(3, &ABC[..1]), t0());
    r.plan();
    assert_eq!(r.best(p4(ABC[0])).map(|b| b.0), Some(1));
}

#[test]
fn a_peer_back_from_a_restart_is_not_dumped_its_own_stale_routes() {
    let mut r = restarting();
    r.handle(ToRib::PeerUp(peer_up(3, true)), t0());
    r.plan();
    // Peer 1 comes back into the clients' group, where its stale routes are best.
    r.handle(ToRib::PeerUp(gr_up(1, true, true)), t0());
    r.handle(announce(3, &["10.9.0.0/16"], attrs([192, 0, 2, 3])), t0());
    let sends = v4(&r.plan());
    let to_1: Vec<Prefix4> = to_peers(&sends, &[1])
        .iter()
        .flat_map(|s| s.announce.iter().map(|a| a.0))
        .collect();
    assert_eq!(to_1, vec![p4("10.9.0.0/16")], "{sends:#?}");
    assert!(to_peers(&sends, &[1]).iter().any(|s| s.eor));
    assert_eq!(counts(&mut r, 1).2, 1);
    assert_eq!(counts(&mut r, 3).2, 3, "peer 3 holds peer 1's stale routes");
}

#[test]
fn a_restarting_peer_is_sent_nothing_and_its_group_id_is_not_reused_for_it() {
    let mut r = restarting();
    r.plan();
    // Peer 2 leaves: its group (shared with peer 1 before the loss) is freed and reused.
    r.handle(ToRib::PeerDown { peer: 2 }, t0());
    r.handle(ToRib::PeerUp(peer_up(4, false)), t0());
    r.plan();
    r.handle(
        ToRib::RouteRefresh {
            peer: 1,
            family: Family::Ipv4Unicast,
        },
        t0(),
    );
    r.handle(ToRib::Xon { peer: 1 }, t0());
    let plan = r.plan();
    assert!(
        plan.sends.iter().all(|s| !s.peers().contains(&1)),
        "nothing for a restarting peer"
    );
    // Expiry must not take peer 4 out of the group that reused the id.
    r.expire(t0() + RESTART + Duration::from_secs(1));
    r.handle(ToRib::PeerUp(peer_up(5, true)), t0());
    r.handle(announce(5, &["10.9.0.0/16"], attrs([192, 0, 2, 5])), t0());
    let sends = v4(&r.plan());
    assert!(to_peers(&sends, &[4])
        .iter()
        .any(|s| s.announce.iter().any(|a| a.0 == p4("10.9.0.0/16"))));
}

#[test]
fn a_session_lost_again_before_end_of_rib_withdraws_what_was_still_stale() {
    // RFC 4724 §4.2: "To deal with possible consecutive restarts, a route (from the peer)
    // previously marked as stale MUST be deleted."
    let mut r = restarting();
    r.plan();
    r.handle(ToRib::PeerUp(gr_up(1, true, true)), t0());
    r.plan();
    r.handle(announce(1, &ABC[..1], attrs([192, 0, 2, 1])), t0());
    r.plan();
    assert_eq!(r.stale_routes(), 2);
    r.handle(ToRib::PeerLost { peer: 1 }, t0());
    let mut got = withdrawn_to(&mut r, 2);
    got.sort_unstable();
    assert_eq!(got, vec![p4(ABC[1]), p4(ABC[2])]);
    assert_eq!(r.stale_routes(), 1, "only what the lost session announced");
    assert_eq!(r.best(p4(ABC[0])).map(|b| b.0), Some(1));
    assert_eq!(counts(&mut r, 1).0, 1);
    // A third session that re-announces nothing keeps nothing past its End-of-RIB.
    r.handle(ToRib::PeerUp(gr_up(1, true, true)), t0());
    r.plan();
    r.handle(eor_v4(1), t0());
    assert_eq!(withdrawn_to(&mut r, 2), vec![p4(ABC[0])]);
    assert_eq!(r.stale_routes(), 0);
}

/// Peer 1 (GR, client, `max_prefixes` 3) announced A, B and C and its session was lost;
/// it is back and has sent nothing yet.
fn limited_and_back() -> Rib {
    let mut r = rib_with(&[(2, false)]);
    let limited = || PeerUp {
        max_prefixes: Some(3),
        ..gr_up(1, true, true)
    };
    r.handle(ToRib::PeerUp(limited()), t0());
    r.handle(announce(1, &ABC, attrs([192, 0, 2, 1])), t0());
    r.plan();
    r.handle(ToRib::PeerLost { peer: 1 }, t0());
    r.plan();
    r.handle(ToRib::PeerUp(limited()), t0());
    r.plan();
    r
}

#[test]
fn stale_routes_do_not_count_toward_max_prefixes_until_swept() {
    let mut r = limited_and_back();
    let def = ["10.4.0.0/16", "10.5.0.0/16", "10.6.0.0/16"];
    r.handle(announce(1, &def, attrs([192, 0, 2, 1])), t0());
    // Withdrawing a stale prefix frees nothing: it was not counted.
    r.handle(withdraw(1, &ABC[..1]), t0());
    assert!(
        stops(&mut r).is_empty(),
        "3 fresh of 3, the stale ones apart"
    );
    assert_eq!(held(&r, 1), 5);
    assert_eq!(r.stale_routes(), 2);
    // Announced again, a stale prefix is fresh: the fourth one is an excess.
    r.handle(announce(1, &ABC[1..2], attrs([192, 0, 2, 1])), t0());
    let s = stops(&mut r);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].1.data, [0, 1, 1, 0, 0, 0, 3]);
    assert_eq!(r.stale_routes(), 2, "the excess was not applied");
}

#[test]
fn stale_prefixes_announced_again_fill_the_limit_like_new_ones() {
    let mut r = limited_and_back();
    // Same attributes (nothing changes in the table) or new ones: fresh either way.
    r.handle(announce(1, &ABC[..2], attrs([192, 0, 2, 1])), t0());
    r.handle(announce(1, &ABC[2..], attrs([192, 0, 2, 9])), t0());
    assert!(stops(&mut r).is_empty());
    assert_eq!(r.stale_routes(), 0);
    r.handle(announce(1, &["10.4.0.0/16"], attrs([192, 0, 2, 1])), t0());
    assert_eq!(stops(&mut r).len(), 1, "4 fresh of 3");
}
