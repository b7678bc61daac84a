//! Path-attribute interning (ARCHITECTURE invariant 2): a million routes sharing a few
//! thousand attribute sets store each set once. Routes hold an `AttrId` (4 bytes); the
//! table holds each distinct set once, in its canonical wire form (`wire::stored`), with a
//! reference count, and frees the slot when the last route lets go of it. Owns no routes
//! and decides nothing.
//!
//! Why bytes and not a `PathAttrs`: a full table from several peers holds close to a
//! million distinct sets. As a struct a set costs ~450 bytes in five heap blocks; as bytes
//! about 170 in one, it hashes and compares as one slice, and reflecting it is a copy
//! (`wire::encode_announce_stored`).

use crate::wire::community::WellKnown;
use crate::wire::scan::ScannedAttrs;
use crate::wire::{stored, NextHop, Origin, PathAttrs};
use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::BuildHasher;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// Handle to an interned attribute set. `AttrId::REJECTED` marks a path that was received
/// but failed the loop checks (kept for the received count, never selected).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttrId(u32);

impl AttrId {
    pub const REJECTED: AttrId = AttrId(u32::MAX);

    pub fn is_rejected(self) -> bool {
        self == AttrId::REJECTED
    }
    fn index(self) -> usize {
        self.0 as usize
    }
    /// Any id, for tests of code that only compares ids.
    #[cfg(test)]
    pub fn test(i: u32) -> AttrId {
        AttrId(i)
    }
}

/// What the decision process reads from an attribute set, computed once at intern time so
/// that best-path selection never walks an AS_PATH.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Rank {
    /// Absent = 100 (the usual default; RFC 4271 leaves it to local policy).
    pub local_pref: u32,
    pub as_path_len: u32,
    pub origin: Origin,
    /// Absent = 0 (RFC 4271 §9.1.2.2 c).
    pub med: u32,
    /// First AS of the path. A path with no leading AS_SEQUENCE has 0 here (AS 0 is never
    /// valid on the wire, RFC 7607), which `AttrTable::rank` gives as the local AS: a rank
    /// is computed on the workers, which do not know it.
    pub neighbor_as: u32,
    pub originator_id: Option<Ipv4Addr>,
    pub cluster_list_len: u32,
    /// RFC 1997 well-known communities: where the route may be advertised (not a
    /// decision input, kept here so the outbound rules never walk COMMUNITIES).
    pub well_known: WellKnown,
}

pub const DEFAULT_LOCAL_PREF: u32 = 100;

impl Rank {
    pub fn of(attrs: &PathAttrs) -> Rank {
        Rank {
            local_pref: attrs.local_pref.unwrap_or(DEFAULT_LOCAL_PREF),
            as_path_len: u32::try_from(attrs.as_path.route_len()).unwrap_or(u32::MAX),
            origin: attrs.origin,
            med: attrs.med.unwrap_or(0),
            neighbor_as: attrs.as_path.first_as().unwrap_or(0),
            originator_id: attrs.originator_id,
            cluster_list_len: u32::try_from(attrs.cluster_list.len()).unwrap_or(u32::MAX),
            well_known: WellKnown::of(attrs.communities.iter().copied()),
        }
    }
}

/// An attribute set made ready to intern (`AttrTable::intern_prepared`): its stored form,
/// the hash of that form and its rank. Workers prepare the sets they decode, so the RIB
/// thread, which every UPDATE goes through, only looks the set up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prepared {
    /// Already the table's own form: a new set moves in without a copy on the RIB thread.
    pub set: Arc<[u8]>,
    hash: u64,
    pub rank: Rank,
    /// One bit per ASN of the AS_PATH (`as_bit`): the RIB thread walks the stored path for
    /// its own AS (a loop) only when that AS's bit is set, a few percent of sets.
    as_bits: u64,
}

/// The bit of `asn` in `Prepared::as_bits` (a multiplicative hash's top 6 bits).
fn as_bit(asn: u32) -> u64 {
    1 << (asn.wrapping_mul(0x9e37_79b9) >> 26)
}

/// `Prepared::as_bits` of a path's ASNs.
fn as_bits(asns: impl Iterator<Item = u32>) -> u64 {
    asns.fold(0, |bits, asn| bits | as_bit(asn))
}

