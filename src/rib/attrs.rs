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

use crate::msg::{Prepared, Rank};
use crate::wire::community::WellKnown;
use crate::wire::{stored, PathAttrs};
use hashbrown::HashTable;
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

    /// What the outbound rules read of a set (`rib::reflect::Adv`): its well-known
    /// communities and whether its next hop is IPv6.
    pub fn advertising(&self, id: AttrId) -> (WellKnown, bool) {
        let r = &self.slots[id.index()].rank;
        (r.well_known, r.v6_next_hop)
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
