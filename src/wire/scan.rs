//! The common UPDATE, read in place. Nearly every UPDATE a reflector receives is IPv4
//! unicast from a 4-octet AS peer, with well-formed attributes already in the form our
//! encoder writes (ascending type codes, the RFC's flags, Extended Length only past 255
//! bytes). Its stored set (`stored::scanned`) is then its own attribute bytes with NEXT_HOP
//! cut out: no `PathAttrs`, no allocation but the set itself, no re-encoding.
//!
//! Anything else (MP attributes, unknown or malformed attributes, other flags or order,
//! ADD-PATH, a 2-octet AS peer, End-of-RIB) is None here and goes to the full decoder,
//! which also owns every error, NOTIFICATION and RFC 7606 outcome. For what this accepts
//! the two agree: the `message` fuzz target checks it on every UPDATE it frames.

use super::attr_code::*;
use super::attrs::*;
use super::community::WellKnown;
use super::message::CodecCtx;
use super::nlri;
use super::types::{Family, NextHop, Origin, Prefix4, AFI_IPV4, AFI_IPV6, SAFI_MPLS_VPN};
use super::vpn::{Label, Vpn4, Vpn6};
use std::net::Ipv4Addr;

/// What `update` read besides the prefixes.
#[derive(Debug)]
pub struct Scanned<'a> {
    /// None: an UPDATE with withdrawn routes only.
    pub attrs: Option<ScannedAttrs<'a>>,
}

/// The path attributes of an accepted UPDATE: values the decision process reads, and the
/// attribute section around NEXT_HOP (`head` before it, `tail` after it).
#[derive(Debug)]
pub struct ScannedAttrs<'a> {
    /// NEXT_HOP (unicast); unspecified in a VPN UPDATE, whose next hop is MP_REACH_NLRI's.
    pub next_hop: Ipv4Addr,
    /// The section before and after the attribute cut out of the stored form: NEXT_HOP,
    /// or in a VPN UPDATE MP_REACH_NLRI.
    pub head: &'a [u8],
    pub tail: &'a [u8],
    pub origin: Origin,
    /// The AS_PATH value (4-octet ASNs, segments checked).
    pub as_path: &'a [u8],
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub originator_id: Option<Ipv4Addr>,
    pub cluster_list_len: u32,
    pub well_known: WellKnown,
    /// MP_REACH_NLRI's value, in a VPN UPDATE (`vpn_update`).
    pub mp_reach: &'a [u8],
}

const AS_SET: u8 = 1;
const AS_SEQUENCE: u8 = 2;

impl ScannedAttrs<'_> {
    /// Every ASN of the path, in order.
    pub fn asns(&self) -> impl Iterator<Item = u32> + '_ {
        as4_segments(self.as_path).flat_map(|(_, asns)| {
            asns.chunks_exact(4)
                .map(|a| u32::from_be_bytes([a[0], a[1], a[2], a[3]]))
        })
    }

    /// As `AsPath::route_len`: a SEQUENCE counts its ASNs, a SET one, confederation
    /// segments nothing.
    pub fn route_len(&self) -> usize {
        as4_segments(self.as_path)
            .map(|(kind, asns)| match kind {
                AS_SEQUENCE => asns.len() / 4,
                AS_SET => 1,
                _ => 0,
            })
            .sum()
    }

    /// As `AsPath::first_as`: the first ASN when the path starts with a SEQUENCE.
    pub fn first_as(&self) -> Option<u32> {
        match as4_segments(self.as_path).next() {
            Some((AS_SEQUENCE, [a, b, c, d, ..])) => Some(u32::from_be_bytes([*a, *b, *c, *d])),
            _ => None,
        }
    }
}

fn u32_of(value: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(value.try_into().ok()?))
}

/// A well-formed 4-octet AS_PATH value: known segment types, no empty segment, nothing
/// left over (RFC 7606 §7.2).
fn as_path_ok(mut value: &[u8]) -> bool {
    while let [kind, count, rest @ ..] = value {
        let len = 4 * usize::from(*count);
        if !(1..=4).contains(kind) || len == 0 || rest.len() < len {
            return false;
        }
        value = &rest[len..];
    }
    value.is_empty()
}

