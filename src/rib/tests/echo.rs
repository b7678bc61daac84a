//! A peer is never sent a route learned from itself, and is withdrawn what it held from us
//! when its own route becomes best (`Adv::sent_to`), inside one update group; RFC 1997
//! NO_ADVERTISE routes go to nobody. Checked on the plan, against a reference model over
//! seeded random sequences, and on the counts the snapshot publishes.

use super::*;
use crate::wire::community::{NO_ADVERTISE, NO_EXPORT, NO_EXPORT_SUBCONFED};

const P: &str = "10.0.0.0/8";

/// Client A (1) announces P; client B (2) a better path for P; then A goes away by `gone`.
/// Client 3 watches. Returns the RIB after A announced and B took over.
fn a_then_better_b() -> Rib {
    let mut r = rib_with(&[(1, true), (2, true), (3, true)]);
    r.feed(route(1, &[P]));
    let sends = v4(&r.plan());
    assert_eq!(only_to(&sends, &[2, 3]).announce.len(), 1);
    assert!(
        to_peers(&sends, &[1]).is_empty(),
        "A is not sent its own route"
    );
    r.feed(announce(2, &[P], lp([192, 0, 2, 2], 300)));
    let sends = v4(&r.plan());
    // B's path to A and the watcher, encoded once for both.
    let to_others = only_to(&sends, &[1, 3]);
    assert_eq!(to_others.announce[0].1.local_pref, Some(300));
    // B held A's path from us: it is withdrawn, and B's own path is not sent back.
    let to_b = only_to(&sends, &[2]);
    assert_eq!(
        (to_b.withdraw.clone(), to_b.announce.len()),
        (vec![p4(P)], 0)
    );
    assert_eq!(sends.len(), 2, "{sends:#?}");
    // What each holds from us: the watcher and A hold P, B nothing.
    assert_eq!(
        [
            counts(&mut r, 1).2,
            counts(&mut r, 2).2,
            counts(&mut r, 3).2
        ],
        [1, 0, 1]
    );
    r
}

#[test]
fn a_client_whose_path_becomes_best_is_withdrawn_what_it_held_and_not_sent_its_own() {
    let mut r = a_then_better_b();
    // A withdraws: nothing changes for anyone (B's path was and stays best).
    r.feed(withdraw(1, &[P]));
    assert!(v4(&r.plan()).is_empty());
    assert_eq!(
        [
            counts(&mut r, 1).2,
            counts(&mut r, 2).2,
            counts(&mut r, 3).2
        ],
        [1, 0, 1]
    );
    // B withdraws too: A and the watcher are withdrawn P; B held nothing, is sent nothing.
    r.feed(withdraw(2, &[P]));
    let sends = v4(&r.plan());
    assert_eq!(only_to(&sends, &[1, 3]).withdraw, vec![p4(P)]);
    assert_eq!(sends.len(), 1, "{sends:#?}");
}

#[test]
fn the_same_holds_when_the_first_client_s_session_drops() {
    let mut r = a_then_better_b();
    r.feed(ToRib::PeerDown { peer: 1 });
    assert!(
        v4(&r.plan()).is_empty(),
        "B keeps its own path, held nothing"
    );
    assert_eq!([counts(&mut r, 2).2, counts(&mut r, 3).2], [0, 1]);
    // A comes back: its dump holds B's path.
    r.feed(ToRib::PeerUp(peer_up(1, true)));
    let sends = v4(&r.plan());
    let dump = only_to(&sends, &[1]);
    assert_eq!((dump.announce.len(), dump.eor), (1, true));
}

