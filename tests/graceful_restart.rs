//! Graceful Restart, reflectd as the receiving speaker (RFC 4724 §4.2), with the real binary
//! and project speakers: a restarting peer's routes stay with the other clients until its
//! End-of-RIB or its Restart Time; a peer without the capability is withdrawn at once. Our
//! own capability lists no family (helper procedures only), so a GR-aware client (BIRD)
//! drops our routes as soon as reflectd dies.

mod common;
use common::*;
use reflectd::speaker::{Speaker, SpeakerConfig};
use reflectd::wire::*;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

const A: &str = "127.0.0.11";
const B: &str = "127.0.0.12";
const C: &str = "127.0.0.13";
const PREFIXES: [&str; 3] = ["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"];
const MARKER: &str = "10.99.0.0/16";

fn gr_speaker(r: &Reflector, restart_time: u16) -> Speaker {
    let cfg = SpeakerConfig::new(ip(A), ASN, Ipv4Addr::new(1, 1, 1, 1))
        .with_graceful_restart(restart_time, true);
    r.speaker_with(&cfg)
}

fn announce_all(s: &mut Speaker, prefixes: &[&str]) {
    let ps: Vec<Prefix4> = prefixes.iter().map(|p| p4(p)).collect();
    s.announce(&ps, &attrs([100, 64, 0, 11])).unwrap();
}

/// Waits (bounded) until the reflector's log holds `needle`.
fn wait_log(r: &Reflector, needle: &str) {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if r.log().contains(needle) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("log never said {needle:?}:\n{}", r.log());
}

fn held(s: &Speaker) -> Vec<&'static str> {
    PREFIXES
        .iter()
        .copied()
        .filter(|p| s.route(p).is_some())
        .collect()
}

/// A announced PREFIXES, B holds them, and A's TCP connection was closed without a
/// NOTIFICATION; the reflector has logged the restart. Then a marker from C, applied after
/// the loss, reaches B: any withdrawal the loss caused would have reached B before it.
/// A announces every prefix and B gets them; then A's connection drops and B must lose them
/// at once: well within the 120 s a restart would keep them for.
fn withdrawn_at_once_on_drop(mut a: Speaker, b: &mut Speaker) {
    announce_all(&mut a, &PREFIXES);
    assert!(b.wait_until(WAIT, |s| held(s).len() == 3).unwrap());
    drop(a);
    assert!(
        b.wait_until(WAIT, |s| held(s).is_empty()).unwrap(),
        "B still holds {:?}",
        b.routes.keys()
    );
}

fn lose_a_after_announcing(r: &Reflector, restart_time: u16) -> (Speaker, Speaker) {
    let mut a = gr_speaker(r, restart_time);
    let mut b = r.speaker(B, [2, 2, 2, 2]);
    let mut c = r.speaker(C, [3, 3, 3, 3]);
    announce_all(&mut a, &PREFIXES);
    assert!(
        b.wait_until(WAIT, |s| held(s).len() == 3).unwrap(),
        "B got {:?}",
        b.routes.keys()
    );
    drop(a);
    wait_log(
        r,
        &format!("restarting: 3 routes kept stale for {restart_time} s"),
    );
    announce_all(&mut c, &[MARKER]);
    assert!(
        b.wait_until(WAIT, |s| s.route(MARKER).is_some()).unwrap(),
        "marker not reflected"
    );
    (b, c)
}

#[test]
fn a_restarting_peers_routes_are_kept_and_only_those_not_reannounced_are_withdrawn_after_end_of_rib(
) {
    let r = Reflector::start(&[
        NeighborSpec::client(A),
        NeighborSpec::client(B),
        NeighborSpec::client(C),
    ]);
    let (mut b, _c) = lose_a_after_announcing(&r, 120);
    assert_eq!(held(&b), PREFIXES.to_vec(), "routes kept while A restarts");
    // Nothing more arrives for a while (far shorter than the 120 s restart time).
    b.poll(Duration::from_secs(2)).unwrap();
    assert_eq!(held(&b), PREFIXES.to_vec(), "still kept");

    let mut a = gr_speaker(&r, 120);
    announce_all(&mut a, &PREFIXES[..1]);
    a.end_of_rib(Family::Ipv4Unicast).unwrap();
    a.end_of_rib(Family::Ipv6Unicast).unwrap();
    assert!(
        b.wait_until(WAIT, |s| held(s).len() == 1).unwrap(),
        "B holds {:?}",
        b.routes.keys()
    );
    assert_eq!(held(&b), vec![PREFIXES[0]]);
    assert!(b.route(MARKER).is_some());
    // A back is sent the table up to our End-of-RIB: C's marker, and none of its own
    // routes, the stale ones kept for it included (a peer is never sent its own route;
    // the speaker keeps routes with its own ORIGINATOR_ID, so an echo would show).
    assert!(
        a.wait_until(WAIT, |s| s.end_of_rib.contains(Family::Ipv4Unicast))
            .unwrap(),
        "no End-of-RIB to A"
    );
    assert!(a.route(MARKER).is_some(), "A was not sent the table");
    assert_eq!(held(&a), Vec::<&str>::new(), "A was sent its own routes");
    wait_log(&r, "swept 2 stale routes after End-of-RIB");
    let metrics = r.http(r.metrics, "/metrics");
    assert!(
        metrics.contains(
            "reflectd_graceful_restart_stale_routes_swept_total{reason=\"end_of_rib\"} 2"
        ),
        "{metrics}"
    );
}

