//! BGP/MPLS VPN NLRI (RFC 4364 §4.3.4 VPN-IPv4, RFC 4659 §3.2 VPN-IPv6; SAFI 128) with the
//! label encoding of RFC 8277 §2.
//!
//! ```text
//! +---------------------------+
//! |   Length (1, in bits)     |   24 (label) + 64 (RD) + prefix length
//! +---------------------------+
//! |   Label (3)               |   20-bit label, 3 bits TC, bottom-of-stack bit
//! +---------------------------+
//! |   Route Distinguisher (8) |
//! +---------------------------+
//! |   Prefix (ceil(len/8))    |
//! +---------------------------+
//! ```
//!
//! A route's key is RD + prefix (`Vpn4`, `Vpn6`): two routes that differ only in their
//! label are the same route from different paths, so the label is per path and travels
//! with the path's attributes (`stored`), never in the key. Without the Multiple Labels
//! capability (RFC 8277 §2.1), which reflectd does not advertise, every NLRI carries
//! exactly one label; a withdrawal's label is ignored on receipt and sent as 0x800000
//! (RFC 8277 §2.4).

use super::nlri::{Nlri, NlriError};
use super::rd::Rd;
use super::reader::Reader;
use super::types::{Family, Prefix4, Prefix6};
use std::fmt;

/// One MPLS label stack entry as it is on the wire: 20-bit label, traffic class and the
/// bottom-of-stack bit. Kept raw, so a label is reflected bit for bit.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Default)]
pub struct Label(pub [u8; 3]);

impl Label {
    /// RFC 8277 §2.4: the label field of a withdrawal, for compatibility with RFC 3107.
    pub const WITHDRAWN: Label = Label([0x80, 0, 0]);

    /// The 20-bit label value.
    pub fn value(self) -> u32 {
        (u32::from(self.0[0]) << 16 | u32::from(self.0[1]) << 8 | u32::from(self.0[2])) >> 4
    }

    /// `value` with the bottom-of-stack bit set, as routers send a single label.
    pub fn new(value: u32) -> Label {
        let v = (value & 0xf_ffff) << 4 | 1;
        Label([(v >> 16) as u8, (v >> 8) as u8, v as u8])
    }

    /// The label a VPN path's stored path data holds (`stored::path_data`: the label's 3
    /// bytes); None for data of another size.
    pub fn from_path_data(data: &[u8]) -> Option<Label> {
        data.try_into().ok().map(Label)
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value())
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Label({})", self.value())
    }
}

/// Bits the label and RD add to a VPN NLRI's length field.
const LABEL_RD_BITS: u8 = 24 + 64;

