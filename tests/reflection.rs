//! RFC 4456 behaviour of the real binary, driven by project speakers on loopback.

mod common;
use common::*;
use reflectd::wire::*;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

#[test]
fn client_route_reaches_clients_and_non_clients_with_originator_and_cluster_list() {
    let r = Reflector::start(&[
        NeighborSpec::client("127.0.0.11"),
        NeighborSpec::client("127.0.0.12"),
        NeighborSpec::non_client("127.0.0.21"),
    ]);
    let mut a = r.speaker("127.0.0.11", [1, 1, 1, 1]);
    let mut b = r.speaker("127.0.0.12", [2, 2, 2, 2]);
    let mut c = r.speaker("127.0.0.21", [3, 3, 3, 3]);
    let mut sent = attrs([100, 64, 0, 1]);
    sent.local_pref = Some(200);
    sent.med = Some(5);
    sent.communities = vec![(65000 << 16) | 7];
    sent.ext_communities = vec![[0, 2, 0xfd, 0xe8, 0, 0, 0, 9]];
    sent.large_communities = vec![[65000, 1, 2]];
    sent.as_path = AsPath {
        segments: vec![AsSegment {
            kind: SegmentKind::Sequence,
            asns: vec![64512, 4_200_000_000],
        }],
    };
    a.announce(&[p4("10.1.0.0/24"), p4("10.1.1.0/24")], &sent)
        .unwrap();
    let mut v6 = sent.clone();
    v6.next_hop = NextHop::V6 {
        global: "2001:db8::1".parse().unwrap(),
        link_local: None,
    };
    a.announce(&[p6("2001:db8:1::/48")], &v6).unwrap();

    for (name, s) in [("client", &mut b), ("non-client", &mut c)] {
        assert!(
            s.wait_until(WAIT, |s| s.routes.len() >= 3).unwrap(),
            "{name} got {:?}",
            s.routes.keys()
        );
        let got = s.route("10.1.0.0/24").expect("reflected v4 route");
        assert_eq!(got.originator_id, Some(Ipv4Addr::new(1, 1, 1, 1)), "{name}");
        assert_eq!(got.cluster_list, vec![CLUSTER_ID], "{name}");
        assert_eq!(
            got.next_hop,
            NextHop::V4(Ipv4Addr::new(100, 64, 0, 1)),
            "{name}"
        );
        assert_eq!(got.local_pref, Some(200));
        assert_eq!(got.med, Some(5));
        assert_eq!(got.communities, sent.communities);
        assert_eq!(got.ext_communities, sent.ext_communities);
        assert_eq!(got.large_communities, sent.large_communities);
        assert_eq!(got.as_path, sent.as_path);
        let got6 = s.route("2001:db8:1::/48").expect("reflected v6 route");
        assert_eq!(got6.next_hop, v6.next_hop);
        assert_eq!(got6.originator_id, Some(Ipv4Addr::new(1, 1, 1, 1)));
    }
}

#[test]
fn non_client_route_reaches_clients_only() {
    let r = Reflector::start(&[
        NeighborSpec::client("127.0.0.11"),
        NeighborSpec::non_client("127.0.0.21"),
        NeighborSpec::non_client("127.0.0.22"),
    ]);
    let mut a = r.speaker("127.0.0.11", [1, 1, 1, 1]);
    let mut c = r.speaker("127.0.0.21", [3, 3, 3, 3]);
    let mut d = r.speaker("127.0.0.22", [4, 4, 4, 4]);
    c.announce(&[p4("10.21.0.0/16")], &attrs([100, 64, 0, 21]))
        .unwrap();
    // A marker from the client proves d's session is flowing before we judge an absence.
    a.announce(&[p4("10.11.0.0/16")], &attrs([100, 64, 0, 11]))
        .unwrap();
    assert!(a
        .wait_until(WAIT, |s| s.route("10.21.0.0/16").is_some())
        .unwrap());
    assert_eq!(
        a.route("10.21.0.0/16").unwrap().originator_id,
        Some(Ipv4Addr::new(3, 3, 3, 3))
    );
    assert!(d
        .wait_until(WAIT, |s| s.route("10.11.0.0/16").is_some())
        .unwrap());
    d.poll(Duration::from_millis(300)).unwrap();
    assert!(
        d.route("10.21.0.0/16").is_none(),
        "a non-client's route must not reach another non-client"
    );
    assert!(
        c.wait_until(WAIT, |s| s.route("10.11.0.0/16").is_some())
            .unwrap(),
        "client routes reach non-clients"
    );
}