#[test]
fn a_restarting_peer_that_does_not_come_back_is_withdrawn_after_its_restart_time() {
    let r = Reflector::start(&[
        NeighborSpec::client(A),
        NeighborSpec::client(B),
        NeighborSpec::client(C),
    ]);
    let (mut b, _c) = lose_a_after_announcing(&r, 2);
    assert!(
        b.wait_until(WAIT, |s| held(s).is_empty()).unwrap(),
        "B still holds {:?}",
        b.routes.keys()
    );
    assert!(b.route(MARKER).is_some());
    wait_log(&r, "did not come back: swept 3 stale routes");
}

#[test]
fn a_new_connection_from_a_peer_still_established_replaces_it_as_a_restart() {
    let r = Reflector::start(&[NeighborSpec::client(A), NeighborSpec::client(B)]);
    let mut old = gr_speaker(&r, 120);
    let mut b = r.speaker(B, [2, 2, 2, 2]);
    announce_all(&mut old, &PREFIXES);
    assert!(b.wait_until(WAIT, |s| held(s).len() == 3).unwrap());
    // The peer "restarted": it dials again while its old session is still up for us.
    let mut a = gr_speaker(&r, 120);
    wait_log(&r, "restarting: 3 routes kept stale");
    // A reset (an error here) ends it too.
    let closed = old.wait_until(WAIT, |s| s.closed).unwrap_or(true);
    assert!(closed, "the old session was closed");
    assert_eq!(old.notification, None, "closed without a NOTIFICATION");
    announce_all(&mut a, &PREFIXES[1..]);
    a.end_of_rib(Family::Ipv4Unicast).unwrap();
    assert!(
        b.wait_until(WAIT, |s| held(s).len() == 2).unwrap(),
        "B holds {:?}",
        b.routes.keys()
    );
    assert_eq!(held(&b), PREFIXES[1..].to_vec());
}

#[test]
fn a_peer_without_graceful_restart_is_withdrawn_at_once_when_its_connection_drops() {
    let r = Reflector::start(&[NeighborSpec::client(A), NeighborSpec::client(B)]);
    let a = r.speaker(A, [1, 1, 1, 1]);
    let mut b = r.speaker(B, [2, 2, 2, 2]);
    withdrawn_at_once_on_drop(a, &mut b);
    assert!(!r.log().contains("kept stale"), "{}", r.log());
}

#[test]
fn graceful_restart_off_for_a_neighbor_withdraws_at_once_and_is_not_advertised() {
    let mut spec = NeighborSpec::client(A);
    spec.extra = "    graceful_restart: false\n";
    let r = Reflector::start(&[spec, NeighborSpec::client(B)]);
    let a = gr_speaker(&r, 120);
    assert!(
        !a.peer_open
            .capabilities
            .iter()
            .any(|c| matches!(c, Capability::GracefulRestart(_))),
        "{:?}",
        a.peer_open.capabilities
    );
    let mut b = r.speaker(B, [2, 2, 2, 2]);
    assert!(
        b.peer_open.capabilities.iter().any(|c| matches!(
            c,
            Capability::GracefulRestart(GracefulRestart {
                restart_time: 120,
                restart_state: false,
                families,
                ..
            }) if families.is_empty()
        )),
        "{:?}",
        b.peer_open.capabilities
    );
    withdrawn_at_once_on_drop(a, &mut b);
}

