//! A peer's decisions, with no socket: the time is a parameter, connections are poll keys.

use super::graceful::tests::negotiated;
use super::*;
use crate::config::parse;
use crate::wire::FamilySet;
use std::net::Ipv4Addr;
use std::path::Path;

const SEC: Duration = Duration::from_secs(1);

/// A neighbor built through the config parser, with `extra` lines of its own.
fn peer(extra: &str, now: Instant) -> Peer {
    let text = format!(
        "asn: 65000\nrouter_id: 10.0.0.1\nneighbors:\n  - address: 192.0.2.2\n    asn: 65000\n{extra}"
    );
    let n = Arc::new(parse(&text, Path::new("t.yaml")).unwrap().neighbors[0].clone());
    let cfg = Arc::new(SessionConfig {
        local_asn: 65000,
        local_id: Ipv4Addr::new(10, 0, 0, 1),
        remote_asn: n.asn,
        hold_time: n.hold_time,
        families: FamilySet::EMPTY,
        connect_retry: n.connect_retry,
        graceful_restart: None,
    });
    Peer::new(1, n, cfg, now)
}

/// A neighbor that dials, with connection `key` open (the first dial used).
fn connected(key: usize, now: Instant) -> Peer {
    let mut p = peer("", now);
    p.next_connect = None;
    p.conns.push(key);
    p
}

/// `p` with connection `key` Established at `now`.
fn up(p: &mut Peer, key: usize, now: Instant) {
    p.conns.push(key);
    p.session_up(key, negotiated(None, FamilySet::EMPTY), 0, now);
}

#[test]
fn a_new_neighbor_that_dials_is_due_at_once_and_a_passive_one_never() {
    let now = Instant::now();
    let p = peer("", now);
    assert!(p.dial_due(now));
    assert_eq!(p.next_dial(), Some(now));
    let p = peer("    passive: true\n", now);
    assert!(!p.dial_due(now) && p.next_dial().is_none());
}

#[test]
fn a_failed_dial_schedules_one_retry_and_says_why() {
    let now = Instant::now();
    let mut p = peer("", now);
    p.next_connect = None;
    let at = p.connect_failed("refused", now).expect("a retry");
    assert!(at > now && p.next_connect == Some(at));
    assert_eq!(p.last_error.as_deref(), Some("connect: refused"));
    assert!(!p.dial_due(at - Duration::from_millis(1)) && p.dial_due(at));
    // Already scheduled (a close reported the same failure): one failure, one step.
    assert_eq!(p.connect_failed("refused", now), None);
    assert_eq!(p.next_connect, Some(at));
}

#[test]
fn retries_back_off_while_dials_keep_failing() {
    let now = Instant::now();
    let mut p = peer("    connect_retry: 10\n", now);
    let mut waits = Vec::new();
    for _ in 0..3 {
        p.next_connect = None;
        waits.push(p.retry_later(now).unwrap() - now);
    }
    // 10 s, 20 s, 40 s, each with up to a quarter of jitter off.
    assert!(waits[0] <= 10 * SEC && waits[1] >= 15 * SEC && waits[2] >= 30 * SEC);
}

#[test]
fn a_neighbor_with_a_connection_passive_or_being_removed_schedules_no_retry() {
    let now = Instant::now();
    let mut p = connected(3, now);
    assert_eq!(p.retry_later(now), None);
    let mut p = peer("    passive: true\n", now);
    assert_eq!(p.connect_failed("refused", now), None);
    let mut p = peer("", now);
    assert!(
        p.remove(),
        "never Established: the RIB hears a PeerDown now"
    );
    assert_eq!(p.retry_later(now), None);
    assert!(!p.dial_due(now));
}

#[test]
fn an_established_session_that_goes_down_waits_the_idle_hold_longer_when_it_flaps() {
    let t0 = Instant::now();
    let mut p = peer("", t0);
    up(&mut p, 4, t0);
    assert_eq!(p.next_connect, None);
    assert_eq!((p.established, p.counters.established), (Some(4), 1));
    let t1 = t0 + SEC;
    let (was_established, at) = p.conn_closed(4, Some("hold timer expired"), t1);
    assert!(was_established);
    let first = at.unwrap() - t1;
    assert!(
        first <= 5 * SEC,
        "the first drop redials quickly: {first:?}"
    );
    assert_eq!(p.awaiting_down_ack, 1);
    assert_eq!(p.last_error.as_deref(), Some("hold timer expired"));
    assert!(p.established.is_none() && p.negotiated.is_none() && p.conns.is_empty());
    // Up again for a second only: a flap, which doubles the wait.
    up(&mut p, 5, t1);
    let t2 = t1 + SEC;
    let second = p.conn_closed(5, None, t2).1.unwrap() - t2;
    assert!(second > first && second >= 7 * SEC, "{second:?}");
}

