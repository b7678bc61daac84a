//! Route Targets (RFC 4360 §4, RFC 5668 §2, as RFC 4364 §4.3.1 uses them): the extended
//! communities that say which VRFs import a VPN route, read out of a route's
//! EXTENDED_COMMUNITIES. RT-Constraint (`rtc`, RFC 4684) matches these against a peer's
//! membership. Kept as the 8 wire bytes: the RIB compares and hashes them, people read them.
//!
//! ```text
//! +--------+---------+----------------------------------------+
//! | Type   | Sub-    | Value (6)                              |
//! |  (1)   | type(1) |                                        |
//! +--------+---------+----------------------------------------+
//!   0x00     0x02     2-octet ASN : 4-octet number     "65000:100"
//!   0x01     0x02     IPv4 address : 2-octet number    "192.0.2.1:100"
//!   0x02     0x02     4-octet ASN : 2-octet number     "4200000000:100", "0.65000:100"
//! ```
//!
//! Only these transitive types are route targets. Bit 0x40 of the type marks the
//! non-transitive variants (0x40, 0x41, 0x42): RFC 4360 §4 gives them a route-target sub-type
//! too, but RFC 4364 route distribution only uses the transitive ones, and a non-transitive
//! community would not survive the trip between ASes anyway, so they are skipped here as any
//! other community is. IPv6-address-specific targets (RFC 5701) live in another attribute
//! (type 25) and are not read here.
//!
//! Text: a 4-octet-AS target whose ASN would also fit 2 octets prints in asdot form
//! ("0.65000:100", RFC 5396) so that every target reads back as the one printed.
//!
//! Nothing here allocates or panics, whatever the bytes.

use super::attr_code::{next_attr, EXT_COMMUNITIES};
use std::fmt;
use std::net::Ipv4Addr;

/// The route-target sub-type shared by the three types (RFC 4360 §4, RFC 5668 §2).
pub const SUBTYPE: u8 = 0x02;
/// Transitive Two-Octet AS-Specific (RFC 4360 §3.1).
pub const TYPE_AS2: u8 = 0x00;
/// Transitive IPv4-Address-Specific (RFC 4360 §3.2).
pub const TYPE_IPV4: u8 = 0x01;
/// Transitive Four-Octet AS-Specific (RFC 5668 §2).
pub const TYPE_AS4: u8 = 0x02;

/// One route target: 8 bytes whose type is 0x00, 0x01 or 0x02 and sub-type 0x02.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteTarget([u8; 8]);

impl RouteTarget {
    /// The community as a route target, if it is one.
    pub fn from_ext_community(c: [u8; 8]) -> Option<RouteTarget> {
        match c {
            [TYPE_AS2 | TYPE_IPV4 | TYPE_AS4, SUBTYPE, ..] => Some(RouteTarget(c)),
            _ => None,
        }
    }

    /// `asn:n`, type 0x00.
    pub fn as2(asn: u16, n: u32) -> RouteTarget {
        let mut b = [TYPE_AS2, SUBTYPE, 0, 0, 0, 0, 0, 0];
        b[2..4].copy_from_slice(&asn.to_be_bytes());
        b[4..].copy_from_slice(&n.to_be_bytes());
        RouteTarget(b)
    }

    /// `a.b.c.d:n`, type 0x01.
    pub fn ipv4(addr: Ipv4Addr, n: u16) -> RouteTarget {
        let mut b = [TYPE_IPV4, SUBTYPE, 0, 0, 0, 0, 0, 0];
        b[2..6].copy_from_slice(&addr.octets());
        b[6..].copy_from_slice(&n.to_be_bytes());
        RouteTarget(b)
    }

    /// `asn:n` with a 4-octet ASN, type 0x02.
    pub fn as4(asn: u32, n: u16) -> RouteTarget {
        let mut b = [TYPE_AS4, SUBTYPE, 0, 0, 0, 0, 0, 0];
        b[2..6].copy_from_slice(&asn.to_be_bytes());
        b[6..].copy_from_slice(&n.to_be_bytes());
        RouteTarget(b)
    }

    /// The wire bytes (the extended community itself).
    pub fn octets(&self) -> [u8; 8] {
        self.0
    }

    /// The wire bytes as one big-endian number: what RT-Constraint prefixes are taken of.
    pub fn to_u64(&self) -> u64 {
        u64::from_be_bytes(self.0)
    }

    /// The type octet (`TYPE_AS2`, `TYPE_IPV4` or `TYPE_AS4`).
    pub fn kind(&self) -> u8 {
        self.0[0]
    }
}

