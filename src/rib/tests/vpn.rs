//! VPN families (RFC 4364, RFC 4659): one route per RD + prefix, best path per route, the
//! label and next hop of the best path's own, everything reflected unchanged.

use super::*;
use crate::wire::{Label, Labeled, Vpn4, Vpn6};

fn vpn_peer(peer: PeerId) -> ToRib {
    let mut up = peer_up(peer, true);
    up.families = FamilySet::EMPTY.with(Family::Ipv4Vpn).with(Family::Ipv6Vpn);
    ToRib::PeerUp(up)
}

/// Route target 65000:`n` (RFC 4360 §4, two-octet AS specific, sub-type 2).
fn rt(n: u8) -> [u8; 8] {
    [0, 2, 0xfd, 0xe8, 0, 0, 0, n]
}

fn vpn_attrs(peer: PeerId, local_pref: u32, target: u8) -> PathAttrs {
    PathAttrs {
        ext_communities: vec![rt(target)],
        ..lp([192, 0, 2, peer as u8], local_pref)
    }
}

/// `peer` announces `routes` (RD:PREFIX, label) in one UPDATE, next hop 192.0.2.`peer`.
fn announce_vpn4(peer: PeerId, routes: &[(&str, u32)], a: PathAttrs) -> ToRib {
    let mut l = Labeled::default();
    for (r, label) in routes {
        l.push(r.parse::<Vpn4>().unwrap(), Label::new(*label));
    }
    ToRib::updates(
        peer,
        vec![Update {
            mp_reach: Some(MpReach {
                next_hop: NextHop::V4(Ipv4Addr::new(192, 0, 2, peer as u8)),
                nlri: NlriSet::Ipv4Vpn(l),
            }),
            attrs: Some(a),
            ..Update::default()
        }],
    )
}

fn withdraw_vpn4(peer: PeerId, routes: &[&str]) -> ToRib {
    let mut l = Labeled::default();
    for r in routes {
        l.push(r.parse::<Vpn4>().unwrap(), Label::WITHDRAWN);
    }
    ToRib::updates(
        peer,
        vec![Update {
            mp_unreach: Some(MpUnreach {
                nlri: NlriSet::Ipv4Vpn(l),
            }),
            ..Update::default()
        }],
    )
}

/// What `peer` was sent in the flush: (route, label, next hop, ext communities) announced,
/// and routes withdrawn.
type Vpn4Seen = (Vpn4, Label, NextHop, Vec<[u8; 8]>);

fn sent_to(r: &mut Rib, peer: PeerId) -> (Vec<Vpn4Seen>, Vec<Vpn4>) {
    let (mut announced, mut withdrawn) = (Vec::new(), Vec::new());
    for u in updates_to(r, peer) {
        if let Some(MpReach {
            next_hop,
            nlri: NlriSet::Ipv4Vpn(l),
        }) = &u.mp_reach
        {
            let a = u.attrs.as_ref().expect("attributes with MP_REACH_NLRI");
            assert_eq!(a.cluster_list, vec![CLUSTER], "reflected");
            for (k, label) in l.keys.iter().zip(&l.labels) {
                announced.push((*k, *label, *next_hop, a.ext_communities.clone()));
            }
        }
        if let Some(MpUnreach {
            nlri: NlriSet::Ipv4Vpn(l),
        }) = &u.mp_unreach
        {
            withdrawn.extend(&l.keys);
        }
    }
    announced.sort_by_key(|a| a.0);
    withdrawn.sort_unstable();
    (announced, withdrawn)
}

fn vpn4(s: &str) -> Vpn4 {
    s.parse().unwrap()
}

/// A RIB with VPN peers 1 to `n` up, their dumps planned, and `routes` announced: (peer,
/// RD:PREFIX, label, LOCAL_PREF, route target).
fn vpn_rib(n: PeerId, routes: &[(PeerId, &str, u32, u32, u8)]) -> Rib {
    let mut r = rib();
    for p in 1..=n {
        r.feed(vpn_peer(p));
    }
    r.plan();
    for &(peer, route, label, local_pref, target) in routes {
        r.feed(announce_vpn4(
            peer,
            &[(route, label)],
            vpn_attrs(peer, local_pref, target),
        ));
    }
    r
}

