//! One peer's Route Target membership (RFC 4684): the RT-Constraint NLRIs it has announced,
//! and the question the outbound side asks for every VPN route and every peer (or update
//! group) that negotiated the family: does this peer want a route with these route targets?
//! It owns that view and its identity, nothing else: it does not decide when a peer's
//! membership starts to count (RFC 4684 §6 End-of-RIB), which peers filter at all, or what
//! to send when the view changes.
//!
//! Matching (RFC 4684 §4): a route is wanted when any of its route targets falls under the
//! route-target part of any announced NLRI. The default route target (length 0) and an
//! origin AS alone (length 32) cover every target; the origin AS is never compared with
//! anything the route carries.
//!
//! Index and cost. The NLRIs are grouped by how many route-target bits they fix (1 to 64;
//! 64 for the usual exact target, 96-bit NLRIs), one hash set of masked targets per length,
//! longest first, plus a count of the NLRIs that cover everything. `admits` is then
//! O(k × L) hash lookups, k the route's targets (usually 1 to 4), L the number of distinct
//! lengths the peer used (1 when it announces only exact targets, at most 64), whatever the
//! number of NLRIs: a PE with 1,000 exact targets costs k lookups per route, as one with 1
//! does. A peer that covers everything answers without a lookup. Insert and remove are
//! O(log n + L). Memory is about 48 bytes per NLRI.
//!
//! Identity: peers whose memberships admit the same routes for the same reason share an
//! update group and one encoding, so `Membership` is `Eq` + `Hash` on what it admits: the
//! set of distinct (length, masked target) filters, or "everything" when a default or /32
//! is present; origin ASes and duplicates do not count. The hash is a fingerprint kept up
//! to date on each change (a wrapping sum of one mixed value per distinct filter, so it
//! does not depend on order): hashing is O(1), equality compares fingerprints first and the
//! sets only when those agree. Two memberships that admit the same routes through
//! different but overlapping filters (a /64 and a /96 inside it, against the /64 alone)
//! compare unequal: sharing is lost in that corner, never correctness.

use crate::wire::route_target::RouteTarget;
use crate::wire::rtc::RtcNlri;
use hashbrown::HashMap;
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};

/// The fingerprint of a membership that admits everything.
const ALL: u64 = 0x9e37_79b9_7f4a_7c15;

/// The announced targets that fix the same number of route-target bits.
#[derive(Clone, Debug)]
struct Level {
    /// Route-target bits fixed, 1..=64.
    bits: u8,
    mask: u64,
    /// Masked target -> announced NLRIs giving it (one per origin AS).
    values: HashMap<u64, u32>,
}

/// A peer's Route Target membership: what it announced, indexed for matching.
#[derive(Clone, Debug, Default)]
pub struct Membership {
    nlris: BTreeSet<RtcNlri>,
    /// Announced NLRIs that cover every target (length 0 or 32).
    all: u32,
    /// Longest first; no empty level.
    levels: Vec<Level>,
    /// Sum of `mix` over the distinct filters in `levels`.
    sum: u64,
}

