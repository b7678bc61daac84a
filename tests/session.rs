//! Session handling of the real binary: who may connect, what a malformed message costs,
//! active opens, reload and shutdown.

mod common;
use common::*;
use reflectd::speaker::{Speaker, SpeakerConfig};
use reflectd::wire::*;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

#[test]
fn connection_from_unconfigured_address_is_closed_and_counted() {
    let r = Reflector::start(&[NeighborSpec::client("127.0.0.11")]);
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&SocketAddr::new(ip("127.0.0.99"), 0).into())
        .unwrap();
    sock.connect_timeout(&r.addr().into(), WAIT).unwrap();
    let mut s: std::net::TcpStream = sock.into();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 64];
    let n = read_retrying(&mut s, &mut buf).unwrap_or(0);
    assert_eq!(n, 0, "an unknown source gets no BGP byte, only a close");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let m = r.http(r.metrics, "/metrics");
        if m.contains("reflectd_connections_rejected_total{reason=\"unknown_source\"} 1") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "rejection not counted:\n{m}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Connects from `local` and waits (bounded) for reflectd to close the connection.
fn refused_from(r: &Reflector, local: &str) {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&SocketAddr::new(ip(local), 0).into()).unwrap();
    sock.connect_timeout(&r.addr().into(), WAIT).unwrap();
    let mut s: std::net::TcpStream = sock.into();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(read_retrying(&mut s, &mut buf).unwrap_or(0), 0);
}

#[test]
fn connections_from_an_unconfigured_address_are_logged_at_info_once_per_source_and_minute() {
    let r = Reflector::start(&[NeighborSpec::client("127.0.0.11")]);
    for _ in 0..5 {
        refused_from(&r, "127.0.0.99");
    }
    refused_from(&r, "127.0.0.98");
    let counted = "reflectd_connections_rejected_total{reason=\"unknown_source\"}";
    let deadline = std::time::Instant::now() + WAIT;
    while r.metric(counted) != Some(6.0) {
        assert!(
            std::time::Instant::now() < deadline,
            "6 refusals not counted"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = r.log();
    let lines = |source: &str| -> Vec<&str> {
        log.lines()
            .filter(|l| l.contains("unconfigured address") && l.contains(source))
            .collect()
    };
    // Five refusals from one source, one from another: one line each.
    for source in ["source=127.0.0.99", "source=127.0.0.98"] {
        let got = lines(source);
        assert_eq!(got.len(), 1, "one line for {source}:\n{log}");
        assert!(got[0].contains(" INFO "), "at info: {}", got[0]);
    }
}

fn expect_notification(s: &mut Speaker, code: u8, subcode: u8) {
    assert!(
        s.wait_until(WAIT, |s| s.notification.is_some()).unwrap(),
        "no NOTIFICATION"
    );
    let n = s.notification.as_ref().unwrap();
    assert_eq!((n.code, n.subcode), (code, subcode), "NOTIFICATION {n:?}");
}

/// An UPDATE with one path-attribute section and one NLRI, built by hand.
fn raw_update(attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let len = 19 + 2 + 2 + attrs.len() + nlri.len();
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&(len as u16).to_be_bytes());
    m.push(2);
    m.extend_from_slice(&[0, 0]);
    m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    m.extend_from_slice(attrs);
    m.extend_from_slice(nlri);
    m
}

const GOOD_ATTRS: [u8; 14] = [0x40, 1, 1, 0, 0x40, 2, 0, 0x40, 3, 4, 100, 64, 0, 1];

#[test]
fn nlri_with_impossible_prefix_length_resets_with_invalid_network_field() {
    let (_r, mut a, mut b) = two_clients();
    a.send_raw(&raw_update(&GOOD_ATTRS, &[33, 10, 0, 0, 0, 0]))
        .unwrap();
    expect_notification(&mut a, notif::UPDATE_MESSAGE, notif::INVALID_NETWORK_FIELD);
    // The other session is untouched.
    assert!(b.poll(Duration::from_millis(300)).unwrap());
    assert!(b.notification.is_none());
}

#[test]
fn bad_message_length_resets_with_message_header_error() {
    let r = Reflector::start(&[NeighborSpec::client("127.0.0.11")]);
    let mut a = r.speaker("127.0.0.11", [1, 1, 1, 1]);
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&[0, 18, 4]);
    a.send_raw(&m).unwrap();
    expect_notification(&mut a, notif::MESSAGE_HEADER, notif::BAD_MESSAGE_LENGTH);
}

#[test]
fn bad_origin_is_treated_as_withdraw_and_the_session_stays_up() {
    let (_r, mut a, mut b) = two_clients();
    a.send_raw(&raw_update(&GOOD_ATTRS, &[24, 10, 9, 9]))
        .unwrap();
    assert!(b
        .wait_until(WAIT, |s| s.route("10.9.9.0/24").is_some())
        .unwrap());
    let mut bad = GOOD_ATTRS;
    bad[3] = 7; // ORIGIN 7 does not exist (RFC 7606 §7.1: treat-as-withdraw)
    a.send_raw(&raw_update(&bad, &[24, 10, 9, 9])).unwrap();
    assert!(
        b.wait_until(WAIT, |s| s.route("10.9.9.0/24").is_none())
            .unwrap(),
        "treat-as-withdraw"
    );
    assert!(
        a.poll(Duration::from_millis(300)).unwrap(),
        "session stays up"
    );
    assert!(a.notification.is_none());
}