fn nh(peer: u8) -> NextHop {
    NextHop::V4(Ipv4Addr::new(192, 0, 2, peer))
}

/// `route` as a client must be sent it: `label`, next hop 192.0.2.`peer`, route target
/// 65000:`target`.
fn seen(route: &str, label: u32, peer: u8, target: u8) -> Vpn4Seen {
    (vpn4(route), Label::new(label), nh(peer), vec![rt(target)])
}

#[test]
fn the_same_prefix_in_two_rds_is_two_routes_each_with_its_own_label_and_targets() {
    let mut r = vpn_rib(
        3,
        &[
            (1, "65000:1:10.1.0.0/24", 100, 100, 1),
            (2, "65000:2:10.1.0.0/24", 200, 100, 2),
        ],
    );
    let (announced, _) = sent_to(&mut r, 3);
    assert_eq!(
        announced,
        vec![
            seen("65000:1:10.1.0.0/24", 100, 1, 1),
            seen("65000:2:10.1.0.0/24", 200, 2, 2),
        ]
    );
}

#[test]
fn one_rd_and_prefix_from_two_peers_sends_the_best_and_falls_back_with_the_others_label() {
    let mut r = vpn_rib(
        3,
        &[
            (1, "65000:1:10.1.0.0/24", 100, 200, 1),
            (2, "65000:1:10.1.0.0/24", 300, 100, 1),
        ],
    );
    let (announced, _) = sent_to(&mut r, 3);
    assert_eq!(announced, vec![seen("65000:1:10.1.0.0/24", 100, 1, 1)]);
    r.feed(withdraw_vpn4(1, &["65000:1:10.1.0.0/24"]));
    let (announced, withdrawn) = sent_to(&mut r, 3);
    assert_eq!(announced, vec![seen("65000:1:10.1.0.0/24", 300, 2, 1)]);
    assert!(withdrawn.is_empty());
    r.feed(withdraw_vpn4(2, &["65000:1:10.1.0.0/24"]));
    let (announced, withdrawn) = sent_to(&mut r, 3);
    assert!(announced.is_empty());
    assert_eq!(withdrawn, vec![vpn4("65000:1:10.1.0.0/24")]);
}

#[test]
fn routes_of_one_update_with_a_label_each_keep_their_labels() {
    let mut r = vpn_rib(2, &[]);
    r.feed(announce_vpn4(
        1,
        &[
            ("65000:1:10.1.0.0/24", 16),
            ("65000:1:10.2.0.0/24", 17),
            ("65000:1:10.3.0.0/24", 16),
        ],
        vpn_attrs(1, 100, 1),
    ));
    let (announced, _) = sent_to(&mut r, 2);
    let labels: Vec<(Vpn4, u32)> = announced.iter().map(|a| (a.0, a.1.value())).collect();
    assert_eq!(
        labels,
        vec![
            (vpn4("65000:1:10.1.0.0/24"), 16),
            (vpn4("65000:1:10.2.0.0/24"), 17),
            (vpn4("65000:1:10.3.0.0/24"), 16),
        ]
    );
}

#[test]
fn vpn_routes_go_only_to_peers_of_the_family_and_unicast_stays_apart() {
    let mut r = vpn_rib(2, &[(1, "65000:1:10.1.0.0/24", 100, 100, 1)]);
    r.feed(ToRib::PeerUp(peer_up(3, true)));
    r.plan();
    r.feed(route(3, &["10.1.0.0/24"]));
    assert_eq!(sent_to(&mut r, 3).0, vec![]);
    let snap = r.snapshot(0);
    let counts = |f: Family| {
        let c = snap.families.iter().find(|c| c.family == f).unwrap();
        (c.prefixes, c.paths)
    };
    assert_eq!(counts(Family::Ipv4Vpn), (1, 1));
    assert_eq!(counts(Family::Ipv4Unicast), (1, 1));
}

