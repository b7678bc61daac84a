//! Session protection of the real binary: TCP MD5 signatures (RFC 2385) and GTSM (RFC 5082)
//! on accepted and dialled connections, keys following a reload, and BIRD as a signed peer.

mod common;
use common::daemons::{eventually, Bird, Driver};
use common::*;
use reflectd::speaker::{Speaker, SpeakerConfig};
use reflectd::wire::*;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

/// How long a connection that must not come up is given to come up anyway.
const REFUSED_WAIT: Duration = Duration::from_secs(5);

fn spec(address: &'static str, extra: &'static str) -> NeighborSpec {
    NeighborSpec {
        extra,
        ..NeighborSpec::client(address)
    }
}

fn speaker_cfg(local: &str, id: u8, md5: Option<&str>) -> SpeakerConfig {
    let mut c = SpeakerConfig::new(ip(local), ASN, Ipv4Addr::new(id, id, id, id));
    c.md5_password = md5.map(str::to_string);
    c
}

/// One attempt that must fail: TCP never completes (the kernel drops the unsigned or badly
/// signed SYN) or no OPEN comes back within the bound.
fn assert_never_establishes(r: &Reflector, cfg: &SpeakerConfig, to: SocketAddr) {
    match Speaker::connect(cfg, to, REFUSED_WAIT) {
        Ok(_) => panic!(
            "{} (md5 {:?}, ttl {:?}) established but must not; log:\n{}",
            cfg.local,
            cfg.md5_password.is_some(),
            cfg.ttl,
            r.log()
        ),
        Err(e) => eprintln!("{} refused as expected: {e}", cfg.local),
    }
}

/// The state reflectd's API reports for `address`.
fn api_state(r: &Reflector, address: &str) -> String {
    let body = r.http(r.api, "/neighbors");
    let v: serde_json::Value = serde_json::from_str(&body).expect("neighbors JSON");
    v.as_array()
        .into_iter()
        .flatten()
        .find(|n| n["address"] == address)
        .and_then(|n| n["state"].as_str())
        .unwrap_or("absent")
        .to_string()
}

fn wait_rejected(r: &Reflector, reason: &str) {
    let line = format!("reflectd_connections_rejected_total{{reason=\"{reason}\"}}");
    let seen = eventually(WAIT, || {
        r.http(r.metrics, "/metrics")
            .lines()
            .any(|l| l.starts_with(&line))
            .then_some(())
    });
    assert!(seen.is_some(), "no {reason} rejection counted");
}

/// A raw connection from `local` with the system's default TTL: it may complete the TCP
/// handshake, but reflectd must close it without sending a byte.
fn assert_closed_without_a_byte(r: &Reflector, local: &str, to: SocketAddr) {
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(to),
        socket2::Type::STREAM,
        None,
    )
    .unwrap();
    sock.bind(&SocketAddr::new(ip(local), 0).into()).unwrap();
    sock.connect_timeout(&to.into(), WAIT)
        .expect("TCP itself completes: the refusal comes after accept");
    let mut s: std::net::TcpStream = sock.into();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 64];
    let n = read_retrying(&mut s, &mut buf).unwrap_or(0);
    assert_eq!(n, 0, "no BGP byte before the close; log:\n{}", r.log());
}

#[test]
fn peers_with_the_matching_md5_password_establish_and_routes_flow() {
    let r = Reflector::start(&[
        spec("127.0.0.11", "    md5_password: s3cret-11\n"),
        spec(
            "127.0.0.12",
            "    md5_password: \"another key, with spaces\"\n",
        ),
    ]);
    let mut a = r.speaker_with(&speaker_cfg("127.0.0.11", 11, Some("s3cret-11")));
    let mut b = r.speaker_with(&speaker_cfg(
        "127.0.0.12",
        12,
        Some("another key, with spaces"),
    ));
    a.announce(&[p4("10.11.0.0/24")], &attrs([100, 64, 0, 11]))
        .unwrap();
    assert!(
        b.wait_until(WAIT, |s| s.route("10.11.0.0/24").is_some())
            .unwrap(),
        "the route crossed two signed sessions"
    );
    assert_eq!(api_state(&r, "127.0.0.11"), "Established");
    assert_eq!(api_state(&r, "127.0.0.12"), "Established");
}

