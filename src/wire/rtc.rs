//! RT-Constraint NLRI (RFC 4684 §4): Route Target membership, AFI 1 / SAFI 132. A peer
//! announces which route targets it imports; VPN routes are then sent to it only when one
//! of their targets falls under one of its announcements (`rib::membership` keeps that
//! view). This module reads and writes the NLRI list of MP_REACH/MP_UNREACH for the family
//! and nothing else: no matching state, no session or RIB knowledge.
//!
//! ```text
//! +---------------------------+
//! |   Path Identifier (4)     |   only when ADD-PATH is negotiated for the family
//! +---------------------------+
//! |   Length (1, in bits)     |   0, or 32 to 96
//! +---------------------------+
//! |   Origin AS (4)           |   a prefix of these 12 bytes,
//! +---------------------------+   ceil(length / 8) of them on the wire
//! |   Route Target (8)        |
//! +---------------------------+
//! ```
//!
//! The 96 bits are one prefix (RFC 4760 §5 encoding). Length 0 is the default route target:
//! "send me every VPN route" (RFC 4684 §4, what a reflector's client may say). Otherwise the
//! origin AS is whole, because it "cannot be interpreted as a prefix" (RFC 4684 §4): lengths
//! 1 to 31 are malformed, as are lengths past 96. Length 32 carries the origin AS and no
//! target bits, so it covers every route target; 33 to 95 cover the targets whose first
//! (length - 32) bits are the given ones (for instance all targets of one global
//! administrator); 96 is one route target.
//!
//! The origin AS says who asked; it never takes part in deciding whether a VPN route's
//! target is covered (RFC 4684 §4: a route is sent when its targets match the NLRI's
//! route-target part): `covers` reads bits 32 onward only.

use super::reader::Reader;
use super::route_target::{self, RouteTarget};
use std::fmt;

pub const AFI: u16 = 1;
pub const SAFI: u8 = super::types::SAFI_RT_CONSTRAINT;
/// Origin AS (32 bits) and route target (64 bits).
pub const MAX_LEN: u8 = 96;
/// A non-default prefix is at least the origin AS.
pub const MIN_LEN: u8 = 32;

/// Why an NLRI list could not be read (the caller picks the NOTIFICATION or the RFC 7606
/// action; RFC 7606 §5.3 makes an unreadable MP_REACH/MP_UNREACH NLRI a session reset or a
/// family disabled).
pub type RtcError = &'static str;

/// One Route Target membership NLRI, with the bits past its length cleared so that equal
/// prefixes compare, hash and order equal whatever trailing bits came on the wire. Orders
/// by origin AS, then target, then length (the default route first).
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RtcNlri {
    origin_as: u32,
    target: [u8; 8],
    len: u8,
}

/// The 64-bit mask of a prefix of `bits` (0..=64) bits.
fn mask(bits: u8) -> u64 {
    match bits {
        0 => 0,
        b => u64::MAX << (64 - u32::from(b.min(64))),
    }
}

// A prefix's `len` is its length in bits; an `is_empty` would mean nothing.
#[allow(clippy::len_without_is_empty)]
impl RtcNlri {
    /// The default route target (length 0): covers every route target.
    pub const DEFAULT: RtcNlri = RtcNlri {
        origin_as: 0,
        target: [0; 8],
        len: 0,
    };

    /// The prefix of `length` bits of `origin_as` and `target`; the bits past it are
    /// cleared. Errors on a length RFC 4684 §4 does not allow (1 to 31, above 96).
    pub fn new(origin_as: u32, target: [u8; 8], len: u8) -> Result<RtcNlri, RtcError> {
        match len {
            0 => Ok(RtcNlri::DEFAULT),
            1..MIN_LEN => Err("RT-Constraint prefix shorter than its 32-bit origin AS"),
            MIN_LEN..=MAX_LEN => {
                let t = u64::from_be_bytes(target) & mask(len - MIN_LEN);
                Ok(RtcNlri {
                    origin_as,
                    target: t.to_be_bytes(),
                    len,
                })
            }
            _ => Err("RT-Constraint prefix longer than 96 bits"),
        }
    }

