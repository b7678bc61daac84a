//! TEMPORARY: `wire::Nlri` for the unicast prefixes, until the codec (which owns these
//! impls, `src/wire/nlri.rs`) is merged into main. Delete this file and its `mod` line on
//! `git merge main` once the codec has landed (duplicate impls will not compile).

use crate::wire::{Family, Nlri, NlriSet, Prefix4, Prefix6};

impl Nlri for Prefix4 {
    const FAMILY: Family = Family::Ipv4Unicast;
    fn wire_len(&self) -> usize {
        1 + (self.len() as usize).div_ceil(8)
    }
    fn encode(&self, out: &mut Vec<u8>) {
        let n = (self.len() as usize).div_ceil(8);
        out.push(self.len());
        out.extend_from_slice(&self.octets()[..n]);
    }
    fn into_set(v: Vec<Self>) -> NlriSet {
        NlriSet::Ipv4Unicast(v)
    }
}

impl Nlri for Prefix6 {
    const FAMILY: Family = Family::Ipv6Unicast;
    fn wire_len(&self) -> usize {
        1 + (self.len() as usize).div_ceil(8)
    }
    fn encode(&self, out: &mut Vec<u8>) {
        let n = (self.len() as usize).div_ceil(8);
        out.push(self.len());
        out.extend_from_slice(&self.octets()[..n]);
    }
    fn into_set(v: Vec<Self>) -> NlriSet {
        NlriSet::Ipv6Unicast(v)
    }
}
