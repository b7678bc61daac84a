//! Route Distinguisher (RFC 4364 §4.2): the 8 octets that make a customer's prefix unique
//! in a VPN family (and an EVPN route, RFC 7432 §7). Kept as its wire bytes: the RIB
//! compares and hashes them, only people read them.
//!
//! ```text
//! +--------------+-----------------------------------------------+
//! | Type (2)     | Value (6)                                     |
//! +--------------+-----------------------------------------------+
//!   0            2-octet ASN : 4-octet number       "65000:100"
//!   1            IPv4 address : 2-octet number      "192.0.2.1:100"
//!   2            4-octet ASN : 2-octet number       "4200000000:100"
//! ```
//!
//! A type no RFC defines is carried unchanged and shown as `TYPE:HEX` ("3:0102030405ff").

use std::fmt;
use std::net::Ipv4Addr;

#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Rd(pub [u8; 8]);

// The RIB hashes VPN keys on every change: one integer, not a length-prefixed slice.
impl std::hash::Hash for Rd {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(u64::from_be_bytes(self.0));
    }
}

impl Rd {
    /// The all-zero RD: the one a VPN next hop carries (RFC 4364 §4.3.2).
    pub const ZERO: Rd = Rd([0; 8]);

    pub fn kind(&self) -> u16 {
        u16::from_be_bytes([self.0[0], self.0[1]])
    }

    fn value(&self) -> &[u8] {
        &self.0[2..]
    }
}

fn be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |v, b| v << 8 | u64::from(*b))
}

/// The three layouts of an RD's value (RFC 4364 §4.2) and of a route target's (RFC 4360
/// §4, RFC 5668): an administrator and an assigned number in 6 octets.
pub(crate) const ADMIN_AS2: u8 = 0;
pub(crate) const ADMIN_IPV4: u8 = 1;
pub(crate) const ADMIN_AS4: u8 = 2;

/// Writes a 6-octet value of layout `kind` as operators write it (`65000:100`,
/// `192.0.2.1:100`, `4200000000:100`; a 4-octet ASN that would fit 2 octets in asdot,
/// `0.65000:100`, so that it reads back as the same layout). False, writing nothing, for a
/// layout no RFC defines.
pub(crate) fn write_admin(
    f: &mut fmt::Formatter<'_>,
    kind: u8,
    v: &[u8],
) -> Result<bool, fmt::Error> {
    let [a, b, c, d, e, g] = v else {
        return Ok(false);
    };
    match kind {
        ADMIN_AS2 => write!(f, "{}:{}", be(&[*a, *b]), be(&[*c, *d, *e, *g]))?,
        ADMIN_IPV4 => write!(f, "{}:{}", Ipv4Addr::new(*a, *b, *c, *d), be(&[*e, *g]))?,
        ADMIN_AS4 => {
            let asn = be(&[*a, *b, *c, *d]);
            let dot = if asn > u64::from(u16::MAX) { "" } else { "0." };
            write!(f, "{dot}{asn}:{}", be(&[*e, *g]))?
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// Reads what `write_admin` writes, and `X.Y:N` asdot: (layout, 6 octets). An ASN that fits
/// 2 octets takes the 2-octet layout, as routers' CLIs do.
pub(crate) fn parse_admin(s: &str) -> Option<(u8, [u8; 6])> {
    let (admin, num) = s.rsplit_once(':')?;
    let mut v = [0u8; 6];
    if let Ok(ip) = admin.parse::<Ipv4Addr>() {
        let n: u16 = num.parse().ok()?;
        v[..4].copy_from_slice(&ip.octets());
        v[4..].copy_from_slice(&n.to_be_bytes());
        return Some((ADMIN_IPV4, v));
    }
    let (asn, two) = match admin.split_once('.') {
        Some((hi, lo)) => {
            let (hi, lo): (u16, u16) = (hi.parse().ok()?, lo.parse().ok()?);
            (u32::from(hi) << 16 | u32::from(lo), false)
        }
        None => {
            let asn: u32 = admin.parse().ok()?;
            (asn, asn <= u32::from(u16::MAX))
        }
    };
    if two {
        let n: u32 = num.parse().ok()?;
        v[..2].copy_from_slice(&(asn as u16).to_be_bytes());
        v[2..].copy_from_slice(&n.to_be_bytes());
        return Some((ADMIN_AS2, v));
    }
    let n: u16 = num.parse().ok()?;
    v[..4].copy_from_slice(&asn.to_be_bytes());
    v[4..].copy_from_slice(&n.to_be_bytes());
    Some((ADMIN_AS4, v))
}

impl fmt::Display for Rd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let written = match self.kind() {
            k @ 0..=2 => write_admin(f, k as u8, self.value())?,
            _ => false,
        };
        if !written {
            write!(f, "{}:", self.kind())?;
            self.value().iter().try_for_each(|b| write!(f, "{b:02x}"))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Rd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rd({self})")
    }
}

impl std::str::FromStr for Rd {
    type Err = String;

    /// `ASN:N` (type 0 when the ASN fits 2 octets, else type 2), `X.Y:N` (asdot, type 2)
    /// or `A.B.C.D:N` (type 1).
    fn from_str(s: &str) -> Result<Rd, String> {
        let (kind, v) = parse_admin(s)
            .ok_or_else(|| format!("{s:?} is not a route distinguisher (ASN:N or A.B.C.D:N)"))?;
        let mut b = [0u8; 8];
        b[1] = kind;
        b[2..].copy_from_slice(&v);
        Ok(Rd(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_type_reads_and_prints_as_operators_write_it() {
        for (text, bytes) in [
            ("65000:100", [0, 0, 0xfd, 0xe8, 0, 0, 0, 100]),
            ("192.0.2.1:7", [0, 1, 192, 0, 2, 1, 0, 7]),
            ("4200000000:9", [0, 2, 0xfa, 0x56, 0xea, 0x00, 0, 9]),
        ] {
            let rd: Rd = text.parse().unwrap();
            assert_eq!(rd.0, bytes, "{text}");
            assert_eq!(rd.to_string(), text);
        }
        assert_eq!(
            Rd([0, 3, 1, 2, 3, 4, 5, 0xff]).to_string(),
            "3:0102030405ff"
        );
        assert_eq!(Rd::ZERO.to_string(), "0:0");
    }

    #[test]
    fn what_is_not_an_rd_is_an_error() {
        for s in [
            "",
            "65000",
            "x:1",
            "65000:x",
            "192.0.2.1:70000",
            "4200000000:70000",
        ] {
            assert!(s.parse::<Rd>().is_err(), "{s}");
        }
    }
}
