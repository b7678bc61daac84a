//! L2VPN EVPN (RFC 7432, RFC 9136): one route per EVPN key, best path per route, each
//! path's own labels, ESI and gateway sent with it, route types we do not know reflected
//! as their bytes.

use super::*;
use crate::wire::evpn::{self, EvpnKey, PathData};
use crate::wire::Labeled;

fn evpn_peer(peer: PeerId, client: bool) -> ToRib {
    let mut up = peer_up(peer, client);
    up.families = FamilySet::EMPTY.with(Family::L2vpnEvpn);
    ToRib::PeerUp(up)
}

/// The routes of an EVPN NLRI field, split as the decoder splits them.
fn routes(nlri: &[u8]) -> Labeled<EvpnKey, PathData> {
    let mut l = Labeled::default();
    for (_, r) in evpn::decode(nlri, false).unwrap() {
        let (k, d) = r.split();
        l.push(k, d);
    }
    l
}

fn announce_evpn(peer: PeerId, nlri: &[u8], local_pref: u32) -> ToRib {
    announce_evpn_with(peer, nlri, lp([192, 0, 2, peer as u8], local_pref))
}

fn announce_evpn_with(peer: PeerId, nlri: &[u8], a: PathAttrs) -> ToRib {
    ToRib::updates(
        peer,
        vec![Update {
            mp_reach: Some(MpReach {
                next_hop: NextHop::V4(Ipv4Addr::new(192, 0, 2, peer as u8)),
                nlri: NlriSet::Evpn(routes(nlri)),
            }),
            attrs: Some(a),
            ..Update::default()
        }],
    )
}

fn withdraw_evpn(peer: PeerId, nlri: &[u8]) -> ToRib {
    ToRib::updates(
        peer,
        vec![Update {
            mp_unreach: Some(MpUnreach {
                nlri: NlriSet::Evpn(routes(nlri)),
            }),
            ..Update::default()
        }],
    )
}

/// Type 2: RD 65000:`rd`, MAC aa:bb:cc:dd:ee:`mac`, 10.0.0.`mac`, ESI ending in `esi`,
/// label fields `l1` and `l2` (GoBGP's layout).
fn mac_ip(rd: u8, mac: u8, esi: u8, l1: u16, l2: u16) -> Vec<u8> {
    let mut b = vec![2, 40, 0, 0, 0xfd, 0xe8, 0, 0, 0, rd];
    b.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, esi]);
    b.extend_from_slice(&[
        0, 0, 0, 0, 48, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, mac, 32, 10, 0, 0, mac,
    ]);
    b.extend_from_slice(&[0, (l1 >> 8) as u8, l1 as u8, 0, (l2 >> 8) as u8, l2 as u8]);
    b
}

/// Type 3: RD 65000:`rd`, originator 10.0.0.`ip`.
fn multicast(rd: u8, ip: u8) -> Vec<u8> {
    vec![
        3, 17, 0, 0, 0xfd, 0xe8, 0, 0, 0, rd, 0, 0, 0, 0, 32, 10, 0, 0, ip,
    ]
}

/// Type 5: RD 65000:`rd`, 10.`net`.0.0/24, gateway 10.0.0.254, label field `label`.
fn ip_prefix(rd: u8, net: u8, label: u16) -> Vec<u8> {
    let mut b = vec![5, 34, 0, 0, 0xfd, 0xe8, 0, 0, 0, rd];
    b.extend_from_slice(&[0; 10]);
    b.extend_from_slice(&[0, 0, 0, 0, 24, 10, net, 0, 0, 10, 0, 0, 254]);
    b.extend_from_slice(&[0, (label >> 8) as u8, label as u8]);
    b
}

