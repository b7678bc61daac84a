//! A route key of any family the RIB carries: what readers (API, CLI, test speakers) use
//! where every family shares one list. The RIB itself works on each family's own type.

use super::evpn::EvpnKey;
use super::rtc::RtcNlri;
use super::types::{Family, Prefix4, Prefix6};
use super::vpn::{Vpn4, Vpn6};
use std::fmt;
use std::net::IpAddr;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AnyPrefix {
    V4(Prefix4),
    V6(Prefix6),
    Vpn4(Vpn4),
    Vpn6(Vpn6),
    Evpn(EvpnKey),
    /// A Route Target membership (RFC 4684): no IP prefix.
    Rtc(RtcNlri),
}

impl AnyPrefix {
    pub fn family(&self) -> Family {
        match self {
            AnyPrefix::V4(_) => Family::Ipv4Unicast,
            AnyPrefix::V6(_) => Family::Ipv6Unicast,
            AnyPrefix::Vpn4(_) => Family::Ipv4Vpn,
            AnyPrefix::Vpn6(_) => Family::Ipv6Vpn,
            AnyPrefix::Evpn(_) => Family::L2vpnEvpn,
            AnyPrefix::Rtc(_) => Family::RtConstraint,
        }
    }

    /// The IP prefix (of a VPN route: without its RD), as an address and length; an EVPN
    /// route's only if it has one (`EvpnKey::ip_prefix`), None for RT-Constraint.
    pub fn ip_prefix(&self) -> Option<(IpAddr, u8)> {
        Some(match self {
            AnyPrefix::V4(p) => (p.addr().into(), p.len()),
            AnyPrefix::V6(p) => (p.addr().into(), p.len()),
            AnyPrefix::Vpn4(v) => (v.prefix.addr().into(), v.prefix.len()),
            AnyPrefix::Vpn6(v) => (v.prefix.addr().into(), v.prefix.len()),
            AnyPrefix::Evpn(k) => return k.ip_prefix(),
            AnyPrefix::Rtc(_) => return None,
        })
    }

    /// Whether the prefix covers `ip` (of the same address family).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.ip_prefix(), ip) {
            (Some((IpAddr::V4(p), len)), IpAddr::V4(a)) => Prefix4::new(p, len)
                .zip(Prefix4::new(a, 32))
                .is_some_and(|(p, h)| p.contains(&h)),
            (Some((IpAddr::V6(p), len)), IpAddr::V6(a)) => Prefix6::new(p, len)
                .zip(Prefix6::new(a, 128))
                .is_some_and(|(p, h)| p.contains(&h)),
            _ => false,
        }
    }
}

impl fmt::Display for AnyPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyPrefix::V4(p) => p.fmt(f),
            AnyPrefix::V6(p) => p.fmt(f),
            AnyPrefix::Vpn4(p) => p.fmt(f),
            AnyPrefix::Vpn6(p) => p.fmt(f),
            AnyPrefix::Evpn(k) => k.fmt(f),
            AnyPrefix::Rtc(p) => p.fmt(f),
        }
    }
}

impl std::str::FromStr for AnyPrefix {
    type Err = String;

    /// `10.0.0.0/8`, `2001:db8::/32`, or a VPN route `RD:PREFIX` (`65000:1:10.0.0.0/8`,
    /// `192.0.2.1:7:2001:db8::/32`).
    fn from_str(s: &str) -> Result<AnyPrefix, String> {
        if let Ok(p) = s.parse() {
            return Ok(AnyPrefix::V4(p));
        }
        if let Ok(p) = s.parse() {
            return Ok(AnyPrefix::V6(p));
        }
        if let Ok(p) = s.parse() {
            return Ok(AnyPrefix::Vpn4(p));
        }
        if let Ok(p) = s.parse() {
            return Ok(AnyPrefix::Vpn6(p));
        }
        s.parse().map(AnyPrefix::Rtc).map_err(|_| {
            format!("{s:?} is not a prefix (A.B.C.D/L, X:X::X/L, RD:PREFIX or ORIGIN-AS:RT/L)")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_reads_back_what_it_prints() {
        for s in [
            "10.0.0.0/8",
            "2001:db8::/32",
            "65000:1:10.0.0.0/8",
            "192.0.2.1:7:2001:db8::/32",
            "65000:65000:100/96",
            "default",
        ] {
            let p: AnyPrefix = s.parse().unwrap();
            assert_eq!(p.to_string(), s);
        }
        assert!(matches!("1:1:::/0".parse(), Ok(AnyPrefix::Vpn6(_))));
        assert!("10.0.0.0".parse::<AnyPrefix>().is_err());
    }

    #[test]
    fn a_vpn_route_contains_the_addresses_of_its_prefix() {
        let p: AnyPrefix = "65000:1:10.1.0.0/16".parse().unwrap();
        assert!(p.contains("10.1.2.3".parse().unwrap()));
        assert!(!p.contains("10.2.0.0".parse().unwrap()));
        assert!(!p.contains("::1".parse().unwrap()));
    }
}