    /// Membership of one route target (length 96), as a PE announces its VRF's imports.
    pub fn exact(origin_as: u32, target: RouteTarget) -> RtcNlri {
        RtcNlri {
            origin_as,
            target: target.octets(),
            len: MAX_LEN,
        }
    }

    /// Length in bits, 0 or 32 to 96.
    pub fn len(&self) -> u8 {
        self.len
    }

    pub fn is_default(&self) -> bool {
        self.len == 0
    }

    /// The origin AS (None for the default route target, which has none).
    pub fn origin_as(&self) -> Option<u32> {
        (self.len != 0).then_some(self.origin_as)
    }

    /// The route-target part, zero past the prefix.
    pub fn target_octets(&self) -> [u8; 8] {
        self.target
    }

    /// The route-target part as a prefix of a 64-bit number: (value, bits), bits in 0..=64
    /// and the value zero past them. Bits 0 (lengths 0 and 32) covers every target.
    pub fn target_prefix(&self) -> (u64, u8) {
        (
            u64::from_be_bytes(self.target),
            self.len.saturating_sub(MIN_LEN),
        )
    }

    /// Whether a VPN route carrying `rt` is wanted by whoever announced this NLRI: the
    /// target falls under the route-target part. The origin AS plays no part.
    pub fn covers(&self, rt: RouteTarget) -> bool {
        let (value, bits) = self.target_prefix();
        rt.to_u64() & mask(bits) == value
    }

    /// The 12 bytes the prefix is taken from.
    fn bytes(&self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&self.origin_as.to_be_bytes());
        b[4..].copy_from_slice(&self.target);
        b
    }

    /// Bytes this NLRI takes on the wire (without an ADD-PATH path id).
    pub fn wire_len(&self) -> usize {
        1 + usize::from(self.len).div_ceil(8)
    }

    /// Appends the canonical encoding: length, then the fewest bytes that hold it.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let n = usize::from(self.len).div_ceil(8);
        out.push(self.len);
        out.extend_from_slice(&self.bytes()[..n]);
    }
}

impl super::nlri::Nlri for RtcNlri {
    const FAMILY: super::types::Family = super::types::Family::RtConstraint;
    fn wire_len(&self) -> usize {
        RtcNlri::wire_len(self)
    }
    fn encode(&self, out: &mut Vec<u8>) {
        RtcNlri::encode(self, out)
    }
}

/// Reads one NLRI (after its path id, if any).
fn read(r: &mut Reader<'_>, add_path: bool) -> Result<RtcNlri, RtcError> {
    if add_path {
        r.u32().ok_or("truncated ADD-PATH path identifier")?;
    }
    let len = r.u8().ok_or("truncated RT-Constraint prefix length")?;
    if len > MAX_LEN {
        return Err("RT-Constraint prefix longer than 96 bits");
    }
    let bytes = r
        .take(usize::from(len).div_ceil(8))
        .ok_or("RT-Constraint prefix runs past the end of its field")?;
    let mut b = [0u8; 12];
    b[..bytes.len()].copy_from_slice(bytes);
    let [o0, o1, o2, o3, t @ ..] = b;
    RtcNlri::new(u32::from_be_bytes([o0, o1, o2, o3]), t, len)
}

/// Appends the NLRIs in `buf` (the NLRI field of an MP_REACH or MP_UNREACH for AFI 1 /
/// SAFI 132) to `out`. ADD-PATH path identifiers are read and dropped, as `nlri` does for
/// unicast. On an error, the NLRIs read before it stay in `out`: the caller discards the
/// whole field.
pub fn decode(buf: &[u8], add_path: bool, out: &mut Vec<RtcNlri>) -> Result<(), RtcError> {
    // Most NLRIs are one route target: 13 bytes (17 with a path id). The bound comes from
    // the input.
    out.reserve(buf.len() / if add_path { 17 } else { 13 });
    decode_into(buf, add_path, out)
}

/// `decode` into any container.
pub fn decode_into(
    buf: &[u8],
    add_path: bool,
    out: &mut impl Extend<RtcNlri>,
) -> Result<(), RtcError> {
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        out.extend(Some(read(&mut r, add_path)?));
    }
    Ok(())
}