/// What `peer` was sent in the flush: the NLRI bytes of every route announced (each
/// whole, as on the wire; sorted) with its next hop, and the keys withdrawn.
fn sent_to(r: &mut Rib, peer: PeerId) -> (Vec<(Vec<u8>, NextHop)>, Vec<EvpnKey>) {
    let (mut announced, mut withdrawn) = (Vec::new(), Vec::new());
    for u in updates_to(r, peer) {
        if let Some(MpReach {
            next_hop,
            nlri: NlriSet::Evpn(l),
        }) = &u.mp_reach
        {
            let a = u.attrs.as_ref().expect("attributes with MP_REACH_NLRI");
            assert_eq!(a.cluster_list, vec![CLUSTER], "reflected");
            for (k, d) in l.keys.iter().zip(&l.labels) {
                let mut b = Vec::new();
                evpn::join(k, d).unwrap().encode(&mut b);
                announced.push((b, *next_hop));
            }
        }
        if let Some(MpUnreach {
            nlri: NlriSet::Evpn(l),
        }) = &u.mp_unreach
        {
            withdrawn.extend(&l.keys);
        }
    }
    announced.sort_by(|a, b| a.0.cmp(&b.0));
    withdrawn.sort_unstable();
    (announced, withdrawn)
}

fn nh(peer: u8) -> NextHop {
    NextHop::V4(Ipv4Addr::new(192, 0, 2, peer))
}

fn key(nlri: &[u8]) -> EvpnKey {
    routes(nlri).keys[0]
}

fn evpn_rib(n: PeerId) -> Rib {
    let mut r = rib();
    for p in 1..=n {
        r.feed(evpn_peer(p, true));
    }
    r.plan();
    r
}

#[test]
fn routes_of_every_type_are_reflected_with_each_paths_own_labels_and_esi() {
    let mut r = evpn_rib(2);
    // One UPDATE, three path data (two MAC routes with different labels, one prefix).
    let all = [
        mac_ip(1, 1, 0, 0x641, 0xc81),
        mac_ip(1, 2, 7, 0x651, 0),
        multicast(1, 1),
    ];
    let mut nlri: Vec<u8> = all.concat();
    nlri.extend(ip_prefix(2, 1, 0x12c1));
    r.feed(announce_evpn(1, &nlri, 100));
    let (announced, withdrawn) = sent_to(&mut r, 2);
    let mut want: Vec<(Vec<u8>, NextHop)> = all
        .iter()
        .cloned()
        .chain([ip_prefix(2, 1, 0x12c1)])
        .map(|b| (b, nh(1)))
        .collect();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(announced, want, "each route byte for byte as PE 1 sent it");
    assert!(withdrawn.is_empty());
}

#[test]
fn the_best_path_per_key_is_sent_with_its_own_labels_and_a_withdrawal_by_key() {
    let mut r = evpn_rib(3);
    // The same MAC route (same key) from two PEs, with different labels and ESIs.
    r.feed(announce_evpn(1, &mac_ip(1, 1, 1, 0x641, 0xc81), 100));
    r.feed(announce_evpn(2, &mac_ip(1, 1, 2, 0x651, 0xc91), 200));
    let (announced, _) = sent_to(&mut r, 3);
    assert_eq!(announced, vec![(mac_ip(1, 1, 2, 0x651, 0xc91), nh(2))]);
    // The best goes: the other path, with its own labels.
    r.feed(withdraw_evpn(2, &mac_ip(1, 1, 2, 0, 0)));
    let (announced, _) = sent_to(&mut r, 3);
    assert_eq!(announced, vec![(mac_ip(1, 1, 1, 0x641, 0xc81), nh(1))]);
    // Both go: withdrawn by key.
    r.feed(withdraw_evpn(1, &multicast(9, 9)));
    r.feed(withdraw_evpn(1, &mac_ip(1, 1, 0, 0, 0)));
    let (announced, withdrawn) = sent_to(&mut r, 3);
    assert!(announced.is_empty());
    assert_eq!(withdrawn, vec![key(&mac_ip(1, 1, 1, 0x641, 0xc81))]);
}

#[test]
fn an_unknown_route_type_is_reflected_as_its_bytes_and_withdrawn_by_them() {
    let mut r = evpn_rib(2);
    let short = [&[9u8, 6][..], &[1, 2, 3, 4, 5, 6]].concat();
    let long = [&[10u8, 60][..], &[7; 60]].concat();
    r.feed(announce_evpn(
        1,
        &[short.clone(), long.clone()].concat(),
        100,
    ));
    let (announced, _) = sent_to(&mut r, 2);
    let mut want = vec![(short.clone(), nh(1)), (long.clone(), nh(1))];
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(announced, want);
    r.feed(withdraw_evpn(1, &short));
    let (_, withdrawn) = sent_to(&mut r, 2);
    assert_eq!(withdrawn, vec![key(&short)]);
    let s = r.snapshot(0);
    let evpn = s
        .families
        .iter()
        .find(|f| f.family == Family::L2vpnEvpn)
        .unwrap();
    assert_eq!(evpn.prefixes, 1, "the long one is kept");
}