/// Interning hashes: one random seed per process, so that workers and the RIB thread hash
/// alike and a peer cannot aim attribute sets at one bucket.
fn hasher() -> &'static DefaultHashBuilder {
    static HASHER: std::sync::OnceLock<DefaultHashBuilder> = std::sync::OnceLock::new();
    HASHER.get_or_init(DefaultHashBuilder::default)
}

impl Prepared {
    /// `attrs` with `next_hop` in place of its own (MP_REACH_NLRI carries its own).
    pub fn with_next_hop(attrs: &PathAttrs, next_hop: &NextHop) -> Prepared {
        let set: Arc<[u8]> = stored::store_with(attrs, next_hop).into();
        let asns = attrs.as_path.segments.iter().flat_map(|seg| &seg.asns);
        Prepared {
            hash: hasher().hash_one(&set[..]),
            set,
            rank: Rank::of(attrs),
            as_bits: as_bits(asns.copied()),
        }
    }

    pub fn of(attrs: &PathAttrs) -> Prepared {
        Prepared::with_next_hop(attrs, &attrs.next_hop)
    }

    /// A set read in place (`wire::scan`): equal to `of` on the decoded set.
    pub fn scanned(a: &ScannedAttrs) -> Prepared {
        let set = stored::scanned(a);
        Prepared {
            hash: hasher().hash_one(&set[..]),
            set,
            rank: Rank {
                local_pref: a.local_pref.unwrap_or(DEFAULT_LOCAL_PREF),
                as_path_len: u32::try_from(a.route_len()).unwrap_or(u32::MAX),
                origin: a.origin,
                med: a.med.unwrap_or(0),
                neighbor_as: a.first_as().unwrap_or(0),
                originator_id: a.originator_id,
                cluster_list_len: a.cluster_list_len,
                well_known: a.well_known,
            },
            as_bits: as_bits(a.asns()),
        }
    }

    /// False if `asn` is certainly not in the AS_PATH (true: it may be).
    pub fn may_have_as(&self, asn: u32) -> bool {
        self.as_bits & as_bit(asn) != 0
    }
}

struct Slot {
    /// The set as `stored::store` wrote it; None while the slot is on the free list.
    set: Option<Arc<[u8]>>,
    hash: u64,
    refs: u32,
    rank: Rank,
}

/// The interning table: a slab of attribute sets plus a hash index into it.
pub struct AttrTable {
    slots: Vec<Slot>,
    free: Vec<u32>,
    index: HashTable<u32>,
    local_asn: u32,
}

impl AttrTable {
    pub fn new(local_asn: u32) -> AttrTable {
        AttrTable {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            local_asn,
        }
    }

    /// Returns the id of `attrs`, adding it if new, with one reference taken for the caller.
    pub fn intern(&mut self, attrs: PathAttrs) -> AttrId {
        self.intern_prepared(Prepared::of(&attrs))
    }