macro_rules! vpn_nlri {
    ($name:ident, $prefix:ty, $family:expr, $addr_bytes:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name {
            pub rd: Rd,
            pub prefix: $prefix,
        }

        impl $name {
            pub fn new(rd: Rd, prefix: $prefix) -> $name {
                $name { rd, prefix }
            }

            /// The NLRI with `label` (RFC 8277 §2).
            pub fn encode_labeled(&self, label: Label, out: &mut Vec<u8>) {
                // Put together here and copied once: four pieces appended one by one cost
                // four checks of the vector's room per route sent.
                let n = (self.prefix.len() as usize).div_ceil(8);
                let mut b = [0u8; 12 + $addr_bytes];
                b[0] = LABEL_RD_BITS + self.prefix.len();
                b[1..4].copy_from_slice(&label.0);
                b[4..12].copy_from_slice(&self.rd.0);
                b[12..].copy_from_slice(&self.prefix.octets());
                out.extend_from_slice(&b[..12 + n]);
            }
        }

        impl Nlri for $name {
            const FAMILY: Family = $family;
            const PATH_DATA: bool = true;
            fn wire_len(&self) -> usize {
                1 + 3 + 8 + (self.prefix.len() as usize).div_ceil(8)
            }
            fn encode(&self, out: &mut Vec<u8>) {
                self.encode_labeled(Label::WITHDRAWN, out)
            }
            /// `data` is the path's label; anything else (no stored set holds it) is
            /// written as the withdrawal label, never as a malformed NLRI.
            fn encode_with(&self, data: &[u8], out: &mut Vec<u8>) {
                let label = Label::from_path_data(data).unwrap_or(Label::WITHDRAWN);
                self.encode_labeled(label, out)
            }
        }

        impl fmt::Display for $name {
            /// `RD:PREFIX`, as GoBGP prints VPN routes ("65000:1:10.0.0.0/24").
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}:{}", self.rd, self.prefix)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            /// `RD:PREFIX`: the RD is the first two `:`-separated fields.
            fn from_str(s: &str) -> Result<$name, String> {
                let mut it = s.splitn(3, ':');
                let (Some(a), Some(b), Some(p)) = (it.next(), it.next(), it.next()) else {
                    return Err(format!("{s:?} is not RD:PREFIX (e.g. 65000:1:10.0.0.0/24)"));
                };
                Ok($name {
                    rd: format!("{a}:{b}").parse()?,
                    prefix: p.parse()?,
                })
            }
        }

        impl $name {
            /// Appends the VPN routes in `buf` to `out`, keys and labels in parallel.
            pub(crate) fn decode_list(
                buf: &[u8],
                add_path: bool,
                out: &mut Labeled<$name>,
            ) -> Result<(), NlriError> {
                // An NLRI takes at least 12 bytes (16 with ADD-PATH): the bound is the input's.
                let most = buf.len() / if add_path { 16 } else { 12 };
                out.keys.reserve(most);
                out.labels.reserve(most);
                $name::walk(buf, add_path, |label, key| out.push(key, label))
            }

            /// The routes in `buf` if there is at least one and all carry one label: each key
            /// given to `push` (no vector of labels), and that label returned. None: routes
            /// of several labels, or what `decode_list` refuses.
            pub(crate) fn decode_one_label(
                buf: &[u8],
                add_path: bool,
                mut push: impl FnMut($name),
            ) -> Option<Label> {
                let (mut first, mut one) = (None, true);
                $name::walk(buf, add_path, |label, key| {
                    one &= *first.get_or_insert(label) == label;
                    push(key);
                })
                .ok()?;
                first.filter(|_| one)
            }

            /// Calls `each` with every route's label and key in `buf`, in order.
            fn walk(
                buf: &[u8],
                add_path: bool,
                mut each: impl FnMut(Label, $name),
            ) -> Result<(), NlriError> {
                let mut r = Reader::new(buf);
                while !r.is_empty() {
                    if add_path {
                        r.u32().ok_or("truncated ADD-PATH path identifier")?;
                    }
                    let bits = r.u8().ok_or("truncated VPN prefix length")?;
                    let len = bits
                        .checked_sub(LABEL_RD_BITS)
                        .ok_or("VPN prefix length shorter than its label and RD")?;
                    if usize::from(len) > $addr_bytes * 8 {
                        return Err("VPN prefix length too long for the family");
                    }
                    let label = r.take(3).ok_or("truncated VPN label")?;
                    let rd = r.take(8).ok_or("truncated route distinguisher")?;
                    let bytes = r
                        .take(usize::from(len).div_ceil(8))
                        .ok_or("VPN prefix runs past the end of its field")?;
                    let mut addr = [0u8; $addr_bytes];
                    addr[..bytes.len()].copy_from_slice(bytes);
                    let rd = Rd(rd.try_into().map_err(|_| "truncated route distinguisher")?);
                    let label = Label(label.try_into().map_err(|_| "truncated VPN label")?);
                    let prefix = <$prefix>::new(addr.into(), len).ok_or("bad VPN prefix")?;
                    each(label, $name { rd, prefix });
                }
                Ok(())
            }
        }
    };
}

vpn_nlri!(
    Vpn4,
    Prefix4,
    Family::Ipv4Vpn,
    4,
    "A VPN-IPv4 route's key: RD + IPv4 prefix (13 bytes, alignment 1)."
);
vpn_nlri!(
    Vpn6,
    Prefix6,
    Family::Ipv6Vpn,
    16,
    "A VPN-IPv6 route's key: RD + IPv6 prefix (25 bytes, alignment 1)."
);

/// Routes as an UPDATE carries them, each key with its path data (`Nlri::PATH_DATA`: a VPN
/// route's label, an EVPN route's `evpn::PathData`), in parallel vectors so that the RIB
/// takes the keys as one slice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Labeled<N, D = Label> {
    pub keys: Vec<N>,
    pub labels: Vec<D>,
}

impl<N, D> Default for Labeled<N, D> {
    fn default() -> Self {
        Labeled {
            keys: Vec::new(),
            labels: Vec::new(),
        }
    }
}

impl<N: Copy, D: Clone + Eq + std::hash::Hash> Labeled<N, D> {
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn push(&mut self, key: N, label: D) {
        self.keys.push(key);
        self.labels.push(label);
    }

