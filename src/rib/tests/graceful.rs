//! Graceful Restart, receiving speaker (RFC 4724 §4.2): stale routes kept, refreshed,
//! swept on End-of-RIB and on the timers.

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
        restarting: false,
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
    r.feed(ToRib::PeerUp(gr_up(1, true, true)));
    r.feed(ToRib::PeerUp(peer_up(2, false)));
    r.plan();
    r.feed(route(1, &ABC));
    let sends = v4(&r.plan());
    assert_eq!(only_to(&sends, &[2]).announce.len(), 3);
    r.feed(ToRib::PeerLost { peer: 1 });
    r
}

/// `restarting()`, then peer 1 back with graceful restart, having sent nothing yet.
fn back_after_restart() -> Rib {
    let mut r = restarting();
    r.plan();
    r.feed(ToRib::PeerUp(gr_up(1, true, true)));
    r.plan();
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
    r.feed(ToRib::PeerUp(peer_up(3, true)));
    let sends = v4(&r.plan());
    let dump = only_to(&sends, &[3]);
    assert_eq!(dump.announce.len(), 3);
}

#[test]
fn end_of_rib_withdraws_only_the_stale_routes_not_announced_again() {
    let mut r = back_after_restart();
    assert_eq!(r.stale_routes(), 3, "kept while waiting for End-of-RIB");
    r.feed(route(1, &ABC[..1]));
    r.feed(announce(1, &ABC[1..2], attrs([192, 0, 2, 9])));
    let sends = v4(&r.plan());
    let s = only_to(&sends, &[2]);
    assert!(s.withdraw.is_empty(), "{s:?}");
    // Same attributes: nothing to re-send; new ones: announced.
    assert_eq!(
        s.announce.iter().map(|a| a.0).collect::<Vec<_>>(),
        vec![p4(ABC[1])]
    );
    assert_eq!(r.stale_routes(), 1);
    r.feed(eor_v4(1));
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
    r.feed(ToRib::PeerUp(gr_up(1, true, true)));
    r.feed(route(1, &ABC[..1]));
    r.plan();
    r.expire(t0() + STALE + Duration::from_secs(1));
    let mut got = withdrawn_to(&mut r, 2);
    got.sort_unstable();
    assert_eq!(got, vec![p4(ABC[1]), p4(ABC[2])]);
    assert_eq!(r.best(p4(ABC[0])).map(|b| b.0), Some(1));
}

#[test]
fn a_peer_back_unable_to_resume_loses_its_stale_routes_at_once() {
    struct Case {
        name: &'static str,
        up: PeerUp,
    }
    let cases = [
        Case {
            name: "the peer comes back without graceful restart",
            up: peer_up(1, true),
        },
        Case {
            name: "the peer comes back without forwarding state",
            up: gr_up(1, true, false),
        },
        Case {
            name: "the peer comes back with another identity, so starts afresh",
            up: PeerUp {
                remote_id: Ipv4Addr::new(10, 9, 9, 9),
                ..gr_up(1, true, true)
            },
        },
    ];
    for case in cases {
        let mut r = restarting();
        r.plan();
        r.feed(ToRib::PeerUp(case.up));
        let mut got = withdrawn_to(&mut r, 2);
        got.sort_unstable();
        assert_eq!(got, ABC.map(p4).to_vec(), "{}", case.name);
        assert_eq!(r.stale_routes(), 0, "{}", case.name);
        assert_eq!(counts(&mut r, 1).0, 0, "{}", case.name);
    }
}

#[test]
fn routes_that_graceful_restart_does_not_keep_are_withdrawn_at_once() {
    struct Case {
        name: &'static str,
        up: PeerUp,
        down: ToRib,
        /// Whether no timer may be left armed afterwards.
        no_timer: bool,
    }
    let ipv6_only = {
        let mut up = gr_up(1, true, true);
        if let Some(g) = up.graceful_restart.as_mut() {
            g.families = FamilySet::EMPTY.with(Family::Ipv6Unicast);
        }
        up
    };
    let cases = [
        Case {
            name: "the session ends with a NOTIFICATION, even under graceful restart",
            up: gr_up(1, true, true),
            down: ToRib::PeerDown { peer: 1 },
            no_timer: true,
        },
        Case {
            name: "the session is lost and the peer has no graceful restart",
            up: peer_up(1, true),
            down: ToRib::PeerLost { peer: 1 },
            no_timer: false,
        },
        Case {
            name: "the session is lost and the peer's graceful restart did not list IPv4",
            up: ipv6_only,
            down: ToRib::PeerLost { peer: 1 },
            no_timer: false,
        },
    ];
    for case in cases {
        let mut r = rib();
        r.feed(ToRib::PeerUp(case.up));
        r.feed(ToRib::PeerUp(peer_up(2, false)));
        r.plan();
        r.feed(route(1, &ABC));
        r.plan();
        r.feed(case.down);
        let mut got = withdrawn_to(&mut r, 2);
        got.sort_unstable();
        assert_eq!(got, ABC.map(p4).to_vec(), "{}", case.name);
        assert_eq!(r.stale_routes(), 0, "{}", case.name);
        if case.no_timer {
            assert_eq!(r.next_deadline(), None, "{}", case.name);
        }
    }
}