#[test]
fn the_rule_holds_for_ipv6_routes() {
    let mut r = rib_with(&[(1, true), (2, true), (3, true)]);
    let v6 = |peer: PeerId, local_pref: u32| {
        let nh = NextHop::V6 {
            global: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, peer as u16),
            link_local: None,
        };
        let a = PathAttrs {
            next_hop: NextHop::None,
            ..lp([0, 0, 0, 0], local_pref)
        };
        announce6(peer, &["2001:db8:1::/48"], nh, a)
    };
    // (peers sent to, announced, withdrawn) per IPv6 send.
    let v6_sends = |plan: &Plan| -> Vec<(Vec<PeerId>, usize, usize)> {
        let mut out: Vec<_> = plan
            .sends
            .iter()
            .flat_map(parts)
            .filter_map(|(peers, routes)| match routes {
                Routes::V6(rs) => Some((peers, rs.prefixes.len(), rs.withdraw.len())),
                _ => None,
            })
            .collect();
        out.sort();
        out
    };
    r.feed(v6(1, 100));
    assert_eq!(v6_sends(&r.plan()), vec![(vec![2, 3], 1, 0)]);
    r.feed(v6(2, 300));
    assert_eq!(
        v6_sends(&r.plan()),
        vec![(vec![1, 3], 1, 0), (vec![2], 0, 1)]
    );
    let s = r.snapshot(0);
    let adv6 = |peer: PeerId| s.peers.iter().find(|p| p.peer == peer).unwrap().per_family[1];
    assert_eq!(
        [adv6(1).3, adv6(2).3, adv6(3).3],
        [1, 0, 1],
        "{:?}",
        s.peers
    );
}

#[test]
fn a_non_client_is_sent_a_client_s_path_but_never_its_own() {
    // Non-clients' own routes never reach their group at all (RFC 4456 §6); a non-client
    // whose path takes over from a client's is withdrawn the client's path.
    let mut r = rib_with(&[(1, true), (4, false), (5, false)]);
    r.feed(route(1, &[P]));
    let sends = v4(&r.plan());
    assert_eq!(only_to(&sends, &[4, 5]).announce.len(), 1);
    r.feed(announce(4, &[P], lp([192, 0, 2, 4], 300)));
    let sends = v4(&r.plan());
    assert_eq!(only_to(&sends, &[1]).announce.len(), 1);
    assert_eq!(only_to(&sends, &[4, 5]).withdraw, vec![p4(P)]);
    assert_eq!([counts(&mut r, 4).2, counts(&mut r, 5).2], [0, 0]);
}

#[test]
fn peers_dumped_together_are_not_sent_their_own_routes() {
    // Two clients come up in one batch (so one dump) and announce in the same batch.
    let mut r = rib_with(&[(3, true)]);
    r.feed(ToRib::PeerUp(peer_up(1, true)));
    r.feed(ToRib::PeerUp(peer_up(2, true)));
    r.feed(route(1, &["10.1.0.0/16"]));
    r.feed(route(2, &["10.2.0.0/16"]));
    r.feed(route(3, &["10.3.0.0/16"]));
    let sends = v4(&r.plan());
    let got = |peer: PeerId| -> Vec<Prefix4> {
        let mut v: Vec<Prefix4> = sends
            .iter()
            .filter(|s| s.peers.contains(&peer))
            .flat_map(|s| s.announce.iter().map(|(p, _)| *p))
            .collect();
        v.sort_unstable();
        v
    };
    assert_eq!(got(1), vec![p4("10.2.0.0/16"), p4("10.3.0.0/16")]);
    assert_eq!(got(2), vec![p4("10.1.0.0/16"), p4("10.3.0.0/16")]);
    assert_eq!(got(3), vec![p4("10.1.0.0/16"), p4("10.2.0.0/16")]);
    // End-of-RIB comes last to the dumped peers, after their routes, once.
    let last = sends.iter().rposition(|s| s.peers.contains(&1)).unwrap();
    assert!(sends[last].eor && sends[last].peers == vec![1, 2]);
    assert_eq!(sends.iter().filter(|s| s.eor).count(), 1);
}

fn with_communities(nh: [u8; 4], local_pref: u32, communities: &[u32]) -> PathAttrs {
    PathAttrs {
        communities: communities.to_vec(),
        ..lp(nh, local_pref)
    }
}

