//! `max_prefixes` on the real binary: a speaker that sends one prefix too many gets a Cease
//! "Maximum Number of Prefixes Reached" with the RFC 4486 §4 data; other sessions go on.

mod common;
use common::*;
use reflectd::wire::*;
use std::time::Duration;

#[test]
fn a_speaker_past_max_prefixes_gets_cease_1_with_afi_safi_and_limit_and_others_stay_up() {
    let r = Reflector::start(&[
        NeighborSpec {
            extra: "    max_prefixes: 3\n",
            ..NeighborSpec::client("127.0.0.11")
        },
        NeighborSpec::client("127.0.0.12"),
    ]);
    let mut a = r.speaker("127.0.0.11", [1, 1, 1, 1]);
    let mut b = r.speaker("127.0.0.12", [2, 2, 2, 2]);
    let three = [p4("10.1.1.0/24"), p4("10.1.2.0/24"), p4("10.1.3.0/24")];
    a.announce(&three, &attrs([127, 0, 0, 11])).unwrap();
    // At the limit, not past it: b receives all three and a is not stopped.
    assert!(
        b.wait_until(WAIT, |s| s.route("10.1.3.0/24").is_some())
            .unwrap(),
        "b never got a's routes"
    );
    assert!(a.notification.is_none());
    a.announce(&[p4("10.1.4.0/24")], &attrs([127, 0, 0, 11]))
        .unwrap();
    assert!(
        a.wait_until(WAIT, |s| s.notification.is_some()).unwrap(),
        "no NOTIFICATION for the prefix past the limit"
    );
    let n = a.notification.clone().unwrap();
    assert_eq!(
        (n.code, n.subcode),
        (notif::CEASE, notif::CEASE_MAX_PREFIXES)
    );
    // RFC 4486 §4: AFI 1 (IPv4), SAFI 1 (unicast), the limit 3 in four octets.
    assert_eq!(n.data, [0, 1, 1, 0, 0, 0, 3]);
    // The other session is untouched, and the excess prefix was never reflected.
    assert!(b.poll(Duration::from_millis(300)).unwrap());
    assert!(b.notification.is_none());
    assert!(b.route("10.1.4.0/24").is_none());
    // a's routes are withdrawn with its session.
    assert!(
        b.wait_until(WAIT, |s| s.route("10.1.1.0/24").is_none())
            .unwrap(),
        "a's routes outlived its session"
    );
    assert!(r.log().contains("max_prefixes warning threshold"));
}

#[test]
fn with_max_prefixes_restart_zero_the_peer_stays_down_until_reload() {
    let r = Reflector::start(&[NeighborSpec {
        extra: "    max_prefixes: 1\n    max_prefixes_restart: 0\n",
        ..NeighborSpec::client("127.0.0.11")
    }]);
    let mut a = r.speaker("127.0.0.11", [1, 1, 1, 1]);
    a.announce(
        &[p4("10.1.1.0/24"), p4("10.1.2.0/24")],
        &attrs([127, 0, 0, 11]),
    )
    .unwrap();
    assert!(a.wait_until(WAIT, |s| s.notification.is_some()).unwrap());
    let cfg = reflectd::speaker::SpeakerConfig::new(ip("127.0.0.11"), ASN, [1, 1, 1, 1].into());
    // A few bounded tries: each is closed before the OPEN exchange completes.
    for _ in 0..3 {
        let res = reflectd::speaker::Speaker::connect(&cfg, r.addr(), Duration::from_secs(2));
        assert!(res.is_err(), "a held-down peer re-established");
    }
    assert!(r
        .log()
        .contains("held down after max_prefixes: until reload"));
}