    /// `intern` of a set prepared elsewhere.
    pub fn intern_prepared(&mut self, p: Prepared) -> AttrId {
        let Prepared {
            set, hash, rank, ..
        } = p;
        let slots = &self.slots;
        let found = self.index.find(hash, |&i| {
            slots[i as usize]
                .set
                .as_deref()
                .is_some_and(|s| *s == set[..])
        });
        if let Some(&i) = found {
            let id = AttrId(i);
            self.retain(id);
            return id;
        }
        let slot = Slot {
            set: Some(set),
            hash,
            refs: 1,
            rank,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = slot;
                i
            }
            None => {
                let i = u32::try_from(self.slots.len()).expect("fewer than 2^32 attribute sets");
                assert!(i != AttrId::REJECTED.0, "attribute slab exhausted");
                self.slots.push(slot);
                i
            }
        };
        let slots = &self.slots;
        self.index
            .insert_unique(hash, i, |&j| slots[j as usize].hash);
        AttrId(i)
    }

    /// Takes one more reference on a live id.
    pub fn retain(&mut self, id: AttrId) {
        let slot = &mut self.slots[id.index()];
        debug_assert!(
            slot.set.is_some() && slot.refs > 0,
            "retain of a freed AttrId"
        );
        slot.refs += 1;
    }

    /// Drops one reference; the set is freed with its last reference.
    pub fn release(&mut self, id: AttrId) {
        let slot = &mut self.slots[id.index()];
        debug_assert!(
            slot.set.is_some() && slot.refs > 0,
            "release of a freed AttrId"
        );
        slot.refs -= 1;
        if slot.refs > 0 {
            return;
        }
        slot.set = None;
        let hash = slot.hash;
        if let Ok(entry) = self.index.find_entry(hash, |&i| i == id.0) {
            entry.remove();
        }
        self.free.push(id.0);
    }

    /// The attribute set of a live id, stored form (`wire::stored`).
    pub fn stored(&self, id: AttrId) -> &Arc<[u8]> {
        self.slots[id.index()].set.as_ref().expect("live AttrId")
    }

    /// The attribute set of a live id, decoded (for views and tests, not the hot paths).
    pub fn load(&self, id: AttrId) -> PathAttrs {
        stored::load(self.stored(id))
    }

    pub fn rank(&self, id: AttrId) -> Rank {
        let mut r = self.slots[id.index()].rank;
        if r.neighbor_as == 0 {
            r.neighbor_as = self.local_asn;
        }
        r
    }

    /// The RFC 1997 well-known communities of a live id.
    pub fn well_known(&self, id: AttrId) -> WellKnown {
        self.slots[id.index()].rank.well_known
    }

    /// References held on `id` (0 once freed).
    pub fn refs(&self, id: AttrId) -> u32 {
        self.slots
            .get(id.index())
            .map_or(0, |s| if s.set.is_some() { s.refs } else { 0 })
    }

    /// Distinct attribute sets stored.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(lp: u32) -> PathAttrs {
        PathAttrs {
            local_pref: Some(lp),
            ..PathAttrs::default()
        }
    }

    #[test]
    fn the_as_summary_never_misses_an_asn_of_the_path_and_rarely_claims_others() {
        use crate::wire::{AsPath, AsSegment, SegmentKind};
        let path: Vec<u32> = vec![64512, 3356, 1299, 65000, 4_200_000_000];
        let p = Prepared::of(&PathAttrs {
            as_path: AsPath {
                segments: vec![AsSegment {
                    kind: SegmentKind::Sequence,
                    asns: path.clone(),
                }],
            },
            ..PathAttrs::default()
        });
        assert!(path.iter().all(|&a| p.may_have_as(a)));
        // Five bits of 64 set: about 8 % of other ASNs may match (the walk then decides).
        let claimed = (1..10_000u32).filter(|&a| p.may_have_as(a)).count();
        assert!(claimed < 1500, "{claimed} of 9999");
        assert!(!Prepared::of(&PathAttrs::default()).may_have_as(65000));
    }

    #[test]
    fn identical_sets_are_stored_once_and_counted() {
        let mut t = AttrTable::new(65000);
        let a = t.intern(attrs(100));
        let b = t.intern(attrs(100));
        let c = t.intern(attrs(200));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(t.len(), 2);
        assert_eq!(t.refs(a), 2);
        assert_eq!(t.load(c).local_pref, Some(200));
    }

    #[test]
    fn interning_refcounts_free_slots_with_the_last_reference() {
        let mut t = AttrTable::new(65000);
        let a = t.intern(attrs(100));
        t.retain(a);
        t.release(a);
        assert_eq!(t.refs(a), 1);
        assert_eq!(t.len(), 1);
        t.release(a);
        assert_eq!(t.refs(a), 0);
        assert!(t.is_empty());
        // The freed slot is reused, and the old value is no longer found.
        let b = t.intern(attrs(300));
        assert_eq!(a, b);
        assert_eq!(t.load(b).local_pref, Some(300));
        let c = t.intern(attrs(100));
        assert_ne!(c, b);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn rank_applies_defaults() {
        let mut t = AttrTable::new(65000);
        let id = t.intern(PathAttrs::default());
        let r = t.rank(id);
        assert_eq!(r.local_pref, 100);
        assert_eq!(r.med, 0);
        assert_eq!(r.neighbor_as, 65000);
        assert_eq!(r.as_path_len, 0);
    }
}