#[test]
fn a_route_refresh_resends_every_route_with_its_path_data() {
    let mut r = evpn_rib(2);
    r.feed(announce_evpn(
        1,
        &[mac_ip(1, 1, 0, 0x641, 0xc81), ip_prefix(2, 1, 0x12c1)].concat(),
        100,
    ));
    sent_to(&mut r, 2);
    r.feed(ToRib::RouteRefresh {
        peer: 2,
        family: Family::L2vpnEvpn,
    });
    let (announced, _) = sent_to(&mut r, 2);
    let mut want = vec![
        (mac_ip(1, 1, 0, 0x641, 0xc81), nh(1)),
        (ip_prefix(2, 1, 0x12c1), nh(1)),
    ];
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(announced, want);
}

#[test]
fn a_restarting_evpn_peers_routes_stay_until_its_end_of_rib_then_the_unrefreshed_go() {
    let mut r = rib();
    let ToRib::PeerUp(mut up) = evpn_peer(1, true) else {
        unreachable!("evpn_peer is a PeerUp")
    };
    up.graceful_restart = Some(graceful_restart_for(up.families));
    r.feed(ToRib::PeerUp(up.clone()));
    r.feed(evpn_peer(2, true));
    r.plan();
    let (kept, swept) = (mac_ip(1, 1, 0, 0x641, 0), multicast(1, 1));
    r.feed(announce_evpn(
        1,
        &[kept.clone(), swept.clone()].concat(),
        100,
    ));
    assert_eq!(sent_to(&mut r, 2).0.len(), 2);
    r.feed(ToRib::PeerLost { peer: 1 });
    assert_eq!(
        sent_to(&mut r, 2),
        (vec![], vec![]),
        "kept stale, nothing sent"
    );
    r.feed(ToRib::PeerUp(up));
    r.plan();
    r.feed(announce_evpn(1, &kept, 100));
    // End-of-RIB for EVPN: an empty MP_UNREACH_NLRI.
    r.feed(ToRib::updates(
        1,
        vec![Update {
            mp_unreach: Some(MpUnreach {
                nlri: NlriSet::Evpn(Labeled::default()),
            }),
            ..Update::default()
        }],
    ));
    let (_, withdrawn) = sent_to(&mut r, 2);
    assert_eq!(withdrawn, vec![key(&swept)]);
}

#[test]
fn an_rt_constraint_member_gets_only_the_evpn_routes_of_its_targets() {
    use crate::wire::route_target::RouteTarget;
    use crate::wire::rtc::RtcNlri;
    let mut r = evpn_rib(1);
    let ToRib::PeerUp(mut up) = evpn_peer(2, true) else {
        unreachable!("evpn_peer is a PeerUp")
    };
    up.families = up.families.with(Family::RtConstraint);
    r.feed(ToRib::PeerUp(up));
    r.plan();
    // Peer 2 (no Graceful Restart: its membership filters from the start) asks for route
    // target 65000:1.
    let rt = |n: u32| RouteTarget::as2(65000, n);
    r.feed(ToRib::updates(
        2,
        vec![Update {
            mp_reach: Some(MpReach {
                next_hop: nh(2),
                nlri: NlriSet::RtConstraint(vec![RtcNlri::exact(65000, rt(1))]),
            }),
            attrs: Some(lp([192, 0, 2, 2], 100)),
            ..Update::default()
        }],
    ));
    sent_to(&mut r, 2);
    for (target, route) in [
        (1, mac_ip(1, 1, 0, 0x641, 0)),
        (2, mac_ip(2, 2, 0, 0x651, 0)),
    ] {
        let a = PathAttrs {
            ext_communities: vec![rt(target).octets()],
            ..lp([192, 0, 2, 1], 100)
        };
        r.feed(announce_evpn_with(1, &route, a));
    }
    let (announced, _) = sent_to(&mut r, 2);
    assert_eq!(
        announced,
        vec![(mac_ip(1, 1, 0, 0x641, 0), nh(1))],
        "only target 1's"
    );
}
