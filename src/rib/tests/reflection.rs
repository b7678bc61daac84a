//! Who is sent a reflected route, with which ORIGINATOR_ID and CLUSTER_LIST (RFC 4456 §8),
//! and the routes that loop back to us, which are dropped.

use super::*;

#[test]
fn client_route_is_reflected_to_clients_and_non_clients_with_originator_and_cluster_list_set() {
    let mut r = rib_with(&[(1, true), (2, true), (3, false)]);
    r.feed(route(1, &["10.0.0.0/8"]));
    let sends = v4(&r.plan());
    assert_eq!(sends.len(), 2);
    // The clients' group less client 1, which is never sent its own route.
    for (group, kind) in [
        (&[2][..], SendKind::Delta(0)),
        (&[3][..], SendKind::Delta(1)),
    ] {
        let s = only_to(&sends, group);
        assert_eq!(s.kind, kind, "to {group:?}");
        assert_eq!(s.announce.len(), 1, "to {group:?}");
        let (p, a) = &s.announce[0];
        assert_eq!(*p, p4("10.0.0.0/8"));
        assert_eq!(a.originator_id, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(a.cluster_list, vec![CLUSTER]);
        // Everything else unchanged.
        let mut back = a.clone();
        back.originator_id = None;
        back.cluster_list.clear();
        assert_eq!(back, attrs([192, 0, 2, 1]));
    }
}

#[test]
fn non_client_route_is_reflected_to_clients_only() {
    let mut r = rib_with(&[(1, true), (2, true), (3, false), (4, false)]);
    r.feed(route(3, &["10.0.0.0/8"]));
    let sends = v4(&r.plan());
    assert_eq!(sends.len(), 1, "{sends:#?}");
    assert_eq!(sends[0].peers, vec![1, 2]);
    assert_eq!(
        sends[0].announce[0].1.originator_id,
        Some(Ipv4Addr::new(10, 0, 0, 3))
    );
}

#[test]
fn non_clients_are_sent_a_withdraw_when_the_best_path_moves_to_a_non_client() {
    let mut r = planned(&[(1, true), (3, false)], [route(1, &["10.0.0.0/8"])]);
    r.feed(announce(3, &["10.0.0.0/8"], lp([192, 0, 2, 3], 200)));
    let sends = v4(&r.plan());
    let clients = only_to(&sends, &[1]);
    assert_eq!(clients.announce[0].1.local_pref, Some(200));
    let non_clients = only_to(&sends, &[3]);
    assert!(non_clients.announce.is_empty());
    assert_eq!(non_clients.withdraw, vec![p4("10.0.0.0/8")]);
    assert_eq!(
        counts(&mut r, 3).2,
        0,
        "non-client group advertises nothing"
    );
    assert_eq!(counts(&mut r, 1).2, 1);
}

#[test]
fn an_existing_originator_id_is_kept_when_reflecting() {
    let mut r = rib_with(&[(1, true), (2, true)]);
    let a = PathAttrs {
        originator_id: Some(Ipv4Addr::new(9, 9, 9, 9)),
        ..attrs([192, 0, 2, 1])
    };
    r.feed(announce(1, &["10.0.0.0/8"], a));
    let sends = v4(&r.plan());
    assert_eq!(
        sends[0].announce[0].1.originator_id,
        Some(Ipv4Addr::new(9, 9, 9, 9))
    );
}

#[test]
fn route_with_our_router_id_as_originator_is_dropped_and_counted_as_received_only() {
    let mut r = rib_with(&[(1, true), (2, true)]);
    let looped = PathAttrs {
        originator_id: Some(US),
        ..attrs([192, 0, 2, 1])
    };
    r.feed(announce(1, &["10.0.0.0/8"], looped));
    assert!(v4(&r.plan()).is_empty());
    assert_eq!(r.best(p4("10.0.0.0/8")), None);
    assert_eq!(counts(&mut r, 1), (1, 0, 0));
    assert_eq!(r.attr_sets(), 0, "looped attributes are not interned");
}

#[test]
fn route_with_our_cluster_id_in_the_cluster_list_replaces_the_previous_path_as_a_withdraw() {
    let mut r = planned(&[(1, true), (2, true)], [route(1, &["10.0.0.0/8"])]);
    let looped = PathAttrs {
        cluster_list: vec![Ipv4Addr::new(7, 7, 7, 7), CLUSTER],
        ..attrs([192, 0, 2, 1])
    };
    r.feed(announce(1, &["10.0.0.0/8"], looped));
    let sends = v4(&r.plan());
    assert_eq!(only_to(&sends, &[2]).withdraw, vec![p4("10.0.0.0/8")]);
    assert_eq!(counts(&mut r, 1), (1, 0, 0));
    // Withdrawing the looped route clears the received count.
    r.feed(withdraw(1, &["10.0.0.0/8"]));
    assert!(v4(&r.plan()).is_empty());
    assert_eq!(counts(&mut r, 1), (0, 0, 0));
}

#[test]
fn route_with_our_as_in_its_as_path_loses_to_a_loop_free_one_and_is_not_reflected() {
    // RFC 4271 §9.1.2: such a route is excluded from the decision; BIRD, FRR and OpenBGPD
    // drop it the same way, whichever kind of peer sent it.
    let mut r = rib_with(&[(1, true), (2, true), (3, true)]);
    let looped = PathAttrs {
        as_path: AsPath {
            segments: vec![AsSegment {
                kind: SegmentKind::Sequence,
                asns: vec![64512, 65000, 3356],
            }],
        },
        local_pref: Some(300),
        ..attrs([192, 0, 2, 1])
    };
    r.feed(announce(1, &["10.0.0.0/8"], looped));
    assert!(v4(&r.plan()).is_empty());
    assert_eq!(counts(&mut r, 1), (1, 0, 0));
    // A loop-free path from another client is best although its LOCAL_PREF is lower.
    r.feed(route(2, &["10.0.0.0/8"]));
    assert_eq!(r.best(p4("10.0.0.0/8")).map(|b| b.0), Some(2));
    let sends = v4(&r.plan());
    // The clients are one group; client 2 is not sent its own route.
    let (p, a) = &only_to(&sends, &[1, 3]).announce[0];
    assert_eq!(
        (*p, a.next_hop),
        (p4("10.0.0.0/8"), NextHop::V4([192, 0, 2, 2].into()))
    );
}

/// RFC 8950: an IPv4 route with an IPv6 next hop is advertised only to groups that agreed
/// the capability; the others are neither sent it nor counted as holding it.
#[test]
fn an_ipv4_route_with_an_ipv6_next_hop_goes_only_to_peers_that_agreed_rfc_8950() {
    let mut r = rib();
    r.feed(ToRib::PeerUp(peer_up(1, true)));
    r.feed(ToRib::PeerUp(peer_up(2, true)));
    let mut enh = peer_up(3, true);
    enh.codec.extended_next_hop = FamilySet::EMPTY.with(Family::Ipv4Unicast);
    r.feed(ToRib::PeerUp(enh));
    r.plan();
    r.feed(ToRib::updates(
        1,
        vec![Update {
            attrs: Some(attrs([192, 0, 2, 1])),
            mp_reach: Some(MpReach {
                next_hop: v6_next_hop("2001:db8::1"),
                nlri: NlriSet::Ipv4Unicast(vec![p4("10.8.0.0/16")]),
            }),
            ..Update::default()
        }],
    ));
    r.feed(route(1, &["10.9.0.0/16"]));
    let sends = v4(&r.plan());
    let announced = |peer: PeerId| -> Vec<Prefix4> {
        to_peers(&sends, &[peer])
            .iter()
            .flat_map(|s| s.announce.iter().map(|(p, _)| *p))
            .collect()
    };
    assert_eq!(announced(2), vec![p4("10.9.0.0/16")]);
    let mut to_enh = announced(3);
    to_enh.sort_unstable();
    assert_eq!(to_enh, vec![p4("10.8.0.0/16"), p4("10.9.0.0/16")]);
    assert!(sends.iter().all(|s| s.withdraw.is_empty()));
    assert_eq!(
        counts(&mut r, 2).2,
        1,
        "advertised to the peer without RFC 8950"
    );
    assert_eq!(counts(&mut r, 3).2, 2);
    assert_eq!(counts(&mut r, 1).2, 0, "the source holds none from us");
}
