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

fn sent(nh: &str, lp: u32, tag: u32) -> Seen {
    Seen::tagged(nh, lp, tag, tag)
}

/// Scenarios 1, 2 and 4 with FRR clients, an FRR non-client and a GoBGP non-client.
#[test]
fn frr_peers_see_reflected_routes_unchanged_and_withdrawn() {
    if !Frr::installed() || !GoBgp::installed() {
        return;
    }
    let r = Reflector::start(&[
        NeighborSpec::client("127.0.4.1"),
        NeighborSpec::client("127.0.4.2"),
        NeighborSpec::non_client("127.0.4.3"),
        NeighborSpec::non_client("127.0.4.4"),
    ]);
    let (b1, t1) = announcing(1, "10.4.1.0/24", "2001:db8:4:1::/64", 200);
    let f1 = Frr::builder(&r, "f1", "127.0.4.1", "10.0.4.1")
        .body(&b1)
        .tail(&t1)
        .start();
    let (b2, t2) = announcing(2, "10.4.2.0/24", "2001:db8:4:2::/64", 100);
    let mut f2 = Frr::builder(&r, "f2", "127.0.4.2", "10.0.4.2")
        .body(&b2)
        .tail(&t2)
        .start();
    let (b3, t3) = announcing(3, "10.4.3.0/24", "2001:db8:4:3::/64", 100);
    let f3 = Frr::builder(&r, "f3", "127.0.4.3", "10.0.4.3")
        .body(&b3)
        .tail(&t3)
        .start();
    let g4 = GoBgp::builder(&r, "g4", "127.0.4.4", "10.0.4.4").start();

    let f1v4 = sent("100.64.4.1", 200, 1);
    let f1v6 = sent("2001:db8:ffff::41", 200, 1);
    // 1: a client's routes reach every other peer, attributes unchanged.
    assert_reflected_to(
        &[&f2, &f3, &g4],
        &[("10.4.1.0/24", &f1v4), ("2001:db8:4:1::/64", &f1v6)],
        "10.0.4.1",
    );
    let f2v4 = sent("100.64.4.2", 100, 2);
    assert_reflected_to(&[&f1, &f3, &g4], &[("10.4.2.0/24", &f2v4)], "10.0.4.2");
    // 2: a non-client's routes reach the clients but not the other non-client.
    let f3v4 = sent("100.64.4.3", 100, 3);
    assert_reflected_to(&[&f1, &f2], &[("10.4.3.0/24", &f3v4)], "10.0.4.3");
    // (FRR would put its own 127.x address in NEXT_HOP, which FRR peers refuse.)
    f1.configure("ipv4", &["network 10.4.9.0/24 route-map SET4"]);
    wait_route(&g4, "10.4.9.0/24", |_| true);
    assert_eq!(g4.route("10.4.3.0/24"), None, "non-client to non-client");

    // 5: FRR's ROUTE-REFRESH (`clear ... soft in`) brings reflectd's Adj-RIB-Out back:
    // f1 receives its IPv4 routes (f2's, f3's and its own marker) again.
    let updates = |f: &Frr| {
        let out = f.vtysh(&["show bgp neighbors 127.0.0.1 json"]);
        serde_json::from_str::<serde_json::Value>(out.trim()).ok()?["127.0.0.1"]["messageStats"]
            ["updatesRecv"]
            .as_u64()
    };
    let before = updates(&f1).expect("FRR neighbor stats");
    f1.vtysh(&["clear bgp ipv4 unicast 127.0.0.1 soft in"]);
    let after = eventually(ROUTE_WAIT, || updates(&f1).filter(|n| *n >= before + 2));
    assert!(after.is_some(), "no re-advertisement after ROUTE-REFRESH");
    assert!(f1.route("10.4.2.0/24").is_some() && f1.route("10.4.3.0/24").is_some());

    // 4: withdrawal removes the route everywhere...
    f1.configure("ipv4", &["no network 10.4.1.0/24 route-map SET4"]);
    f1.configure("ipv6", &["no network 2001:db8:4:1::/64 route-map SET6"]);
    wait_gone_from(&[&f2, &f3, &g4], &["10.4.1.0/24", "2001:db8:4:1::/64"]);
    // ...and so does the announcer's session dropping.
    f2.proc.stop();
    wait_gone_from(&[&f1, &f3, &g4], &["10.4.2.0/24", "2001:db8:4:2::/64"]);
    assert!(f1.established() && f3.established() && g4.established());
}