#[test]
fn a_connection_closed_before_established_backs_off_like_a_failed_dial() {
    let now = Instant::now();
    let mut p = connected(2, now);
    let (was_established, at) = p.conn_closed(2, Some("stopped"), now);
    assert!(!was_established);
    assert_eq!(at, p.next_connect);
    assert!(at.is_some_and(|t| t > now));
    assert_eq!(p.awaiting_down_ack, 0);
}

#[test]
fn bytes_for_the_peer_go_to_its_established_connection_until_it_goes_down() {
    let now = Instant::now();
    let mut p = peer("", now);
    assert_eq!(p.group_conn(), None);
    up(&mut p, 7, now);
    assert_eq!(p.group_conn(), Some(7));
    p.conn_closed(7, None, now);
    up(&mut p, 8, now);
    assert_eq!(
        p.group_conn(),
        None,
        "the RIB has not acknowledged the down"
    );
    p.awaiting_down_ack = 0;
    assert_eq!(p.group_conn(), Some(8));
}

#[test]
fn max_prefixes_holds_the_neighbor_down_as_configured() {
    let now = Instant::now();
    let mut p = peer("    max_prefixes: 10\n", now);
    assert_eq!(p.hold_down_after_max_prefixes(now), None);
    assert!(!p.is_held_down(now) && p.accepts_connection(now));
    assert_eq!(p.last_error.as_deref(), Some("max_prefixes exceeded"));

    let mut p = peer("    max_prefixes: 10\n    max_prefixes_restart: 60\n", now);
    let until = p.hold_down_after_max_prefixes(now).unwrap();
    assert_eq!(until, now + 60 * SEC);
    assert_eq!(p.held_down, Some(HoldDown::Until(until)));
    assert!(!p.accepts_connection(now) && !p.dial_due(now));
    assert!(p.accepts_connection(until) && p.dial_due(until));

    let mut p = peer("    max_prefixes: 10\n    max_prefixes_restart: 0\n", now);
    assert_eq!(p.hold_down_after_max_prefixes(now), None);
    assert_eq!(p.held_down, Some(HoldDown::UntilReload));
    let later = now + 3600 * SEC;
    assert!(!p.accepts_connection(later) && !p.dial_due(later) && p.next_dial().is_none());
}

#[test]
fn a_passive_neighbor_held_down_waits_for_the_peer_to_connect() {
    let now = Instant::now();
    let mut p = peer(
        "    passive: true\n    max_prefixes: 10\n    max_prefixes_restart: 60\n",
        now,
    );
    let until = p.hold_down_after_max_prefixes(now).unwrap();
    assert_eq!(p.next_connect, None);
    assert!(p.accepts_connection(until));
}

#[test]
fn a_new_connection_takes_over_only_when_both_sides_and_both_sessions_have_graceful_restart() {
    let now = Instant::now();
    let mut p = peer("", now);
    up(&mut p, 1, now);
    assert!(p.is_restart(1, true, true));
    assert!(!p.is_restart(1, true, false) && !p.is_restart(1, false, true));
    assert!(
        !p.is_restart(2, true, true),
        "only the Established one is replaced"
    );
    let mut off = peer("    graceful_restart: false\n", now);
    up(&mut off, 1, now);
    assert!(!off.is_restart(1, true, true));
}

#[test]
fn the_state_shown_is_the_best_connections_else_active_or_idle_when_refusing() {
    let now = Instant::now();
    let mut p = peer("", now);
    assert_eq!(p.state(None, now), State::Active);
    assert_eq!(p.state(Some(State::OpenSent), now), State::OpenSent);
    p.held_down = Some(HoldDown::Until(now + SEC));
    assert_eq!(p.state(None, now), State::Idle);
    assert_eq!(p.state(None, now + SEC), State::Active, "hold-down over");
    up(&mut p, 1, now);
    assert_eq!(p.state(Some(State::OpenConfirm), now), State::Established);
    p.remove();
    p.conn_closed(1, None, now);
    assert_eq!(p.state(None, now), State::Idle);
}