/// Interop: a GoBGP with Graceful Restart is killed (-9, no NOTIFICATION) and restarted with
/// `-r`; another GoBGP keeps its routes in its own RIB meanwhile, and after the restart holds
/// exactly the ones announced again.
#[test]
fn gobgp_killed_and_restarted_keeps_its_routes_in_another_gobgps_rib() {
    use common::daemons::*;
    if !GoBgp::installed() {
        return;
    }
    let (g_addr, rx_addr) = ("127.0.3.41", "127.0.3.42");
    let r = Reflector::start(&[
        NeighborSpec::client(g_addr),
        NeighborSpec::client(rx_addr),
        NeighborSpec::client(C),
    ]);
    let g = GoBgp::builder(&r, "g", g_addr, "10.0.3.41")
        .graceful_restart(false)
        .start();
    let rx = GoBgp::builder(&r, "rx", rx_addr, "10.0.3.42").start();
    let (kept, dropped) = ("10.4.1.0/24", "10.4.2.0/24");
    for p in [kept, dropped] {
        g.announce(p, "origin igp nexthop 100.64.4.1");
    }
    for p in [kept, dropped] {
        wait_route(&rx, p, |_| true);
    }
    let killed = std::process::Command::new("kill")
        .args(["-9", &g.proc.pid().to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(killed, "kill -9 gobgpd");
    drop(g); // reaps it
    wait_log(&r, "restarting: 2 routes kept stale for 120 s");
    // A marker applied after the loss reaches rx: a withdrawal would have come before it.
    let mut c = r.speaker(C, [3, 3, 3, 3]);
    announce_all(&mut c, &[MARKER]);
    wait_route(&rx, MARKER, |_| true);
    for p in [kept, dropped] {
        assert!(rx.route(p).is_some(), "{p} kept in GoBGP's RIB");
    }

    let g = GoBgp::builder(&r, "g2", g_addr, "10.0.3.41")
        .graceful_restart(true)
        .start();
    g.announce(kept, "origin igp nexthop 100.64.4.1");
    wait_gone(&rx, dropped);
    assert!(rx.route(kept).is_some(), "{}", r.log());
    assert!(g.established());
}

#[test]
fn without_graceful_restart_a_second_connection_is_refused_while_the_first_is_established() {
    let r = Reflector::start(&[NeighborSpec::client(A), NeighborSpec::client(B)]);
    let cfg = SpeakerConfig::new(ip(A), ASN, Ipv4Addr::new(1, 1, 1, 1));
    let mut old = r.speaker_with(&cfg);
    let mut b = r.speaker(B, [2, 2, 2, 2]);
    announce_all(&mut old, &PREFIXES);
    assert!(b.wait_until(WAIT, |s| held(s).len() == 3).unwrap());
    // RFC 4271 §6.8: the Established connection stays, the newcomer gets a Cease.
    // (Our KEEPALIVE may precede the Cease, so the handshake itself can succeed.)
    if let Ok(mut second) = Speaker::connect(&cfg, r.addr(), Duration::from_secs(5)) {
        let _ = second.wait_until(WAIT, |s| s.closed);
        let got = second.notification.as_ref().map(|n| (n.code, n.subcode));
        assert_eq!(got, Some((6, 7)), "Cease / Connection Collision Resolution");
    }
    assert!(
        old.poll(Duration::from_millis(200)).unwrap(),
        "old session alive"
    );
    assert_eq!(held(&b), PREFIXES.to_vec());
    assert!(!r.log().contains("kept stale"));
}

/// Our own capability (RFC 4724 §3): reflectd keeps no state across a restart of its own, so
/// it lists no <AFI, SAFI>. A GR-aware BIRD client (its default, `graceful restart aware`)
/// therefore keeps nothing of ours when reflectd dies: the route reflected to it goes at
/// once, not after our Restart Time, and BIRD runs no restart timer for us.
#[test]
fn bird_drops_our_routes_at_once_when_reflectd_is_killed() {
    use common::daemons::*;
    if !Bird::installed() {
        return;
    }
    let bird_addr = "127.0.3.51";
    let mut r = Reflector::start(&[NeighborSpec::client(A), NeighborSpec::client(bird_addr)]);
    let bird = Bird::builder(&r, "b", bird_addr, "10.0.3.51")
        .next_hops("100.64.0.51", "2001:db8:ffff::51")
        .start();
    let mut a = r.speaker(A, [1, 1, 1, 1]);
    announce_all(&mut a, &PREFIXES[..1]);
    wait_route(&bird, PREFIXES[0], |_| true);
    let caps = bird.birdc("show protocols all reflector");
    assert!(caps.contains("Established"), "{caps}");

    r.signal("KILL");
    let reaped = eventually(WAIT, || r.child.try_wait().ok().flatten());
    assert!(reaped.is_some(), "reflectd did not die");
    // Well below the 120 s Restart Time BIRD would keep them for as our helper.
    let gone = eventually(Duration::from_secs(10), || {
        bird.route(PREFIXES[0]).is_none().then_some(())
    });
    let after = bird.birdc("show protocols all reflector");
    assert!(
        gone.is_some(),
        "BIRD still holds {} after reflectd died:\n{after}\n{}",
        PREFIXES[0],
        bird.birdc("show route all")
    );
    assert!(
        !after.contains("Restart timer") && !after.contains("graceful restart active"),
        "{after}"
    );
    drop(a);
}