/// Reads the UPDATE `body` (the message after its header) if it is the common case,
/// appending its withdrawn and announced prefixes to `withdrawn` and `nlri`. None: use
/// `decode` (what was appended is then meaningless).
pub fn update<'a>(
    body: &'a [u8],
    ctx: &CodecCtx,
    withdrawn: &mut impl Extend<Prefix4>,
    nlri: &mut impl Extend<Prefix4>,
) -> Option<Scanned<'a>> {
    if !ctx.four_octet_as || ctx.add_path_rx.contains(Family::Ipv4Unicast) {
        return None;
    }
    let u16_at = |i: usize| {
        Some(usize::from(u16::from_be_bytes([
            *body.get(i)?,
            *body.get(i + 1)?,
        ])))
    };
    let withdrawn_len = u16_at(0)?;
    let attr_len = u16_at(2 + withdrawn_len)?;
    let section_at = 4 + withdrawn_len;
    let section = body.get(section_at..section_at + attr_len)?;
    let nlri_bytes = &body[section_at + attr_len..];
    let withdrawn_bytes = &body[2..2 + withdrawn_len];
    if section.is_empty() {
        // Withdrawals only; with nothing at all it is End-of-RIB, and prefixes without
        // attributes are the decoder's to treat as withdrawn.
        if withdrawn_bytes.is_empty() || !nlri_bytes.is_empty() {
            return None;
        }
        nlri::decode_v4_into(withdrawn_bytes, false, withdrawn).ok()?;
        return Some(Scanned { attrs: None });
    }
    // Attributes without NLRI (the decoder keeps them for nothing) are rare: not ours.
    if nlri_bytes.is_empty() {
        return None;
    }
    let attrs = attributes(section, false)?;
    nlri::decode_v4_into(withdrawn_bytes, false, withdrawn).ok()?;
    nlri::decode_v4_into(nlri_bytes, false, nlri).ok()?;
    Some(Scanned { attrs: Some(attrs) })
}

/// The attribute section, if every attribute is one the stored form keeps verbatim and is
/// written exactly as our encoder would write it. `vpn`: the routes are in MP_REACH_NLRI
/// (kept whole in `mp_reach`, its flags as any router sets them), and NEXT_HOP is absent.
fn attributes(section: &[u8], vpn: bool) -> Option<ScannedAttrs<'_>> {
    let mut a = ScannedAttrs {
        next_hop: Ipv4Addr::UNSPECIFIED,
        head: section,
        tail: &[],
        origin: Origin::Igp,
        as_path: &[],
        med: None,
        local_pref: None,
        originator_id: None,
        cluster_list_len: 0,
        well_known: WellKnown::default(),
        mp_reach: &[],
    };
    let (mut last, mut at) = (0u8, 0usize);
    let (mut origin, mut as_path, mut next_hop) = (false, false, false);
    let mut mp_reach = false;
    while at < section.len() {
        let (code, value, whole) = next_attr(&section[at..])?;
        // Ascending codes: the encoder's order, and no attribute twice (RFC 7606 §3 g).
        if code <= last {
            return None;
        }
        last = code;
        if vpn && code == MP_REACH_NLRI {
            // Optional, non-transitive, with or without Extended Length: FRR and GoBGP
            // always set it. The decoder takes either.
            if whole[0] & !EXTENDED_LENGTH != OPTIONAL {
                return None;
            }
            a.mp_reach = value;
            a.head = &section[..at];
            a.tail = &section[at + whole.len()..];
            mp_reach = true;
            at += whole.len();
            continue;
        }
        let flags = match code {
            ORIGIN | AS_PATH | NEXT_HOP | MED | LOCAL_PREF | ATOMIC_AGGREGATE | AGGREGATOR
            | COMMUNITIES | ORIGINATOR_ID | CLUSTER_LIST | EXT_COMMUNITIES | LARGE_COMMUNITIES => {
                expected_flags(code)?
            }
            _ => return None,
        };
        let flags = if value.len() > 255 {
            flags | EXTENDED_LENGTH
        } else {
            flags
        };
        // No Partial bit, no low bits, Extended Length only where needed: anything else
        // the encoder would normalize, and the stored bytes would differ.
        if whole[0] != flags {
            return None;
        }
        let multiple_of = |n: usize| !value.is_empty() && value.len() % n == 0;
        match code {
            ORIGIN => {
                a.origin = match value {
                    [v] => Origin::from_octet(*v)?,
                    _ => return None,
                };
                origin = true;
            }
            AS_PATH => {
                if !as_path_ok(value) {
                    return None;
                }
                a.as_path = value;
                as_path = true;
            }
            // Any 4 octets, as the decoder takes them (it makes no RFC 4271 §6.3 check
            // on the address either; `scan_agrees` would catch the two drifting apart).
            NEXT_HOP if !vpn => {
                let nh: [u8; 4] = value.try_into().ok()?;
                a.next_hop = Ipv4Addr::from(nh);
                a.head = &section[..at];
                a.tail = &section[at + whole.len()..];
                next_hop = true;
            }
            MED => a.med = Some(u32_of(value)?),
            LOCAL_PREF => a.local_pref = Some(u32_of(value)?),
            ATOMIC_AGGREGATE if value.is_empty() => {}
            AGGREGATOR if value.len() == 8 => {}
            ORIGINATOR_ID => {
                a.originator_id = Some(Ipv4Addr::from(<[u8; 4]>::try_from(value).ok()?))
            }
            // Room for our CLUSTER_ID when reflecting (`stored::fits`).
            CLUSTER_LIST if multiple_of(4) && value.len() <= u16::MAX as usize - 4 => {
                a.cluster_list_len = (value.len() / 4) as u32;
            }
            COMMUNITIES if multiple_of(4) => a.well_known = WellKnown::of_value(value),
            EXT_COMMUNITIES if multiple_of(8) => {}
            LARGE_COMMUNITIES if multiple_of(12) => {}
            _ => return None,
        }
        at += whole.len();
    }
    (origin && as_path && if vpn { mp_reach } else { next_hop }).then_some(a)
}

