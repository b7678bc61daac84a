//! Value types shared by the codec, the FSM and the RIB: address families, prefixes,
//! next hops and the decoded path-attribute set. Plain data; no I/O.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// An (AFI, SAFI) pair this implementation knows how to carry.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Ipv4Unicast,
    Ipv6Unicast,
    Ipv4Vpn,
    Ipv6Vpn,
    L2vpnEvpn,
    /// Route Target membership (RFC 4684).
    RtConstraint,
}

pub const AFI_IPV4: u16 = 1;
pub const AFI_IPV6: u16 = 2;
pub const AFI_L2VPN: u16 = 25;
pub const SAFI_UNICAST: u8 = 1;
pub const SAFI_EVPN: u8 = 70;
pub const SAFI_MPLS_VPN: u8 = 128;
pub const SAFI_RT_CONSTRAINT: u8 = 132;

impl Family {
    pub const ALL: [Family; 6] = [
        Family::Ipv4Unicast,
        Family::Ipv6Unicast,
        Family::Ipv4Vpn,
        Family::Ipv6Vpn,
        Family::L2vpnEvpn,
        Family::RtConstraint,
    ];

    pub fn afi_safi(self) -> (u16, u8) {
        match self {
            Family::Ipv4Unicast => (AFI_IPV4, SAFI_UNICAST),
            Family::Ipv6Unicast => (AFI_IPV6, SAFI_UNICAST),
            Family::Ipv4Vpn => (AFI_IPV4, SAFI_MPLS_VPN),
            Family::Ipv6Vpn => (AFI_IPV6, SAFI_MPLS_VPN),
            Family::L2vpnEvpn => (AFI_L2VPN, SAFI_EVPN),
            Family::RtConstraint => (AFI_IPV4, SAFI_RT_CONSTRAINT),
        }
    }

    pub fn from_afi_safi(afi: u16, safi: u8) -> Option<Family> {
        Family::ALL
            .into_iter()
            .find(|f| f.afi_safi() == (afi, safi))
    }

    /// The name used in the config file and the CLI (`ipv4-unicast`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Family::Ipv4Unicast => "ipv4-unicast",
            Family::Ipv6Unicast => "ipv6-unicast",
            Family::Ipv4Vpn => "ipv4-vpn",
            Family::Ipv6Vpn => "ipv6-vpn",
            Family::L2vpnEvpn => "l2vpn-evpn",
            Family::RtConstraint => "rt-constraint",
        }
    }

    pub fn from_name(name: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.name() == name)
    }

    /// A BGP/MPLS VPN family (SAFI 128): its routes are keyed by RD + prefix.
    pub fn is_vpn(self) -> bool {
        matches!(self, Family::Ipv4Vpn | Family::Ipv6Vpn)
    }

    /// Bit for `FamilySet`.
    pub const fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl std::str::FromStr for Family {
    type Err = String;

    /// A family's config/CLI name; the error lists the valid ones.
    fn from_str(s: &str) -> Result<Family, String> {
        Family::from_name(s).ok_or_else(|| {
            let names: Vec<&str> = Family::ALL.iter().map(|f| f.name()).collect();
            format!("unknown family {s:?}: one of {}", names.join(", "))
        })
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A small set of families (negotiated families, ADD-PATH directions, ...).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FamilySet(pub u8);

impl FamilySet {
    pub const EMPTY: FamilySet = FamilySet(0);
    pub const fn with(self, f: Family) -> Self {
        FamilySet(self.0 | f.bit())
    }
    pub fn insert(&mut self, f: Family) {
        self.0 |= f.bit();
    }
    pub fn contains(self, f: Family) -> bool {
        self.0 & f.bit() != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = Family> {
        Family::ALL.into_iter().filter(move |f| self.contains(*f))
    }
}

impl FromIterator<Family> for FamilySet {
    fn from_iter<I: IntoIterator<Item = Family>>(iter: I) -> Self {
        let mut s = FamilySet::EMPTY;
        for f in iter {
            s.insert(f);
        }
        s
    }
}

/// An IPv4 prefix, packed to 5 bytes (alignment 1) because the RIB stores millions.
/// Invariant: `len <= 32` and host bits are zero.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Prefix4 {
    addr: [u8; 4],
    len: u8,
}

/// An IPv6 prefix, packed to 17 bytes. Invariant: `len <= 128` and host bits are zero.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Prefix6 {
    addr: [u8; 16],
    len: u8,
}

// The RIB hashes a prefix several times per change: as whole integers, not as the derived
// slice-with-length and byte. What each feeds the hasher determines the prefix, as the
// derived form did, so no two prefixes collide before the (seeded) hasher mixes them.
impl std::hash::Hash for Prefix4 {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(u64::from(u32::from_be_bytes(self.addr)) << 8 | u64::from(self.len));
    }
}

