//! The OPEN exchange as pure functions: the OPEN we send, the checks on the one we receive
//! (RFC 4271 §6.2, RFC 6793, RFC 6286) and capability negotiation (RFC 5492).
//! Must not: hold state or timers — `session` sequences these calls.

use super::types::{Negotiated, SessionConfig};
use crate::wire::{
    notif, Capability, CodecCtx, Family, FamilySet, Notification, Open, AFI_IPV6, AS_TRANS,
};
use std::net::Ipv4Addr;

/// The only BGP version we speak (RFC 4271 §4.2).
pub const BGP_VERSION: u8 = 4;

/// The families whose routes may carry an IPv6 next hop (RFC 8950 §4): reflectd offers it
/// for each of these it is configured with, so a route learned from an IPv6-only core can be
/// reflected to the peers that accept it.
pub const EXTENDED_NEXT_HOP: FamilySet = FamilySet::EMPTY
    .with(Family::Ipv4Unicast)
    .with(Family::Ipv4Vpn);

/// Our OPEN: version 4, `my_as` (AS_TRANS for a 4-octet AS, RFC 6793 §4.1), our hold time
/// and identifier, and the capabilities Multiprotocol (one per configured family, RFC 4760),
/// Extended Next Hop for the IPv4 families (RFC 8950), Route Refresh (RFC 2918), 4-octet AS
/// (RFC 6793), Extended Message (RFC 8654) and, when configured, Graceful Restart (RFC 4724).
pub fn our_open(cfg: &SessionConfig) -> Open {
    let mut capabilities: Vec<Capability> = cfg
        .families
        .iter()
        .map(|f| {
            let (afi, safi) = f.afi_safi();
            Capability::Multiprotocol { afi, safi }
        })
        .collect();
    let extended_next_hop: Vec<(u16, u16, u16)> = cfg
        .families
        .iter()
        .filter(|f| EXTENDED_NEXT_HOP.contains(*f))
        .map(|f| {
            let (afi, safi) = f.afi_safi();
            (afi, u16::from(safi), AFI_IPV6)
        })
        .collect();
    if !extended_next_hop.is_empty() {
        capabilities.push(Capability::ExtendedNextHop(extended_next_hop));
    }
    capabilities.extend([
        Capability::RouteRefresh,
        Capability::FourOctetAs(cfg.local_asn),
        Capability::ExtendedMessage,
    ]);
    if let Some(gr) = &cfg.graceful_restart {
        capabilities.push(Capability::GracefulRestart(gr.clone()));
    }
    Open {
        version: BGP_VERSION,
        my_as: u16::try_from(cfg.local_asn).unwrap_or(AS_TRANS),
        hold_time: cfg.hold_time,
        bgp_id: cfg.local_id,
        capabilities,
    }
}

fn open_error(subcode: u8, data: Vec<u8>) -> Notification {
    Notification {
        code: notif::OPEN_MESSAGE,
        subcode,
        data,
    }
}

/// RFC 4271 §6.2 checks, in the RFC's order: version, peer AS, hold time, identifier.
/// `Err` is the NOTIFICATION to send.
pub fn check_open(cfg: &SessionConfig, open: &Open) -> Result<(), Notification> {
    if open.version != BGP_VERSION {
        // Data: the largest version we support below the one bid (RFC 4271 §6.2).
        return Err(open_error(
            notif::UNSUPPORTED_VERSION,
            u16::from(BGP_VERSION).to_be_bytes().to_vec(),
        ));
    }
    // RFC 6793 §4.2: a 4-octet speaker puts its AS in the capability and, in My AS, either
    // the same (2-octet) value or AS_TRANS. Anything else is inconsistent.
    let four_octet = open.capabilities.iter().find_map(|c| match c {
        Capability::FourOctetAs(a) => Some(*a),
        _ => None,
    });
    if let Some(asn) = four_octet {
        if open.my_as != AS_TRANS && u32::from(open.my_as) != asn {
            return Err(open_error(notif::BAD_PEER_AS, Vec::new()));
        }
    }
    if open.asn() != cfg.remote_asn {
        return Err(open_error(notif::BAD_PEER_AS, Vec::new()));
    }
    // RFC 4271 §6.2: 1 and 2 seconds are too short to be honoured; 0 disables the timers.
    if open.hold_time == 1 || open.hold_time == 2 {
        return Err(open_error(notif::UNACCEPTABLE_HOLD_TIME, Vec::new()));
    }
    // RFC 6286 §2.2: any non-zero identifier, unique within the AS for internal peers.
    if open.bgp_id == Ipv4Addr::UNSPECIFIED || (cfg.is_ibgp() && open.bgp_id == cfg.local_id) {
        return Err(open_error(notif::BAD_BGP_IDENTIFIER, Vec::new()));
    }
    Ok(())
}