/// A VPN UPDATE read in place (`vpn_update`).
#[derive(Debug)]
pub struct ScannedVpn<'a> {
    pub attrs: ScannedAttrs<'a>,
    pub next_hop: NextHop,
    /// Every route's: a message with more than one label goes to the decoder.
    pub label: Label,
    /// `Family::Ipv4Vpn` (the routes went to `vpn_update`'s `v4`) or `Family::Ipv6Vpn`.
    pub family: Family,
}

/// Reads the UPDATE `body` if it is the common VPN case: no withdrawn routes and no NLRI
/// field, attributes as `update` takes them, and one MP_REACH_NLRI of VPN-IPv4 or
/// VPN-IPv6 routes that all carry one label (a PE allocating a label per VRF sends that).
/// Each route's key is given to `v4` or `v6` (pushing it where the caller keeps them, as
/// `update` appends unicast prefixes): nothing is allocated here. None: use `decode`
/// (what was given is then meaningless).
pub fn vpn_update<'a>(
    body: &'a [u8],
    ctx: &CodecCtx,
    v4: impl FnMut(Vpn4),
    v6: impl FnMut(Vpn6),
) -> Option<ScannedVpn<'a>> {
    if !ctx.four_octet_as {
        return None;
    }
    let u16_at = |i: usize| {
        Some(usize::from(u16::from_be_bytes([
            *body.get(i)?,
            *body.get(i + 1)?,
        ])))
    };
    if u16_at(0)? != 0 {
        return None;
    }
    let attr_len = u16_at(2)?;
    let section = body.get(4..4 + attr_len)?;
    if section.is_empty() || body.len() != 4 + attr_len {
        return None;
    }
    let attrs = attributes(section, true)?;
    let mp = attrs.mp_reach;
    let (afi, safi) = (u16::from_be_bytes([*mp.first()?, *mp.get(1)?]), *mp.get(2)?);
    let family = match (afi, safi) {
        (AFI_IPV4, SAFI_MPLS_VPN) => Family::Ipv4Vpn,
        (AFI_IPV6, SAFI_MPLS_VPN) => Family::Ipv6Vpn,
        _ => return None,
    };
    let nh_len = usize::from(*mp.get(3)?);
    let next_hop = decode_vpn_next_hop(mp.get(4..4 + nh_len)?)?;
    if family == Family::Ipv6Vpn && !matches!(next_hop, NextHop::V6 { .. }) {
        return None;
    }
    // After the next hop, the reserved octet, then the routes.
    let buf = mp.get(5 + nh_len..)?;
    let add_path = ctx.add_path_rx.contains(family);
    let label = if family == Family::Ipv4Vpn {
        Vpn4::decode_one_label(buf, add_path, v4)?
    } else {
        Vpn6::decode_one_label(buf, add_path, v6)?
    };
    Some(ScannedVpn {
        attrs,
        next_hop,
        label,
        family,
    })
}

