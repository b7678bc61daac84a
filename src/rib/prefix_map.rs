//! The map from prefix to value under each family's table, laid out by address: one small
//! hash table per block of the address space (an IPv4 /16, an IPv6 /32, a VPN route's RD
//! with its /8 or /16) under a map of blocks. Owns layout only; what the values mean is the
//! caller's.
//!
//! Why not one hash table: routers send their tables in address order (FRR, OpenBGPD and
//! MRT dumps walk a sorted tree), so consecutive prefixes of a stream fall in a few blocks
//! whose tables stay in cache. One table over a million prefixes (64 MB) missed the cache
//! twice per new prefix, and each time it doubled it rehashed the whole table in one go,
//! stalling the RIB thread for tens of milliseconds. Here growth is per block. A stream in
//! no order (BIRD's table is hash-ordered) pays for the block lookup: about 5% in
//! `benches/rib`, against 40-47% saved on a sorted one.
//!
//! A block's table keeps only what its block key does not say (`Blocked::Inner`): a VPN
//! route's RD is in the block key, so its entries are a prefix and a value, as unicast's
//! are (24 bytes for VPN-IPv4 instead of 32).
//!
//! Order of iteration is unspecified, as in a hash map. A block emptied by withdrawals is
//! freed, so the number of blocks never exceeds the number of prefixes stored, and a block
//! mostly withdrawn gives its room back.

use crate::wire::evpn::EvpnKey;
use crate::wire::{Prefix4, Prefix6, Rd, Vpn4, Vpn6};
use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
use std::hash::{BuildHasher, Hash};

/// Where a prefix lies in its address space, coarsely: prefixes of one block share a table.
/// A key is its block and what is left of it in the block (`split`), and is those two
/// together again (`join`).
pub trait Blocked: Copy + Eq + Hash {
    type Block: Copy + Eq + Hash;
    /// What a block's table holds of the key.
    type Inner: Copy + Eq + Hash;
    fn split(self) -> (Self::Block, Self::Inner);
    fn join(block: Self::Block, inner: Self::Inner) -> Self;
}

/// A block's table with room for this many entries or fewer is not shrunk (small tables are
/// cheap, and churn around a few prefixes should not reallocate).
const MIN_SHRINK: usize = 32;

type Table<N, V> = HashTable<(<N as Blocked>::Inner, V)>;

pub struct PrefixMap<N: Blocked, V> {
    blocks: HashMap<N::Block, Table<N, V>>,
    /// Seeded per process, as hashbrown's default: prefixes come from the network.
    hasher: DefaultHashBuilder,
    len: usize,
}

impl<N: Blocked, V> Default for PrefixMap<N, V> {
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

    fn hash(&self, inner: &N::Inner) -> u64 {
        self.hasher.hash_one(inner)
    }

    #[inline]
    pub fn get(&self, prefix: &N) -> Option<&V> {
        let (block, inner) = prefix.split();
        let hash = self.hash(&inner);
        self.blocks
            .get(&block)?
            .find(hash, |(k, _)| *k == inner)
            .map(|(_, v)| v)
    }

    #[inline]
    pub fn get_mut(&mut self, prefix: &N) -> Option<&mut V> {
        let (block, inner) = prefix.split();
        let hash = self.hash(&inner);
        self.blocks
            .get_mut(&block)?
            .find_mut(hash, |(k, _)| *k == inner)
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
        let (block, inner) = prefix.split();
        let hash = self.hash(&inner);
        let hasher = &self.hasher;
        self.blocks
            .entry(block)
            .or_default()
            .insert_unique(hash, (inner, value), |(k, _)| hasher.hash_one(k));
        self.len += 1;
    }

    pub fn remove(&mut self, prefix: &N) -> Option<V> {
        let (block, inner) = prefix.split();
        let hash = self.hash(&inner);
        let table = self.blocks.get_mut(&block)?;
        let (_, v) = table
            .find_entry(hash, |(k, _)| *k == inner)
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

    /// Every prefix (whole again) with its value.
    pub fn iter(&self) -> impl Iterator<Item = (N, &V)> + '_ {
        self.blocks
            .iter()
            .flat_map(|(b, t)| t.iter().map(move |(k, v)| (N::join(*b, *k), v)))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.blocks
            .values()
            .flat_map(HashTable::iter)
            .map(|(_, v)| v)
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
            .get(&prefix.split().0)
            .map_or(0, HashTable::capacity)
    }
}

impl Blocked for Prefix4 {
    /// The /16: in the global table, a few hundred prefixes at most. The table holds the
    /// whole prefix (5 bytes: no smaller remainder would pack tighter beside its value).
    type Block = u32;
    type Inner = Prefix4;
    fn split(self) -> (u32, Prefix4) {
        let [a, b, _, _] = self.octets();
        (u32::from(u16::from_be_bytes([a, b])), self)
    }
    fn join(_: u32, inner: Prefix4) -> Prefix4 {
        inner
    }
}