#[test]
fn a_no_advertise_route_is_selected_but_sent_to_no_peer() {
    let mut r = rib_with(&[(1, true), (2, true), (3, false)]);
    r.feed(announce(
        1,
        &[P],
        with_communities([192, 0, 2, 1], 100, &[NO_ADVERTISE]),
    ));
    assert!(v4(&r.plan()).is_empty());
    assert_eq!(r.best(p4(P)).map(|b| b.0), Some(1), "still selected");
    assert_eq!([counts(&mut r, 2).2, counts(&mut r, 3).2], [0, 0]);
    // Client 2's path (lower LOCAL_PREF, so not best) is not advertised in its place.
    r.feed(route(2, &[P]));
    assert!(v4(&r.plan()).is_empty());
    // Without NO_ADVERTISE it is reflected; with it again, withdrawn from everyone.
    r.feed(announce(1, &[P], lp([192, 0, 2, 1], 200)));
    let sends = v4(&r.plan());
    assert_eq!(only_to(&sends, &[2]).announce.len(), 1);
    assert_eq!(only_to(&sends, &[3]).announce.len(), 1);
    r.feed(announce(
        1,
        &[P],
        with_communities([192, 0, 2, 1], 200, &[1, NO_ADVERTISE]),
    ));
    let sends = v4(&r.plan());
    assert_eq!(only_to(&sends, &[2]).withdraw, vec![p4(P)]);
    assert_eq!(only_to(&sends, &[3]).withdraw, vec![p4(P)]);
    // Its source holds nothing from us either (it never did: its own route was best).
    assert!(to_peers(&sends, &[1]).is_empty());
    assert_eq!(
        [
            counts(&mut r, 1).2,
            counts(&mut r, 2).2,
            counts(&mut r, 3).2
        ],
        [0, 0, 0]
    );
    // A new peer's dump leaves it out too.
    r.feed(ToRib::PeerUp(peer_up(4, true)));
    let sends = v4(&r.plan());
    assert_eq!(only_to(&sends, &[4]).announce.len(), 0);
}

#[test]
fn no_export_routes_are_reflected_to_ibgp_peers_unchanged() {
    let mut r = rib_with(&[(1, true), (2, true), (3, false)]);
    let a = with_communities([192, 0, 2, 1], 100, &[NO_EXPORT, NO_EXPORT_SUBCONFED]);
    r.feed(announce(1, &[P], a.clone()));
    let sends = v4(&r.plan());
    for peer in [2, 3] {
        let (_, sent) = &only_to(&sends, &[peer]).announce[0];
        assert_eq!(sent.communities, a.communities, "to {peer}");
    }
}

// ---------------------------------------------------------------- against a reference

/// splitmix64, seeded.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

const PEERS: [(PeerId, bool); 5] = [(1, true), (2, true), (3, true), (4, false), (5, false)];

fn is_client(peer: PeerId) -> bool {
    PEERS.iter().any(|&(p, c)| p == peer && c)
}

/// What each peer holds from us, built only from the bytes a flush hands the workers.
type Held = HashMap<PeerId, HashMap<Prefix4, PathAttrs>>;

/// Flushes and applies every UPDATE sent to each peer, decoded from the shared bytes and
/// the slices of them that leave a peer's own routes out.
fn flush_into(r: &mut Rib, held: &mut Held) {
    let mut out = Outbox::default();
    r.flush(&mut out);
    for (_, m) in &out.msgs {
        let ToWorker::Send { peers, data } = m else {
            continue;
        };
        for msg in decode_all(data, &codec()) {
            let Message::Update(u) = msg else {
                panic!("only UPDATEs are sent: {msg:?}")
            };
            for peer in peers.iter() {
                let h = held.entry(*peer).or_default();
                for w in &u.withdrawn {
                    h.remove(w);
                }
                let Some(a) = &u.attrs else {
                    continue;
                };
                for p in &u.nlri {
                    assert_ne!(
                        a.originator_id,
                        Some(Ipv4Addr::new(10, 0, 0, *peer as u8)),
                        "{peer} was sent its own route for {p}"
                    );
                    h.insert(*p, a.clone());
                }
            }
        }
    }
}

/// Per the RFCs and the echo rule: every prefix's best path, as sent, unless it is the
/// peer's own, NO_ADVERTISE, or a non-client's path toward a non-client.
fn reference(r: &Rib, peer: PeerId, pool: &[Prefix4]) -> HashMap<Prefix4, PathAttrs> {
    pool.iter()
        .filter_map(|&p| {
            let (source, attrs) = r.best(p)?;
            let no_advertise = attrs.communities.contains(&NO_ADVERTISE);
            let reflected = is_client(peer) || is_client(source);
            (source != peer && reflected && !no_advertise).then(|| {
                let id = Ipv4Addr::new(10, 0, 0, source as u8);
                (p, reflect::outbound(&attrs, id, CLUSTER))
            })
        })
        .collect()
}