#[cfg(test)]
mod tests {
    use super::super::fuzzing::scan_agrees;
    use super::super::testutil::*;
    use super::super::types::*;
    use super::super::{stored, Labeled, Message, NlriSet, Update};
    use super::*;

    fn four() -> CodecCtx {
        CodecCtx {
            four_octet_as: true,
            ..CodecCtx::default()
        }
    }

    /// Scans `msg` (checking it against the decoder); true if read in place.
    fn reads(msg: &[u8], ctx: &CodecCtx) -> bool {
        scan_agrees(msg, ctx);
        let (mut w, mut n) = (Vec::new(), Vec::new());
        update(&msg[HEADER_LEN..], ctx, &mut w, &mut n).is_some()
    }

    use super::super::HEADER_LEN;

    fn rich() -> PathAttrs {
        PathAttrs {
            origin: Origin::Egp,
            as_path: AsPath {
                segments: vec![
                    AsSegment {
                        kind: SegmentKind::Sequence,
                        asns: vec![65001, 4_200_000_000, 65003],
                    },
                    AsSegment {
                        kind: SegmentKind::Set,
                        asns: vec![1, 2],
                    },
                ],
            },
            next_hop: NextHop::V4(Ipv4Addr::new(192, 0, 2, 7)),
            med: Some(5),
            local_pref: Some(200),
            atomic_aggregate: true,
            aggregator: Some((65009, Ipv4Addr::new(10, 0, 0, 9))),
            communities: (0..70).map(|i| 0xfde8_0000 | i).collect(),
            originator_id: Some(Ipv4Addr::new(10, 0, 0, 1)),
            cluster_list: vec![Ipv4Addr::new(10, 0, 0, 2)],
            ext_communities: vec![[0, 2, 0, 1, 0, 0, 0, 1]],
            large_communities: vec![[65001, 1, 2]],
            ..PathAttrs::default()
        }
    }

    #[test]
    fn our_own_encoding_is_read_in_place_and_stores_as_the_decoded_set() {
        let u = Update {
            withdrawn: vec!["10.9.0.0/16".parse().unwrap()],
            attrs: Some(rich()),
            nlri: vec![
                "10.0.0.0/8".parse().unwrap(),
                "192.0.2.0/25".parse().unwrap(),
            ],
            ..Update::default()
        };
        // COMMUNITIES of 280 bytes: Extended Length, as the encoder sets it.
        let msg = encoded(&Message::Update(u), &four());
        assert!(reads(&msg, &four()));
        let (mut w, mut n) = (Vec::new(), Vec::new());
        let s = update(&msg[HEADER_LEN..], &four(), &mut w, &mut n).unwrap();
        let a = s.attrs.unwrap();
        assert_eq!(&stored::scanned(&a)[..], &stored::store(&rich())[..]);
        assert_eq!((a.route_len(), a.first_as()), (4, Some(65001)));
        assert_eq!(a.asns().count(), 5);
        assert_eq!((n.len(), w.len()), (2, 1));
    }

    #[test]
    fn withdrawals_alone_are_read_but_end_of_rib_is_not() {
        assert!(reads(&update_msg(&[16, 10, 1], &[], &[]), &four()));
        assert!(!reads(&update_msg(&[], &[], &[]), &four()));
    }