#[test]
fn a_better_path_from_another_peer_wins_over_a_stale_one_and_the_stale_one_returns() {
    // Stale routes are ordinary candidates: the decision process alone picks.
    let mut r = restarting();
    r.plan();
    r.feed(ToRib::PeerUp(peer_up(3, true)));
    r.plan();
    r.feed(announce(3, &ABC[..1], lp([192, 0, 2, 3], 300)));
    r.plan();
    assert_eq!(r.best(p4(ABC[0])).map(|b| b.0), Some(3));
    r.feed(withdraw(3, &ABC[..1]));
    r.plan();
    assert_eq!(r.best(p4(ABC[0])).map(|b| b.0), Some(1));
}

#[test]
fn a_peer_back_from_a_restart_is_not_dumped_its_own_stale_routes() {
    let mut r = restarting();
    r.feed(ToRib::PeerUp(peer_up(3, true)));
    r.plan();
    // Peer 1 comes back into the clients' group, where its stale routes are best.
    r.feed(ToRib::PeerUp(gr_up(1, true, true)));
    r.feed(route(3, &["10.9.0.0/16"]));
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
    r.feed(ToRib::PeerDown { peer: 2 });
    r.feed(ToRib::PeerUp(peer_up(4, false)));
    r.plan();
    r.feed(ToRib::RouteRefresh {
        peer: 1,
        family: Family::Ipv4Unicast,
    });
    r.feed(ToRib::Xon { peer: 1 });
    let plan = r.plan();
    assert!(
        plan.sends.iter().all(|s| !s.peers().contains(&1)),
        "nothing for a restarting peer"
    );
    // Expiry must not take peer 4 out of the group that reused the id.
    r.expire(t0() + RESTART + Duration::from_secs(1));
    r.feed(ToRib::PeerUp(peer_up(5, true)));
    r.feed(route(5, &["10.9.0.0/16"]));
    let sends = v4(&r.plan());
    assert!(to_peers(&sends, &[4])
        .iter()
        .any(|s| s.announce.iter().any(|a| a.0 == p4("10.9.0.0/16"))));
}

#[test]
fn a_session_lost_again_before_end_of_rib_withdraws_what_was_still_stale() {
    // RFC 4724 §4.2: "To deal with possible consecutive restarts, a route (from the peer)
    // previously marked as stale MUST be deleted."
    let mut r = back_after_restart();
    r.feed(route(1, &ABC[..1]));
    r.plan();
    assert_eq!(r.stale_routes(), 2);
    r.feed(ToRib::PeerLost { peer: 1 });
    let mut got = withdrawn_to(&mut r, 2);
    got.sort_unstable();
    assert_eq!(got, vec![p4(ABC[1]), p4(ABC[2])]);
    assert_eq!(r.stale_routes(), 1, "only what the lost session announced");
    assert_eq!(r.best(p4(ABC[0])).map(|b| b.0), Some(1));
    assert_eq!(counts(&mut r, 1).0, 1);
    // A third session that re-announces nothing keeps nothing past its End-of-RIB.
    r.feed(ToRib::PeerUp(gr_up(1, true, true)));
    r.plan();
    r.feed(eor_v4(1));
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
    r.feed(ToRib::PeerUp(limited()));
    r.feed(route(1, &ABC));
    r.plan();
    r.feed(ToRib::PeerLost { peer: 1 });
    r.plan();
    r.feed(ToRib::PeerUp(limited()));
    r.plan();
    r
}

#[test]
fn stale_routes_do_not_count_toward_max_prefixes_until_swept() {
    let mut r = limited_and_back();
    let def = ["10.4.0.0/16", "10.5.0.0/16", "10.6.0.0/16"];
    r.feed(route(1, &def));
    // Withdrawing a stale prefix frees nothing: it was not counted.
    r.feed(withdraw(1, &ABC[..1]));
    assert!(
        stops(&mut r).is_empty(),
        "3 fresh of 3, the stale ones apart"
    );
    assert_eq!(held(&r, 1), 5);
    assert_eq!(r.stale_routes(), 2);
    // Announced again, a stale prefix is fresh: the fourth one is an excess.
    r.feed(route(1, &ABC[1..2]));
    let s = stops(&mut r);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].1.data, [0, 1, 1, 0, 0, 0, 3]);
    assert_eq!(r.stale_routes(), 2, "the excess was not applied");
}

#[test]
fn stale_prefixes_announced_again_fill_the_limit_like_new_ones() {
    let mut r = limited_and_back();
    // Same attributes (nothing changes in the table) or new ones: fresh either way.
    r.feed(route(1, &ABC[..2]));
    r.feed(announce(1, &ABC[2..], attrs([192, 0, 2, 9])));
    assert!(stops(&mut r).is_empty());
    assert_eq!(r.stale_routes(), 0);
    r.feed(route(1, &["10.4.0.0/16"]));
    assert_eq!(stops(&mut r).len(), 1, "4 fresh of 3");
}