#[test]
fn looped_routes_are_dropped() {
    let (_r, mut a, mut b) = two_clients();
    let mut mine = attrs([100, 64, 0, 1]);
    mine.originator_id = Some(ROUTER_ID);
    a.announce(&[p4("10.50.0.0/24")], &mine).unwrap();
    let mut looped = attrs([100, 64, 0, 1]);
    looped.cluster_list = vec![Ipv4Addr::new(9, 9, 9, 9), CLUSTER_ID];
    a.announce(&[p4("10.50.1.0/24")], &looped).unwrap();
    announce_until_held(&mut a, &mut b, "10.50.2.0/24", [100, 64, 0, 1]);
    b.poll(Duration::from_millis(200)).unwrap();
    assert!(
        b.route("10.50.0.0/24").is_none(),
        "ORIGINATOR_ID = our router id is a loop"
    );
    assert!(
        b.route("10.50.1.0/24").is_none(),
        "CLUSTER_LIST with our cluster id is a loop"
    );
}

#[test]
fn withdrawal_and_session_loss_propagate() {
    let (_r, mut a, mut b) = two_clients();
    a.announce(
        &[p4("10.60.0.0/24"), p4("10.60.1.0/24")],
        &attrs([100, 64, 0, 1]),
    )
    .unwrap();
    assert!(b
        .wait_until(WAIT, |s| s.route("10.60.1.0/24").is_some())
        .unwrap());
    a.withdraw(&[p4("10.60.0.0/24")]).unwrap();
    assert!(
        b.wait_until(WAIT, |s| s.route("10.60.0.0/24").is_none())
            .unwrap(),
        "withdraw propagates"
    );
    assert!(b.route("10.60.1.0/24").is_some());
    drop(a);
    assert!(
        b.wait_until(WAIT, |s| s.route("10.60.1.0/24").is_none())
            .unwrap(),
        "session loss withdraws"
    );
}

#[test]
fn better_path_replaces_and_fallback_follows_withdrawal() {
    let r = Reflector::start(&[
        NeighborSpec::client("127.0.0.11"),
        NeighborSpec::client("127.0.0.12"),
        NeighborSpec::client("127.0.0.13"),
    ]);
    let mut a = r.speaker("127.0.0.11", [1, 1, 1, 1]);
    let mut b = r.speaker("127.0.0.12", [2, 2, 2, 2]);
    let mut obs = r.speaker("127.0.0.13", [3, 3, 3, 3]);
    let mut low = attrs([100, 64, 0, 1]);
    low.local_pref = Some(100);
    let mut high = attrs([100, 64, 0, 2]);
    high.local_pref = Some(300);
    a.announce(&[p4("10.70.0.0/24")], &low).unwrap();
    assert!(obs
        .wait_until(WAIT, |s| s.route("10.70.0.0/24").is_some())
        .unwrap());
    b.announce(&[p4("10.70.0.0/24")], &high).unwrap();
    assert!(obs
        .wait_until(WAIT, |s| s
            .route("10.70.0.0/24")
            .is_some_and(|p| p.local_pref == Some(300)))
        .unwrap());
    b.withdraw(&[p4("10.70.0.0/24")]).unwrap();
    assert!(
        obs.wait_until(WAIT, |s| s
            .route("10.70.0.0/24")
            .is_some_and(|p| p.local_pref == Some(100)))
            .unwrap(),
        "falls back to the remaining path"
    );
}