impl Blocked for Prefix6 {
    /// The /32, the usual size of an allocation to a network.
    type Block = u32;
    type Inner = Prefix6;
    fn split(self) -> (u32, Prefix6) {
        let [a, b, c, d, ..] = self.octets();
        (u32::from_be_bytes([a, b, c, d]), self)
    }
    fn join(_: u32, inner: Prefix6) -> Prefix6 {
        inner
    }
}

/// A VPN route's block: its RD and the leading bits of its prefix.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct RdBlock {
    rd: Rd,
    top: u16,
}

impl Blocked for Vpn4 {
    /// The RD with the prefix's /8: a VRF's routes (one RD) come together in a PE's
    /// stream and share a few blocks. Not the /16 as for unicast: a VRF holds few routes
    /// per /16, and a block per (RD, /16) cost a small table per handful of routes (measured:
    /// 50 bytes per path more, and a third more RIB time, with 100 VRFs). The RD is the
    /// block's, so the table holds the prefix alone.
    type Block = RdBlock;
    type Inner = Prefix4;
    fn split(self) -> (RdBlock, Prefix4) {
        // The /8 taken from the address as one integer: taken as its first octet, the
        // compiler copied the prefix as that octet and the four bytes after it, and every
        // later 4-byte read of the address waited for both stores (a store-forwarding stall
        // per route, which also made it wait for the previous route's stores to the tables).
        let top = (u32::from(self.prefix.addr()) >> 24) as u16;
        (RdBlock { rd: self.rd, top }, self.prefix)
    }
    fn join(block: RdBlock, prefix: Prefix4) -> Vpn4 {
        Vpn4::new(block.rd, prefix)
    }
}

impl Blocked for Vpn6 {
    /// As `Vpn4`, with the prefix's /16.
    type Block = RdBlock;
    type Inner = Prefix6;
    fn split(self) -> (RdBlock, Prefix6) {
        let top = (u128::from(self.prefix.addr()) >> 112) as u16;
        (RdBlock { rd: self.rd, top }, self.prefix)
    }
    fn join(block: RdBlock, prefix: Prefix6) -> Vpn6 {
        Vpn6::new(block.rd, prefix)
    }
}

impl Blocked for EvpnKey {
    /// The RD with the route type: a PE sends an EVI's routes (one RD) together, and its
    /// MAC routes apart from its multicast and prefix routes. A route without an RD
    /// (an unknown type) is blocked by its type alone.
    /// The table holds the whole key: its RD is one of its fields, not a prefix of it.
    type Block = ([u8; 8], u8);
    type Inner = EvpnKey;
    fn split(self) -> (([u8; 8], u8), EvpnKey) {
        let rd = self.rd().map_or([0; 8], |rd| rd.0);
        ((rd, self.route_type()), self)
    }
    fn join(_: ([u8; 8], u8), inner: EvpnKey) -> EvpnKey {
        inner
    }
}

impl Blocked for crate::wire::rtc::RtcNlri {
    /// The route target's global administrator: a few thousand memberships at most, from
    /// a few administrators.
    type Block = u32;
    type Inner = crate::wire::rtc::RtcNlri;
    fn split(self) -> (u32, crate::wire::rtc::RtcNlri) {
        let [_, _, a, b, c, d, ..] = self.target_octets();
        (u32::from_be_bytes([a, b, c, d]), self)
    }
    fn join(_: u32, inner: crate::wire::rtc::RtcNlri) -> crate::wire::rtc::RtcNlri {
        inner
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
        let mut all: Vec<(Prefix4, u32)> = map.iter().map(|(k, v)| (k, *v)).collect();
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

    #[test]
    fn vpn_routes_are_kept_by_rd_and_slash8_and_come_back_whole() {
        let mut map = PrefixMap::default();
        let v = |s: &str| s.parse::<Vpn4>().unwrap();
        let keys = [
            v("65000:1:10.0.0.0/24"),
            v("65000:1:10.1.0.0/16"),
            v("65000:2:10.0.0.0/24"),
            v("65000:1:11.0.0.0/8"),
            v("1.2.3.4:1:10.0.0.0/24"),
        ];
        for (i, k) in keys.iter().enumerate() {
            map.insert_new(*k, i);
        }
        // Same prefix under another RD is another route, in another block.
        assert_eq!((map.len(), map.blocks()), (5, 4));
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(map.get(k), Some(&i));
        }
        let mut all: Vec<(Vpn4, usize)> = map.iter().map(|(k, v)| (k, *v)).collect();
        all.sort_unstable_by_key(|(_, i)| *i);
        assert_eq!(all, keys.iter().copied().zip(0..).collect::<Vec<_>>());
        assert_eq!(map.remove(&keys[2]), Some(2));
        assert_eq!(map.get(&keys[2]), None);
        assert_eq!((map.len(), map.blocks()), (4, 3));
        let six = "65000:1:2001:db8::/32".parse::<Vpn6>().unwrap();
        let mut m6 = PrefixMap::default();
        m6.insert_new(six, ());
        assert_eq!(m6.iter().map(|(k, _)| k).collect::<Vec<_>>(), vec![six]);
    }
}
