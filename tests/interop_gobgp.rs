//! reflectd with real GoBGP peers (Debian `gobgpd`): every check reads a GoBGP's own RIB
//! (`gobgp global rib -j`). Each gobgpd dials reflectd's test port from its own 127.0.3.x
//! address and listens on nothing.

mod common;
use common::daemons::*;
use common::*;

/// Scenarios 1, 2 and 4: attributes survive reflection; non-client routes reach clients only;
/// withdrawal and a dropped session remove routes everywhere.
#[test]
fn gobgp_peers_see_reflected_routes_unchanged_and_withdrawn() {
    if !GoBgp::installed() {
        return;
    }
    let r = Reflector::start(&[
        NeighborSpec::client("127.0.3.1"),
        NeighborSpec::client("127.0.3.2"),
        NeighborSpec::non_client("127.0.3.3"),
        NeighborSpec::non_client("127.0.3.4"),
    ]);
    let c1 = GoBgp::builder(&r, "c1", "127.0.3.1", "10.0.3.1").start();
    let mut c2 = GoBgp::builder(&r, "c2", "127.0.3.2", "10.0.3.2").start();
    let n1 = GoBgp::builder(&r, "n1", "127.0.3.3", "10.0.3.3").start();
    let n2 = GoBgp::builder(&r, "n2", "127.0.3.4", "10.0.3.4").start();

    let v4 = Seen::tagged("100.64.3.1", 200, 31, 31);
    let v6 = Seen::tagged("2001:db8:ffff::31", 200, 31, 31);
    c1.announce_seen("10.3.1.0/24", &v4);
    c1.announce_seen("2001:db8:3:1::/64", &v6);
    let c2r = Seen::tagged("100.64.3.2", 100, 32, 32);
    c2.announce_seen("10.3.2.0/24", &c2r);
    let n1r = Seen::tagged("100.64.3.3", 100, 33, 33);
    n1.announce_seen("10.3.3.0/24", &n1r);

    // 1: a client's routes reach every other peer, attributes unchanged.
    assert_reflected_to(
        &[&c2, &n1, &n2],
        &[("10.3.1.0/24", &v4), ("2001:db8:3:1::/64", &v6)],
        "10.0.3.1",
    );
    assert_reflected_to(&[&c1, &n1, &n2], &[("10.3.2.0/24", &c2r)], "10.0.3.2");
    // 2: a non-client's route reaches the clients...
    assert_reflected_to(&[&c1, &c2], &[("10.3.3.0/24", &n1r)], "10.0.3.3");
    // ...but not the other non-client. A marker announced after n1's route reached the
    // clients bounds the wait: once n2 has the marker, n1's route would have arrived before it.
    c1.announce("10.3.9.0/24", "origin igp nexthop 100.64.3.1");
    wait_route(&n2, "10.3.9.0/24", |_| true);
    assert_eq!(n2.route("10.3.3.0/24"), None, "non-client to non-client");

    // 4: a withdrawal removes the route everywhere...
    c1.withdraw("10.3.1.0/24");
    c1.withdraw("2001:db8:3:1::/64");
    wait_gone_from(&[&c2, &n1, &n2], &["10.3.1.0/24", "2001:db8:3:1::/64"]);
    // ...and so does the announcer's session going away.
    c2.proc.stop();
    wait_gone_from(&[&c1, &n1, &n2], &["10.3.2.0/24"]);
    // The others are undisturbed.
    assert!(c1.established() && n1.established() && n2.established());
    assert!(c1.route("10.3.3.0/24").is_some());
}

/// Scenario 3: two clients announce the same prefixes with different LOCAL_PREF, AS_PATH
/// length and MED; every receiver (a GoBGP client, an ExaBGP non-client) ends with the path
/// RFC 4271 §9.1.2.2 selects. The loser each time has the lower router id, so a wrong
/// decision would fall through to the router-id tie-break and pick it.
#[test]
fn gobgp_and_exabgp_receivers_end_with_the_rfc4271_best_path() {
    if !GoBgp::installed() || !ExaBgp::installed() {
        return;
    }
    let r = Reflector::start(&[
        NeighborSpec::client("127.0.3.11"),
        NeighborSpec::client("127.0.3.12"),
        NeighborSpec::client("127.0.3.13"),
        NeighborSpec::non_client("127.0.3.14"),
    ]);
    let a1 = GoBgp::builder(&r, "a1", "127.0.3.11", "10.0.3.11").start();
    let a2 = GoBgp::builder(&r, "a2", "127.0.3.12", "10.0.3.12").start();
    let r3 = GoBgp::builder(&r, "r3", "127.0.3.13", "10.0.3.13").start();
    let e4 = ExaBgp::builder(&r, "e4", "127.0.3.14", "10.0.3.14").start();
    assert_best_paths(3, &a1, &a2, &[&r3, &e4]);
}
