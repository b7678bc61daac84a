//! Best-path selection: RFC 4271 §9.1.2.2 as amended for route reflection by RFC 4456 §9.
//! Pure functions over `Candidate`s; owns no state. The steps are numbered as below in
//! `compare`, after OpenBGPD's `rde_decide.c`.
//!
//! MED is compared only between paths from the same neighbor AS, which makes the plain
//! pairwise order intransitive (the result would depend on arrival order). We use
//! deterministic MED: group the paths by neighbor AS, pick the best of each group with MED,
//! then the best of the group winners without MED. The result is a function of the set.

use crate::msg::{PeerId, Rank};
use crate::wire::Origin;
use std::cmp::Ordering;
use std::net::{IpAddr, Ipv4Addr};

/// One path as the decision process sees it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub local_pref: u32,
    pub as_path_len: u32,
    pub origin: Origin,
    pub med: u32,
    pub neighbor_as: u32,
    /// ORIGINATOR_ID if present, else the BGP Identifier of the peer we learned it from.
    pub router_id: Ipv4Addr,
    pub cluster_list_len: u32,
    pub peer_address: IpAddr,
    /// Final tie-break so the order is total even for two sessions from one address.
    pub peer: PeerId,
}

impl Candidate {
    pub fn new(rank: &Rank, peer: PeerId, peer_id: Ipv4Addr, peer_address: IpAddr) -> Candidate {
        Candidate {
            local_pref: rank.local_pref,
            as_path_len: rank.as_path_len,
            origin: rank.origin,
            med: rank.med,
            neighbor_as: rank.neighbor_as,
            router_id: rank.originator_id.unwrap_or(peer_id),
            cluster_list_len: rank.cluster_list_len,
            peer_address,
            peer,
        }
    }
}

/// `Less` when `a` is preferred. MED (step 4) is compared only when `with_med` is set and
/// both paths come from the same neighbor AS.
pub fn compare(a: &Candidate, b: &Candidate, with_med: bool) -> Ordering {
    // 1. Highest LOCAL_PREF (RFC 4271 §9.1.2.1; absent counts as 100).
    b.local_pref
        .cmp(&a.local_pref)
        // 2. Shortest AS_PATH (§9.1.2.2 a; a SET counts 1, confederation segments 0).
        .then(a.as_path_len.cmp(&b.as_path_len))
        // 3. Lowest ORIGIN: IGP < EGP < INCOMPLETE (§9.1.2.2 b).
        .then(a.origin.cmp(&b.origin))
        // 4. Lowest MED among paths from the same neighbor AS (§9.1.2.2 c; absent = 0).
        .then(if with_med && a.neighbor_as == b.neighbor_as {
            a.med.cmp(&b.med)
        } else {
            Ordering::Equal
        })
        // 5. eBGP over iBGP (§9.1.2.2 d): every session of a reflector is iBGP, nothing to do.
        // 6. Lowest IGP cost to the NEXT_HOP (§9.1.2.2 e): we resolve no next hops.
        // 7. Lowest BGP Identifier, where ORIGINATOR_ID stands in for it (§9.1.2.2 f,
        //    RFC 4456 §9).
        .then(a.router_id.cmp(&b.router_id))
        // 8. Shortest CLUSTER_LIST (RFC 4456 §9).
        .then(a.cluster_list_len.cmp(&b.cluster_list_len))
        // 9. Lowest peer address (§9.1.2.2 g).
        .then(a.peer_address.cmp(&b.peer_address))
        .then(a.peer.cmp(&b.peer))
}

/// Index of the best candidate (deterministic MED), None if `cands` is empty.
pub fn best(cands: &[Candidate]) -> Option<usize> {
    best_among(cands, |_| true)
}

fn best_among(cands: &[Candidate], include: impl Fn(usize) -> bool) -> Option<usize> {
    // Winner per neighbor AS, compared with MED. Few paths per prefix: a small vec.
    let mut winners: Vec<(u32, usize)> = Vec::new();
    for (i, c) in cands.iter().enumerate().filter(|(i, _)| include(*i)) {
        match winners.iter_mut().find(|(asn, _)| *asn == c.neighbor_as) {
            Some((_, w)) => {
                if compare(c, &cands[*w], true) == Ordering::Less {
                    *w = i;
                }
            }
            None => winners.push((c.neighbor_as, i)),
        }
    }
    // Group winners, compared without MED.
    winners.into_iter().map(|(_, i)| i).reduce(|w, i| {
        if compare(&cands[i], &cands[w], false) == Ordering::Less {
            i
        } else {
            w
        }
    })
}

