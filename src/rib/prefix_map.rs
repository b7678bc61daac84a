//! The map from prefix to value under each family's table, laid out by address: one small
//! hash table per block of the address space (an IPv4 /16, an IPv6 /32) under a map of
//! blocks. Owns layout only; what the values mean is the caller's.
//!
//! Why not one hash table: routers send their tables in address order (FRR, OpenBGPD and
//! MRT dumps walk a sorted tree), so consecutive prefixes of a stream fall in a few blocks
//! whose tables stay in cache. One table over a million prefixes (64 MB) missed the cache
//! twice per new prefix, and each time it doubled it rehashed the whole table in one go,
//! stalling the RIB thread for tens of milliseconds. Here growth is per block. A stream in
//! no order (BIRD's table is hash-ordered) pays for the block lookup: about 5% in
//! `benches/rib`, against 40-47% saved on a sorted one.
//!
//! Order of iteration is unspecified, as in a hash map. A block emptied by withdrawals is
//! freed, so the number of blocks never exceeds the number of prefixes stored, and a block
//! mostly withdrawn gives its room back.

use crate::wire::{Prefix4, Prefix6, Vpn4, Vpn6};
use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
use std::hash::{BuildHasher, Hash};

/// Where a prefix lies in its address space, coarsely: prefixes of one block share a table.
pub trait Blocked: Copy + Eq + Hash {
    fn block(&self) -> u32;
}

/// A block's table with room for this many entries or fewer is not shrunk (small tables are
/// cheap, and churn around a few prefixes should not reallocate).
const MIN_SHRINK: usize = 32;

pub struct PrefixMap<N, V> {
    blocks: HashMap<u32, HashTable<(N, V)>>,
    /// Seeded per process, as hashbrown's default: prefixes come from the network.
    hasher: DefaultHashBuilder,
    len: usize,
}

impl<N, V> Default for PrefixMap<N, V> {
    fn default() -> Self {
        PrefixMap {
            blocks: HashMap::new(),
            hasher: DefaultHashBuilder::default(),
            len: 0,
        }
    }
}

impl<N: Blocked, V> PrefixMap<N, V> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn hash(&self, prefix: &N) -> u64 {
        self.hasher.hash_one(prefix)
    }

    #[inline]
    pub fn get(&self, prefix: &N) -> Option<&V> {
        let hash = self.hash(prefix);
        self.blocks
            .get(&prefix.block())?
            .find(hash, |(k, _)| k == prefix)
            .map(|(_, v)| v)
    }

    #[inline]
    pub fn get_mut(&mut self, prefix: &N) -> Option<&mut V> {
        let hash = self.hash(prefix);
        self.blocks
            .get_mut(&prefix.block())?
            .find_mut(hash, |(k, _)| k == prefix)
            .map(|(_, v)| v)
    }

    pub fn contains_key(&self, prefix: &N) -> bool {
        self.get(prefix).is_some()
    }

    /// Sets `prefix` to `value`, returning the value it replaces (the RIB looks up first and
    /// uses `insert_new`; this is the model test's).
    #[cfg(test)]
    fn insert(&mut self, prefix: N, value: V) -> Option<V> {
        if let Some(v) = self.get_mut(&prefix) {
            return Some(std::mem::replace(v, value));
        }
        self.insert_new(prefix, value);
        None
    }

    /// Adds `prefix`, which the caller has just looked up and not found: no second search.
    #[inline]
    pub fn insert_new(&mut self, prefix: N, value: V) {
        debug_assert!(!self.contains_key(&prefix));
        let hash = self.hash(&prefix);
        let hasher = &self.hasher;
        self.blocks
            .entry(prefix.block())
            .or_default()
            .insert_unique(hash, (prefix, value), |(k, _)| hasher.hash_one(k));
        self.len += 1;
    }

    pub fn remove(&mut self, prefix: &N) -> Option<V> {
        let hash = self.hash(prefix);
        let block = prefix.block();
        let table = self.blocks.get_mut(&block)?;
        let (_, v) = table
            .find_entry(hash, |(k, _)| k == prefix)
            .ok()?
            .remove()
            .0;
        if table.is_empty() {
            self.blocks.remove(&block);
        } else if table.len() * 4 < table.capacity() && table.capacity() > MIN_SHRINK {
            // Mostly withdrawn: give the room back, keeping half of it free so that
            // shrinking and growing again are each paid for by as many changes.
            let hasher = &self.hasher;
            table.shrink_to(table.len() * 2, |(k, _)| hasher.hash_one(k));
        }
        self.len -= 1;
        Some(v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&N, &V)> + '_ {
        self.blocks
            .values()
            .flat_map(HashTable::iter)
            .map(|(k, v)| (k, v))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.iter().map(|(_, v)| v)
    }

    /// Blocks in use (for tests of the layout).
    #[cfg(test)]
    fn blocks(&self) -> usize {
        self.blocks.len()
    }

    /// Room in the block of `prefix` (for tests of the layout).
    #[cfg(test)]
    fn room(&self, prefix: &N) -> usize {
        self.blocks
            .get(&prefix.block())
            .map_or(0, HashTable::capacity)
    }
}

impl Blocked for Prefix4 {
    /// The /16: in the global table, a few hundred prefixes at most.
    fn block(&self) -> u32 {
        let [a, b, _, _] = self.octets();
        u32::from(u16::from_be_bytes([a, b]))
    }
}