#[test]
fn wrong_peer_as_is_refused_with_bad_peer_as() {
    let r = Reflector::start(&[NeighborSpec::client("127.0.0.11")]);
    let cfg = SpeakerConfig::new(ip("127.0.0.11"), 65001, Ipv4Addr::new(1, 1, 1, 1));
    let err = match Speaker::connect(&cfg, r.addr(), WAIT) {
        Ok(_) => panic!("session with a wrong AS must not establish"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("NOTIFICATION") || err.contains("Notification") || err.contains("code: 2"),
        "{err}"
    );
}

#[test]
fn reflector_dials_a_non_passive_neighbor() {
    let listener = TcpListener::bind("127.0.0.31:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let _r = Reflector::start(&[NeighborSpec::dialed("127.0.0.31", port)]);
    let cfg = SpeakerConfig::new(ip("127.0.0.31"), ASN, Ipv4Addr::new(31, 31, 31, 31));
    let mut s = Speaker::accept(&listener, &cfg, WAIT).expect("reflectd connects to us");
    assert!(s
        .wait_until(WAIT, |s| s.end_of_rib.contains(Family::Ipv4Unicast))
        .unwrap());
}

#[test]
fn reflector_redials_after_the_session_drops() {
    let listener = TcpListener::bind("127.0.0.32:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let r = Reflector::start(&[NeighborSpec::dialed("127.0.0.32", port)]);
    let cfg = SpeakerConfig::new(ip("127.0.0.32"), ASN, Ipv4Addr::new(32, 32, 32, 32));
    let first = Speaker::accept(&listener, &cfg, WAIT).expect("first session");
    drop(first);
    // The idle hold after a short-lived session is 5 s at most (jittered); WAIT covers it.
    let mut again = Speaker::accept(&listener, &cfg, WAIT).expect("reflectd dials again");
    assert!(again
        .wait_until(WAIT, |s| s.end_of_rib.contains(Family::Ipv4Unicast))
        .unwrap());
    let n = r.http(r.api, "/neighbors");
    assert!(n.contains("\"established_transitions\": 2"), "{n}");
}

#[test]
fn reload_adds_and_removes_neighbors_without_touching_others() {
    let (mut r, mut a, mut b) = two_clients();
    let text = config_text(
        r.port,
        r.api,
        r.metrics,
        &[
            NeighborSpec::client("127.0.0.11"),
            NeighborSpec::client("127.0.0.13"),
        ],
    );
    std::fs::write(&r.config, text).unwrap();
    r.signal("HUP");
    expect_notification(&mut b, notif::CEASE, notif::CEASE_PEER_DECONFIGURED);
    let mut c = r.speaker("127.0.0.13", [3, 3, 3, 3]);
    c.announce(&[p4("10.13.0.0/24")], &attrs([100, 64, 0, 13]))
        .unwrap();
    assert!(
        a.wait_until(WAIT, |s| s.route("10.13.0.0/24").is_some())
            .unwrap(),
        "the untouched session keeps working"
    );
    assert!(a.notification.is_none() && !a.closed);
    let neighbors = r.http(r.api, "/neighbors");
    assert!(
        neighbors.contains("\"established_transitions\": 1"),
        "{neighbors}"
    );
    assert!(
        !neighbors.contains("127.0.0.12"),
        "removed neighbor is gone: {neighbors}"
    );
    // A broken config on reload is refused and the running one stays.
    std::fs::write(&r.config, "asn: [not a number\n").unwrap();
    r.signal("HUP");
    let deadline = std::time::Instant::now() + WAIT;
    while !r.log().contains("reload failed") && std::time::Instant::now() < deadline {
        assert!(
            a.poll(Duration::from_millis(100)).unwrap(),
            "session kept through a bad reload"
        );
    }
    assert!(r.log().contains("reload failed"), "{}", r.log());
    assert!(a.poll(Duration::from_millis(200)).unwrap());
    assert_eq!(r.stop().map(|s| s.success()), Some(true));
}

#[test]
fn shutdown_sends_cease_with_message_and_exits_zero() {
    let mut r = Reflector::start(&[NeighborSpec::client("127.0.0.11")]);
    let mut a = r.speaker("127.0.0.11", [1, 1, 1, 1]);
    let status = r.stop().expect("reflectd exits");
    assert!(status.success());
    expect_notification(&mut a, notif::CEASE, notif::CEASE_ADMIN_SHUTDOWN);
    let data = &a.notification.as_ref().unwrap().data;
    assert!(
        !data.is_empty() && data[0] as usize == data.len() - 1,
        "RFC 8203 shutdown communication"
    );
}