#[test]
fn initial_dump_ends_with_end_of_rib_and_route_refresh_resends_it() {
    let r = Reflector::start(&[
        NeighborSpec::client("127.0.0.11"),
        NeighborSpec::client("127.0.0.12"),
    ]);
    let mut a = r.speaker("127.0.0.11", [1, 1, 1, 1]);
    let prefixes: Vec<Prefix4> = (0..2000u32)
        .map(|i| Prefix4::new(Ipv4Addr::from(0x0a80_0000 + (i << 8)), 24).unwrap())
        .collect();
    a.announce(&prefixes, &attrs([100, 64, 0, 1])).unwrap();
    a.end_of_rib(Family::Ipv4Unicast).unwrap();
    // Wait until the reflector holds them: a client connecting now gets them as its dump.
    let mut probe = r.speaker("127.0.0.12", [2, 2, 2, 2]);
    assert!(probe.wait_until(WAIT, |s| s.routes.len() == 2000).unwrap());
    drop(probe);
    let mut b = r.speaker("127.0.0.12", [2, 2, 2, 2]);
    assert!(b
        .wait_until(WAIT, |s| s.end_of_rib.contains(Family::Ipv4Unicast))
        .unwrap());
    assert_eq!(
        b.routes.len(),
        2000,
        "the whole table arrives before End-of-RIB"
    );
    assert!(
        b.end_of_rib.contains(Family::Ipv6Unicast),
        "End-of-RIB for every negotiated family"
    );
    let before = b.updates_received;
    b.routes.clear();
    b.send(&Message::RouteRefresh(RouteRefresh {
        afi: AFI_IPV4,
        safi: SAFI_UNICAST,
        subtype: 0,
    }))
    .unwrap();
    assert!(
        b.wait_until(WAIT, |s| s.routes.len() == 2000).unwrap(),
        "route refresh resends the Adj-RIB-Out"
    );
    assert!(b.updates_received > before);
}

#[test]
fn ipv6_routes_are_reflected_with_their_next_hop() {
    let (_r, mut a, mut b) = two_clients();
    let mut v6 = attrs([0, 0, 0, 0]);
    let nh = NextHop::V6 {
        global: "2001:db8::11".parse().unwrap(),
        link_local: Some("fe80::11".parse().unwrap()),
    };
    v6.next_hop = nh;
    let pfx: Vec<Prefix6> = (0..100u16)
        .map(|i| Prefix6::new(Ipv6Addr::new(0x2001, 0xdb8, 0x100 + i, 0, 0, 0, 0, 0), 48).unwrap())
        .collect();
    a.announce(&pfx, &v6).unwrap();
    assert!(b.wait_until(WAIT, |s| s.routes.len() == 100).unwrap());
    assert_eq!(b.route("2001:db8:100::/48").unwrap().next_hop, nh);
    a.withdraw(&pfx[..50]).unwrap();
    assert!(b.wait_until(WAIT, |s| s.routes.len() == 50).unwrap());
}

#[test]
fn four_octet_as_path_reaches_a_two_octet_peer_through_as4_path() {
    let r = Reflector::start(&[
        NeighborSpec::client("127.0.0.11"),
        NeighborSpec::client("127.0.0.12"),
    ]);
    let mut a = r.speaker("127.0.0.11", [1, 1, 1, 1]);
    let mut old =
        reflectd::speaker::SpeakerConfig::new(ip("127.0.0.12"), ASN, Ipv4Addr::new(2, 2, 2, 2));
    old.four_octet_as = false;
    let mut b = r.speaker_with(&old);
    assert!(
        !b.ctx.four_octet_as,
        "the old speaker negotiated 2-octet ASNs"
    );
    let mut sent = attrs([100, 64, 0, 1]);
    sent.as_path = AsPath {
        segments: vec![AsSegment {
            kind: SegmentKind::Sequence,
            asns: vec![4_200_000_001, 64512, 70000],
        }],
    };
    sent.aggregator = Some((4_200_000_001, Ipv4Addr::new(1, 1, 1, 1)));
    a.announce(&[p4("10.44.0.0/24")], &sent).unwrap();
    assert!(b
        .wait_until(WAIT, |s| s.route("10.44.0.0/24").is_some())
        .unwrap());
    // The 2-octet speaker decodes AS_PATH (AS_TRANS) + AS4_PATH back into the real path.
    let got = b.route("10.44.0.0/24").unwrap();
    assert_eq!(got.as_path, sent.as_path);
    assert_eq!(got.aggregator, sent.aggregator);
    // And the other way: a 2-octet speaker's path arrives intact at a 4-octet one.
    let mut from_old = attrs([100, 64, 0, 2]);
    from_old.as_path = AsPath {
        segments: vec![AsSegment {
            kind: SegmentKind::Sequence,
            asns: vec![64512, 65001],
        }],
    };
    b.announce(&[p4("10.45.0.0/24")], &from_old).unwrap();
    assert!(a
        .wait_until(WAIT, |s| s.route("10.45.0.0/24").is_some())
        .unwrap());
    assert_eq!(a.route("10.45.0.0/24").unwrap().as_path, from_old.as_path);
}