impl std::hash::Hash for Prefix6 {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u128(u128::from_be_bytes(self.addr));
        state.write_u8(self.len);
    }
}

fn mask_bytes<const N: usize>(mut addr: [u8; N], len: u8) -> [u8; N] {
    let len = len as usize;
    for (i, b) in addr.iter_mut().enumerate() {
        let bits_before = i * 8;
        if bits_before >= len {
            *b = 0;
        } else if len - bits_before < 8 {
            *b &= 0xffu8 << (8 - (len - bits_before));
        }
    }
    addr
}

impl Prefix4 {
    /// None if `len > 32`; host bits are cleared.
    pub fn new(addr: Ipv4Addr, len: u8) -> Option<Prefix4> {
        (len <= 32).then(|| Prefix4 {
            addr: mask_bytes(addr.octets(), len),
            len,
        })
    }
    pub fn addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.addr)
    }
    pub fn octets(&self) -> [u8; 4] {
        self.addr
    }
    pub fn len(&self) -> u8 {
        self.len
    }
    pub fn contains(&self, other: &Prefix4) -> bool {
        other.len >= self.len && mask_bytes(other.addr, self.len) == self.addr
    }
}

impl Prefix6 {
    /// None if `len > 128`; host bits are cleared.
    pub fn new(addr: Ipv6Addr, len: u8) -> Option<Prefix6> {
        (len <= 128).then(|| Prefix6 {
            addr: mask_bytes(addr.octets(), len),
            len,
        })
    }
    pub fn addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.addr)
    }
    pub fn octets(&self) -> [u8; 16] {
        self.addr
    }
    pub fn len(&self) -> u8 {
        self.len
    }
    pub fn contains(&self, other: &Prefix6) -> bool {
        other.len >= self.len && mask_bytes(other.addr, self.len) == self.addr
    }
}

macro_rules! prefix_fmt_parse {
    ($t:ty, $addr:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}/{}", self.addr(), self.len)
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }
        impl std::str::FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                let (a, l) = s
                    .split_once('/')
                    .ok_or_else(|| format!("{s:?} is not ADDRESS/LENGTH"))?;
                let addr: $addr = a.parse().map_err(|_| format!("{a:?} is not an address"))?;
                let len: u8 = l
                    .parse()
                    .map_err(|_| format!("{l:?} is not a prefix length"))?;
                <$t>::new(addr, len).ok_or_else(|| format!("prefix length {len} is too long"))
            }
        }
    };
}
prefix_fmt_parse!(Prefix4, Ipv4Addr);
prefix_fmt_parse!(Prefix6, Ipv6Addr);

/// Next hop of a route, as carried by NEXT_HOP (IPv4 unicast) or MP_REACH_NLRI.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum NextHop {
    #[default]
    None,
    V4(Ipv4Addr),
    V6 {
        global: Ipv6Addr,
        link_local: Option<Ipv6Addr>,
    },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(u8)]
pub enum Origin {
    #[default]
    Igp = 0,
    Egp = 1,
    Incomplete = 2,
}

