//! Prefix encoding (RFC 4271 §4.3 NLRI, RFC 4760 §5) with optional ADD-PATH path
//! identifiers (RFC 7911 §3): `Nlri` for `Prefix4`/`Prefix6` and the prefix-list decoders.
//!
//! ```text
//! +---------------------------+
//! |   Path Identifier (4)     |   only when ADD-PATH is negotiated for the family
//! +---------------------------+
//! |   Length (1, in bits)     |
//! +---------------------------+
//! |   Prefix (ceil(len/8))    |
//! +---------------------------+
//! ```

use super::reader::Reader;
use super::types::*;

/// A prefix type the RIB and codec are generic over. Unicast prefixes now; VPN (RD + label)
/// and EVPN route types implement it later without changing the RIB.
pub trait Nlri:
    Copy + Eq + std::hash::Hash + Ord + std::fmt::Debug + std::fmt::Display + Send + Sync + 'static
{
    const FAMILY: Family;
    /// The family's NLRI holds fields that are the path's, not the route key's: a VPN
    /// route's label (RFC 8277), an EVPN route's labels, ESI and gateway (RFC 7432). They
    /// are kept with the path's attributes (`stored::path_data`), and `encode_with` writes
    /// the NLRI with them.
    const PATH_DATA: bool = false;
    /// Bytes this NLRI takes on the wire as withdrawn (without an ADD-PATH path id).
    fn wire_len(&self) -> usize;
    /// Bytes it takes announced with the path's `data` (`PATH_DATA` families).
    fn wire_len_with(&self, _data: &[u8]) -> usize {
        self.wire_len()
    }
    /// The NLRI as withdrawn (a labeled family's with the withdrawal label).
    fn encode(&self, out: &mut Vec<u8>);
    /// The NLRI as announced with the path's `data` (ignored by families without it).
    fn encode_with(&self, _data: &[u8], out: &mut Vec<u8>) {
        self.encode(out)
    }
}

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
}

/// Why a prefix list could not be parsed (the caller picks the NOTIFICATION).
pub(crate) type NlriError = &'static str;

/// Reads one prefix of at most `N * 8` bits into a zero-padded address.
fn read_prefix<const N: usize>(
    r: &mut Reader<'_>,
    add_path: bool,
) -> Result<([u8; N], u8), NlriError> {
    if add_path {
        r.u32().ok_or("truncated ADD-PATH path identifier")?;
    }
    let len = r.u8().ok_or("truncated prefix length")?;
    if len as usize > N * 8 {
        return Err("prefix length too long for the family");
    }
    let bytes = r
        .take((len as usize).div_ceil(8))
        .ok_or("prefix runs past the end of its field")?;
    let mut addr = [0u8; N];
    addr[..bytes.len()].copy_from_slice(bytes);
    Ok((addr, len))
}

/// Appends the IPv4 prefixes in `buf` to `out`. Host bits beyond the length are cleared.
pub(crate) fn decode_v4(
    buf: &[u8],
    add_path: bool,
    out: &mut Vec<Prefix4>,
) -> Result<(), NlriError> {
    // A prefix takes at least 1 byte (5 with ADD-PATH): the bound comes from the input.
    out.reserve(buf.len() / if add_path { 6 } else { 4 });
    decode_v4_into(buf, add_path, out)
}

/// `decode_v4` into any container (the in-place reader fills inline vectors).
pub(crate) fn decode_v4_into(
    buf: &[u8],
    add_path: bool,
    out: &mut impl Extend<Prefix4>,
) -> Result<(), NlriError> {
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let (addr, len) = read_prefix::<4>(&mut r, add_path)?;
        out.extend(Prefix4::new(addr.into(), len));
    }
    Ok(())
}

/// Appends the IPv6 prefixes in `buf` to `out`.
pub(crate) fn decode_v6(
    buf: &[u8],
    add_path: bool,
    out: &mut Vec<Prefix6>,
) -> Result<(), NlriError> {
    let mut r = Reader::new(buf);
    out.reserve(buf.len() / if add_path { 10 } else { 6 });
    while !r.is_empty() {
        let (addr, len) = read_prefix::<16>(&mut r, add_path)?;
        out.extend(Prefix6::new(addr.into(), len));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn prefixes_encode_with_the_fewest_bytes() {
        let mut out = Vec::new();
        let p: Prefix4 = "10.1.0.0/16".parse().unwrap();
        p.encode(&mut out);
        let d: Prefix4 = "0.0.0.0/0".parse().unwrap();
        d.encode(&mut out);
        let h: Prefix4 = "192.0.2.1/32".parse().unwrap();
        h.encode(&mut out);
        let s: Prefix4 = "10.128.0.0/9".parse().unwrap();
        s.encode(&mut out);
        assert_eq!(out, [16, 10, 1, 0, 32, 192, 0, 2, 1, 9, 10, 128]);
        assert_eq!(
            p.wire_len() + d.wire_len() + h.wire_len() + s.wire_len(),
            out.len()
        );
        let mut back = Vec::new();
        decode_v4(&out, false, &mut back).unwrap();
        assert_eq!(back, [p, d, h, s]);
    }

    #[test]
    fn ipv6_prefixes_round_trip() {
        let ps: Vec<Prefix6> = [
            "2001:db8::/32",
            "::/0",
            "2001:db8:1:2::1/128",
            "2001:db8:8000::/33",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let mut out = Vec::new();
        for p in &ps {
            p.encode(&mut out);
        }
        assert_eq!(out.len(), ps.iter().map(Nlri::wire_len).sum::<usize>());
        let mut back = Vec::new();
        decode_v6(&out, false, &mut back).unwrap();
        assert_eq!(back, ps);
    }

    #[test]
    fn host_bits_on_the_wire_are_cleared() {
        let mut back = Vec::new();
        decode_v4(&[20, 10, 1, 0xff], false, &mut back).unwrap();
        assert_eq!(
            back,
            [Prefix4::new(Ipv4Addr::new(10, 1, 0xf0, 0), 20).unwrap()]
        );
    }

    #[test]
    fn prefix_too_long_or_truncated_is_an_error() {
        let mut v4 = Vec::new();
        assert!(decode_v4(&[33, 1, 2, 3, 4, 5], false, &mut v4).is_err());
        assert!(decode_v4(&[24, 10, 0], false, &mut v4).is_err());
        let mut v6 = Vec::new();
        assert!(decode_v6(&[129; 18], false, &mut v6).is_err());
        assert!(decode_v4(&[0, 0, 0], true, &mut v4).is_err());
    }

    #[test]
    fn add_path_identifiers_are_skipped() {
        let mut back = Vec::new();
        decode_v4(&[0, 0, 0, 7, 8, 10, 0, 0, 0, 9, 0], true, &mut back).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].to_string(), "10.0.0.0/8");
        assert_eq!(back[1].to_string(), "0.0.0.0/0");
    }
}