/// Every index, best first: the order readers are shown. O(n²), for snapshots only.
pub fn ranking(cands: &[Candidate]) -> Vec<usize> {
    let mut taken = vec![false; cands.len()];
    let mut order = Vec::with_capacity(cands.len());
    while let Some(i) = best_among(cands, |i| !taken[i]) {
        taken[i] = true;
        order.push(i);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(peer: PeerId) -> Candidate {
        Candidate {
            local_pref: 100,
            as_path_len: 2,
            origin: Origin::Igp,
            med: 0,
            neighbor_as: 65001,
            router_id: Ipv4Addr::new(10, 0, 0, peer as u8),
            cluster_list_len: 0,
            peer_address: IpAddr::from([192, 0, 2, peer as u8]),
            peer,
        }
    }

    fn winner(cands: &[Candidate]) -> PeerId {
        cands[best(cands).unwrap()].peer
    }

    #[test]
    fn step1_highest_local_pref_wins_over_everything_after() {
        let a = Candidate {
            local_pref: 200,
            as_path_len: 9,
            origin: Origin::Incomplete,
            ..cand(9)
        };
        assert_eq!(winner(&[cand(1), a]), 9);
    }

    #[test]
    fn step2_shortest_as_path_wins() {
        let a = Candidate {
            as_path_len: 1,
            origin: Origin::Incomplete,
            med: 50,
            ..cand(9)
        };
        assert_eq!(winner(&[cand(1), a]), 9);
    }

    #[test]
    fn step3_lowest_origin_wins() {
        let a = Candidate {
            origin: Origin::Egp,
            ..cand(1)
        };
        let b = Candidate {
            origin: Origin::Igp,
            med: 50,
            ..cand(9)
        };
        assert_eq!(winner(&[a, b]), 9);
    }

    #[test]
    fn step4_lowest_med_wins_within_the_same_neighbor_as() {
        let a = Candidate { med: 20, ..cand(1) };
        let b = Candidate { med: 10, ..cand(9) };
        assert_eq!(winner(&[a, b]), 9);
    }

    #[test]
    fn step4_med_is_ignored_between_different_neighbor_ases() {
        let a = Candidate { med: 20, ..cand(1) };
        let b = Candidate {
            med: 10,
            neighbor_as: 65002,
            ..cand(9)
        };
        // Falls through to step 7: lower router id wins.
        assert_eq!(winner(&[a, b]), 1);
    }

    #[test]
    fn step7_lowest_originator_or_router_id_wins() {
        let a = Candidate {
            router_id: Ipv4Addr::new(10, 0, 0, 50),
            ..cand(1)
        };
        let b = Candidate {
            router_id: Ipv4Addr::new(10, 0, 0, 40),
            ..cand(9)
        };
        assert_eq!(winner(&[a, b]), 9);
    }

    #[test]
    fn step7_originator_id_stands_in_for_the_peer_router_id() {
        let mut rank = Rank::of(&Default::default());
        let plain = Candidate::new(
            &rank,
            1,
            Ipv4Addr::new(10, 0, 0, 9),
            IpAddr::from([192, 0, 2, 1]),
        );
        rank.originator_id = Some(Ipv4Addr::new(10, 0, 0, 1));
        let reflected = Candidate::new(
            &rank,
            2,
            Ipv4Addr::new(10, 0, 0, 99),
            IpAddr::from([192, 0, 2, 2]),
        );
        assert_eq!(winner(&[plain, reflected]), 2);
    }

    #[test]
    fn step8_shortest_cluster_list_wins() {
        let a = Candidate {
            cluster_list_len: 2,
            ..cand(1)
        };
        let b = Candidate {
            cluster_list_len: 1,
            router_id: a.router_id,
            ..cand(9)
        };
        assert_eq!(winner(&[a, b]), 9);
    }

    #[test]
    fn step9_lowest_peer_address_wins() {
        let a = Candidate {
            peer_address: IpAddr::from([192, 0, 2, 200]),
            ..cand(1)
        };
        let b = Candidate {
            router_id: a.router_id,
            peer_address: IpAddr::from([192, 0, 2, 100]),
            ..cand(9)
        };
        assert_eq!(winner(&[a, b]), 9);
    }

    fn permutations(items: &[Candidate]) -> Vec<Vec<Candidate>> {
        if items.len() <= 1 {
            return vec![items.to_vec()];
        }
        let mut out = Vec::new();
        for i in 0..items.len() {
            let mut rest = items.to_vec();
            let x = rest.remove(i);
            for mut p in permutations(&rest) {
                p.insert(0, x);
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn best_path_never_depends_on_arrival_order() {
        // The classic MED cycle: A beats B on MED (same AS), B beats C on router id,
        // C beats A on router id (different AS, MED not compared). Plus ties further down.
        let a = Candidate {
            med: 5,
            router_id: Ipv4Addr::new(10, 0, 0, 3),
            ..cand(1)
        };
        let b = Candidate {
            med: 10,
            router_id: Ipv4Addr::new(10, 0, 0, 1),
            ..cand(2)
        };
        let c = Candidate {
            neighbor_as: 65002,
            router_id: Ipv4Addr::new(10, 0, 0, 2),
            ..cand(3)
        };
        let d = Candidate {
            neighbor_as: 65002,
            med: 1,
            router_id: Ipv4Addr::new(10, 0, 0, 2),
            cluster_list_len: 1,
            ..cand(4)
        };
        let e = Candidate {
            local_pref: 90,
            ..cand(5)
        };
        let all = [a, b, c, d, e];
        let expected = winner(&all);
        let expected_rank: Vec<PeerId> = ranking(&all).into_iter().map(|i| all[i].peer).collect();
        for p in permutations(&all) {
            assert_eq!(
                winner(&p),
                expected,
                "order {:?}",
                p.iter().map(|c| c.peer).collect::<Vec<_>>()
            );
            let r: Vec<PeerId> = ranking(&p).into_iter().map(|i| p[i].peer).collect();
            assert_eq!(r, expected_rank);
        }
        // Group 65001: A (MED 5) beats B; group 65002: C (MED 0) beats D. A vs C without
        // MED: C's router id 10.0.0.2 is lower than A's 10.0.0.3.
        assert_eq!(expected, 3);
        assert_eq!(expected_rank.len(), 5);
    }

    #[test]
    fn empty_input_has_no_best() {
        assert_eq!(best(&[]), None);
    }
}