/// Scenario 7: reflectd (cluster A) is a client of two FRR route reflectors, F1 (cluster B)
/// and F2 (cluster C); F1 and F2 peer as non-clients, and F2 prefers what F1 sends (LOCAL_PREF
/// 500 inbound). A route from reflectd's client goes up to F1, across to F2 with
/// CLUSTER_LIST [B, A], and F2 reflects that path back down to reflectd with [C, B, A]:
/// reflectd must recognise its own cluster and drop it, so its clients keep the original.
/// A route F1 originates comes down to reflectd's clients with ORIGINATOR_ID F1.
#[test]
fn reflectd_as_client_of_frr_reflectors_passes_routes_and_drops_its_own_loops() {
    if !Frr::installed() || !GoBgp::installed() {
        return;
    }
    let r = Reflector::start(&[
        NeighborSpec::client("127.0.4.61"),
        NeighborSpec::client("127.0.4.62"),
        NeighborSpec::non_client("127.0.4.71"),
        NeighborSpec::non_client("127.0.4.72"),
    ]);
    let f2_port = free_port();
    let rr_client = " address-family ipv4 unicast\n  neighbor 127.0.0.1 activate\n  \
                     neighbor 127.0.0.1 route-reflector-client\n";
    let f1 = Frr::builder(&r, "f1", "127.0.4.71", "10.0.7.1")
        .body(&format!(
            " bgp cluster-id 10.0.7.11\n neighbor 127.0.4.72 remote-as 65000\n \
             neighbor 127.0.4.72 port {f2_port}\n neighbor 127.0.4.72 update-source 127.0.4.71\n \
             neighbor 127.0.4.72 timers connect 1\n neighbor 127.0.4.72 advertisement-interval 0\n\
             {rr_client}  neighbor 127.0.4.72 activate\n  network 10.7.1.0/24 route-map NH\n \
             exit-address-family\n"
        ))
        .tail("route-map NH permit 10\n set ip next-hop 100.64.7.1\n!\n")
        .start();
    let f2 = Frr::builder(&r, "f2", "127.0.4.72", "10.0.7.2")
        .body(&format!(
            " bgp cluster-id 10.0.7.22\n neighbor 127.0.4.71 remote-as 65000\n \
             neighbor 127.0.4.71 passive\n neighbor 127.0.4.71 advertisement-interval 0\n\
             {rr_client}  neighbor 127.0.4.71 activate\n  neighbor 127.0.4.71 route-map LP500 in\n \
             exit-address-family\n"
        ))
        .tail(
            "route-map LP500 permit 10\n set local-preference 500\n!\n\
             route-map NH permit 10\n set ip next-hop 100.64.7.2\n!\n",
        )
        .listen(f2_port)
        .start();
    let c1 = GoBgp::builder(&r, "c1", "127.0.4.61", "10.0.4.61").start();
    let c2 = GoBgp::builder(&r, "c2", "127.0.4.62", "10.0.4.62").start();

    // Down the hierarchy: F1's own route reaches reflectd directly and through F2 (which
    // raised its LOCAL_PREF): reflectd's clients end with the better one, via cluster C.
    let down = wait_route(&c2, "10.7.1.0/24", |s| s.local_pref == Some(500));
    assert_eq!(down.originator_id.as_deref(), Some("10.0.7.1"));
    assert_eq!(
        down.cluster_list,
        vec![CLUSTER_ID.to_string(), "10.0.7.22".to_string()]
    );

    // Up and across: F2's best path for c1's route came through F1, with both clusters.
    c1.announce("10.7.61.0/24", "origin igp nexthop 100.64.7.61");
    let across = wait_route(&f2, "10.7.61.0/24", |s| s.local_pref == Some(500));
    assert_eq!(across.originator_id.as_deref(), Some("10.0.4.61"));
    assert_eq!(
        across.cluster_list,
        vec!["10.0.7.11".to_string(), CLUSTER_ID.to_string()]
    );
    // F2 reflects that path back to reflectd (its client)...
    let sent_back = eventually(ROUTE_WAIT, || {
        let out = f2.vtysh(&["show bgp ipv4 unicast neighbors 127.0.0.1 advertised-routes"]);
        out.contains("10.7.61.0/24").then_some(out)
    });
    assert!(sent_back.is_some(), "F2 never sent the loop back");
    // ...then a marker after it: once c2 has the marker, reflectd has read the looped path.
    f2.configure("ipv4", &["network 10.7.2.0/24 route-map NH"]);
    wait_route(&c2, "10.7.2.0/24", |_| true);
    let kept = c2.route("10.7.61.0/24").expect("c1's route at c2");
    assert_eq!(
        (kept.local_pref, kept.cluster_list.clone()),
        (Some(100), vec![CLUSTER_ID.to_string()]),
        "reflectd accepted its own route back: {kept:?}"
    );
    assert!(f1.established() && f2.established());
}