/// Negotiates a checked OPEN (call `check_open` first). Takes the OPEN by value to keep its
/// capability list without copying it.
pub fn negotiate(cfg: &SessionConfig, open: Open) -> Negotiated {
    let mut theirs = FamilySet::EMPTY;
    let mut any_mp = false;
    let (mut four_octet_as, mut extended_message, mut route_refresh) = (false, false, false);
    let mut graceful_restart = None;
    let mut extended_next_hop = FamilySet::EMPTY;
    for cap in &open.capabilities {
        match cap {
            Capability::ExtendedNextHop(triples) => {
                for &(afi, safi, nh_afi) in triples {
                    let f = u8::try_from(safi)
                        .ok()
                        .and_then(|safi| Family::from_afi_safi(afi, safi));
                    if let (Some(f), AFI_IPV6) = (f, nh_afi) {
                        extended_next_hop.insert(f);
                    }
                }
            }
            Capability::Multiprotocol { afi, safi } => {
                any_mp = true;
                // Families we do not know are simply not negotiated.
                if let Some(f) = Family::from_afi_safi(*afi, *safi) {
                    theirs.insert(f);
                }
            }
            Capability::FourOctetAs(_) => four_octet_as = true,
            Capability::ExtendedMessage => extended_message = true,
            Capability::RouteRefresh => route_refresh = true,
            Capability::GracefulRestart(gr) => graceful_restart = Some(gr.clone()),
            _ => {}
        }
    }
    // RFC 4760 §8: a speaker that advertises no Multiprotocol capability carries IPv4
    // unicast only.
    if !any_mp {
        theirs.insert(Family::Ipv4Unicast);
    }
    let hold_time = cfg.hold_time.min(open.hold_time);
    Negotiated {
        // We always advertise 4-octet AS and Extended Message, so "both sides" is "they did".
        codec: CodecCtx {
            four_octet_as,
            extended_message,
            // Offered by us for `EXTENDED_NEXT_HOP` of our families.
            extended_next_hop: FamilySet(
                extended_next_hop.0 & cfg.families.0 & EXTENDED_NEXT_HOP.0,
            ),
            ..CodecCtx::default()
        },
        families: FamilySet(cfg.families.0 & theirs.0),
        hold_time,
        keepalive: hold_time / 3,
        remote_asn: open.asn(),
        remote_id: open.bgp_id,
        route_refresh,
        graceful_restart,
        remote_capabilities: open.capabilities,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::GracefulRestart;

    fn cfg(local_asn: u32, remote_asn: u32) -> SessionConfig {
        SessionConfig {
            local_asn,
            local_id: Ipv4Addr::new(10, 0, 0, 1),
            remote_asn,
            hold_time: 90,
            families: FamilySet::EMPTY
                .with(Family::Ipv4Unicast)
                .with(Family::Ipv6Unicast),
            connect_retry: 30,
            graceful_restart: None,
        }
    }

    fn peer_open(asn: u32, caps: Vec<Capability>) -> Open {
        Open {
            version: 4,
            my_as: u16::try_from(asn).unwrap_or(AS_TRANS),
            hold_time: 180,
            bgp_id: Ipv4Addr::new(10, 0, 0, 2),
            capabilities: caps,
        }
    }

    fn err_subcode(cfg: &SessionConfig, open: &Open) -> u8 {
        let n = check_open(cfg, open).unwrap_err();
        assert_eq!(n.code, notif::OPEN_MESSAGE);
        n.subcode
    }

    #[test]
    fn our_open_advertises_every_family_and_the_fixed_capabilities() {
        let open = our_open(&cfg(65000, 65000));
        assert_eq!(open.version, 4);
        assert_eq!(open.my_as, 65000);
        assert_eq!(open.hold_time, 90);
        assert_eq!(open.bgp_id, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(
            open.capabilities,
            vec![
                Capability::Multiprotocol { afi: 1, safi: 1 },
                Capability::Multiprotocol { afi: 2, safi: 1 },
                Capability::ExtendedNextHop(vec![(1, 1, 2)]),
                Capability::RouteRefresh,
                Capability::FourOctetAs(65000),
                Capability::ExtendedMessage,
            ]
        );
    }

    #[test]
    fn our_open_advertises_graceful_restart_only_when_configured() {
        let mut c = cfg(65000, 65000);
        let gr = GracefulRestart {
            restart_state: false,
            notification: false,
            restart_time: 120,
            families: vec![(1, 1, false), (2, 1, false)],
        };
        c.graceful_restart = Some(gr.clone());
        let open = our_open(&c);
        assert_eq!(
            open.capabilities.last(),
            Some(&Capability::GracefulRestart(gr))
        );
        let plain = our_open(&cfg(65000, 65000));
        assert!(!plain
            .capabilities
            .iter()
            .any(|c| matches!(c, Capability::GracefulRestart(_))));
    }

    #[test]
    fn our_open_uses_as_trans_for_a_four_octet_asn() {
        let open = our_open(&cfg(4_200_000_000, 65000));
        assert_eq!(open.my_as, AS_TRANS);
        assert!(open
            .capabilities
            .contains(&Capability::FourOctetAs(4_200_000_000)));
    }

    #[test]
    fn open_with_bad_version_sends_unsupported_version_with_our_version() {
        let mut open = peer_open(65000, vec![]);
        open.version = 3;
        let n = check_open(&cfg(65000, 65000), &open).unwrap_err();
        assert_eq!((n.code, n.subcode, n.data), (2, 1, vec![0, 4]));
    }

    #[test]
    fn open_from_the_wrong_as_is_bad_peer_as() {
        assert_eq!(
            err_subcode(&cfg(65000, 65000), &peer_open(65001, vec![])),
            2
        );
    }

    #[test]
    fn open_with_four_octet_capability_is_checked_against_the_capability() {
        let c = cfg(65000, 4_200_000_000);
        let open = peer_open(4_200_000_000, vec![Capability::FourOctetAs(4_200_000_000)]);
        assert_eq!(check_open(&c, &open), Ok(()));
        // Without the capability the peer's AS is AS_TRANS, which is not the configured one.
        assert_eq!(err_subcode(&c, &peer_open(4_200_000_000, vec![])), 2);
    }

    #[test]
    fn open_whose_my_as_disagrees_with_its_four_octet_capability_is_bad_peer_as() {
        let mut open = peer_open(65001, vec![Capability::FourOctetAs(65001)]);
        open.my_as = 65002;
        assert_eq!(err_subcode(&cfg(65000, 65001), &open), 2);
        // AS_TRANS in My AS is always consistent.
        open.my_as = AS_TRANS;
        assert_eq!(check_open(&cfg(65000, 65001), &open), Ok(()));
    }

    #[test]
    fn open_with_hold_time_one_or_two_is_unacceptable() {
        for h in [1, 2] {
            let mut open = peer_open(65000, vec![]);
            open.hold_time = h;
            assert_eq!(err_subcode(&cfg(65000, 65000), &open), 6);
        }
        for h in [0, 3] {
            let mut open = peer_open(65000, vec![]);
            open.hold_time = h;
            assert_eq!(check_open(&cfg(65000, 65000), &open), Ok(()));
        }
    }

    #[test]
    fn open_with_zero_identifier_is_bad_bgp_identifier() {
        let mut open = peer_open(65001, vec![]);
        open.bgp_id = Ipv4Addr::UNSPECIFIED;
        assert_eq!(err_subcode(&cfg(65000, 65001), &open), 3);
    }

    #[test]
    fn ibgp_open_with_our_identifier_is_bad_bgp_identifier_but_ebgp_is_accepted() {
        let mut open = peer_open(65000, vec![]);
        open.bgp_id = Ipv4Addr::new(10, 0, 0, 1);
        assert_eq!(err_subcode(&cfg(65000, 65000), &open), 3);
        let mut open = peer_open(65001, vec![]);
        open.bgp_id = Ipv4Addr::new(10, 0, 0, 1);
        assert_eq!(check_open(&cfg(65000, 65001), &open), Ok(()));
    }

    #[test]
    fn version_is_checked_before_the_peer_as() {
        let mut open = peer_open(65001, vec![]);
        open.version = 5;
        assert_eq!(err_subcode(&cfg(65000, 65000), &open), 1);
    }

    #[test]
    fn negotiated_families_are_the_intersection() {
        let open = peer_open(
            65000,
            vec![
                Capability::Multiprotocol { afi: 2, safi: 1 },
                Capability::Multiprotocol { afi: 1, safi: 128 },
                Capability::Multiprotocol { afi: 99, safi: 9 },
            ],
        );
        let n = negotiate(&cfg(65000, 65000), open);
        assert_eq!(n.families, FamilySet::EMPTY.with(Family::Ipv6Unicast));
    }

    #[test]
    fn peer_without_multiprotocol_capability_gets_ipv4_unicast_only() {
        let n = negotiate(&cfg(65000, 65000), peer_open(65000, vec![]));
        assert_eq!(n.families, FamilySet::EMPTY.with(Family::Ipv4Unicast));
        assert!(!n.route_refresh);
        assert_eq!(n.graceful_restart, None);
    }

    #[test]
    fn four_octet_as_and_extended_message_need_the_peer_to_advertise_them() {
        let n = negotiate(&cfg(65000, 65000), peer_open(65000, vec![]));
        assert_eq!(n.codec, CodecCtx::default());
        let caps = vec![Capability::FourOctetAs(65000), Capability::ExtendedMessage];
        let n = negotiate(&cfg(65000, 65000), peer_open(65000, caps));
        assert!(n.codec.four_octet_as && n.codec.extended_message);
        assert_eq!(n.codec.max_message_len(), 65535);
    }

    #[test]
    fn hold_time_is_the_minimum_and_keepalive_a_third() {
        let n = negotiate(&cfg(65000, 65000), peer_open(65000, vec![]));
        assert_eq!((n.hold_time, n.keepalive), (90, 30));
        let mut open = peer_open(65000, vec![]);
        open.hold_time = 10;
        let n = negotiate(&cfg(65000, 65000), open);
        assert_eq!((n.hold_time, n.keepalive), (10, 3));
    }

    #[test]
    fn hold_time_zero_on_either_side_disables_keepalives() {
        let mut open = peer_open(65000, vec![]);
        open.hold_time = 0;
        let n = negotiate(&cfg(65000, 65000), open);
        assert_eq!((n.hold_time, n.keepalive), (0, 0));
        let mut c = cfg(65000, 65000);
        c.hold_time = 0;
        let n = negotiate(&c, peer_open(65000, vec![]));
        assert_eq!((n.hold_time, n.keepalive), (0, 0));
    }

    #[test]
    fn negotiation_records_route_refresh_graceful_restart_and_peer_identity() {
        let gr = GracefulRestart {
            restart_state: true,
            notification: false,
            restart_time: 120,
            families: vec![(1, 1, true)],
        };
        let caps = vec![
            Capability::RouteRefresh,
            Capability::GracefulRestart(gr.clone()),
            Capability::FourOctetAs(4_200_000_000),
        ];
        let n = negotiate(
            &cfg(65000, 4_200_000_000),
            peer_open(4_200_000_000, caps.clone()),
        );
        assert!(n.route_refresh);
        assert_eq!(n.graceful_restart, Some(gr));
        assert_eq!(n.remote_asn, 4_200_000_000);
        assert_eq!(n.remote_id, Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(n.remote_capabilities, caps);
    }

    #[test]
    fn extended_next_hop_is_offered_for_ipv4_families_and_agreed_where_both_offered_it() {
        let mut c = cfg(65000, 65000);
        c.families = c.families.with(Family::Ipv4Vpn).with(Family::Ipv6Vpn);
        let ours = our_open(&c);
        assert!(ours
            .capabilities
            .contains(&Capability::ExtendedNextHop(vec![(1, 1, 2), (1, 128, 2)])));
        // The peer offers IPv4 unicast over IPv6, and VPN-IPv4 over IPv4 (meaningless).
        let open = peer_open(
            65000,
            vec![Capability::ExtendedNextHop(vec![(1, 1, 2), (1, 128, 1)])],
        );
        let n = negotiate(&c, open);
        assert_eq!(
            n.codec.extended_next_hop,
            FamilySet::EMPTY.with(Family::Ipv4Unicast)
        );
        // Not offered by us (IPv6 only): nothing agreed.
        c.families = FamilySet::EMPTY.with(Family::Ipv6Unicast);
        let open = peer_open(65000, vec![Capability::ExtendedNextHop(vec![(1, 1, 2)])]);
        assert!(negotiate(&c, open).codec.extended_next_hop.is_empty());
        assert!(!our_open(&c)
            .capabilities
            .iter()
            .any(|c| matches!(c, Capability::ExtendedNextHop(_))));
    }
}