    /// The routes split into runs of one label (or path data) each, in order of first
    /// appearance: a router that allocates a label per VRF sends one run per UPDATE, so
    /// the common case is one run, handed back without a copy.
    pub fn by_label(self) -> Vec<(D, Vec<N>)> {
        let Some(first) = self.labels.first() else {
            return Vec::new();
        };
        if self.labels.iter().all(|l| l == first) {
            return vec![(first.clone(), self.keys)];
        }
        // A label per prefix is allowed too: the runs are indexed, not searched.
        let mut at: hashbrown::HashMap<D, usize> = hashbrown::HashMap::new();
        let mut runs: Vec<(D, Vec<N>)> = Vec::new();
        for (k, l) in self.keys.into_iter().zip(self.labels) {
            let i = *at.entry(l.clone()).or_insert_with(|| {
                runs.push((l, Vec::new()));
                runs.len() - 1
            });
            runs[i].1.push(k);
        }
        runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> Vpn4 {
        s.parse().unwrap()
    }

    /// RFC 4364 / RFC 8277 layout: label 100 (0x00064 << 4 | BoS), RD 65000:1, 10.1.0.0/16.
    const ONE: [u8; 14] = [
        88 + 16,
        0x00,
        0x06,
        0x41,
        0,
        0,
        0xfd,
        0xe8,
        0,
        0,
        0,
        1,
        10,
        1,
    ];

    #[test]
    fn a_vpn_route_decodes_to_its_rd_prefix_and_label_and_encodes_back() {
        let mut l = Labeled::default();
        Vpn4::decode_list(&ONE, false, &mut l).unwrap();
        assert_eq!(l.keys, [v4("65000:1:10.1.0.0/16")]);
        assert_eq!(l.labels, [Label::new(100)]);
        assert_eq!(l.labels[0].value(), 100);
        let mut out = Vec::new();
        l.keys[0].encode_labeled(l.labels[0], &mut out);
        assert_eq!(out, ONE);
        assert_eq!(l.keys[0].wire_len(), ONE.len());
    }

    #[test]
    fn a_withdrawal_carries_the_compatibility_label() {
        let mut out = Vec::new();
        v4("65000:1:10.1.0.0/16").encode(&mut out);
        assert_eq!(out[1..4], [0x80, 0, 0]);
        assert_eq!(out[4..], ONE[4..]);
    }

    #[test]
    fn ipv6_vpn_routes_round_trip_with_add_path_ids() {
        let keys: Vec<Vpn6> = [
            "65000:1:2001:db8::/32",
            "192.0.2.1:7:::/0",
            "4200000000:2:2001:db8:1::1/128",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let mut wire = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            wire.extend_from_slice(&(i as u32).to_be_bytes());
            k.encode_labeled(Label::new(16 + i as u32), &mut wire);
        }
        let mut l = Labeled::default();
        Vpn6::decode_list(&wire, true, &mut l).unwrap();
        assert_eq!(l.keys, keys);
        assert_eq!(l.labels[2], Label::new(18));
        assert_eq!(keys[1].to_string(), "192.0.2.1:7:::/0");
    }

    #[test]
    fn malformed_vpn_routes_are_errors() {
        let mut l = Labeled::<Vpn4>::default();
        // Length below label + RD, beyond the family, truncated RD, truncated prefix.
        for bad in [&[87u8][..], &[88 + 33], &ONE[..8], &ONE[..13], &[]] {
            let r = Vpn4::decode_list(bad, false, &mut l);
            assert!(bad.is_empty() == r.is_ok(), "{bad:?}");
        }
        let mut l6 = Labeled::<Vpn6>::default();
        assert!(Vpn6::decode_list(&[88 + 129; 30], false, &mut l6).is_err());
    }

    #[test]
    fn routes_split_into_runs_of_one_label() {
        let mut l = Labeled::default();
        l.push(v4("1:1:10.0.0.0/8"), Label::new(5));
        l.push(v4("1:1:11.0.0.0/8"), Label::new(5));
        assert_eq!(l.clone().by_label().len(), 1);
        l.push(v4("1:1:12.0.0.0/8"), Label::new(6));
        l.push(v4("1:1:13.0.0.0/8"), Label::new(5));
        let runs = l.by_label();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].1.len(), 3);
        assert_eq!(runs[1], (Label::new(6), vec![v4("1:1:12.0.0.0/8")]));
    }
}
