//! Withdrawals and best-path changes as the groups see them: what a better, a worse or a
//! withdrawn path sends, treat-as-withdraw, IPv6 through MP_REACH / MP_UNREACH, and what
//! is ignored.

use super::*;

/// Clients 1 and 2 and non-client 3; client 1's routes for two prefixes already sent.
fn two_routes_from_client_1() -> Rib {
    planned(
        &[(1, true), (2, true), (3, false)],
        [route(1, &["10.0.0.0/8", "10.1.0.0/16"])],
    )
}

#[test]
fn withdraw_propagates_to_the_group() {
    let mut r = two_routes_from_client_1();
    r.feed(withdraw(1, &["10.1.0.0/16"]));
    let sends = v4(&r.plan());
    for group in [&[2][..], &[3][..]] {
        let s = only_to(&sends, group);
        assert_eq!(s.withdraw, vec![p4("10.1.0.0/16")], "to {group:?}");
        assert!(s.announce.is_empty(), "to {group:?}");
    }
    assert!(
        sends.iter().all(|s| !s.peers.contains(&1)),
        "the source was never sent its route, so nothing to withdraw: {sends:#?}"
    );
}

#[test]
fn peer_down_withdraws_its_paths_from_every_group() {
    let mut r = two_routes_from_client_1();
    r.feed(ToRib::PeerDown { peer: 1 });
    let sends = v4(&r.plan());
    assert_eq!(
        only_to(&sends, &[2]).withdraw,
        vec![p4("10.0.0.0/8"), p4("10.1.0.0/16")]
    );
    assert_eq!(
        only_to(&sends, &[3]).withdraw,
        vec![p4("10.0.0.0/8"), p4("10.1.0.0/16")]
    );
    assert_eq!(r.peer_down_scans(), 1);
    assert_eq!(r.attr_sets(), 0);
    let s = r.snapshot(0);
    assert!(s.peers.iter().all(|p| p.peer != 1));
    assert_eq!(s.families[0].prefixes, 0);
}

#[test]
fn a_better_path_is_announced_to_the_group() {
    let mut r = planned(&[(1, true), (2, true)], [route(1, &["10.0.0.0/8"])]);
    r.feed(announce(2, &["10.0.0.0/8"], lp([192, 0, 2, 2], 300)));
    let sends = v4(&r.plan());
    let s = only_to(&sends, &[1]);
    assert_eq!(s.announce.len(), 1);
    assert_eq!(s.announce[0].1.local_pref, Some(300));
    assert_eq!(
        s.announce[0].1.originator_id,
        Some(Ipv4Addr::new(10, 0, 0, 2))
    );
    // Client 2 held client 1's path from us: now that its own path is best, that one is
    // withdrawn, and its own is not sent back (BIRD and OpenBGPD do the same).
    let s = only_to(&sends, &[2]);
    assert_eq!(
        (s.withdraw.as_slice(), s.announce.len()),
        (&[p4("10.0.0.0/8")][..], 0)
    );
    // A worse path changes nothing that is advertised.
    r.feed(announce(1, &["10.0.0.0/8"], lp([192, 0, 2, 1], 50)));
    assert!(v4(&r.plan()).is_empty());
}

#[test]
fn when_the_best_path_is_withdrawn_the_fallback_path_is_announced() {
    let mut r = planned(
        &[(1, true), (2, true)],
        [
            route(1, &["10.0.0.0/8"]),
            announce(2, &["10.0.0.0/8"], lp([192, 0, 2, 2], 300)),
        ],
    );
    r.feed(withdraw(2, &["10.0.0.0/8"]));
    let sends = v4(&r.plan());
    // Client 1's own path is best again: it is withdrawn what it held (client 2's path),
    // and client 2 is sent client 1's.
    assert_eq!(only_to(&sends, &[1]).withdraw, vec![p4("10.0.0.0/8")]);
    assert!(only_to(&sends, &[1]).announce.is_empty());
    let s = only_to(&sends, &[2]);
    assert!(s.withdraw.is_empty());
    assert_eq!(
        s.announce[0].1.next_hop,
        NextHop::V4(Ipv4Addr::new(192, 0, 2, 1))
    );
    assert_eq!(
        s.announce[0].1.originator_id,
        Some(Ipv4Addr::new(10, 0, 0, 1))
    );
}

#[test]
fn a_change_undone_within_one_batch_sends_nothing() {
    let mut r = planned(&[(1, true), (2, true)], [route(1, &["10.0.0.0/8"])]);
    r.feed(announce(2, &["10.0.0.0/8"], lp([192, 0, 2, 2], 300)));
    r.feed(withdraw(2, &["10.0.0.0/8"]));
    assert!(v4(&r.plan()).is_empty());
}

