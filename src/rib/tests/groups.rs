//! Update groups and what goes outside their deltas: peers sharing one send, dumps with
//! End-of-RIB for new peers, ROUTE-REFRESH, and the catch-up of a peer throttled by Xoff.

use super::*;

#[test]
fn two_clients_with_identical_codec_share_one_planned_send_with_both_peers() {
    let mut r = rib_with(&[(1, true), (2, true), (3, true)]);
    r.feed(route(1, &["10.0.0.0/8", "10.1.0.0/16"]));
    let plan = r.plan();
    assert_eq!(plan.sends.len(), 1);
    let sends = v4(&plan);
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].peers, vec![2, 3]);
    // Both prefixes share one outbound attribute set: one announcement bucket.
    assert_eq!(sends[0].sets, 1);
}

#[test]
fn clients_with_different_codecs_are_in_different_groups() {
    let mut r = rib();
    r.feed(ToRib::PeerUp(peer_up(1, true)));
    let mut up = peer_up(2, true);
    up.codec.four_octet_as = false;
    r.feed(ToRib::PeerUp(up));
    r.feed(ToRib::PeerUp(peer_up(3, true)));
    r.plan();
    r.feed(route(3, &["10.0.0.0/8"]));
    let sends = v4(&r.plan());
    assert_eq!(sends.len(), 2);
    only_to(&sends, &[1]);
    only_to(&sends, &[2]);
}

#[test]
fn a_new_peer_gets_a_full_dump_then_end_of_rib_and_no_delta_in_the_same_flush() {
    let mut r = planned(
        &[(1, true), (3, false)],
        [route(1, &["10.0.0.0/8"]), route(3, &["10.2.0.0/16"])],
    );
    r.feed(route(1, &["10.1.0.0/16"]));
    r.feed(ToRib::PeerUp(peer_up(2, true)));
    r.feed(ToRib::PeerUp(peer_up(4, false)));
    let sends = v4(&r.plan());
    // Deltas go to the established members only, less the source (client 1 is not sent
    // its own route, and is the only established member of its group).
    assert!(to_peers(&sends, &[1]).is_empty(), "{sends:#?}");
    assert_eq!(only_to(&sends, &[3]).kind, SendKind::Delta(1));
    let dump = only_to(&sends, &[2]);
    assert_eq!(dump.kind, SendKind::Dump(0));
    assert!(dump.eor);
    let prefixes: Vec<Prefix4> = dump.announce.iter().map(|(p, _)| *p).collect();
    assert_eq!(
        prefixes,
        vec![p4("10.0.0.0/8"), p4("10.1.0.0/16"), p4("10.2.0.0/16")]
    );
    let dump = only_to(&sends, &[4]);
    let prefixes: Vec<Prefix4> = dump.announce.iter().map(|(p, _)| *p).collect();
    assert_eq!(
        prefixes,
        vec![p4("10.0.0.0/8"), p4("10.1.0.0/16")],
        "non-client routes stay off non-clients"
    );
    // From then on the new peer is in its group's deltas.
    r.feed(withdraw(1, &["10.0.0.0/8"]));
    let sends = v4(&r.plan());
    only_to(&sends, &[2]);
    only_to(&sends, &[3, 4]);
}

#[test]
fn peers_coming_up_together_share_one_encoded_dump() {
    let mut r = planned(&[(1, true)], [route(1, &["10.0.0.0/8"])]);
    r.feed(ToRib::PeerUp(peer_up(2, true)));
    r.feed(ToRib::PeerUp(peer_up(3, true)));
    let sends = v4(&r.plan());
    let dump = only_to(&sends, &[2, 3]);
    assert_eq!(dump.kind, SendKind::Dump(0));
    assert_eq!(counts(&mut r, 2).2, 1);
}

#[test]
fn route_refresh_resends_the_family_to_that_peer_only() {
    let mut r = planned(&[(1, true), (2, true)], [route(1, &["10.0.0.0/8"])]);
    r.feed(refresh(2));
    let plan = r.plan();
    assert_eq!(plan.sends.len(), 1);
    let sends = v4(&plan);
    let dump = only_to(&sends, &[2]);
    assert!(dump.eor);
    assert_eq!(dump.announce.len(), 1);
}

#[test]
fn a_throttled_peer_catches_up_on_pending_announces_and_withdraws_after_xon() {
    let mut r = planned(
        &[(1, true), (2, true), (3, true)],
        [route(1, &["10.0.0.0/8", "10.9.0.0/16"])],
    );
    r.feed(ToRib::Xoff { peer: 2 });
    r.feed(withdraw(1, &["10.0.0.0/8"]));
    r.feed(route(1, &["10.1.0.0/16"]));
    let sends = v4(&r.plan());
    assert_eq!(sends.len(), 1);
    assert_eq!(
        sends[0].peers,
        vec![3],
        "the throttled peer is out of the send list (and the source is not sent its own)"
    );
    // More changes while throttled; one of them undone (announced then withdrawn).
    r.feed(route(1, &["10.2.0.0/16"]));
    r.plan();
    r.feed(withdraw(1, &["10.2.0.0/16"]));
    r.plan();
    assert_eq!(r.fams.v4.pending.len(2), 3);
    r.feed(ToRib::Xon { peer: 2 });
    r.feed(route(1, &["10.3.0.0/16"]));
    let sends = v4(&r.plan());
    // The batch's delta goes to the active members; the catch-up (current state of every
    // prefix changed since Xoff, including this batch) to the peer alone.
    assert_eq!(only_to(&sends, &[3]).announce.len(), 1);
    let c = only_to(&sends, &[2]);
    assert_eq!(c.kind, SendKind::CatchUp(2));
    let announced: Vec<Prefix4> = c.announce.iter().map(|(p, _)| *p).collect();
    assert_eq!(announced, vec![p4("10.1.0.0/16"), p4("10.3.0.0/16")]);
    assert_eq!(c.withdraw, vec![p4("10.0.0.0/8"), p4("10.2.0.0/16")]);
    // Back in the group.
    r.feed(withdraw(1, &["10.9.0.0/16"]));
    let sends = v4(&r.plan());
    only_to(&sends, &[2, 3]);
    assert_eq!(r.fams.v4.pending.len(2), 0);
}

/// Withdrawals a throttled peer missed survive its ROUTE-REFRESH: the refresh dump only
/// announces, so they must be caught up too.
#[test]
fn a_route_refresh_while_throttled_keeps_the_missed_withdrawals() {
    struct Case {
        name: &'static str,
        /// Whether the refresh is planned before the Xon comes.
        planned_before_xon: bool,
    }
    let cases = [
        Case {
            name: "the refresh is planned while the peer is throttled",
            planned_before_xon: true,
        },
        Case {
            name: "the refresh comes in the same batch as the Xon",
            planned_before_xon: false,
        },
    ];
    for case in cases {
        let mut r = planned(
            &[(1, true), (2, true)],
            [route(1, &["10.0.0.0/8", "10.9.0.0/16"])],
        );
        r.feed(ToRib::Xoff { peer: 2 });
        r.feed(withdraw(1, &["10.0.0.0/8"]));
        r.plan();
        r.feed(refresh(2));
        if case.planned_before_xon {
            r.plan();
        }
        r.feed(ToRib::Xon { peer: 2 });
        let withdrawn: Vec<Prefix4> = v4(&r.plan())
            .iter()
            .filter(|s| s.peers.contains(&2))
            .flat_map(|s| s.withdraw.clone())
            .collect();
        assert!(
            withdrawn.contains(&p4("10.0.0.0/8")),
            "{}: stale route left at peer 2",
            case.name
        );
    }
}