#[test]
fn a_vpn_ipv6_route_is_reflected_with_its_rd_next_hop_and_label() {
    let mut r = vpn_rib(2, &[]);
    let mut l = Labeled::default();
    l.push(
        "65000:9:2001:db8:9::/48".parse::<Vpn6>().unwrap(),
        Label::new(99),
    );
    let next_hop = v6_next_hop("2001:db8::1");
    r.feed(ToRib::updates(
        1,
        vec![Update {
            mp_reach: Some(MpReach {
                next_hop,
                nlri: NlriSet::Ipv6Vpn(l.clone()),
            }),
            attrs: Some(vpn_attrs(1, 100, 9)),
            ..Update::default()
        }],
    ));
    let mut out = Outbox::default();
    r.flush(&mut out);
    let got: Vec<MpReach> = out
        .msgs
        .iter()
        .filter_map(|(_, m)| match m {
            ToWorker::Send { data, .. } => Some(decode_all(data, &codec())),
            _ => None,
        })
        .flatten()
        .filter_map(|m| match m {
            Message::Update(u) => u.mp_reach,
            _ => None,
        })
        .collect();
    assert_eq!(
        got,
        vec![MpReach {
            next_hop,
            nlri: NlriSet::Ipv6Vpn(l)
        }]
    );
}

/// A VPN peer with Graceful Restart for both VPN families (forwarding state kept).
fn vpn_gr_peer(peer: PeerId) -> ToRib {
    let ToRib::PeerUp(mut up) = vpn_peer(peer) else {
        unreachable!("vpn_peer is a PeerUp")
    };
    up.graceful_restart = Some(graceful_restart_for(up.families));
    ToRib::PeerUp(up)
}

/// End-of-RIB for VPN-IPv4: an empty MP_UNREACH_NLRI.
fn eor_vpn4(peer: PeerId) -> ToRib {
    ToRib::updates(
        peer,
        vec![Update {
            mp_unreach: Some(MpUnreach {
                nlri: NlriSet::Ipv4Vpn(Labeled::default()),
            }),
            ..Update::default()
        }],
    )
}

#[test]
fn a_restarting_vpn_peers_routes_stay_until_its_end_of_rib_then_the_unrefreshed_go() {
    let mut r = rib();
    r.feed(vpn_gr_peer(1));
    r.feed(vpn_peer(2));
    r.plan();
    r.feed(announce_vpn4(
        1,
        &[("65000:1:10.1.0.0/24", 100), ("65000:1:10.2.0.0/24", 100)],
        vpn_attrs(1, 100, 1),
    ));
    assert_eq!(sent_to(&mut r, 2).0.len(), 2);
    r.feed(ToRib::PeerLost { peer: 1 });
    assert_eq!(
        sent_to(&mut r, 2),
        (vec![], vec![]),
        "kept stale, nothing sent"
    );
    r.feed(vpn_gr_peer(1));
    r.plan();
    r.feed(announce_vpn4(
        1,
        &[("65000:1:10.1.0.0/24", 100)],
        vpn_attrs(1, 100, 1),
    ));
    r.feed(eor_vpn4(1));
    let (_, withdrawn) = sent_to(&mut r, 2);
    assert_eq!(withdrawn, vec![vpn4("65000:1:10.2.0.0/24")]);
}

#[test]
fn a_route_refresh_for_vpn_ipv4_resends_the_vpn_routes_with_their_labels() {
    let mut r = vpn_rib(2, &[(1, "65000:1:10.1.0.0/24", 100, 100, 1)]);
    assert_eq!(sent_to(&mut r, 2).0.len(), 1);
    r.feed(ToRib::RouteRefresh {
        peer: 2,
        family: Family::Ipv4Vpn,
    });
    let (announced, _) = sent_to(&mut r, 2);
    assert_eq!(announced, vec![seen("65000:1:10.1.0.0/24", 100, 1, 1)]);
}