#[test]
fn peers_without_or_with_a_wrong_md5_password_never_establish() {
    let r = Reflector::start(&[
        spec("127.0.0.11", "    md5_password: s3cret\n"),
        spec("127.0.0.12", "    md5_password: s3cret\n"),
        spec("127.0.0.13", "    md5_password: s3cret\n"),
    ]);
    let mut good = r.speaker_with(&speaker_cfg("127.0.0.11", 11, Some("s3cret")));
    assert_never_establishes(&r, &speaker_cfg("127.0.0.12", 12, None), r.addr());
    assert_never_establishes(&r, &speaker_cfg("127.0.0.13", 13, Some("S3cret")), r.addr());
    assert!(
        good.poll(Duration::from_millis(200)).unwrap(),
        "the signed session stayed up"
    );
    assert!(good.notification.is_none() && !good.closed);
    assert_eq!(api_state(&r, "127.0.0.11"), "Established");
    assert_ne!(api_state(&r, "127.0.0.12"), "Established");
    assert_ne!(api_state(&r, "127.0.0.13"), "Established");
    // The refusal is the kernel's: the segments never reached reflectd's accept.
    let m = r.http(r.metrics, "/metrics");
    assert!(!m.contains("reflectd_connections_rejected_total{"), "{m}");
}

#[test]
fn md5_and_gtsm_over_ipv6_loopback() {
    if TcpListener::bind("[::1]:0").is_err() {
        eprintln!("SKIPPED: no IPv6 loopback");
        return;
    }
    let r = Reflector::start_edited(
        &[
            spec("::1", "    md5_password: v6-key\n    ttl_security: true\n"),
            spec("127.0.0.11", "    md5_password: v4-key\n"),
        ],
        |text| {
            let head = "listen:\n  - address: 127.0.0.1\n    port: ";
            let port = text
                .split(head)
                .nth(1)
                .and_then(|t| t.split('\n').next())
                .expect("listen port")
                .to_string();
            text.replace(
                head,
                &format!("listen:\n  - address: \"::1\"\n    port: {port}\n  - address: 127.0.0.1\n    port: "),
            )
        },
    );
    let v6 = SocketAddr::new(ip("::1"), r.port);
    assert_never_establishes(&r, &speaker_cfg("::1", 6, Some("v4-key")), v6);
    assert_never_establishes(&r, &speaker_cfg("::1", 6, None), v6);
    // The right key at the default hop limit (64): GTSM refuses it after accept.
    assert_never_establishes(&r, &speaker_cfg("::1", 6, Some("v6-key")), v6);
    wait_rejected(&r, "ttl_security");
    let mut right = speaker_cfg("::1", 6, Some("v6-key"));
    right.ttl = Some(255);
    right.min_ttl = Some(255);
    let mut a = Speaker::connect(&right, v6, WAIT)
        .unwrap_or_else(|e| panic!("signed IPv6 session: {e}; log:\n{}", r.log()));
    let mut b = r.speaker_with(&speaker_cfg("127.0.0.11", 11, Some("v4-key")));
    let mut attrs6 = attrs([0, 0, 0, 0]);
    attrs6.next_hop = NextHop::V6 {
        global: "2001:db8:ffff::6".parse().unwrap(),
        link_local: None,
    };
    a.announce(&[p6("2001:db8:6::/48")], &attrs6).unwrap();
    assert!(
        b.wait_until(WAIT, |s| s.route("2001:db8:6::/48").is_some())
            .unwrap(),
        "the route from the signed IPv6 session reached the signed IPv4 one"
    );
    assert_eq!(api_state(&r, "::1"), "Established");
}

#[test]
fn gtsm_admits_one_hop_peers_and_closes_others_before_a_byte() {
    let r = Reflector::start(&[
        spec("127.0.0.21", "    ttl_security: true\n"),
        spec("127.0.0.22", "    ttl_security: true\n"),
        spec("127.0.0.23", ""),
    ]);
    let mut one_hop = speaker_cfg("127.0.0.21", 21, None);
    one_hop.ttl = Some(255);
    // Our own minimum proves reflectd sends with 255 too (SYN-ACK and every segment after).
    one_hop.min_ttl = Some(255);
    let mut a = r.speaker_with(&one_hop);

    // Default TTL (64 on Linux, not decremented on loopback): refused after accept.
    assert_closed_without_a_byte(&r, "127.0.0.22", r.addr());
    wait_rejected(&r, "ttl_security");
    assert_never_establishes(&r, &speaker_cfg("127.0.0.22", 22, None), r.addr());
    assert_ne!(api_state(&r, "127.0.0.22"), "Established");
    // The same neighbor at TTL 255 is fine: it was the TTL that was refused.
    let mut fixed = speaker_cfg("127.0.0.22", 22, None);
    fixed.ttl = Some(255);
    let _b = r.speaker_with(&fixed);

    // A neighbor without GTSM is unaffected by its neighbors' policy.
    let mut c = r.speaker("127.0.0.23", [23, 23, 23, 23]);
    announce_until_held(&mut a, &mut c, "10.21.0.0/24", [100, 64, 0, 21]);
    assert_eq!(api_state(&r, "127.0.0.21"), "Established");
    assert_eq!(api_state(&r, "127.0.0.23"), "Established");
}