impl fmt::Display for RtcNlri {
    /// `default`, or `ORIGIN:TARGET/LEN` ("65000:65000:100/96", the form GoBGP prints and
    /// reads with `-a rtc`). The target part is written as a route target whenever that
    /// reads back to the same bits, else as `0x` and 16 hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_default() {
            return f.write_str("default");
        }
        write!(f, "{}:", self.origin_as)?;
        let mut as_target = self.target;
        as_target[1] = route_target::SUBTYPE;
        let readable = RtcNlri::new(self.origin_as, as_target, self.len) == Ok(*self);
        if !(readable && route_target::write_value(f, &self.target)?) {
            write!(f, "0x{:016x}", u64::from_be_bytes(self.target))?;
        }
        write!(f, "/{}", self.len)
    }
}

impl fmt::Debug for RtcNlri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RtcNlri({self})")
    }
}

impl std::str::FromStr for RtcNlri {
    type Err = String;

    /// `default`, or `ORIGIN:TARGET[/LEN]` with LEN 96 when left out; TARGET as
    /// `RouteTarget` reads it, or `0x` and 16 hex digits.
    fn from_str(s: &str) -> Result<RtcNlri, String> {
        if s == "default" {
            return Ok(RtcNlri::DEFAULT);
        }
        let bad = |why: &str| format!("{s:?} is not an RT-Constraint prefix: {why}");
        let (body, len) = match s.rsplit_once('/') {
            Some((body, len)) => (body, len.parse().map_err(|_| bad("bad length"))?),
            None => (s, MAX_LEN),
        };
        let (origin, target) = body
            .split_once(':')
            .ok_or_else(|| bad("want ORIGIN-AS:ROUTE-TARGET/LENGTH or default"))?;
        let origin: u32 = origin.parse().map_err(|_| bad("bad origin AS"))?;
        let target = match target.strip_prefix("0x") {
            Some(hex) if hex.len() == 16 => u64::from_str_radix(hex, 16)
                .map_err(|_| bad("bad hex route target"))?
                .to_be_bytes(),
            Some(_) => return Err(bad("a hex route target is 16 digits")),
            None => target.parse::<RouteTarget>()?.octets(),
        };
        RtcNlri::new(origin, target, len).map_err(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(s: &str) -> RouteTarget {
        s.parse().unwrap()
    }

    fn nlri(s: &str) -> RtcNlri {
        s.parse().unwrap()
    }

    fn decoded(buf: &[u8], add_path: bool) -> Vec<RtcNlri> {
        let mut out = Vec::new();
        decode(buf, add_path, &mut out).unwrap();
        out
    }

    fn encoded(ns: &[RtcNlri]) -> Vec<u8> {
        let mut out = Vec::new();
        ns.iter().for_each(|n| n.encode(&mut out));
        out
    }

    // The NLRI fields below were recorded between two GoBGP 3.10 daemons on loopback (an
    // iBGP session with families rtc and l3vpn-ipv4-unicast, relayed through a small TCP
    // relay that wrote each direction to a file), after `gobgp vrf add red rd 65000:1 rt
    // import 65000:100 export 65000:100` and VRFs importing 192.0.2.1:200 and
    // 64086.59904:300; then `gobgp vrf del` of the second for the withdrawal. Each is the
    // NLRI part of an MP_REACH_NLRI `80 0e 16 00 01 84 04 7f 00 00 02 00 ...` or
    // MP_UNREACH_NLRI `80 0f 10 00 01 84 ...`.
    const GOBGP_AS2: [u8; 13] = [
        0x60, 0x00, 0x00, 0xfd, 0xe8, 0x00, 0x02, 0xfd, 0xe8, 0x00, 0x00, 0x00, 0x64,
    ];
    const GOBGP_IPV4: [u8; 13] = [
        0x60, 0x00, 0x00, 0xfd, 0xe8, 0x01, 0x02, 0xc0, 0x00, 0x02, 0x01, 0x00, 0xc8,
    ];
    const GOBGP_AS4: [u8; 13] = [
        0x60, 0x00, 0x00, 0xfd, 0xe8, 0x02, 0x02, 0xfa, 0x56, 0xea, 0x00, 0x01, 0x2c,
    ];
    // The same daemons with `add-paths` (receive, send-max 8) on the rtc family: the route
    // reflector's three announcements toward its client, path ids 1, 2 and 1 (its own
    // 65000:100, the client's 65000:100 reflected back, its own 65000:101).
    const GOBGP_ADD_PATH: [u8; 51] = [
        0x00, 0x00, 0x00, 0x01, 0x60, 0x00, 0x00, 0xfd, 0xe8, 0x00, 0x02, 0xfd, 0xe8, 0x00, 0x00,
        0x00, 0x64, //
        0x00, 0x00, 0x00, 0x02, 0x60, 0x00, 0x00, 0xfd, 0xe8, 0x00, 0x02, 0xfd, 0xe8, 0x00, 0x00,
        0x00, 0x64, //
        0x00, 0x00, 0x00, 0x01, 0x60, 0x00, 0x00, 0xfd, 0xe8, 0x00, 0x02, 0xfd, 0xe8, 0x00, 0x00,
        0x00, 0x65,
    ];

    #[test]
    fn gobgp_memberships_decode_to_their_route_targets_and_encode_back() {
        let mut field = Vec::new();
        for v in [GOBGP_AS2, GOBGP_IPV4, GOBGP_AS4] {
            field.extend_from_slice(&v);
        }
        let got = decoded(&field, false);
        assert_eq!(
            got,
            [
                RtcNlri::exact(65000, rt("65000:100")),
                RtcNlri::exact(65000, rt("192.0.2.1:200")),
                RtcNlri::exact(65000, rt("4200000000:300")),
            ]
        );
        assert_eq!(got[0].to_string(), "65000:65000:100/96");
        assert_eq!(got[1].to_string(), "65000:192.0.2.1:200/96");
        assert_eq!(got[2].to_string(), "65000:4200000000:300/96");
        assert_eq!(got[0].origin_as(), Some(65000));
        assert_eq!(encoded(&got), field);
        assert_eq!(
            got.iter().map(RtcNlri::wire_len).sum::<usize>(),
            field.len()
        );
    }

    #[test]
    fn add_path_identifiers_before_each_membership_are_skipped() {
        let got = decoded(&GOBGP_ADD_PATH, true);
        let a = RtcNlri::exact(65000, rt("65000:100"));
        let b = RtcNlri::exact(65000, rt("65000:101"));
        assert_eq!(got, [a, a, b]);
        let mut out = Vec::new();
        assert!(decode(&GOBGP_ADD_PATH, false, &mut out).is_err());
        assert!(decode(&[0, 0, 0], true, &mut out).is_err());
        // A default route target with a path id is five bytes.
        assert_eq!(decoded(&[0, 0, 0, 9, 0], true), [RtcNlri::DEFAULT]);
    }

    #[test]
    fn the_default_route_target_is_one_zero_byte() {
        // RFC 4684 §4: the default route target is the 0-length prefix.
        let got = decoded(&[0], false);
        assert_eq!(got, [RtcNlri::DEFAULT]);
        assert!(got[0].is_default());
        assert_eq!(got[0].origin_as(), None);
        assert_eq!(got[0].to_string(), "default");
        assert_eq!(encoded(&got), [0]);
        assert_eq!(got[0].wire_len(), 1);
    }

    #[test]
    fn an_origin_as_alone_is_a_32_bit_prefix() {
        let field = [0x20, 0x00, 0x00, 0xfd, 0xe8];
        let got = decoded(&field, false);
        assert_eq!(got[0].len(), 32);
        assert_eq!(got[0].origin_as(), Some(65000));
        assert_eq!(got[0].target_prefix(), (0, 0));
        assert_eq!(got[0].to_string(), "65000:0:0/32");
        assert_eq!(encoded(&got), field);
    }

    #[test]
    fn a_partial_prefix_takes_the_bytes_its_length_needs() {
        // All targets of global administrator 65000 (type 0x00): 32 + 32 bits.
        let field = [0x40, 0x00, 0x00, 0xfd, 0xe8, 0x00, 0x02, 0xfd, 0xe8];
        let got = decoded(&field, false);
        assert_eq!(got[0].len(), 64);
        assert_eq!(got[0].to_string(), "65000:65000:0/64");
        assert_eq!(got[0], nlri("65000:65000:0/64"));
        assert_eq!(encoded(&got), field);
    }

    #[test]
    fn bits_past_the_length_are_cleared() {
        let got = decoded(&[36, 0, 0, 0xfd, 0xe8, 0xff], false);
        assert_eq!(got[0].target_octets(), [0xf0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(encoded(&got), [36, 0, 0, 0xfd, 0xe8, 0xf0]);
        let full = RtcNlri::new(65000, rt("65000:100").octets(), 36).unwrap();
        assert_eq!(full, RtcNlri::new(65000, [0; 8], 36).unwrap());
        // The default route target keeps no origin AS or target either.
        assert_eq!(decoded(&[0], false)[0], RtcNlri::new(7, [9; 8], 0).unwrap());
    }

    #[test]
    fn lengths_rfc_4684_does_not_allow_and_truncation_are_errors() {
        for (field, why) in [
            (&[97, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0][..], "longer"),
            (&[255][..], "longer"),
            (&[1, 0][..], "shorter"),
            (&[31, 0, 0, 0, 0][..], "shorter"),
            (&[96, 0, 0, 0xfd, 0xe8][..], "past the end"),
            (&[32, 0, 0, 0xfd][..], "past the end"),
            (&GOBGP_AS2[..12], "past the end"),
        ] {
            let mut out = Vec::new();
            let e = decode(field, false, &mut out).unwrap_err();
            assert!(e.contains(why), "{field:?}: {e}");
        }
        // An error after good NLRIs is still an error for the whole field.
        let mut field = GOBGP_AS2.to_vec();
        field.push(8);
        assert!(decode(&field, false, &mut Vec::new()).is_err());
    }

    #[test]
    fn text_reads_back_as_the_nlri_it_was_printed_from() {
        for s in [
            "default",
            "65000:65000:100/96",
            "4200000000:192.0.2.1:7/96",
            "1:0.65000:5/96",
            "65000:0:0/32",
            "65000:65000:0/64",
            "65000:0:0/40",
            // Sub-type 3 (route origin) kept by the length: not a route target's text.
            "65000:0x0003fde800000064/96",
            "65000:0x4000000000000000/34",
        ] {
            let n = nlri(s);
            assert_eq!(n.to_string(), s);
        }
        assert_eq!(nlri("65000:65000:100"), nlri("65000:65000:100/96"));
        assert_eq!(nlri("0:0:0/0"), RtcNlri::DEFAULT);
        for s in [
            "",
            "65000",
            "65000:65000:100/31",
            "65000:65000:100/97",
            "x:65000:100/96",
            "65000:0x12/96",
            "65000:65000:100/x",
        ] {
            assert!(s.parse::<RtcNlri>().is_err(), "{s}");
        }
    }

    #[test]
    fn coverage_reads_the_route_target_part_and_never_the_origin_as() {
        let (a, b) = (rt("65000:100"), rt("65000:200"));
        let other_admin = rt("65001:100");
        let as4_same_digits = rt("0.65000:100");
        let ipv4 = rt("192.0.2.1:100");
        assert!([a, b, other_admin, ipv4]
            .iter()
            .all(|&t| RtcNlri::DEFAULT.covers(t)));
        let any = nlri("4200000000:0:0/32");
        assert!([a, b, other_admin, ipv4].iter().all(|&t| any.covers(t)));
        let exact = nlri("1:65000:100/96");
        assert!(exact.covers(a) && !exact.covers(b) && !exact.covers(as4_same_digits));
        let admin = nlri("2:65000:0/64");
        assert!(admin.covers(a) && admin.covers(b));
        assert!(!admin.covers(other_admin) && !admin.covers(as4_same_digits));
        assert!(!admin.covers(ipv4));
    }
}
