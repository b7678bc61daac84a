//! UPDATE (RFC 4271 §4.3): the message structure and the RFC 7606 rules that concern the
//! whole message (§3 d missing attributes, §4 lengths, §5.3 NLRI syntax). Attributes are
//! decoded in `attrs`.
//!
//! ```text
//! +-----------------------------------------------------+
//! |   Withdrawn Routes Length (2 octets)                |
//! +-----------------------------------------------------+
//! |   Withdrawn Routes (variable)                       |
//! +-----------------------------------------------------+
//! |   Total Path Attribute Length (2 octets)            |
//! +-----------------------------------------------------+
//! |   Path Attributes (variable)                        |
//! +-----------------------------------------------------+
//! |   Network Layer Reachability Information (variable) |
//! +-----------------------------------------------------+
//! ```

use super::attr_code;
use super::attrs::{self, update_error};
use super::attrs_encode;
use super::error::DecodeError;
use super::evpn::{EvpnKey, PathData};
use super::evpn_nlri;
use super::framing;
use super::message::*;
use super::nlri;
use super::nlri::Nlri;
use super::reader::Reader;
use super::types::*;
use super::vpn::Labeled;

/// Header + the two 2-octet length fields.
pub(crate) const MIN_LEN: usize = HEADER_LEN + 4;

fn malformed_list(reason: &'static str) -> DecodeError {
    update_error(notif::MALFORMED_ATTRIBUTE_LIST, Vec::new(), reason)
}

fn invalid_network(reason: &'static str) -> DecodeError {
    update_error(notif::INVALID_NETWORK_FIELD, Vec::new(), reason)
}

pub(crate) fn decode(body: &[u8], ctx: &CodecCtx) -> Result<Update, DecodeError> {
    let mut r = Reader::new(body);
    let withdrawn_len = r.u16().ok_or_else(|| malformed_list("UPDATE too short"))?;
    let withdrawn = r
        .take(withdrawn_len as usize)
        .ok_or_else(|| malformed_list("withdrawn routes length exceeds the message"))?;
    let attr_len = r
        .u16()
        .ok_or_else(|| malformed_list("withdrawn routes length exceeds the message"))?;
    let section = r
        .take(attr_len as usize)
        .ok_or_else(|| malformed_list("total path attribute length exceeds the message"))?;
    let nlri_bytes = r.rest();

    let add_path = ctx.add_path_rx.contains(Family::Ipv4Unicast);
    let mut u = Update::default();
    nlri::decode_v4(withdrawn, add_path, &mut u.withdrawn).map_err(invalid_network)?;
    nlri::decode_v4(nlri_bytes, add_path, &mut u.nlri).map_err(invalid_network)?;

    let mut d = attrs::Decoded::default();
    attrs::decode_into(section, ctx, &mut d)?;
    let carries_nlri = !u.nlri.is_empty() || d.mp_reach.is_some();
    if carries_nlri {
        // RFC 7606 §3 d; NEXT_HOP only matters for the NLRI field (RFC 4760 §3).
        for (code, needed, reason) in [
            (attr_code::ORIGIN, true, "ORIGIN missing"),
            (attr_code::AS_PATH, true, "AS_PATH missing"),
            (attr_code::NEXT_HOP, !u.nlri.is_empty(), "NEXT_HOP missing"),
        ] {
            if needed && !d.seen(code) {
                d.push_error(code, AttrAction::TreatAsWithdraw, reason);
            }
        }
    }
    u.treat_as_withdraw = d
        .errors
        .iter()
        .any(|e| e.action == AttrAction::TreatAsWithdraw);
    u.attrs = d.any.then_some(d.attrs);
    u.mp_reach = d.mp_reach;
    u.mp_unreach = d.mp_unreach;
    u.attr_errors = d.errors;
    Ok(u)
}

fn add_path_len(ctx: &CodecCtx, family: Option<Family>) -> usize {
    match family {
        Some(f) if ctx.add_path_tx.contains(f) => 4,
        _ => 0,
    }
}

fn put_prefixes<N: Nlri>(out: &mut Vec<u8>, prefixes: &[N], path_id: usize) {
    for p in prefixes {
        out.extend_from_slice(&[0u8; 4][..path_id]);
        p.encode(out);
    }
}

fn prefixes_len<N: Nlri>(prefixes: &[N], path_id: usize) -> usize {
    prefixes.iter().map(|p| p.wire_len() + path_id).sum()
}

