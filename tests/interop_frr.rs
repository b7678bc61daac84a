//! reflectd with real FRR bgpd peers (Debian `frr`, run without zebra): every check reads a
//! peer's own RIB (`vtysh -c 'show bgp ... json'`, `gobgp ... -j`). Each bgpd dials reflectd's
//! test port from its own 127.0.4.x address and listens on nothing.

mod common;
use common::daemons::*;
use common::*;

/// Config for an FRR that originates `v4` and `v6` with attributes tagged `tag`.
fn announcing(tag: u32, v4: &str, v6: &str, lp: u32) -> (String, String) {
    let body = format!(
        " address-family ipv4 unicast\n  network {v4} route-map SET4\n  neighbor 127.0.0.1 activate\n exit-address-family\n \
         address-family ipv6 unicast\n  network {v6} route-map SET6\n  neighbor 127.0.0.1 activate\n exit-address-family\n"
    );
    let attrs = format!(
        " set local-preference {lp}\n set metric {tag}\n set community 65000:{tag}\n \
         set extcommunity rt 65000:{tag}\n set large-community 65000:{tag}:1\n"
    );
    let tail = format!(
        "route-map SET4 permit 10\n set ip next-hop 100.64.4.{tag}\n{attrs}!\n\
         route-map SET6 permit 10\n set ipv6 next-hop global 2001:db8:ffff::4{tag}\n{attrs}!\n"
    );
    (body, tail)
}

fn sent(nh: String, lp: u32, tag: u32) -> Seen {
    Seen {
        next_hop: nh,
        local_pref: Some(lp),
        med: Some(tag),
        communities: vec![format!("65000:{tag}")],
        ext_communities: vec![format!("65000:{tag}")],
        large_communities: vec![format!("65000:{tag}:1")],
        ..Seen::default()
    }
}

/// Scenarios 1, 2 and 4 with FRR clients, an FRR non-client and a GoBGP non-client.
#[test]
fn frr_peers_see_reflected_routes_unchanged_and_withdrawn() {
    if !have(FRR_BGPD, "frr") || !have("gobgpd", "gobgpd") {
        return;
    }
    let r = Reflector::start(&[
        NeighborSpec::client("127.0.4.1"),
        NeighborSpec::client("127.0.4.2"),
        NeighborSpec::non_client("127.0.4.3"),
        NeighborSpec::non_client("127.0.4.4"),
    ]);
    let (b1, t1) = announcing(1, "10.4.1.0/24", "2001:db8:4:1::/64", 200);
    let f1 = Frr::start(&r.dir, "f1", "127.0.4.1", "10.0.4.1", r.port, &b1, &t1);
    let (b2, t2) = announcing(2, "10.4.2.0/24", "2001:db8:4:2::/64", 100);
    let mut f2 = Frr::start(&r.dir, "f2", "127.0.4.2", "10.0.4.2", r.port, &b2, &t2);
    let (b3, t3) = announcing(3, "10.4.3.0/24", "2001:db8:4:3::/64", 100);
    let f3 = Frr::start(&r.dir, "f3", "127.0.4.3", "10.0.4.3", r.port, &b3, &t3);
    let g4 = GoBgp::start(&r.dir, "g4", "127.0.4.4", "10.0.4.4", r.port);

    let f1v4 = sent("100.64.4.1".into(), 200, 1);
    let f1v6 = sent("2001:db8:ffff::41".into(), 200, 1);
    // 1: a client's routes reach every other peer, attributes unchanged.
    for p in [&f2 as &dyn Peer, &f3, &g4] {
        assert_reflected(p, "10.4.1.0/24", &f1v4, "10.0.4.1");
        assert_reflected(p, "2001:db8:4:1::/64", &f1v6, "10.0.4.1");
    }
    for p in [&f1 as &dyn Peer, &f3, &g4] {
        let v4 = sent("100.64.4.2".into(), 100, 2);
        assert_reflected(p, "10.4.2.0/24", &v4, "10.0.4.2");
    }
    // 2: a non-client's routes reach the clients but not the other non-client.
    let f3v4 = sent("100.64.4.3".into(), 100, 3);
    for p in [&f1 as &dyn Peer, &f2] {
        assert_reflected(p, "10.4.3.0/24", &f3v4, "10.0.4.3");
    }
    // (FRR would put its own 127.x address in NEXT_HOP, which FRR peers refuse.)
    f1.configure("ipv4", &["network 10.4.9.0/24 route-map SET4"]);
    wait_route(&g4, "10.4.9.0/24", |_| true);
    assert_eq!(g4.route("10.4.3.0/24"), None, "non-client to non-client");

    // 4: withdrawal removes the route everywhere...
    f1.configure("ipv4", &["no network 10.4.1.0/24 route-map SET4"]);
    f1.configure("ipv6", &["no network 2001:db8:4:1::/64 route-map SET6"]);
    for p in [&f2 as &dyn Peer, &f3, &g4] {
        wait_gone(p, "10.4.1.0/24");
        wait_gone(p, "2001:db8:4:1::/64");
    }
    // ...and so does the announcer's session dropping.
    f2.proc.stop();
    for p in [&f1 as &dyn Peer, &f3, &g4] {
        wait_gone(p, "10.4.2.0/24");
        wait_gone(p, "2001:db8:4:2::/64");
    }
    assert!(f1.established() && f3.established() && g4.established());
}