impl Blocked for Prefix6 {
    /// The /32, the usual size of an allocation to a network.
    fn block(&self) -> u32 {
        let [a, b, c, d, ..] = self.octets();
        u32::from_be_bytes([a, b, c, d])
    }
}

/// The RD folded to 16 bits: spreads the VPN blocks by customer.
fn rd_bits(rd: &crate::wire::Rd) -> u32 {
    let w = |i: usize| u16::from_be_bytes([rd.0[i], rd.0[i + 1]]);
    u32::from(w(0) ^ w(2) ^ w(4) ^ w(6))
}

impl Blocked for Vpn4 {
    /// The RD with the prefix's /8: a VRF's routes (one RD) come together in a PE's
    /// stream and share a few blocks. Not the /16 as for unicast: a VRF holds few routes
    /// per /16, and a block per (RD, /16) cost a small table per handful of routes (measured:
    /// 50 bytes per path more, and a third more RIB time, with 100 VRFs).
    fn block(&self) -> u32 {
        rd_bits(&self.rd) << 8 | u32::from(self.prefix.octets()[0])
    }
}

impl Blocked for Vpn6 {
    /// As `Vpn4`, with the prefix's /16.
    fn block(&self) -> u32 {
        let [a, b, ..] = self.prefix.octets();
        rd_bits(&self.rd) << 16 | u32::from(u16::from_be_bytes([a, b]))
    }
}

impl Blocked for crate::wire::rtc::RtcNlri {
    /// The route target's global administrator: a few thousand memberships at most, from
    /// a few administrators.
    fn block(&self) -> u32 {
        let [_, _, a, b, c, d, ..] = self.target_octets();
        u32::from_be_bytes([a, b, c, d])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn p4(a: u32, len: u8) -> Prefix4 {
        Prefix4::new(Ipv4Addr::from(a), len).unwrap()
    }

    #[test]
    fn agrees_with_an_ordered_map_through_inserts_replacements_and_removals() {
        let mut map = PrefixMap::default();
        let mut model = BTreeMap::new();
        // A fixed walk over /8../32 prefixes in a few /16s, with repeats.
        let mut x = 0x2545_f491_u32;
        for i in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let len = [8u8, 16, 22, 24, 24, 24, 30, 32][(x % 8) as usize];
            let addr = (0x0a00_0000 | (x >> 8) & 0x0003_ffff) & (u32::MAX << (32 - len));
            let p = p4(addr, len);
            match x % 5 {
                0 | 1 => assert_eq!(map.remove(&p), model.remove(&p)),
                _ => assert_eq!(map.insert(p, i), model.insert(p, i)),
            }
            assert_eq!(map.len(), model.len());
        }
        for (p, v) in &model {
            assert_eq!(map.get(p), Some(v));
        }
        let mut all: Vec<(Prefix4, u32)> = map.iter().map(|(k, v)| (*k, *v)).collect();
        all.sort_unstable();
        assert_eq!(all, model.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn prefixes_of_one_slash16_share_a_block_and_an_emptied_block_is_freed() {
        let mut map = PrefixMap::default();
        for i in 0..256u32 {
            map.insert_new(p4(0xc000_0000 | (i << 8), 24), i);
        }
        map.insert_new(p4(0xc000_0000, 16), 1000);
        map.insert_new(p4(0xc001_0000, 24), 1001);
        assert_eq!((map.len(), map.blocks()), (258, 2));
        assert_eq!(map.remove(&p4(0xc001_0000, 24)), Some(1001));
        assert_eq!(map.remove(&p4(0xc001_0000, 24)), None);
        assert_eq!((map.len(), map.blocks()), (257, 1));
        for i in 0..256u32 {
            *map.get_mut(&p4(0xc000_0000 | (i << 8), 24)).unwrap() += 1;
        }
        assert_eq!(map.get(&p4(0xc000_ff00, 24)), Some(&256));
    }

    #[test]
    fn a_mostly_withdrawn_block_gives_its_room_back() {
        let mut map = PrefixMap::default();
        let p = |i: u32| p4(0xc000_0000 | (i << 8), 24);
        for i in 0..256 {
            map.insert_new(p(i), i);
        }
        let full = map.room(&p(0));
        assert!(full >= 256);
        for i in 8..256 {
            assert_eq!(map.remove(&p(i)), Some(i));
        }
        assert!(
            map.room(&p(0)) <= MIN_SHRINK,
            "{} of {full}",
            map.room(&p(0))
        );
        for i in 0..8 {
            assert_eq!(map.get(&p(i)), Some(&i));
        }
    }

    #[test]
    fn ipv6_prefixes_are_kept_by_their_slash32() {
        let mut map = PrefixMap::default();
        let a = Prefix6::new(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0), 48).unwrap();
        let b = Prefix6::new(Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0), 48).unwrap();
        let c = Prefix6::new(Ipv6Addr::new(0x2001, 0xdb9, 0, 0, 0, 0, 0, 0), 32).unwrap();
        map.insert_new(a, 'a');
        map.insert_new(b, 'b');
        map.insert_new(c, 'c');
        assert_eq!((map.len(), map.blocks()), (3, 2));
        assert_eq!(map.get(&b), Some(&'b'));
    }
}