/// Each route with its own label, as received.
fn put_labeled<N: Nlri>(out: &mut Vec<u8>, routes: &Labeled<N>, path_id: usize) {
    for (k, l) in routes.keys.iter().zip(&routes.labels) {
        out.extend_from_slice(&[0u8; 4][..path_id]);
        k.encode_with(&l.0, out);
    }
}

/// Each EVPN route with its own path data, as received.
fn put_evpn(out: &mut Vec<u8>, routes: &Labeled<EvpnKey, PathData>, path_id: usize) {
    for (k, d) in routes.keys.iter().zip(&routes.labels) {
        out.extend_from_slice(&[0u8; 4][..path_id]);
        k.encode_with(&evpn_nlri::to_bytes(d), out);
    }
}

fn evpn_len(routes: &Labeled<EvpnKey, PathData>, path_id: usize) -> usize {
    let one = |(k, d): (&EvpnKey, &PathData)| k.wire_len_with(&evpn_nlri::to_bytes(d)) + path_id;
    routes.keys.iter().zip(&routes.labels).map(one).sum()
}

fn set_len(set: &NlriSet, path_id: usize) -> usize {
    match set {
        NlriSet::Ipv4Unicast(v) => prefixes_len(v, path_id),
        NlriSet::Ipv6Unicast(v) => prefixes_len(v, path_id),
        NlriSet::Ipv4Vpn(v) => prefixes_len(&v.keys, path_id),
        NlriSet::Ipv6Vpn(v) => prefixes_len(&v.keys, path_id),
        NlriSet::Evpn(v) => evpn_len(v, path_id),
        NlriSet::RtConstraint(v) => prefixes_len(v, path_id),
        NlriSet::Other { .. } => 0,
    }
}

fn put_set(out: &mut Vec<u8>, set: &NlriSet, path_id: usize) {
    match set {
        NlriSet::Ipv4Unicast(v) => put_prefixes(out, v, path_id),
        NlriSet::Ipv6Unicast(v) => put_prefixes(out, v, path_id),
        NlriSet::Ipv4Vpn(v) => put_labeled(out, v, path_id),
        NlriSet::Ipv6Vpn(v) => put_labeled(out, v, path_id),
        NlriSet::Evpn(v) => put_evpn(out, v, path_id),
        NlriSet::RtConstraint(v) => put_prefixes(out, v, path_id),
        NlriSet::Other { .. } => {}
    }
}

fn afi_safi(set: &NlriSet) -> (u16, u8) {
    match set {
        NlriSet::Other { afi, safi } => (*afi, *safi),
        s => s.family().map_or((0, 0), Family::afi_safi),
    }
}

/// Writes a 2-octet length placeholder; returns its offset for `patch_len`.
pub(crate) fn len_placeholder(out: &mut Vec<u8>) -> usize {
    out.extend_from_slice(&[0, 0]);
    out.len() - 2
}

/// Sets the placeholder at `at` to the number of bytes written after it.
pub(crate) fn patch_len(out: &mut [u8], at: usize) {
    let len = (out.len() - at - 2).min(u16::MAX as usize) as u16;
    out[at..at + 2].copy_from_slice(&len.to_be_bytes());
}