#[test]
fn reflector_dials_with_md5_and_gtsm() {
    let listener = TcpListener::bind("127.0.0.31:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let reflector_ip: IpAddr = ip("127.0.0.1");
    let mut n = spec(
        "127.0.0.31",
        "    md5_password: dial-key\n    ttl_security: true\n    local_address: 127.0.0.1\n",
    );
    n.passive = false;
    n.port = port;
    let r = Reflector::start(&[n]);

    // A listener keyed with something else never sees the connection.
    let wrong = speaker_cfg("127.0.0.31", 31, Some("not-the-key"));
    wrong.protect(&listener, reflector_ip).unwrap();
    assert!(
        Speaker::accept(&listener, &wrong, REFUSED_WAIT).is_err(),
        "a wrongly keyed listener must not get a session"
    );

    // The right key, and a minimum TTL of 255: reflectd's SYN must be signed and sent at 255.
    let mut right = speaker_cfg("127.0.0.31", 31, Some("dial-key"));
    right.ttl = Some(255);
    right.min_ttl = Some(255);
    right.protect(&listener, reflector_ip).unwrap();
    // reflectd's pending connect may be waiting out a SYN retransmission: allow for it.
    let mut s = Speaker::accept(&listener, &right, 2 * WAIT)
        .unwrap_or_else(|e| panic!("reflectd's signed dial: {e}; log:\n{}", r.log()));
    assert!(s
        .wait_until(WAIT, |s| s.end_of_rib.contains(Family::Ipv4Unicast))
        .unwrap());
    assert_eq!(api_state(&r, "127.0.0.31"), "Established");
}

#[test]
fn reload_installs_changes_and_removes_md5_keys() {
    let mut r = Reflector::start(&[
        spec("127.0.0.11", "    md5_password: one\n"),
        spec("127.0.0.13", "    md5_password: three\n"),
    ]);
    let mut a = r.speaker_with(&speaker_cfg("127.0.0.11", 11, Some("one")));
    let text = config_text(
        r.port,
        r.api,
        r.metrics,
        &[
            spec("127.0.0.11", "    md5_password: two\n"),
            spec("127.0.0.12", "    md5_password: k12\n"),
        ],
    );
    std::fs::write(&r.config, text).unwrap();
    r.signal("HUP");
    assert!(
        a.wait_until(WAIT, |s| s.notification.is_some() || s.closed)
            .unwrap(),
        "the changed neighbor's session restarts"
    );
    // Changed key: the old one no longer works, the new one does.
    assert_never_establishes(&r, &speaker_cfg("127.0.0.11", 11, Some("one")), r.addr());
    let _a = r.speaker_with(&speaker_cfg("127.0.0.11", 11, Some("two")));
    // Added neighbor: keyed.
    assert_never_establishes(&r, &speaker_cfg("127.0.0.12", 12, None), r.addr());
    let _b = r.speaker_with(&speaker_cfg("127.0.0.12", 12, Some("k12")));
    // Removed neighbor: its key is gone, so an unsigned SYN completes and the listener
    // closes the connection as from an unknown source (with the key left behind, the kernel
    // would drop the SYN and the connect would time out).
    assert_closed_without_a_byte(&r, "127.0.0.13", r.addr());
    wait_rejected(&r, "unknown_source");
    assert_eq!(r.stop().map(|s| s.success()), Some(true));
}

#[test]
fn bird_establishes_with_md5_and_gtsm() {
    if !Bird::installed() {
        return;
    }
    let r = Reflector::start(&[
        spec(
            "127.0.8.1",
            "    md5_password: bird-s3cret\n    ttl_security: true\n",
        ),
        spec("127.0.0.11", "    md5_password: local\n"),
    ]);
    let b = Bird::builder(&r, "b1", "127.0.8.1", "10.0.8.1")
        .statics("route 10.88.0.0/24 blackhole;", "")
        .next_hops("100.64.8.1", "2001:db8:ffff::81")
        .bgp("password \"bird-s3cret\"; ttl security on;")
        .start();
    let up = eventually(common::daemons::ROUTE_WAIT, || {
        b.birdc("show protocols reflector")
            .contains("Established")
            .then_some(())
    });
    assert!(
        up.is_some(),
        "BIRD did not establish:\n{}\nreflectd log:\n{}",
        b.birdc("show protocols all reflector"),
        r.log()
    );
    assert_eq!(api_state(&r, "127.0.8.1"), "Established");
    let mut s = r.speaker_with(&speaker_cfg("127.0.0.11", 11, Some("local")));
    assert!(
        s.wait_until(WAIT, |s| s.route("10.88.0.0/24").is_some())
            .unwrap(),
        "BIRD's route crossed the signed sessions"
    );
}