impl Origin {
    /// The ORIGIN attribute's value octet; None for an undefined one.
    pub fn from_octet(v: u8) -> Option<Origin> {
        match v {
            0 => Some(Origin::Igp),
            1 => Some(Origin::Egp),
            2 => Some(Origin::Incomplete),
            _ => None,
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum SegmentKind {
    Set = 1,
    Sequence = 2,
    ConfedSequence = 3,
    ConfedSet = 4,
}

/// One AS_PATH segment. ASNs are always 4 octets here: the codec converts from 2-octet
/// AS_PATH + AS4_PATH on decode (RFC 6793 §4.2.3) and back on encode toward 2-octet peers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AsSegment {
    pub kind: SegmentKind,
    pub asns: Vec<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct AsPath {
    pub segments: Vec<AsSegment>,
}

impl AsPath {
    /// Path length for best-path selection (RFC 4271 §9.1.2.2 a): a SET counts as 1,
    /// confederation segments count 0 (RFC 5065 §5.3).
    pub fn route_len(&self) -> usize {
        self.segments
            .iter()
            .map(|s| match s.kind {
                SegmentKind::Sequence => s.asns.len(),
                SegmentKind::Set => 1,
                SegmentKind::ConfedSequence | SegmentKind::ConfedSet => 0,
            })
            .sum()
    }

    /// The neighbor AS for MED comparison: first AS of the first SEQUENCE segment.
    pub fn first_as(&self) -> Option<u32> {
        match self.segments.first() {
            Some(s) if s.kind == SegmentKind::Sequence => s.asns.first().copied(),
            _ => None,
        }
    }
}

impl fmt::Display for AsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.segments {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            let (open, close) = match s.kind {
                SegmentKind::Sequence => ("", ""),
                SegmentKind::Set => ("{", "}"),
                SegmentKind::ConfedSequence => ("(", ")"),
                SegmentKind::ConfedSet => ("[", "]"),
            };
            f.write_str(open)?;
            for (i, a) in s.asns.iter().enumerate() {
                if i > 0 {
                    f.write_str(if s.kind == SegmentKind::Sequence {
                        " "
                    } else {
                        ","
                    })?;
                }
                write!(f, "{a}")?;
            }
            f.write_str(close)?;
        }
        Ok(())
    }
}

/// An attribute this implementation does not interpret, kept to be passed on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RawAttr {
    pub flags: u8,
    pub code: u8,
    pub data: Vec<u8>,
}

/// What a route reflector adds to an attribute set it sends (RFC 4456 §8): ORIGINATOR_ID
/// (unless the set already has one) and its CLUSTER_ID prepended to CLUSTER_LIST. The
/// encoder applies it, so a stored set is sent without being copied first.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reflect {
    pub originator_id: Ipv4Addr,
    pub cluster_id: Ipv4Addr,
}

/// The path attributes of a route, decoded. This is the value the RIB interns, so it holds
/// the per-family next hop (NEXT_HOP for IPv4 unicast, MP_REACH's next hop otherwise):
/// the RIB sets `next_hop` per family before interning.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct PathAttrs {
    pub origin: Origin,
    pub as_path: AsPath,
    pub next_hop: NextHop,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub atomic_aggregate: bool,
    /// (AS, router id); the AS is 4 octets (AS4_AGGREGATOR merged on decode).
    pub aggregator: Option<(u32, Ipv4Addr)>,
    pub communities: Vec<u32>,
    pub ext_communities: Vec<[u8; 8]>,
    pub large_communities: Vec<[u32; 3]>,
    pub originator_id: Option<Ipv4Addr>,
    pub cluster_list: Vec<Ipv4Addr>,
    /// Optional transitive attributes we do not interpret (passed on with the Partial bit
    /// set, RFC 4271 §5). Optional non-transitive unknown attributes are dropped on decode.
    pub unknown: Vec<RawAttr>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_new_clears_host_bits() {
        let p = Prefix4::new("10.1.2.3".parse().unwrap(), 16).unwrap();
        assert_eq!(p.to_string(), "10.1.0.0/16");
        let p = Prefix6::new("2001:db8::1".parse().unwrap(), 33).unwrap();
        assert_eq!(p.to_string(), "2001:db8::/33");
        assert!(Prefix4::new(Ipv4Addr::UNSPECIFIED, 33).is_none());
    }

    #[test]
    fn prefix_parse_and_contains() {
        let a: Prefix4 = "10.0.0.0/8".parse().unwrap();
        let b: Prefix4 = "10.9.0.0/16".parse().unwrap();
        assert!(a.contains(&b) && !b.contains(&a));
        assert!("10.0.0.0".parse::<Prefix4>().is_err());
    }

    #[test]
    fn prefix4_is_packed() {
        assert_eq!(std::mem::size_of::<Prefix4>(), 5);
        assert_eq!(std::mem::size_of::<Prefix6>(), 17);
    }

    #[test]
    fn as_path_length_counts_set_as_one() {
        let p = AsPath {
            segments: vec![
                AsSegment {
                    kind: SegmentKind::Sequence,
                    asns: vec![1, 2, 3],
                },
                AsSegment {
                    kind: SegmentKind::Set,
                    asns: vec![4, 5],
                },
            ],
        };
        assert_eq!(p.route_len(), 4);
        assert_eq!(p.to_string(), "1 2 3 {4,5}");
    }
}