/// The route targets among extended communities held as 8-byte values, in their order
/// (`PathAttrs::ext_communities`). Duplicates are not removed: matching does not care.
pub fn targets(communities: &[[u8; 8]]) -> Targets<'_> {
    Targets(communities.as_flattened().chunks_exact(8))
}

/// The route targets in the value of an EXTENDED_COMMUNITIES attribute (type 16). None if
/// the value is not a whole number of 8-byte communities: the attribute is malformed and
/// the route is to be treated as withdrawn (RFC 7606 §7.14).
pub fn targets_in_value(value: &[u8]) -> Option<Targets<'_>> {
    (value.len() % 8 == 0).then(|| Targets(value.chunks_exact(8)))
}

/// The route targets of an attribute set in the RIB's stored form (`stored::store`): those
/// of its EXTENDED_COMMUNITIES, none if it has none. None if that attribute is malformed,
/// which a stored set never is (the decoder withdraws such routes before they are stored).
///
/// Walks the set's attributes without decoding them: a handful of header reads, no
/// allocation. The attribute section is found by `stored::attributes`.
pub fn targets_in_stored(set: &[u8]) -> Option<Targets<'_>> {
    let mut attrs = super::stored::attributes(set)?;
    while let Some((code, value, whole)) = next_attr(attrs) {
        if code == EXT_COMMUNITIES {
            return targets_in_value(value);
        }
        attrs = attrs.get(whole.len()..)?;
    }
    Some(Targets([].chunks_exact(8)))
}

/// Iterator over the route targets among a run of 8-byte extended communities.
#[derive(Clone, Debug)]
pub struct Targets<'a>(std::slice::ChunksExact<'a, u8>);

impl Iterator for Targets<'_> {
    type Item = RouteTarget;

    fn next(&mut self) -> Option<RouteTarget> {
        self.0.by_ref().find_map(|c| {
            <[u8; 8]>::try_from(c)
                .ok()
                .and_then(RouteTarget::from_ext_community)
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, self.0.size_hint().1)
    }
}

/// Writes the value of a target-like community (type 0x00, 0x01 or 0x02 read by its type
/// alone, whatever the sub-type) as `admin:number`; false, writing nothing, for other types.
/// `rtc` shows the route-target part of its prefixes with it.
pub(crate) fn write_value(f: &mut fmt::Formatter<'_>, c: &[u8; 8]) -> Result<bool, fmt::Error> {
    super::rd::write_admin(f, c[0], &c[2..])
}

impl fmt::Display for RouteTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every RouteTarget has one of the three types.
        write_value(f, &self.0).map(|_| ())
    }
}

impl fmt::Debug for RouteTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RouteTarget({self})")
    }
}

impl std::str::FromStr for RouteTarget {
    type Err = String;