/// Encodes one UPDATE as given (no packing; `treat_as_withdraw`/`attr_errors` are ignored).
pub(crate) fn encode(u: &Update, ctx: &CodecCtx, out: &mut Vec<u8>) {
    let v4_path_id = add_path_len(ctx, Some(Family::Ipv4Unicast));
    let at = framing::start(out, MSG_UPDATE);
    let wl = len_placeholder(out);
    put_prefixes(out, &u.withdrawn, v4_path_id);
    patch_len(out, wl);
    let al = len_placeholder(out);
    let mut tail = Vec::new();
    if let Some(a) = &u.attrs {
        attrs_encode::encode(a, None, ctx, true, out, &mut tail);
    }
    if let Some(mp) = &u.mp_reach {
        let (afi, safi) = afi_safi(&mp.nlri);
        let path_id = add_path_len(ctx, mp.nlri.family());
        attrs_encode::put_mp_reach_head(out, afi, safi, &mp.next_hop, set_len(&mp.nlri, path_id));
        put_set(out, &mp.nlri, path_id);
    }
    if let Some(mp) = &u.mp_unreach {
        let (afi, safi) = afi_safi(&mp.nlri);
        let path_id = add_path_len(ctx, mp.nlri.family());
        attrs_encode::put_mp_unreach_head(out, afi, safi, set_len(&mp.nlri, path_id));
        put_set(out, &mp.nlri, path_id);
    }
    out.extend_from_slice(&tail);
    patch_len(out, al);
    put_prefixes(out, &u.nlri, v4_path_id);
    framing::finish(out, at);
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{decode as decode_msg, encode as encode_msg, encode_end_of_rib};
    use super::*;
    use crate::wire::Label;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn ctx(four_octet_as: bool) -> CodecCtx {
        CodecCtx {
            four_octet_as,
            ..CodecCtx::default()
        }
    }

    fn p4(s: &str) -> Prefix4 {
        s.parse().unwrap()
    }
    fn p6(s: &str) -> Prefix6 {
        s.parse().unwrap()
    }

    /// ORIGIN and a 2-octet AS_PATH, then MP_REACH_NLRI with `value`.
    fn origin_as_path_and_mp_reach(value: &[u8]) -> Vec<u8> {
        let mut raw: Vec<u8> = base_attrs(false)
            .into_iter()
            .take(2)
            .flat_map(|(_, a)| a)
            .collect();
        raw.extend(attr(0x80, 14, value));
        raw
    }

    /// ORIGIN IGP, AS_PATH 65001 65002, NEXT_HOP 10.0.0.1, MED 100; NLRI 192.168.1.0/24.
    const KNOWN_UPDATE: [u8; 54] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x00, 0x36, 0x02, // header
        0x00, 0x00, // no withdrawn routes
        0x00, 0x1b, // 27 bytes of attributes
        0x40, 0x01, 0x01, 0x00, // ORIGIN IGP
        0x40, 0x02, 0x06, 0x02, 0x02, 0xfd, 0xe9, 0xfd, 0xea, // AS_PATH
        0x40, 0x03, 0x04, 0x0a, 0x00, 0x00, 0x01, // NEXT_HOP
        0x80, 0x04, 0x04, 0x00, 0x00, 0x00, 0x64, // MED
        0x18, 0xc0, 0xa8, 0x01, // 192.168.1.0/24
    ];

    #[test]
    fn update_decodes_from_known_bytes_and_encodes_back_to_them() {
        let u = decode_update(&KNOWN_UPDATE, &ctx(false)).unwrap();
        assert!(u.attr_errors.is_empty() && !u.treat_as_withdraw);
        assert_eq!(u.nlri, vec![p4("192.168.1.0/24")]);
        let a = u.attrs.as_ref().unwrap();
        assert_eq!(a.origin, Origin::Igp);
        assert_eq!(a.as_path.to_string(), "65001 65002");
        assert_eq!(a.next_hop, NextHop::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(a.med, Some(100));
        assert_eq!(u.end_of_rib(), None);
        assert_eq!(encoded(&Message::Update(u), &ctx(false)), KNOWN_UPDATE);
    }

    fn full_update() -> Update {
        Update {
            withdrawn: vec![p4("10.9.0.0/16"), p4("0.0.0.0/0")],
            attrs: Some(PathAttrs {
                origin: Origin::Incomplete,
                as_path: AsPath {
                    segments: vec![
                        AsSegment {
                            kind: SegmentKind::Sequence,
                            asns: vec![65001, 4_200_000_000],
                        },
                        AsSegment {
                            kind: SegmentKind::Set,
                            asns: vec![7, 8],
                        },
                    ],
                },
                next_hop: NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)),
                med: Some(0),
                local_pref: Some(100),
                atomic_aggregate: true,
                aggregator: Some((4_200_000_000, Ipv4Addr::new(192, 0, 2, 9))),
                communities: vec![1, 2],
                ext_communities: vec![[0, 2, 0, 1, 0, 0, 0, 1]],
                large_communities: vec![[4_200_000_000, 1, 2]],
                originator_id: Some(Ipv4Addr::new(192, 0, 2, 7)),
                cluster_list: vec![Ipv4Addr::new(192, 0, 2, 8)],
                unknown: vec![RawAttr {
                    flags: 0xe0,
                    code: 99,
                    data: vec![9; 300],
                }],
            }),
            nlri: vec![p4("192.168.0.0/16"), p4("192.168.1.1/32")],
            mp_reach: Some(MpReach {
                next_hop: NextHop::V6 {
                    global: "2001:db8::1".parse().unwrap(),
                    link_local: Some("fe80::1".parse().unwrap()),
                },
                nlri: NlriSet::Ipv6Unicast(vec![p6("2001:db8:1::/48"), p6("::/0")]),
            }),
            mp_unreach: Some(MpUnreach {
                nlri: NlriSet::Ipv6Unicast(vec![p6("2001:db8:2::/64")]),
            }),
            treat_as_withdraw: false,
            attr_errors: vec![],
        }
    }

    #[test]
    fn update_with_everything_round_trips_on_two_and_four_octet_sessions() {
        for four in [false, true] {
            for extended_message in [false, true] {
                let c = CodecCtx {
                    four_octet_as: four,
                    extended_message,
                    ..CodecCtx::default()
                };
                let m = Message::Update(full_update());
                let bytes = encoded(&m, &c);
                assert_eq!(decode_msg(&bytes, &c).unwrap(), m);
            }
        }
    }

    #[test]
    fn update_with_add_path_round_trips_when_both_directions_agree() {
        let fams = FamilySet::EMPTY
            .with(Family::Ipv4Unicast)
            .with(Family::Ipv6Unicast);
        let c = CodecCtx {
            add_path_rx: fams,
            add_path_tx: fams,
            ..ctx(true)
        };
        let m = Message::Update(full_update());
        let bytes = encoded(&m, &c);
        assert!(bytes.len() > encoded(&m, &ctx(true)).len());
        assert_eq!(decode_msg(&bytes, &c).unwrap(), m);
    }

    #[test]
    fn mp_unreach_only_update_has_no_attrs() {
        let u = Update {
            mp_unreach: Some(MpUnreach {
                nlri: NlriSet::Ipv6Unicast(vec![p6("2001:db8::/32")]),
            }),
            ..Update::default()
        };
        let bytes = encoded(&Message::Update(u.clone()), &ctx(true));
        let back = decode_update(&bytes, &ctx(true)).unwrap();
        assert_eq!(back, u);
        assert!(back.attrs.is_none());
        assert!(!back.treat_as_withdraw, "no NLRI: nothing is mandatory");
    }

    #[test]
    fn end_of_rib_markers_match_rfc4724() {
        let mut v4 = Vec::new();
        encode_end_of_rib(Family::Ipv4Unicast, &mut v4);
        assert_eq!(v4, update_msg(&[], &[], &[]));
        assert_eq!(v4.len(), 23);
        let mut v6 = Vec::new();
        encode_end_of_rib(Family::Ipv6Unicast, &mut v6);
        assert_eq!(
            v6,
            update_msg(&[], &[0x80, 0x0f, 0x03, 0x00, 0x02, 0x01], &[])
        );
        for (bytes, fam) in [(v4, Family::Ipv4Unicast), (v6, Family::Ipv6Unicast)] {
            let u = decode_update(&bytes, &ctx(true)).unwrap();
            assert_eq!(u.end_of_rib(), Some(fam));
        }
        let mut vpn = Vec::new();
        encode_end_of_rib(Family::Ipv4Vpn, &mut vpn);
        assert_eq!(
            decode_update(&vpn, &ctx(true)).unwrap().end_of_rib(),
            Some(Family::Ipv4Vpn)
        );
    }

    #[test]
    fn update_shorter_than_23_is_bad_message_length() {
        let m = with_header(MSG_UPDATE, &[0, 0, 0]);
        let e = decode_msg(&m, &ctx(false)).unwrap_err().notification;
        assert_eq!((e.code, e.subcode, e.data), (1, 2, vec![0, 22]));
    }

    #[test]
    fn lengths_inconsistent_with_the_message_are_malformed_attribute_list() {
        for body in [
            &[0, 5, 0, 0][..],    // withdrawn length too long
            &[0, 0, 0, 1],        // attribute length too long
            &[0, 2, 0, 0, 0],     // withdrawn eats the attribute length
            &[0, 2, 8, 10, 0, 9], // attribute length runs past the end
        ] {
            let e = decode_msg(&with_header(MSG_UPDATE, body), &ctx(false))
                .unwrap_err()
                .notification;
            assert_eq!((e.code, e.subcode), (3, 1), "{body:?}");
        }
    }

    #[test]
    fn bad_prefixes_in_nlri_or_withdrawn_are_invalid_network_field() {
        let base: Vec<u8> = base_attrs(false).into_iter().flat_map(|(_, a)| a).collect();
        for (withdrawn, nlri) in [
            (&[][..], &[33, 1, 2, 3, 4, 5][..]),
            (&[], &[24, 10, 0]),
            (&[33, 1, 2, 3, 4, 5], &[]),
            (&[16, 10], &[]),
        ] {
            let e = decode_update(&update_msg(withdrawn, &base, nlri), &ctx(false)).unwrap_err();
            assert_eq!((e.notification.code, e.notification.subcode), (3, 10));
        }
    }

    #[test]
    fn missing_well_known_attributes_with_nlri_are_treat_as_withdraw() {
        let only_origin = attr(0x40, 1, &[0]);
        let u = decode_update(&update_msg(&[], &only_origin, &[8, 10]), &ctx(false)).unwrap();
        assert!(u.treat_as_withdraw);
        let missing: Vec<u8> = u.attr_errors.iter().map(|e| e.code).collect();
        assert_eq!(missing, vec![2, 3]);
        // No NLRI at all: nothing is mandatory.
        let u = decode_update(&update_msg(&[8, 10], &only_origin, &[]), &ctx(false)).unwrap();
        assert!(!u.treat_as_withdraw && u.attr_errors.is_empty());
    }

    #[test]
    fn next_hop_is_not_needed_when_only_mp_reach_carries_nlri() {
        let raw = origin_as_path_and_mp_reach(&[
            0, 2, 1, 16, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 32, 0x20, 1,
            0x0d, 0xb8,
        ]);
        let u = decode_update(&update_msg(&[], &raw, &[]), &ctx(false)).unwrap();
        assert!(u.attr_errors.is_empty(), "{:?}", u.attr_errors);
        let mp = u.mp_reach.unwrap();
        assert_eq!(
            mp.next_hop,
            NextHop::V6 {
                global: "2001:db8::1".parse::<Ipv6Addr>().unwrap(),
                link_local: None
            }
        );
        assert_eq!(mp.nlri, NlriSet::Ipv6Unicast(vec![p6("2001:db8::/32")]));
    }

    #[test]
    fn other_families_keep_the_next_hop_and_skip_the_nlri() {
        // IPv4 multicast (SAFI 2): 10.0.0.1 next hop, some NLRI bytes.
        let raw = origin_as_path_and_mp_reach(&[0, 1, 2, 4, 10, 0, 0, 1, 0, 1, 2, 3, 4]);
        let u = decode_update(&update_msg(&[], &raw, &[]), &ctx(false)).unwrap();
        let mp = u.mp_reach.unwrap();
        assert_eq!(mp.next_hop, NextHop::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(mp.nlri, NlriSet::Other { afi: 1, safi: 2 });
        assert_eq!(mp.nlri.family(), None);
    }

    #[test]
    fn evpn_routes_decode_into_keys_and_path_data_and_encode_back() {
        // GoBGP 3.10: type 3 (rd 65000:3, etag 0, originator 10.0.0.1) and type 2 (rd
        // 65000:1, MAC aa:bb:cc:dd:ee:ff, 10.0.0.1, labels 100 and 200), next hop 10.0.0.1.
        let mut mp = vec![0, 25, 70, 4, 10, 0, 0, 1, 0];
        mp.extend_from_slice(&[
            3, 17, 0, 0, 0xfd, 0xe8, 0, 0, 0, 3, 0, 0, 0, 0, 32, 10, 0, 0, 1,
        ]);
        mp.extend_from_slice(&[2, 40, 0, 0, 0xfd, 0xe8, 0, 0, 0, 1]);
        mp.extend_from_slice(&[0; 10]);
        mp.extend_from_slice(&[
            0, 0, 0, 0, 48, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 32, 10, 0, 0, 1,
        ]);
        mp.extend_from_slice(&[0, 6, 0x41, 0, 12, 0x81]);
        let raw = origin_as_path_and_mp_reach(&mp);
        let msg = update_msg(&[], &raw, &[]);
        let u = decode_update(&msg, &ctx(false)).unwrap();
        let reach = u.mp_reach.as_ref().unwrap();
        assert_eq!(reach.nlri.family(), Some(Family::L2vpnEvpn));
        let NlriSet::Evpn(routes) = &reach.nlri else {
            panic!("not EVPN: {:?}", reach.nlri)
        };
        assert_eq!(routes.keys.len(), 2);
        assert_eq!(
            routes.keys[1].to_string(),
            "[type:macadv][rd:65000:1][etag:0][mac:aa:bb:cc:dd:ee:ff][ip:10.0.0.1]"
        );
        assert_eq!(routes.labels[0], crate::wire::evpn::PathData::None);
        assert_eq!(encoded(&Message::Update(u), &ctx(false)), msg);
        // A known type of the wrong length is a malformed NLRI: the session resets.
        let bad = origin_as_path_and_mp_reach(&[0, 25, 70, 4, 10, 0, 0, 1, 0, 1, 2, 3, 4]);
        let e = decode_update(&update_msg(&[], &bad, &[]), &ctx(false)).unwrap_err();
        assert_eq!((e.notification.code, e.notification.subcode), (3, 9));
    }

    #[test]
    fn a_vpn_ipv4_route_decodes_with_its_rd_label_and_next_hop_and_encodes_back() {
        // RFC 4364 §4.3.2: next hop RD 0 + 192.0.2.1; one route: label 100 (BoS), RD
        // 65000:1, 10.1.1.0/24 (length 88 + 24 bits).
        let raw = origin_as_path_and_mp_reach(&[
            0, 1, 128, 12, 0, 0, 0, 0, 0, 0, 0, 0, 192, 0, 2, 1, 0, 112, 0x00, 0x06, 0x41, 0, 0,
            0xfd, 0xe8, 0, 0, 0, 1, 10, 1, 1,
        ]);
        let bytes = update_msg(&[], &raw, &[]);
        let u = decode_update(&bytes, &ctx(false)).unwrap();
        let mp = u.mp_reach.clone().unwrap();
        assert_eq!(mp.next_hop, NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)));
        let NlriSet::Ipv4Vpn(routes) = &mp.nlri else {
            panic!("{:?}", mp.nlri);
        };
        assert_eq!(routes.keys, ["65000:1:10.1.1.0/24".parse().unwrap()]);
        assert_eq!(routes.labels, [Label::new(100)]);
        assert_eq!(encoded(&Message::Update(u), &ctx(false)), bytes);
    }

    #[test]
    fn a_vpn_ipv6_next_hop_with_a_link_local_address_round_trips() {
        let c = ctx(true);
        let mut routes = Labeled::default();
        routes.push("65000:7:2001:db8:1::/48".parse().unwrap(), Label::new(3000));
        let u = Update {
            attrs: full_update().attrs,
            mp_reach: Some(MpReach {
                next_hop: NextHop::V6 {
                    global: "2001:db8::1".parse().unwrap(),
                    link_local: Some("fe80::1".parse().unwrap()),
                },
                nlri: NlriSet::Ipv6Vpn(routes.clone()),
            }),
            mp_unreach: Some(MpUnreach {
                nlri: NlriSet::Ipv6Vpn(routes),
            }),
            ..Update::default()
        };
        let bytes = encoded(&Message::Update(u.clone()), &c);
        // AFI 2, SAFI 128, next hop length 48 (RD + global + RD + link-local).
        let at = bytes.windows(4).position(|w| w == [0, 2, 128, 48]);
        assert!(at.is_some(), "{bytes:?}");
        assert_eq!(decode_update(&bytes, &c).unwrap(), u);
    }

    #[test]
    fn a_malformed_vpn_route_resets_the_session() {
        // A length shorter than the label and RD it must hold (RFC 7606 §5.3, §7.11).
        let raw = origin_as_path_and_mp_reach(&[
            0, 1, 128, 12, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1, 0, 80, 1, 2, 3, 4,
        ]);
        let e = decode_update(&update_msg(&[], &raw, &[]), &ctx(false)).unwrap_err();
        assert_eq!(e.notification.code, notif::UPDATE_MESSAGE);
    }

    #[test]
    fn a_gobgp_rt_constraint_update_decodes_to_its_membership_and_encodes_back() {
        // Recorded from GoBGP 3.10 (`wire::rtc`'s captures): AFI 1, SAFI 132, next hop
        // 127.0.0.2, origin AS 65000, route target 65000:100.
        let raw = origin_as_path_and_mp_reach(&[
            0x00, 0x01, 0x84, 0x04, 0x7f, 0x00, 0x00, 0x02, 0x00, 0x60, 0x00, 0x00, 0xfd, 0xe8,
            0x00, 0x02, 0xfd, 0xe8, 0x00, 0x00, 0x00, 0x64,
        ]);
        let bytes = update_msg(&[], &raw, &[]);
        let u = decode_update(&bytes, &ctx(false)).unwrap();
        let mp = u.mp_reach.clone().unwrap();
        assert_eq!(mp.next_hop, NextHop::V4(Ipv4Addr::new(127, 0, 0, 2)));
        let member = crate::wire::rtc::RtcNlri::exact(65000, "65000:100".parse().unwrap());
        assert_eq!(mp.nlri, NlriSet::RtConstraint(vec![member]));
        assert_eq!(mp.nlri.family(), Some(Family::RtConstraint));
        assert_eq!(encoded(&Message::Update(u), &ctx(false)), bytes);
        // Its End-of-RIB: MP_UNREACH_NLRI for AFI 1 / SAFI 132 with no NLRI.
        let mut eor = Vec::new();
        encode_end_of_rib(Family::RtConstraint, &mut eor);
        assert_eq!(
            eor,
            update_msg(&[], &[0x80, 0x0f, 0x03, 0x00, 0x01, 0x84], &[])
        );
        let u = decode_update(&eor, &ctx(true)).unwrap();
        assert_eq!(u.end_of_rib(), Some(Family::RtConstraint));
    }

    #[test]
    fn a_malformed_rt_constraint_membership_resets_the_session() {
        // RFC 4684 §4 allows no length from 1 to 31 (RFC 7606 §5.3: the NLRI cannot be
        // parsed); and a prefix running past its field.
        for nlri in [&[16u8, 0, 0][..], &[96, 0, 0, 0xfd, 0xe8]] {
            let mut value = vec![0, 1, 132, 4, 10, 0, 0, 1, 0];
            value.extend_from_slice(nlri);
            let raw = origin_as_path_and_mp_reach(&value);
            let e = decode_update(&update_msg(&[], &raw, &[]), &ctx(true)).unwrap_err();
            assert_eq!(e.notification.code, notif::UPDATE_MESSAGE, "{nlri:?}");
            let unreach = attr(0x80, 15, &[&[0, 1, 132][..], nlri].concat());
            let e = decode_update(&update_msg(&[], &unreach, &[]), &ctx(true)).unwrap_err();
            assert_eq!(e.notification.code, notif::UPDATE_MESSAGE, "{nlri:?}");
        }
    }

    #[test]
    fn treat_as_withdraw_still_reports_every_prefix() {
        let mut raw: Vec<u8> = base_attrs(false).into_iter().flat_map(|(_, a)| a).collect();
        raw.extend(attr(0x80, 4, &[1]));
        raw.extend(attr(
            0x80,
            14,
            &[
                0, 2, 1, 16, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 16, 0x20,
                1,
            ],
        ));
        let u = decode_update(&update_msg(&[], &raw, &[8, 10, 16, 11, 1]), &ctx(false)).unwrap();
        assert!(u.treat_as_withdraw);
        assert_eq!(u.nlri.len(), 2);
        assert!(!u.mp_reach.unwrap().nlri.is_empty());
    }

    #[test]
    fn decode_rejects_a_buffer_that_is_not_exactly_one_message() {
        let mut two = KNOWN_UPDATE.to_vec();
        two.extend_from_slice(&KNOWN_UPDATE);
        let e = decode_msg(&two, &ctx(false)).unwrap_err().notification;
        assert_eq!((e.code, e.subcode), (1, 2));
        let e = decode_msg(&KNOWN_UPDATE[..40], &ctx(false))
            .unwrap_err()
            .notification;
        assert_eq!((e.code, e.subcode), (1, 2));
    }

    #[test]
    fn extended_messages_decode_only_when_negotiated() {
        let big = Update {
            nlri: (0..2000u32)
                .map(|i| Prefix4::new(Ipv4Addr::from(i << 8), 24).unwrap())
                .collect(),
            attrs: full_update().attrs,
            ..Update::default()
        };
        let c = CodecCtx {
            extended_message: true,
            ..ctx(true)
        };
        let bytes = encoded(&Message::Update(big.clone()), &c);
        assert!(bytes.len() > 4096);
        assert_eq!(decode_msg(&bytes, &c).unwrap(), Message::Update(big));
        let e = decode_msg(&bytes, &ctx(true)).unwrap_err().notification;
        assert_eq!((e.code, e.subcode), (1, 2));
        let _ = encode_msg;
    }
}