/// One filter's share of the fingerprint (splitmix64's finalizer, on the value and length).
fn mix(bits: u8, value: u64) -> u64 {
    let mut z = value
        .rotate_left(7)
        .wrapping_add(u64::from(bits).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn mask(bits: u8) -> u64 {
    match bits {
        0 => 0,
        b => u64::MAX << (64 - u32::from(b.min(64))),
    }
}

impl Membership {
    pub fn new() -> Membership {
        Membership::default()
    }

    /// Adds an NLRI the peer announced. True when the membership changed identity (it no
    /// longer equals what it was, and may admit other routes): false for an NLRI already
    /// there, a target already announced with another origin AS, or any target while the
    /// peer covers everything.
    pub fn insert(&mut self, nlri: RtcNlri) -> bool {
        if !self.nlris.insert(nlri) {
            return false;
        }
        let (value, bits) = nlri.target_prefix();
        if bits == 0 {
            self.all += 1;
            return self.all == 1;
        }
        let at = match self.levels.iter().position(|l| l.bits <= bits) {
            Some(i) if self.levels[i].bits == bits => i,
            pos => {
                let i = pos.unwrap_or(self.levels.len());
                let level = Level {
                    bits,
                    mask: mask(bits),
                    values: HashMap::new(),
                };
                self.levels.insert(i, level);
                i
            }
        };
        let n = self.levels[at].values.entry(value).or_insert(0);
        *n += 1;
        if *n > 1 {
            return false;
        }
        self.sum = self.sum.wrapping_add(mix(bits, value));
        self.all == 0
    }

    /// Removes an NLRI the peer withdrew. True when the membership changed identity (see
    /// `insert`); false for an NLRI it did not have.
    pub fn remove(&mut self, nlri: &RtcNlri) -> bool {
        if !self.nlris.remove(nlri) {
            return false;
        }
        let (value, bits) = nlri.target_prefix();
        if bits == 0 {
            self.all -= 1;
            return self.all == 0;
        }
        let Some(at) = self.levels.iter().position(|l| l.bits == bits) else {
            debug_assert!(false, "{nlri} was in the set but not the index");
            return false;
        };
        let level = &mut self.levels[at];
        let gone = match level.values.get_mut(&value) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => {
                level.values.remove(&value);
                true
            }
            None => false,
        };
        if level.values.is_empty() {
            self.levels.remove(at);
        }
        if !gone {
            return false;
        }
        self.sum = self.sum.wrapping_sub(mix(bits, value));
        self.all == 0
    }

    /// Whether a route carrying `targets` is to be sent to this peer: any target falls under
    /// an announced NLRI. A peer that announced a default route target (or an origin AS
    /// alone) wants every route, targets or not; one that announced nothing wants none.
    pub fn admits(&self, mut targets: impl Iterator<Item = RouteTarget>) -> bool {
        self.all > 0 || targets.any(|t| self.covered(t))
    }

    /// `admits` of one target.
    pub fn admits_target(&self, target: RouteTarget) -> bool {
        self.all > 0 || self.covered(target)
    }

    fn covered(&self, target: RouteTarget) -> bool {
        let t = target.to_u64();
        self.levels
            .iter()
            .any(|l| l.values.contains_key(&(t & l.mask)))
    }

    /// Whether every route is admitted (a default route target or an origin AS alone).
    pub fn admits_all(&self) -> bool {
        self.all > 0
    }

    pub fn contains(&self, nlri: &RtcNlri) -> bool {
        self.nlris.contains(nlri)
    }

    /// The NLRIs announced, in order.
    pub fn nlris(&self) -> impl Iterator<Item = &RtcNlri> {
        self.nlris.iter()
    }

    /// NLRIs announced.
    pub fn len(&self) -> usize {
        self.nlris.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nlris.is_empty()
    }

    /// The identity's hash: equal memberships have equal fingerprints. Not keyed: a peer
    /// can make its fingerprint collide with another's, which costs one set comparison.
    pub fn fingerprint(&self) -> u64 {
        if self.all > 0 {
            ALL
        } else {
            self.sum
        }
    }

    fn same_filters(&self, other: &Membership) -> bool {
        self.levels.len() == other.levels.len()
            && self.levels.iter().zip(&other.levels).all(|(a, b)| {
                a.bits == b.bits
                    && a.values.len() == b.values.len()
                    && a.values.keys().all(|v| b.values.contains_key(v))
            })
    }
}

impl PartialEq for Membership {
    fn eq(&self, other: &Membership) -> bool {
        self.fingerprint() == other.fingerprint()
            && match (self.all > 0, other.all > 0) {
                (true, true) => true,
                (false, false) => self.same_filters(other),
                _ => false,
            }
    }
}

impl Eq for Membership {}

impl Hash for Membership {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.fingerprint());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{route_target, rtc};
    use std::hash::BuildHasher;

    fn rt(s: &str) -> RouteTarget {
        s.parse().unwrap()
    }

    fn nlri(s: &str) -> RtcNlri {
        s.parse().unwrap()
    }

    fn membership(nlris: &[&str]) -> Membership {
        let mut m = Membership::new();
        for s in nlris {
            m.insert(nlri(s));
        }
        m
    }

    /// The hash under one fixed hasher (`HashMap`'s are seeded per map).
    fn hash(m: &Membership) -> u64 {
        let fixed =
            std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default();
        fixed.hash_one(m)
    }

    #[test]
    fn the_default_route_target_admits_every_route_even_one_without_targets() {
        let m = membership(&["default"]);
        assert!(m.admits_all());
        assert!(m.admits([rt("65000:1"), rt("192.0.2.1:2")].into_iter()));
        assert!(m.admits(std::iter::empty()));
    }

    #[test]
    fn an_origin_as_alone_admits_every_target_whatever_the_origin() {
        // Length 32 fixes no route-target bit; the origin AS is not matched.
        let m = membership(&["64512:0:0/32"]);
        for t in ["65000:1", "64512:7", "192.0.2.1:2", "4200000000:3"] {
            assert!(m.admits_target(rt(t)), "{t}");
        }
    }

    #[test]
    fn an_exact_target_admits_that_target_only() {
        let m = membership(&["65000:65000:100/96"]);
        assert!(m.admits_target(rt("65000:100")));
        assert!(!m.admits_target(rt("65000:101")));
        assert!(!m.admits_target(rt("65001:100")));
        assert!(m.admits([rt("65000:7"), rt("65000:100")].into_iter()));
        assert!(!m.admits(std::iter::empty()));
    }

    #[test]
    fn a_64_bit_prefix_admits_every_target_of_one_administrator() {
        let m = membership(&["65000:65000:0/64"]);
        assert!(m.admits_target(rt("65000:100")));
        assert!(m.admits_target(rt("65000:4294967295")));
        assert!(!m.admits_target(rt("65001:100")));
        // The administrator field of an IPv4 target starts with the same bits elsewhere.
        assert!(!m.admits_target(rt("253.232.0.0:100")));
    }

    #[test]
    fn a_target_of_another_type_never_matches() {
        let m = membership(&["65000:65000:100/96", "65000:65000:0/64"]);
        // The same digits as a 4-octet-AS target (type 0x02) or an IPv4 one (0x01).
        assert!(!m.admits_target(rt("0.65000:100")));
        assert!(!m.admits_target(rt("0.0.253.232:100")));
        // Communities that are not route targets are never offered to the match at all:
        // route origin (sub-type 3) and a non-transitive target (type 0x40).
        let cs = [
            [0x00, 0x03, 0xfd, 0xe8, 0, 0, 0, 100],
            [0x40, 0x02, 0xfd, 0xe8, 0, 0, 0, 100],
        ];
        assert!(!m.admits(route_target::targets(&cs)));
        assert!(m.admits(route_target::targets(&[rt("65000:100").octets()])));
    }

    #[test]
    fn a_peer_that_announced_nothing_admits_nothing() {
        let m = Membership::new();
        assert!(m.is_empty() && !m.admits_all());
        assert!(!m.admits([rt("65000:100")].into_iter()));
    }

    #[test]
    fn a_target_announced_from_two_origins_stays_until_both_are_withdrawn() {
        let mut m = Membership::new();
        assert!(m.insert(nlri("1:65000:100/96")));
        assert!(!m.insert(nlri("2:65000:100/96")), "same filter");
        assert!(!m.insert(nlri("2:65000:100/96")), "re-announcement");
        assert_eq!(m.len(), 2);
        assert!(!m.remove(&nlri("1:65000:100/96")));
        assert!(m.admits_target(rt("65000:100")));
        assert!(!m.remove(&nlri("1:65000:100/96")), "already gone");
        assert!(m.remove(&nlri("2:65000:100/96")));
        assert!(!m.admits_target(rt("65000:100")));
        assert_eq!(m, Membership::new());
    }

    #[test]
    fn peers_with_the_same_targets_compare_and_hash_equal_whatever_the_order_and_origin() {
        let a = membership(&[
            "65000:65000:100/96",
            "65000:192.0.2.1:7/96",
            "65000:65001:0/64",
        ]);
        let b = membership(&[
            "65001:65001:0/64",
            "4200000000:192.0.2.1:7/96",
            "65001:65000:100/96",
            "65002:65000:100/96",
        ]);
        assert_eq!(a, b);
        assert_eq!(hash(&a), hash(&b));
        assert_eq!(a.fingerprint(), b.fingerprint());
        let c = membership(&["65000:65000:100/96", "65000:192.0.2.1:7/96"]);
        assert_ne!(a, c);
        assert_ne!(a.fingerprint(), c.fingerprint());
        // Peers group by membership with one hash lookup.
        let mut groups = hashbrown::HashMap::new();
        groups.insert(a.clone(), 1);
        assert_eq!(groups.get(&b), Some(&1));
        assert_eq!(groups.get(&c), None);
    }

    #[test]
    fn withdrawing_what_was_added_comes_back_to_the_same_identity() {
        let mut m = membership(&["65000:65000:100/96", "65000:65000:0/64"]);
        let before = m.clone();
        assert!(m.insert(nlri("65000:65000:0/48")));
        assert!(m.insert(nlri("65000:65000:200/96")));
        assert_ne!(m, before);
        assert!(m.remove(&nlri("65000:65000:200/96")));
        assert!(m.remove(&nlri("65000:65000:0/48")));
        assert_eq!(m, before);
        assert_eq!(hash(&m), hash(&before));
    }

    #[test]
    fn a_default_route_target_overrides_the_rest_until_it_is_withdrawn() {
        let mut m = membership(&["65000:65000:100/96"]);
        assert!(m.insert(RtcNlri::DEFAULT));
        assert!(!m.insert(nlri("65000:0:0/32")), "already admits all");
        assert!(
            !m.insert(nlri("65000:65000:200/96")),
            "hidden by the default"
        );
        assert_eq!(m, membership(&["default"]));
        assert!(!m.remove(&RtcNlri::DEFAULT), "the /32 still admits all");
        assert!(m.remove(&nlri("65000:0:0/32")));
        assert_eq!(
            m,
            membership(&["1:65000:100/96", "1:65000:200/96"]),
            "the targets announced meanwhile count again"
        );
        assert!(!m.admits_target(rt("65000:300")));
    }

    /// xorshift64: a fixed sequence, so a failure replays.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn the_index_agrees_with_checking_each_nlri_in_turn() {
        let mut seed = 0x2545_f491_4f6c_dd1d;
        // Few distinct targets, so that prefixes and targets often meet.
        let targets: Vec<RouteTarget> = (0..40u64)
            .map(|i| {
                let v = next(&mut seed);
                match i % 3 {
                    0 => RouteTarget::as2(65000 + (v % 3) as u16, (v >> 8) as u32 % 5),
                    1 => RouteTarget::ipv4([192, 0, 2, (v % 3) as u8].into(), (v >> 8) as u16 % 5),
                    _ => RouteTarget::as4(4_200_000_000 + (v % 3) as u32, (v >> 8) as u16 % 5),
                }
            })
            .collect();
        let pick = |seed: &mut u64| targets[next(seed) as usize % targets.len()];
        let mut m = Membership::new();
        let mut plain: Vec<RtcNlri> = Vec::new();
        for round in 0..2000 {
            let r = next(&mut seed);
            let len = match r % 8 {
                0 => 0,
                1 => 32,
                2..=4 => 96,
                5 | 6 => 48 + (r >> 8) as u8 % 48,
                _ => 33 + (r >> 8) as u8 % 15,
            };
            let n = if r % 1000 == 999 || len == 0 {
                RtcNlri::DEFAULT
            } else {
                let origin = (r >> 16) as u32 % 3;
                RtcNlri::new(origin, pick(&mut seed).octets(), len).unwrap()
            };
            // Defaults and /32s are rare in practice: keep them from covering everything.
            let add = (r >> 40) % 3 != 0 && (len > 32 || (r >> 50) % 8 == 0);
            if add {
                m.insert(n);
                if !plain.contains(&n) {
                    plain.push(n);
                }
            } else if let Some(&old) = plain.get((r >> 20) as usize % plain.len().max(1)) {
                m.remove(&old);
                plain.retain(|&p| p != old);
            }
            assert_eq!(m.len(), plain.len());
            for t in &targets {
                let want = plain.iter().any(|p| p.covers(*t));
                assert_eq!(
                    m.admits_target(*t),
                    want,
                    "round {round}, {t} against {plain:?}"
                );
            }
            // The same NLRIs inserted afresh, in another order, are the same membership.
            let mut again = Membership::new();
            plain.iter().rev().for_each(|&p| {
                again.insert(p);
            });
            assert_eq!(m, again);
            assert_eq!(m.fingerprint(), again.fingerprint());
        }
    }

    #[test]
    fn memberships_gobgp_announced_admit_the_vpn_route_it_sent() {
        // NLRI fields and the VPN route's EXTENDED_COMMUNITIES value as GoBGP 3.10 sent
        // them between two daemons on loopback (see `wire::rtc`'s tests): VRFs importing
        // 65000:100 and 192.0.2.1:200, and a VPNv4 route exported with 65000:100.
        let field = [
            0x60, 0x00, 0x00, 0xfd, 0xe8, 0x00, 0x02, 0xfd, 0xe8, 0x00, 0x00, 0x00, 0x64, //
            0x60, 0x00, 0x00, 0xfd, 0xe8, 0x01, 0x02, 0xc0, 0x00, 0x02, 0x01, 0x00, 0xc8,
        ];
        let mut nlris = Vec::new();
        rtc::decode(&field, false, &mut nlris).unwrap();
        let mut m = Membership::new();
        nlris.into_iter().for_each(|n| {
            m.insert(n);
        });
        let ext = [0x00, 0x02, 0xfd, 0xe8, 0x00, 0x00, 0x00, 0x64];
        assert!(m.admits(route_target::targets_in_value(&ext).unwrap()));
        let other = [0x00, 0x02, 0xfd, 0xe8, 0x00, 0x00, 0x00, 0x65];
        assert!(!m.admits(route_target::targets_in_value(&other).unwrap()));
    }
}
