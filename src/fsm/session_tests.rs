//! Session transitions, error paths and timers, driven with synthetic `Instant`s.

use super::*;
use crate::wire::{Capability, Family, FamilySet, Open, Update};

const LOCAL_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const PEER_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn cfg(hold_time: u16) -> Arc<SessionConfig> {
    Arc::new(SessionConfig {
        local_asn: 65000,
        local_id: LOCAL_ID,
        remote_asn: 65000,
        hold_time,
        families: FamilySet::EMPTY
            .with(Family::Ipv4Unicast)
            .with(Family::Ipv6Unicast),
        connect_retry: 30,
        graceful_restart: None,
    })
}

fn peer_open(hold_time: u16) -> Message {
    Message::Open(Open {
        version: 4,
        my_as: 65000,
        hold_time,
        bgp_id: PEER_ID,
        capabilities: vec![
            Capability::Multiprotocol { afi: 1, safi: 1 },
            Capability::RouteRefresh,
            Capability::FourOctetAs(65000),
            Capability::ExtendedMessage,
        ],
    })
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A session in OpenSent at `t0`.
fn open_sent(hold: u16, t0: Instant) -> Session {
    let mut s = Session::new(cfg(hold));
    let mut out = Vec::new();
    s.connected(t0, &mut out);
    s
}

/// A session in OpenConfirm at `t0`, with `peer_hold` in the peer's OPEN.
fn open_confirm(hold: u16, peer_hold: u16, t0: Instant) -> Session {
    let mut s = open_sent(hold, t0);
    let mut out = Vec::new();
    s.receive(peer_open(peer_hold), t0, &mut out);
    assert_eq!(s.state(), State::OpenConfirm);
    s
}

/// An Established session at `t0` (hold 90 on both sides: keepalive 30).
fn established(t0: Instant) -> Session {
    established_with(90, 90, t0)
}

fn established_with(hold: u16, peer_hold: u16, t0: Instant) -> Session {
    let mut s = open_confirm(hold, peer_hold, t0);
    let mut out = Vec::new();
    s.receive(Message::Keepalive, t0, &mut out);
    assert_eq!(s.state(), State::Established);
    s
}

/// A fresh `t0`, the session `at` builds at `t0`, and an empty output.
fn start(at: impl FnOnce(Instant) -> Session) -> (Instant, Session, Vec<Action>) {
    let t0 = Instant::now();
    (t0, at(t0), Vec::new())
}

fn notification(code: u8, subcode: u8) -> Notification {
    Notification {
        code,
        subcode,
        data: vec![],
    }
}

fn sent_notification(code: u8, subcode: u8) -> Vec<Action> {
    let n = notification(code, subcode);
    vec![
        Action::Send(Message::Notification(n.clone())),
        Action::Close(CloseReason::NotificationSent(n)),
    ]
}

fn hold_expired() -> Vec<Action> {
    vec![
        Action::Send(Message::Notification(hold_timer_expired())),
        Action::Close(CloseReason::HoldTimerExpired),
    ]
}

fn route_refresh(afi: u16, safi: u8, subtype: u8) -> Message {
    Message::RouteRefresh(RouteRefresh { afi, safi, subtype })
}

#[test]
fn new_session_is_in_connect_with_no_timer_and_the_default_codec() {
    let s = Session::new(cfg(90));
    assert_eq!(s.state(), State::Connect);
    assert_eq!(s.next_deadline(), None);
    assert_eq!(s.codec(), CodecCtx::default());
    assert!(s.negotiated().is_none() && s.remote_id().is_none());
}

#[test]
fn connected_sends_our_open_and_waits_four_minutes_in_opensent() {
    let t0 = Instant::now();
    let mut s = Session::new(cfg(90));
    let mut out = Vec::new();
    s.connected(t0, &mut out);
    assert_eq!(out, vec![Action::Send(Message::Open(our_open(&cfg(90))))]);
    assert_eq!(s.state(), State::OpenSent);
    assert_eq!(s.next_deadline(), Some(t0 + OPEN_HOLD_TIME));
}

#[test]
fn connected_outside_connect_is_ignored() {
    let (t0, mut s, mut out) = start(|t0| open_sent(90, t0));
    s.connected(t0 + secs(1), &mut out);
    assert!(out.is_empty());
    assert_eq!(s.next_deadline(), Some(t0 + OPEN_HOLD_TIME));
}

#[test]
fn valid_open_in_opensent_sends_keepalive_and_moves_to_openconfirm() {
    let (t0, mut s, mut out) = start(|t0| open_sent(90, t0));
    s.receive(peer_open(60), t0 + secs(5), &mut out);
    assert_eq!(out, vec![Action::Send(Message::Keepalive)]);
    assert_eq!(s.state(), State::OpenConfirm);
    // Negotiated hold 60, keepalive 20: the keepalive timer is due first.
    assert_eq!(s.next_deadline(), Some(t0 + secs(25)));
    assert_eq!(s.remote_id(), Some(PEER_ID));
}

#[test]
fn codec_switches_to_negotiated_values_once_the_open_is_accepted() {
    let t0 = Instant::now();
    let s = open_confirm(90, 90, t0);
    assert!(s.codec().four_octet_as && s.codec().extended_message);
}

#[test]
fn keepalive_in_openconfirm_establishes_and_reports_the_negotiation() {
    let (t0, mut s, mut out) = start(|t0| open_confirm(90, 180, t0));
    s.receive(Message::Keepalive, t0 + secs(1), &mut out);
    assert_eq!(s.state(), State::Established);
    let [Action::Established(n)] = out.as_slice() else {
        panic!("expected Established, got {out:?}");
    };
    assert_eq!((n.hold_time, n.keepalive), (90, 30));
    assert_eq!(n.families, FamilySet::EMPTY.with(Family::Ipv4Unicast));
    assert!(n.route_refresh);
    assert_eq!(s.negotiated(), Some(n));
}

#[test]
fn bad_open_sends_its_open_error_and_closes() {
    let (t0, mut s, mut out) = start(|t0| open_sent(90, t0));
    let Message::Open(mut open) = peer_open(90) else {
        unreachable!()
    };
    open.version = 3;
    s.receive(Message::Open(open), t0, &mut out);
    let n = Notification {
        code: 2,
        subcode: 1,
        data: vec![0, 4],
    };
    assert_eq!(
        out,
        vec![
            Action::Send(Message::Notification(n.clone())),
            Action::Close(CloseReason::NotificationSent(n))
        ]
    );
    assert_eq!(s.state(), State::Idle);
    assert_eq!(s.remote_id(), None);
}

#[test]
fn open_with_unacceptable_hold_time_closes_the_session() {
    let (t0, mut s, mut out) = start(|t0| open_sent(90, t0));
    s.receive(peer_open(2), t0, &mut out);
    assert_eq!(out, sent_notification(2, 6));
}

#[test]
fn unexpected_messages_in_opensent_are_fsm_error_subcode_1() {
    let update = Message::Update(Update::default());
    for msg in [Message::Keepalive, update, route_refresh(1, 1, 0)] {
        let mut s = open_sent(90, Instant::now());
        let mut out = Vec::new();
        s.receive(msg, Instant::now(), &mut out);
        assert_eq!(out, sent_notification(5, 1));
        assert_eq!(s.state(), State::Idle);
    }
}

#[test]
fn unexpected_messages_in_openconfirm_are_fsm_error_subcode_2() {
    let update = Message::Update(Update::default());
    for msg in [peer_open(90), update, route_refresh(1, 1, 0)] {
        let t0 = Instant::now();
        let mut s = open_confirm(90, 90, t0);
        let mut out = Vec::new();
        s.receive(msg, t0, &mut out);
        assert_eq!(out, sent_notification(5, 2));
    }
}

#[test]
fn open_in_established_is_fsm_error_subcode_3() {
    let (t0, mut s, mut out) = start(established);
    s.receive(peer_open(90), t0, &mut out);
    assert_eq!(out, sent_notification(5, 3));
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn message_before_tcp_is_up_is_an_unspecified_fsm_error() {
    let mut s = Session::new(cfg(90));
    let mut out = Vec::new();
    s.receive(Message::Keepalive, Instant::now(), &mut out);
    assert_eq!(out, sent_notification(5, 0));
}

#[test]
fn notification_received_in_any_state_closes_without_reply() {
    let n = notification(6, 2);
    let t0 = Instant::now();
    let sessions = [
        Session::new(cfg(90)),
        open_sent(90, t0),
        open_confirm(90, 90, t0),
        established(t0),
    ];
    for mut s in sessions {
        let mut out = Vec::new();
        s.receive(Message::Notification(n.clone()), t0, &mut out);
        assert_eq!(
            out,
            vec![Action::Close(CloseReason::NotificationReceived(n.clone()))]
        );
        assert_eq!(s.state(), State::Idle);
        assert_eq!(s.next_deadline(), None);
    }
}

#[test]
fn update_in_established_is_passed_on_and_restarts_the_hold_timer() {
    let (t0, mut s, mut out) = start(|t0| established_with(90, 9, t0)); // hold 9, keepalive 3
    let update = Update {
        withdrawn: vec!["10.0.0.0/8".parse().unwrap()],
        ..Update::default()
    };
    s.receive(Message::Update(update.clone()), t0 + secs(8), &mut out);
    assert_eq!(out, vec![Action::Update(update)]);
    out.clear();
    s.tick(t0 + secs(9), &mut out); // old hold deadline: only a keepalive is due
    assert_eq!(out, vec![Action::Send(Message::Keepalive)]);
    out.clear();
    s.tick(t0 + secs(17), &mut out);
    assert_eq!(out, hold_expired());
}

#[test]
fn keepalive_in_established_restarts_the_hold_timer() {
    let (t0, mut s, mut out) = start(|t0| established_with(90, 9, t0));
    s.receive(Message::Keepalive, t0 + secs(8), &mut out);
    assert!(out.is_empty());
    s.update_sent(t0 + secs(16)); // keep our keepalives out of the way
    s.tick(t0 + secs(16), &mut out);
    assert!(out.is_empty());
    s.tick(t0 + secs(17), &mut out);
    assert_eq!(out, hold_expired());
}

#[test]
fn route_refresh_for_a_negotiated_family_is_reported() {
    let (t0, mut s, mut out) = start(established);
    s.receive(route_refresh(1, 1, 0), t0, &mut out);
    assert_eq!(out, vec![Action::RouteRefresh(Family::Ipv4Unicast)]);
}

#[test]
fn route_refresh_for_nothing_we_can_resend_is_ignored() {
    struct Case {
        name: &'static str,
        afi: u16,
        subtype: u8,
    }
    let cases = [
        Case {
            name: "it asks for IPv6 unicast, which we advertised and the peer did not",
            afi: 2,
            subtype: 0,
        },
        Case {
            name: "it asks for an unknown AFI",
            afi: 99,
            subtype: 0,
        },
        Case {
            name: "it is an enhanced route refresh Beginning-of-RIB marker",
            afi: 1,
            subtype: 1,
        },
        Case {
            name: "it is an enhanced route refresh End-of-RIB marker",
            afi: 1,
            subtype: 2,
        },
        Case {
            name: "its subtype is reserved",
            afi: 1,
            subtype: 3,
        },
    ];
    for case in cases {
        let (t0, mut s, mut out) = start(established);
        s.receive(route_refresh(case.afi, 1, case.subtype), t0, &mut out);
        assert!(out.is_empty(), "{}: {out:?}", case.name);
        assert_eq!(s.state(), State::Established, "{}", case.name);
    }
}

#[test]
fn the_hold_timer_closes_a_session_whose_peer_is_silent() {
    struct Case {
        name: &'static str,
        session: fn(Instant) -> Session,
        /// Nothing happens up to here.
        quiet_until: Option<Duration>,
        expires: Duration,
    }
    let cases = [
        Case {
            name: "a silent peer in OpenSent expires after four minutes",
            session: |t0| open_sent(90, t0),
            quiet_until: Some(OPEN_HOLD_TIME - secs(1)),
            expires: OPEN_HOLD_TIME,
        },
        Case {
            name: "the hold timer expires in OpenConfirm at the negotiated value",
            session: |t0| open_confirm(9, 90, t0),
            quiet_until: None,
            expires: secs(9),
        },
        Case {
            name: "hold timer expiry in Established wins over a keepalive also due",
            session: established,
            quiet_until: None,
            expires: secs(500),
        },
    ];
    for case in cases {
        let (t0, mut s, mut out) = start(case.session);
        if let Some(quiet) = case.quiet_until {
            s.tick(t0 + quiet, &mut out);
            assert!(out.is_empty(), "{}: {out:?}", case.name);
        }
        s.tick(t0 + case.expires, &mut out);
        assert_eq!(out, hold_expired(), "{}", case.name);
        assert_eq!(s.state(), State::Idle, "{}", case.name);
    }
}

#[test]
fn keepalives_are_sent_every_third_of_the_hold_time() {
    let (t0, mut s, mut out) = start(established);
    assert_eq!(s.next_deadline(), Some(t0 + secs(30)));
    s.tick(t0 + secs(29), &mut out);
    assert!(out.is_empty());
    s.tick(t0 + secs(30), &mut out);
    assert_eq!(out, vec![Action::Send(Message::Keepalive)]);
    // The peer keeps us alive too.
    s.receive(Message::Keepalive, t0 + secs(30), &mut out);
    assert_eq!(s.next_deadline(), Some(t0 + secs(60)));
}

#[test]
fn late_tick_sends_one_keepalive_and_counts_from_now() {
    let (t0, mut s, mut out) = start(established);
    s.receive(Message::Keepalive, t0 + secs(70), &mut out);
    s.tick(t0 + secs(75), &mut out);
    assert_eq!(out, vec![Action::Send(Message::Keepalive)]);
    assert_eq!(s.next_deadline(), Some(t0 + secs(105)));
}

#[test]
fn update_sent_postpones_the_keepalive() {
    let (t0, mut s, mut out) = start(established);
    s.update_sent(t0 + secs(20));
    s.tick(t0 + secs(30), &mut out);
    assert!(out.is_empty());
    assert_eq!(s.next_deadline(), Some(t0 + secs(50)));
}

#[test]
fn hold_time_zero_runs_no_timers_at_all() {
    let t0 = Instant::now();
    let mut s = established_with(0, 90, t0);
    assert_eq!(s.next_deadline(), None);
    let mut out = Vec::new();
    s.update_sent(t0);
    s.tick(t0 + secs(100_000), &mut out);
    assert!(out.is_empty());
    assert_eq!(s.state(), State::Established);
}

#[test]
fn peer_hold_time_zero_also_disables_our_timers() {
    let t0 = Instant::now();
    let s = open_confirm(90, 0, t0);
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn decode_error_sends_its_notification_and_closes() {
    let (_, mut s, mut out) = start(established);
    let err = DecodeError {
        notification: notification(3, 1),
        reason: "test",
    };
    s.decode_error(&err, &mut out);
    assert_eq!(out, sent_notification(3, 1));
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn connection_lost_closes_without_sending() {
    let (_, mut s, mut out) = start(established);
    s.connection_lost(&mut out);
    assert_eq!(out, vec![Action::Close(CloseReason::ConnectionLost)]);
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn stop_before_our_open_closes_without_a_notification() {
    let mut s = Session::new(cfg(90));
    let mut out = Vec::new();
    s.stop(notification(6, 2), &mut out);
    assert_eq!(out, vec![Action::Close(CloseReason::AdminStop)]);
}

#[test]
fn stop_after_our_open_sends_the_cease_then_closes() {
    let cease = notification(6, 7);
    let t0 = Instant::now();
    for mut s in [open_sent(90, t0), open_confirm(90, 90, t0), established(t0)] {
        let mut out = Vec::new();
        s.stop(cease.clone(), &mut out);
        assert_eq!(
            out,
            vec![
                Action::Send(Message::Notification(cease.clone())),
                Action::Close(CloseReason::AdminStop)
            ]
        );
    }
}

#[test]
fn finished_session_ignores_every_input() {
    let (t0, mut s, mut out) = start(established);
    s.connection_lost(&mut out);
    out.clear();
    s.receive(Message::Keepalive, t0, &mut out);
    s.receive(Message::Update(Update::default()), t0, &mut out);
    s.tick(t0 + secs(1000), &mut out);
    s.connection_lost(&mut out);
    s.stop(hold_timer_expired(), &mut out);
    s.connected(t0, &mut out);
    assert!(out.is_empty());
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn established_hot_path_does_not_grow_the_output_vec_beyond_one_action() {
    let t0 = Instant::now();
    let mut s = established(t0);
    let mut out = Vec::with_capacity(4);
    let cap = out.capacity();
    for i in 0..100 {
        s.receive(Message::Update(Update::default()), t0 + secs(i), &mut out);
        assert_eq!(out.len(), 1);
        out.clear();
    }
    assert_eq!(out.capacity(), cap);
}
