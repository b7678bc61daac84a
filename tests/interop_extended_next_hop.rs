//! RFC 8950 with real daemons: an IPv4 route with an IPv6 next hop, sent by GoBGP, reaches
//! the clients that agreed the Extended Next Hop capability with reflectd (BIRD with
//! `extended next hop on`, and GoBGP, which offers it for IPv4 unicast) with that next hop,
//! and is not sent to one that did not: FRR offers the capability on IPv6 sessions only, so
//! over IPv4 it gets the route with the IPv4 next hop and not the other, and reflectd counts
//! it as holding that one route.

mod common;
use common::daemons::*;
use common::*;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn an_ipv4_route_with_an_ipv6_next_hop_reaches_only_the_peers_that_agreed_rfc_8950() {
    if !Bird::installed() || !GoBgp::installed() || !Frr::installed() {
        return;
    }
    let r = Reflector::start(&[
        NeighborSpec::client("127.0.18.1"),
        NeighborSpec::client("127.0.18.2"),
        NeighborSpec::client("127.0.18.3"),
        NeighborSpec::client("127.0.18.4"),
    ]);
    let g1 = GoBgp::builder(&r, "g1", "127.0.18.1", "10.0.18.1").start();
    let g2 = GoBgp::builder(&r, "g2", "127.0.18.2", "10.0.18.2").start();
    let b3 = Bird::builder(&r, "b3", "127.0.18.3", "10.0.18.3")
        .next_hops("100.64.18.3", "2001:db8:ffff::18")
        .extended_next_hop()
        .start();
    let f4 = Frr::builder(&r, "f4", "127.0.18.4", "10.0.18.4")
        .body(
            " neighbor 127.0.0.1 capability extended-nexthop\n \
             address-family ipv4 unicast\n  neighbor 127.0.0.1 activate\n exit-address-family\n",
        )
        .start();
    let (v6_nh, v4_nh) = ("2001:db8:ffff::1", "100.64.18.1");
    g1.announce("10.18.1.0/24", &format!("nexthop {v6_nh}"));
    g1.announce("10.18.2.0/24", &format!("nexthop {v4_nh}"));
    let agreed: [&dyn Peer; 2] = [&g2, &b3];
    for p in agreed {
        let got = eventually(WAIT, || {
            p.route("10.18.1.0/24").filter(|s| s.next_hop == v6_nh)
        });
        assert!(
            got.is_some(),
            "{} never held the IPv6-next-hop route:\n{}\n{}",
            p.name(),
            p.dump(),
            r.log()
        );
        assert!(
            eventually(WAIT, || p.route("10.18.2.0/24")).is_some(),
            "{}",
            p.dump()
        );
    }
    // FRR did not agree: it gets the IPv4-next-hop route, and never the other.
    let v4 = eventually(WAIT, || {
        f4.route("10.18.2.0/24").filter(|s| s.next_hop == v4_nh)
    });
    assert!(v4.is_some(), "{}", f4.dump());
    assert!(f4.route("10.18.1.0/24").is_none(), "{}", f4.dump());
    // reflectd's count of what each holds from it says the same.
    let advertised = |neighbor: &str| -> Option<u64> {
        let v: serde_json::Value = serde_json::from_str(&r.cli(&["neighbors", "--json"])).ok()?;
        v.as_array()?.iter().find(|n| n["address"] == neighbor)?["prefixes"]
            .as_array()?
            .iter()
            .find(|f| f["family"] == "ipv4-unicast")?["advertised"]
            .as_u64()
    };
    let counted = eventually(WAIT, || {
        (advertised("127.0.18.4") == Some(1) && advertised("127.0.18.2") == Some(2)).then_some(())
    });
    assert!(
        counted.is_some(),
        "FRR {:?}, GoBGP {:?}",
        advertised("127.0.18.4"),
        advertised("127.0.18.2")
    );
    g1.withdraw("10.18.1.0/24");
    for p in agreed {
        let gone = eventually(WAIT, || p.route("10.18.1.0/24").is_none().then_some(()));
        assert!(gone.is_some(), "{}", p.dump());
    }
}