    #[test]
    fn anything_the_encoder_would_write_otherwise_goes_to_the_decoder() {
        let base = || base_attrs(true);
        let nlri = [24, 10, 0, 0];
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "Partial bit",
                attrs_with(base(), 8, attr(0xe0, 8, &[0, 0, 0, 1])),
            ),
            (
                "low flag bits",
                attrs_with(base(), 4, attr(0x81, 4, &[0, 0, 0, 1])),
            ),
            (
                "needless Extended Length",
                attrs_with(base(), 5, attr(0x50, 5, &[0, 0, 0, 1])),
            ),
            (
                "wrong flags",
                attrs_with(base(), 4, attr(0x40, 4, &[0, 0, 0, 1])),
            ),
            (
                "unknown attribute",
                attrs_with(base(), 99, attr(0xc0, 99, &[1])),
            ),
            (
                "AS4_PATH",
                attrs_with(base(), 17, attr(0xc0, 17, &[2, 1, 0, 0, 0, 1])),
            ),
            ("bad ORIGIN", attrs_with(base(), 1, attr(0x40, 1, &[3]))),
            (
                "empty AS_PATH segment",
                attrs_with(base(), 2, attr(0x40, 2, &[2, 0])),
            ),
            ("short MED", attrs_with(base(), 4, attr(0x80, 4, &[0, 1]))),
            (
                "empty COMMUNITIES",
                attrs_with(base(), 8, attr(0xc0, 8, &[])),
            ),
            (
                "MP_REACH_NLRI",
                attrs_with(
                    base(),
                    14,
                    attr(
                        0x80,
                        14,
                        &[
                            0, 2, 1, 16, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                            1, 0, 32, 0x20, 1, 0xd, 0xb8,
                        ],
                    ),
                ),
            ),
        ];
        for (what, attrs) in cases {
            assert!(!reads(&update_msg(&[], &attrs, &nlri), &four()), "{what}");
        }
        let mut b = base();
        b.remove(2);
        let no_next_hop: Vec<u8> = b.into_iter().flat_map(|(_, a)| a).collect();
        assert!(!reads(&update_msg(&[], &no_next_hop, &nlri), &four()));
        let ok: Vec<u8> = base().into_iter().flat_map(|(_, a)| a).collect();
        let mut swapped = base();
        swapped.swap(0, 1);
        let swapped: Vec<u8> = swapped.into_iter().flat_map(|(_, a)| a).collect();
        assert!(!reads(&update_msg(&[], &swapped, &nlri), &four()), "order");
        let twice = [
            ok.clone(),
            attr(0x40, 5, &[0, 0, 0, 1]),
            attr(0x40, 5, &[0, 0, 0, 2]),
        ]
        .concat();
        assert!(!reads(&update_msg(&[], &twice, &nlri), &four()), "twice");
        assert!(!reads(&update_msg(&[], &ok, &[]), &four()), "no NLRI");
        assert!(
            !reads(&update_msg(&[], &ok, &[33, 10]), &four()),
            "bad NLRI"
        );
        assert!(
            !reads(&update_msg(&[], &[], &nlri), &four()),
            "NLRI without attributes"
        );
        // The session, not the message: 2-octet ASNs, ADD-PATH.
        let two: Vec<u8> = base_attrs(false).into_iter().flat_map(|(_, a)| a).collect();
        assert!(!reads(&update_msg(&[], &two, &nlri), &CodecCtx::default()));
        let mut add_path = four();
        add_path.add_path_rx.insert(Family::Ipv4Unicast);
        assert!(!reads(
            &update_msg(&[], &ok, &[0, 0, 0, 1, 24, 10, 0, 0]),
            &add_path
        ));
        // And the well-formed minimum is read.
        assert!(reads(&update_msg(&[], &ok, &nlri), &four()));
    }

    /// Scans `msg` as a VPN UPDATE (checking it against the decoder); true if read in place.
    fn reads_vpn(msg: &[u8], ctx: &CodecCtx) -> bool {
        scan_agrees(msg, ctx);
        scan_vpn(msg, ctx).is_some()
    }

    /// `vpn_update` of the framed `msg`, with the VPN-IPv4 keys it read.
    fn scan_vpn<'a>(msg: &'a [u8], ctx: &CodecCtx) -> Option<(ScannedVpn<'a>, Vec<Vpn4>)> {
        let (mut v4, mut v6) = (Vec::new(), Vec::<Vpn6>::new());
        let s = vpn_update(&msg[HEADER_LEN..], ctx, |k| v4.push(k), |k| v6.push(k))?;
        Some((s, v4))
    }

    fn vpn_msg(labels: &[u32], next_hop: NextHop, flags: u8) -> Vec<u8> {
        let mut routes = Labeled::default();
        for (i, l) in labels.iter().enumerate() {
            let key = format!("65000:{i}:10.{i}.0.0/16").parse::<Vpn4>().unwrap();
            routes.push(key, Label::new(*l));
        }
        let u = Update {
            attrs: Some(PathAttrs {
                next_hop: NextHop::None,
                ..rich()
            }),
            mp_reach: Some(super::super::MpReach {
                next_hop,
                nlri: NlriSet::Ipv4Vpn(routes),
            }),
            ..Update::default()
        };
        let msg = encoded(&Message::Update(u), &four());
        // Rebuild the section with MP_REACH_NLRI's header written with `flags` (a 2-octet
        // length when they say Extended Length).
        let body = &msg[HEADER_LEN..];
        let section = &body[4..];
        let mut attrs = Vec::new();
        let mut rest = section;
        while let Some((code, value, whole)) = next_attr(rest) {
            rest = &rest[whole.len()..];
            if code != MP_REACH_NLRI {
                attrs.extend_from_slice(whole);
                continue;
            }
            attrs.extend_from_slice(&[flags, code]);
            if flags & EXTENDED_LENGTH != 0 {
                attrs.extend_from_slice(&(value.len() as u16).to_be_bytes());
            } else {
                attrs.push(value.len() as u8);
            }
            attrs.extend_from_slice(value);
        }
        update_msg(&[], &attrs, &[])
    }

    #[test]
    fn a_vpn_update_of_one_label_is_read_in_place_and_stores_as_the_decoded_set() {
        let nh = NextHop::V4(Ipv4Addr::new(192, 0, 2, 1));
        let msg = vpn_msg(&[100, 100, 100], nh, OPTIONAL);
        assert!(reads_vpn(&msg, &four()));
        let (s, keys) = scan_vpn(&msg, &four()).unwrap();
        assert_eq!((s.next_hop, s.label), (nh, Label::new(100)));
        assert_eq!((s.family, keys.len()), (Family::Ipv4Vpn, 3));
        let want = stored::store_labeled(
            &PathAttrs {
                next_hop: NextHop::None,
                ..rich()
            },
            &nh,
            Some(Label::new(100)),
        );
        assert_eq!(&stored::scanned_vpn(&s.attrs, &nh, s.label)[..], &want[..]);
        // Extended Length on a short MP_REACH_NLRI, as FRR and GoBGP send it: read too.
        assert!(reads_vpn(
            &vpn_msg(&[100], nh, OPTIONAL | EXTENDED_LENGTH),
            &four()
        ));
        let v6 = NextHop::V6 {
            global: "2001:db8::1".parse().unwrap(),
            link_local: Some("fe80::1".parse().unwrap()),
        };
        assert!(reads_vpn(&vpn_msg(&[7], v6, OPTIONAL), &four()), "RFC 8950");
    }

    #[test]
    fn a_vpn_update_the_reader_does_not_take_goes_to_the_decoder() {
        let nh = NextHop::V4(Ipv4Addr::new(192, 0, 2, 1));
        assert!(
            !reads_vpn(&vpn_msg(&[100, 101], nh, OPTIONAL), &four()),
            "two labels"
        );
        assert!(
            !reads_vpn(&vpn_msg(&[100], nh, OPTIONAL | TRANSITIVE), &four()),
            "flags"
        );
        assert!(
            !reads_vpn(&vpn_msg(&[100], nh, OPTIONAL | PARTIAL), &four()),
            "Partial"
        );
        assert!(
            !reads_vpn(&vpn_msg(&[100], nh, OPTIONAL), &CodecCtx::default()),
            "AS2"
        );
        // Unicast is not a VPN UPDATE, and a unicast UPDATE is not read as one.
        let unicast = encoded(
            &Message::Update(Update {
                attrs: Some(rich()),
                nlri: vec!["10.0.0.0/8".parse().unwrap()],
                ..Update::default()
            }),
            &four(),
        );
        assert!(!reads_vpn(&unicast, &four()));
        assert!(reads(&unicast, &four()));
    }
}