    /// `ASN:N` (type 0x00 when the ASN fits 2 octets, else 0x02), `X.Y:N` (asdot, type 0x02)
    /// or `A.B.C.D:N` (type 0x01).
    fn from_str(s: &str) -> Result<RouteTarget, String> {
        let (kind, v) = super::rd::parse_admin(s)
            .ok_or_else(|| format!("{s:?} is not a route target (ASN:N, X.Y:N or A.B.C.D:N)"))?;
        let mut b = [kind, SUBTYPE, 0, 0, 0, 0, 0, 0];
        b[2..].copy_from_slice(&v);
        Ok(RouteTarget(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{stored, PathAttrs};

    fn rt(s: &str) -> RouteTarget {
        s.parse().unwrap()
    }

    #[test]
    fn each_type_reads_and_prints_as_operators_write_it() {
        for (text, bytes) in [
            ("65000:100", [0, 2, 0xfd, 0xe8, 0, 0, 0, 100]),
            (
                "65000:4294967295",
                [0, 2, 0xfd, 0xe8, 0xff, 0xff, 0xff, 0xff],
            ),
            ("192.0.2.1:200", [1, 2, 192, 0, 2, 1, 0, 200]),
            ("4200000000:300", [2, 2, 0xfa, 0x56, 0xea, 0x00, 0x01, 0x2c]),
            ("0.65000:100", [2, 2, 0, 0, 0xfd, 0xe8, 0, 100]),
        ] {
            let t = rt(text);
            assert_eq!(t.octets(), bytes, "{text}");
            assert_eq!(t.to_string(), text);
            assert_eq!(RouteTarget::from_ext_community(bytes), Some(t));
        }
    }

    #[test]
    fn asdot_input_is_a_four_octet_target() {
        // GoBGP prints 4-octet targets as asdot: 64086.59904 is 4200000000.
        assert_eq!(rt("64086.59904:300"), rt("4200000000:300"));
        assert_eq!(rt("4200000000:300").kind(), TYPE_AS4);
    }

    #[test]
    fn what_is_not_a_route_target_is_an_error() {
        for s in [
            "",
            "65000",
            "x:1",
            "65000:x",
            "192.0.2.1:70000",
            "4200000000:70000",
            "1.2.3:4",
            "70000.1:1",
            "65000:4294967296",
        ] {
            assert!(s.parse::<RouteTarget>().is_err(), "{s}");
        }
    }

    #[test]
    fn only_transitive_types_with_the_route_target_subtype_are_route_targets() {
        let value = [0xfd, 0xe8, 0, 0, 0, 100];
        let with = |t: u8, st: u8| {
            let mut c = [t, st, 0, 0, 0, 0, 0, 0];
            c[2..].copy_from_slice(&value);
            RouteTarget::from_ext_community(c)
        };
        for t in [0x00, 0x01, 0x02] {
            assert!(with(t, 0x02).is_some(), "type {t:#x}");
            // Route origin (sub-type 3) and others are not targets.
            assert!(with(t, 0x03).is_none(), "type {t:#x} sub-type 3");
        }
        for t in [0x40, 0x41, 0x42, 0x03, 0x06, 0x80, 0x43] {
            assert!(with(t, 0x02).is_none(), "type {t:#x}");
        }
    }

    #[test]
    fn targets_are_picked_out_of_a_community_list_in_order() {
        let cs = [
            [0x03, 0x0c, 0, 0, 0, 0, 0, 8], // encapsulation: VXLAN
            rt("65000:100").octets(),
            [0x40, 0x02, 0xfd, 0xe8, 0, 0, 0, 100], // non-transitive
            rt("192.0.2.1:7").octets(),
        ];
        let got: Vec<_> = targets(&cs).collect();
        assert_eq!(got, [rt("65000:100"), rt("192.0.2.1:7")]);
        assert_eq!(targets(&[]).count(), 0);
    }

    #[test]
    fn an_attribute_value_from_gobgp_gives_its_target() {
        // EXTENDED_COMMUNITIES of a VPNv4 route GoBGP 3.10 sent for a VRF with
        // `rt export 65000:100`, cut from the UPDATE recorded between two gobgpd on
        // loopback (flags 0xc0, type 16, length 8, then the value).
        let attr = [
            0xc0, 0x10, 0x08, 0x00, 0x02, 0xfd, 0xe8, 0x00, 0x00, 0x00, 0x64,
        ];
        let (code, value, _) = next_attr(&attr).unwrap();
        assert_eq!(code, EXT_COMMUNITIES);
        let got: Vec<_> = targets_in_value(value).unwrap().collect();
        assert_eq!(got, [rt("65000:100")]);
    }

    #[test]
    fn a_value_that_is_not_whole_communities_is_malformed() {
        assert!(targets_in_value(&[0, 2, 0xfd, 0xe8, 0, 0, 0]).is_none());
        assert!(targets_in_value(&[0; 9]).is_none());
        assert_eq!(targets_in_value(&[]).unwrap().count(), 0);
    }

    #[test]
    fn a_stored_set_gives_the_targets_of_its_extended_communities() {
        let mut a = PathAttrs {
            local_pref: Some(100),
            communities: vec![1],
            ext_communities: vec![
                rt("65000:100").octets(),
                [0x03, 0x0c, 0, 0, 0, 0, 0, 8],
                rt("4200000000:9").octets(),
            ],
            large_communities: vec![[1, 2, 3]],
            ..PathAttrs::default()
        };
        let set = stored::store(&a);
        let got: Vec<_> = targets_in_stored(&set).unwrap().collect();
        assert_eq!(got, [rt("65000:100"), rt("4200000000:9")]);
        // A VPN path's set, with its label after the next hop.
        let nh = crate::wire::NextHop::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
        let vpn = stored::store_labeled(&a, &nh, Some(crate::wire::Label::new(100)));
        let got: Vec<_> = targets_in_stored(&vpn).unwrap().collect();
        assert_eq!(got, [rt("65000:100"), rt("4200000000:9")]);
        a.ext_communities.clear();
        assert_eq!(targets_in_stored(&stored::store(&a)).unwrap().count(), 0);
        // Bytes that are no stored set give nothing rather than a panic.
        assert!(targets_in_stored(&[]).is_none());
        assert!(targets_in_stored(&[16]).is_none());
        assert_eq!(targets_in_stored(&[0, 0xc0, 16, 5, 1]).unwrap().count(), 0);
        assert!(targets_in_stored(&[0, 0xc0, 16, 5, 1, 2, 3, 4, 5]).is_none());
    }
}
