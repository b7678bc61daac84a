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

impl fmt::Display for Rd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.value();
        match self.kind() {
            0 => write!(f, "{}:{}", be(&v[..2]), be(&v[2..])),
            1 => write!(
                f,
                "{}:{}",
                Ipv4Addr::new(v[0], v[1], v[2], v[3]),
                be(&v[4..])
            ),
            2 => write!(f, "{}:{}", be(&v[..4]), be(&v[4..])),
            t => {
                write!(f, "{t}:")?;
                v.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

impl fmt::Debug for Rd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rd({self})")
    }
}

impl std::str::FromStr for Rd {
    type Err = String;

    /// `ASN:N` (type 0 when the ASN fits 2 octets, else type 2) or `A.B.C.D:N` (type 1).
    fn from_str(s: &str) -> Result<Rd, String> {
        let bad = || format!("{s:?} is not a route distinguisher (ASN:N or A.B.C.D:N)");
        let (admin, num) = s.rsplit_once(':').ok_or_else(bad)?;
        let mut b = [0u8; 8];
        if let Ok(ip) = admin.parse::<Ipv4Addr>() {
            let n: u16 = num.parse().map_err(|_| bad())?;
            b[1] = 1;
            b[2..6].copy_from_slice(&ip.octets());
            b[6..].copy_from_slice(&n.to_be_bytes());
            return Ok(Rd(b));
        }
        let asn: u32 = admin.parse().map_err(|_| bad())?;
        match u16::try_from(asn) {
            Ok(asn) => {
                let n: u32 = num.parse().map_err(|_| bad())?;
                b[2..4].copy_from_slice(&asn.to_be_bytes());
                b[4..].copy_from_slice(&n.to_be_bytes());
            }
            Err(_) => {
                let n: u16 = num.parse().map_err(|_| bad())?;
                b[1] = 2;
                b[2..6].copy_from_slice(&asn.to_be_bytes());
                b[6..].copy_from_slice(&n.to_be_bytes());
            }
        }
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
