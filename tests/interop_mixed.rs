//! Scenario 1 across implementations: one reflectd with a client of every kind (BIRD 2,
//! GoBGP, FRR, OpenBGPD, ExaBGP). Each announces its own IPv4 and IPv6 prefix with
//! LOCAL_PREF, MED and standard, extended and large communities; every other client must hold
//! each one, read from its own RIB, with ORIGINATOR_ID = the announcer, CLUSTER_LIST = [ours]
//! and everything else unchanged.

mod common;
use common::daemons::*;
use common::*;

/// What client `n` (1..=5) announces.
fn sent(n: u32, v6: bool) -> Seen {
    let t = 90 + n;
    let next_hop = if v6 {
        format!("2001:db8:ffff::{t}")
    } else {
        format!("100.64.9.{n}")
    };
    Seen::tagged(&next_hop, 100 + n, t, t)
}

fn prefix(n: u32, v6: bool) -> String {
    if v6 {
        format!("2001:db8:9:{n}::/64")
    } else {
        format!("10.9.{n}.0/24")
    }
}

#[test]
fn clients_of_every_kind_receive_each_others_routes_unchanged() {
    if !have_every_daemon() {
        return;
    }
    let o_port = free_port();
    let r = Reflector::start(&[
        NeighborSpec::client("127.0.9.1"),
        NeighborSpec::client("127.0.9.2"),
        NeighborSpec::client("127.0.9.3"),
        NeighborSpec::dialed("127.0.9.4", o_port),
        NeighborSpec::client("127.0.9.5"),
    ]);

    // 1: BIRD.
    let bird_static = |v6: bool| {
        let s = sent(1, v6);
        format!(
            "route {} blackhole {{ bgp_local_pref = {}; bgp_med = {}; bgp_community.add((65000,91)); \
             bgp_ext_community.add((rt,65000,91)); bgp_large_community.add((65000,91,1)); }};",
            prefix(1, v6),
            s.local_pref.unwrap(),
            s.med.unwrap()
        )
    };
    let b = Bird::builder(&r, "b1", "127.0.9.1", "10.0.9.1")
        .statics(&bird_static(false), &bird_static(true))
        .next_hops("100.64.9.1", "2001:db8:ffff::91")
        .start();
    // 2: GoBGP.
    let g = GoBgp::builder(&r, "g2", "127.0.9.2", "10.0.9.2").start();
    for v6 in [false, true] {
        g.announce_seen(&prefix(2, v6), &sent(2, v6));
    }
    // 3: FRR.
    let frr_set = "set local-preference 103\n set metric 93\n set community 65000:93\n \
                   set extcommunity rt 65000:93\n set large-community 65000:93:1\n";
    let f = Frr::builder(&r, "f3", "127.0.9.3", "10.0.9.3")
        .body(&format!(
            " address-family ipv4 unicast\n  network {} route-map S4\n  neighbor 127.0.0.1 activate\n exit-address-family\n \
             address-family ipv6 unicast\n  network {} route-map S6\n  neighbor 127.0.0.1 activate\n exit-address-family\n",
            prefix(3, false),
            prefix(3, true)
        ))
        .tail(&format!(
            "route-map S4 permit 10\n set ip next-hop 100.64.9.3\n {frr_set}!\n\
             route-map S6 permit 10\n set ipv6 next-hop global 2001:db8:ffff::93\n {frr_set}!\n"
        ))
        .start();
    // 4: OpenBGPD (reflectd dials it).
    let obgp_set = |v6: bool| {
        let s = sent(4, v6);
        format!(
            "network {} set {{ nexthop {} localpref 104 med 94 community 65000:94 \
             ext-community rt 65000:94 large-community 65000:94:1 }}",
            prefix(4, v6),
            s.next_hop
        )
    };
    let o = OpenBgpd::builder(&r, "o4", "127.0.9.4", "10.0.9.4")
        .listen(o_port)
        .body(&format!("{}\n{}", obgp_set(false), obgp_set(true)))
        .start();
    // 5: ExaBGP.
    let e = ExaBgp::builder(&r, "e5", "127.0.9.5", "10.0.9.5").start();
    for v6 in [false, true] {
        let s = sent(5, v6);
        e.send(&format!(
            "announce route {} next-hop {} local-preference 105 med 95 community [65000:95] \
             extended-community [target:65000:95] large-community [65000:95:1]",
            prefix(5, v6),
            s.next_hop
        ));
    }

    assert_all_reflected(&[&b, &g, &f, &o, &e], [false, true], |n, v6| {
        (prefix(n, v6), sent(n, v6), format!("10.0.9.{n}"))
    });
}

/// Scenario 3 for the other implementations: two GoBGP clients announce the same prefixes
/// with different LOCAL_PREF / AS_PATH length / MED; a BIRD, an FRR and an OpenBGPD client
/// each end with the RFC 4271 best path (the loser always has the lower router id).
#[test]
fn every_kind_of_receiver_ends_with_the_rfc4271_best_path() {
    let all = Bird::installed() & GoBgp::installed() & Frr::installed() & OpenBgpd::installed();
    if !all {
        return;
    }
    let o_port = free_port();
    let r = Reflector::start(&[
        NeighborSpec::client("127.0.9.11"),
        NeighborSpec::client("127.0.9.12"),
        NeighborSpec::client("127.0.9.21"),
        NeighborSpec::client("127.0.9.22"),
        NeighborSpec::dialed("127.0.9.23", o_port),
    ]);
    let a1 = GoBgp::builder(&r, "a1", "127.0.9.11", "10.0.9.11").start();
    let a2 = GoBgp::builder(&r, "a2", "127.0.9.12", "10.0.9.12").start();
    let b = Bird::builder(&r, "b21", "127.0.9.21", "10.0.9.21")
        .next_hops("100.64.9.21", "2001:db8:ffff::921")
        .start();
    let f = Frr::builder(&r, "f22", "127.0.9.22", "10.0.9.22")
        .body(" address-family ipv4 unicast\n  neighbor 127.0.0.1 activate\n exit-address-family\n")
        .start();
    let o = OpenBgpd::builder(&r, "o23", "127.0.9.23", "10.0.9.23")
        .listen(o_port)
        .start();
    assert_best_paths(9, &a1, &a2, &[&b, &f, &o]);
}