#[test]
fn best_path_in_the_table_never_depends_on_arrival_order() {
    // Peers 1..=4 with a MED cycle across neighbor ASes and a local-pref-free tie.
    let path = |asn: u32, med: u32| PathAttrs {
        as_path: AsPath {
            segments: vec![AsSegment {
                kind: SegmentKind::Sequence,
                asns: vec![asn],
            }],
        },
        med: Some(med),
        ..attrs([192, 0, 2, 9])
    };
    let paths = [
        (1, path(65001, 10)),
        (2, path(65001, 5)),
        (3, path(65002, 0)),
        (4, path(65002, 7)),
    ];
    let mut expected = None;
    let orders: Vec<Vec<usize>> = {
        let mut all = Vec::new();
        for a in 0..4 {
            for b in 0..4 {
                for c in 0..4 {
                    for d in 0..4 {
                        let v = vec![a, b, c, d];
                        let mut s = v.clone();
                        s.sort_unstable();
                        s.dedup();
                        if s.len() == 4 {
                            all.push(v);
                        }
                    }
                }
            }
        }
        all
    };
    assert_eq!(orders.len(), 24);
    for order in orders {
        let mut r = rib_with(&[(1, true), (2, true), (3, true), (4, true)]);
        for &i in &order {
            let (peer, a) = &paths[i];
            r.feed(announce(*peer, &["10.0.0.0/8"], a.clone()));
        }
        let (best, _) = r.best(p4("10.0.0.0/8")).unwrap();
        assert_eq!(*expected.get_or_insert(best), best, "order {order:?}");
        // And withdrawing in that order leaves the same best as inserting the rest.
    }
    // 65001: peer 2 (MED 5); 65002: peer 3 (MED 0); then lowest router id: 10.0.0.2.
    assert_eq!(expected, Some(2));
}

#[test]
fn treat_as_withdraw_removes_the_peers_paths_for_the_updates_prefixes() {
    let mut r = planned(&[(1, true), (2, true)], [route(1, &["10.0.0.0/8"])]);
    let bad = Update {
        attrs: Some(attrs([192, 0, 2, 1])),
        nlri: vec![p4("10.0.0.0/8")],
        treat_as_withdraw: true,
        ..Update::default()
    };
    r.feed(ToRib::updates(1, vec![bad]));
    assert_eq!(
        only_to(&v4(&r.plan()), &[2]).withdraw,
        vec![p4("10.0.0.0/8")]
    );
}

#[test]
fn routes_of_a_family_not_negotiated_and_messages_about_unknown_peers_are_ignored() {
    let mut r = rib();
    let mut up = peer_up(1, true);
    up.families = FamilySet::EMPTY.with(Family::Ipv6Unicast);
    r.feed(ToRib::PeerUp(up));
    r.feed(ToRib::PeerUp(peer_up(2, true)));
    r.plan();
    r.feed(route(1, &["10.0.0.0/8"]));
    r.feed(route(9, &["10.0.0.0/8"]));
    for m in [
        ToRib::PeerDown { peer: 9 },
        ToRib::Xoff { peer: 9 },
        ToRib::Xon { peer: 9 },
        refresh(9),
    ] {
        r.feed(m);
    }
    assert!(r.plan().sends.is_empty());
    assert_eq!(r.best(p4("10.0.0.0/8")), None);
}

#[test]
fn ipv6_routes_carry_the_mp_reach_next_hop_and_are_withdrawn_by_mp_unreach() {
    let mut r = rib_with(&[(1, true), (2, true)]);
    let nh = v6_next_hop("2001:db8::1");
    let a = PathAttrs {
        next_hop: NextHop::None,
        ..attrs([0, 0, 0, 0])
    };
    r.feed(announce6(1, &["2001:db8:1::/48"], nh, a));
    let plan = r.plan();
    let Routes::V6(rs) = parts(&plan.sends[0])[0].1 else {
        panic!("v6 send expected")
    };
    assert_eq!(rs.announced()[0].0, p6("2001:db8:1::/48"));
    assert_eq!(rs.announced()[0].1.next_hop, nh);
    r.feed(withdraw6(1, &["2001:db8:1::/48"]));
    let plan = r.plan();
    let Routes::V6(rs) = parts(&plan.sends[0])[0].1 else {
        panic!("v6 send expected")
    };
    assert_eq!(rs.withdraw, vec![p6("2001:db8:1::/48")]);
}