#[test]
fn every_peer_holds_exactly_the_reference_and_its_advert_count_says_so() {
    let pool: Vec<Prefix4> = (0..24).map(|i| p4(&format!("10.{i}.0.0/16"))).collect();
    for seed in 0..40u64 {
        let mut rng = Rng(seed);
        let mut r = rib_with(&PEERS);
        let mut held = Held::new();
        let mut up: HashMap<PeerId, bool> = PEERS.iter().map(|&(p, _)| (p, true)).collect();
        let mut xoff: HashMap<PeerId, bool> = HashMap::new();
        for step in 0..300 {
            let (peer, client) = PEERS[rng.below(PEERS.len() as u64) as usize];
            let roll = rng.below(100);
            if !up[&peer] {
                r.feed(ToRib::PeerUp(peer_up(peer, client)));
                up.insert(peer, true);
                xoff.insert(peer, false);
            } else if roll < 3 {
                r.feed(ToRib::PeerDown { peer });
                up.insert(peer, false);
                held.remove(&peer);
            } else if roll < 6 {
                let off = !xoff.get(&peer).copied().unwrap_or(false);
                r.feed(if off {
                    ToRib::Xoff { peer }
                } else {
                    ToRib::Xon { peer }
                });
                xoff.insert(peer, off);
            } else if roll < 8 {
                r.feed(refresh(peer));
            } else {
                let n = 1 + rng.below(3) as usize;
                let ps: Vec<String> = (0..n)
                    .map(|_| pool[rng.below(pool.len() as u64) as usize].to_string())
                    .collect();
                let ps: Vec<&str> = ps.iter().map(String::as_str).collect();
                if roll < 35 {
                    r.feed(withdraw(peer, &ps));
                } else {
                    let nh = [192, 0, 2, peer as u8];
                    let local_pref = 100 + 50 * rng.below(4) as u32;
                    let communities: &[u32] = match rng.below(10) {
                        0 => &[NO_ADVERTISE],
                        1 => &[NO_EXPORT],
                        _ => &[],
                    };
                    r.feed(announce(
                        peer,
                        &ps,
                        with_communities(nh, local_pref, communities),
                    ));
                }
            }
            // Flush every few steps, so batches hold several changes.
            if step % 3 == 0 {
                flush_into(&mut r, &mut held);
            }
        }
        // Everyone back in the send lists, then compare.
        for &(peer, client) in &PEERS {
            if !up[&peer] {
                r.feed(ToRib::PeerUp(peer_up(peer, client)));
            } else if xoff.get(&peer).copied().unwrap_or(false) {
                r.feed(ToRib::Xon { peer });
            }
        }
        flush_into(&mut r, &mut held);
        for &(peer, _) in &PEERS {
            let got = held.get(&peer).cloned().unwrap_or_default();
            assert_eq!(
                got,
                reference(&r, peer, &pool),
                "seed {seed}: peer {peer} holds other routes than the reference"
            );
            assert_eq!(
                counts(&mut r, peer).2,
                got.len() as u64,
                "seed {seed}: peer {peer}'s advertised count"
            );
        }
    }
}

#[test]
fn parts_that_cross_chunk_boundaries_leave_out_exactly_their_source() {
    // Two sources' tables (50k and 60k prefixes, about 200 and 240 KB encoded) in one
    // flush: a chunk (256 KiB) ends inside the second part, whichever comes first, and
    // the slices around each part must still give every peer exactly the others' routes.
    let mut r = rib_with(&[(1, true), (2, true), (3, true)]);
    let sizes = [(1, 50_000u32), (2, 60_000)];
    for (peer, n) in sizes {
        let t: Vec<String> = (0..n)
            .map(|i| format!("{}.{}.{}.0/24", 20 + peer, i >> 8, i & 255))
            .collect();
        let t: Vec<&str> = t.iter().map(String::as_str).collect();
        for chunk in t.chunks(1000) {
            r.feed(route(peer, chunk));
        }
    }
    let mut held = Held::new();
    flush_into(&mut r, &mut held);
    let from = |peer: PeerId, source: u8| {
        held.get(&peer).map_or(0, |h| {
            h.values()
                .filter(|a| a.originator_id == Some(Ipv4Addr::new(10, 0, 0, source)))
                .count()
        })
    };
    assert_eq!([from(1, 1), from(1, 2)], [0, 60_000]);
    assert_eq!([from(2, 1), from(2, 2)], [50_000, 0]);
    assert_eq!([from(3, 1), from(3, 2)], [50_000, 60_000]);
}
