//! An attribute set made ready to intern on the thread that decoded it: its stored form
//! (`wire::stored`), the hash of that form and what best-path selection reads of it
//! (`Rank`). Workers make these; the RIB thread only looks them up (`rib::attrs`). Owns the
//! process-wide interning hasher, so that every thread hashes alike; holds no table.

use crate::wire::community::WellKnown;
use crate::wire::scan::ScannedAttrs;
use crate::wire::{stored, Label, NextHop, Origin, PathAttrs};
use hashbrown::DefaultHashBuilder;
use std::hash::BuildHasher;
use std::net::Ipv4Addr;
use std::sync::Arc;

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
    /// The next hop is IPv6: in an IPv4 family, only peers that agreed RFC 8950 may be sent
    /// the route (not a decision input either; read by `rib::reflect`).
    pub v6_next_hop: bool,
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
            v6_next_hop: matches!(attrs.next_hop, NextHop::V6 { .. }),
        }
    }
}

/// An attribute set made ready to intern (`rib::attrs::AttrTable::intern_prepared`): its
/// stored form, the hash of that form and its rank. Workers prepare the sets they decode, so
/// the RIB thread, which every UPDATE goes through, only looks the set up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prepared {
    /// Already the table's own form: a new set moves in without a copy on the RIB thread.
    pub set: Arc<[u8]>,
    /// Of `set`, by the process-wide interning hasher.
    pub hash: u64,
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
        Prepared::labeled(attrs, next_hop, None)
    }

    /// `with_next_hop` for a path of a labeled family (VPN): its label is part of its set.
    pub fn labeled(attrs: &PathAttrs, next_hop: &NextHop, label: Option<Label>) -> Prepared {
        Prepared::stored(
            attrs,
            next_hop,
            stored::store_labeled(attrs, next_hop, label),
        )
    }

    /// `with_next_hop` for a path with NLRI fields of its own (EVPN): they are part of its
    /// set (`stored::store_path`).
    pub fn with_path_data(attrs: &PathAttrs, next_hop: &NextHop, data: &[u8]) -> Prepared {
        Prepared::stored(
            attrs,
            next_hop,
            stored::store_path(attrs, next_hop, Some(data)),
        )
    }

    /// `attrs` with `next_hop`, in their stored form `set`.
    fn stored(attrs: &PathAttrs, next_hop: &NextHop, set: Vec<u8>) -> Prepared {
        let set: Arc<[u8]> = set.into();
        let asns = attrs.as_path.segments.iter().flat_map(|seg| &seg.asns);
        Prepared {
            hash: hasher().hash_one(&set[..]),
            set,
            rank: Rank {
                v6_next_hop: matches!(next_hop, NextHop::V6 { .. }),
                ..Rank::of(attrs)
            },
            as_bits: as_bits(asns.copied()),
        }
    }

    pub fn of(attrs: &PathAttrs) -> Prepared {
        Prepared::with_next_hop(attrs, &attrs.next_hop)
    }

    /// A set read in place (`wire::scan`): equal to `of` on the decoded set.
    pub fn scanned(a: &ScannedAttrs) -> Prepared {
        Prepared::scanned_set(a, stored::scanned(a))
    }

    /// A VPN path read in place (`wire::scan::vpn_update`): equal to `labeled` on the
    /// decoded set.
    pub fn scanned_vpn(a: &ScannedAttrs, next_hop: &NextHop, label: Label) -> Prepared {
        let mut p = Prepared::scanned_set(a, stored::scanned_vpn(a, next_hop, label));
        p.rank.v6_next_hop = matches!(next_hop, NextHop::V6 { .. });
        p
    }

    fn scanned_set(a: &ScannedAttrs, set: Arc<[u8]>) -> Prepared {
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
                v6_next_hop: false,
            },
            as_bits: as_bits(a.asns()),
        }
    }

    /// False if `asn` is certainly not in the AS_PATH (true: it may be).
    pub fn may_have_as(&self, asn: u32) -> bool {
        self.as_bits & as_bit(asn) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
