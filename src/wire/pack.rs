//! The RIB's fan-out encoders: announce, withdraw and End-of-RIB. These are hot paths: the
//! attributes are encoded once into scratch buffers, then prefixes are packed into as few
//! UPDATEs as `ctx.max_message_len()` allows. Nothing is allocated per prefix.
//!
//! IPv4 unicast uses NEXT_HOP and the NLRI / Withdrawn Routes fields; other families use
//! MP_REACH_NLRI (placed in type-code order, NLRI inside) and MP_UNREACH_NLRI.

use super::attrs_encode as attrs;
use super::framing;
use super::message::*;
use super::nlri::Nlri;
use super::stored;
use super::types::*;
use super::update::{len_placeholder, patch_len};
use super::vpn::Label;
use std::cell::RefCell;

fn path_id_len(ctx: &CodecCtx, family: Family) -> usize {
    if ctx.add_path_tx.contains(family) {
        4
    } else {
        0
    }
}

/// How many of `prefixes` (from the start) fit in `room` bytes, and the bytes they take,
/// announced with `data` if given (`Nlri::PATH_DATA`), else as withdrawn.
fn fit<N: Nlri>(
    prefixes: &[N],
    data: Option<&[u8]>,
    path_id: usize,
    room: usize,
) -> (usize, usize) {
    let mut used = 0;
    for (i, p) in prefixes.iter().enumerate() {
        let l = match data {
            Some(d) if N::PATH_DATA => p.wire_len_with(d),
            _ => p.wire_len(),
        };
        // A route that cannot be written (`put_prefixes`) takes no path id either.
        let l = if l == 0 { 0 } else { l + path_id };
        if used + l > room {
            return (i, used);
        }
        used += l;
    }
    (prefixes.len(), used)
}

/// `data`: the set's path data, for an announcement in a family that has it
/// (`Nlri::PATH_DATA`; its withdrawals are written without, `Nlri::encode`).
fn put_prefixes<N: Nlri>(out: &mut Vec<u8>, prefixes: &[N], path_id: usize, data: Option<&[u8]>) {
    for p in prefixes {
        let at = out.len();
        // ADD-PATH: one path per prefix, identifier 0.
        out.extend_from_slice(&[0u8; 4][..path_id]);
        match data {
            Some(d) if N::PATH_DATA => p.encode_with(d, out),
            _ => p.encode(out),
        }
        // An EVPN route known only by a hash of its value has no withdrawal to write
        // (`wire::evpn_nlri`), and writes nothing; no other route does. Its path id goes
        // too, as `fit` counts it.
        if N::PATH_DATA && out.len() == at + path_id {
            out.truncate(at);
        }
    }
}

/// `label`: the routes' label, in a labeled family.
pub(crate) fn announce<N: Nlri>(
    ctx: &CodecCtx,
    attrs: &PathAttrs,
    reflect: Option<Reflect>,
    label: Option<Label>,
    prefixes: &[N],
    out: &mut Vec<u8>,
) {
    announce_with(
        ctx,
        attrs.next_hop,
        label.as_ref().map(|l| &l.0[..]),
        prefixes,
        out,
        |v4, head, tail| attrs::encode(attrs, reflect, ctx, v4, head, tail),
    )
}

/// `announce` of a set in its stored form (`stored`), as a route reflector sends it.
pub(crate) fn announce_stored<N: Nlri>(
    ctx: &CodecCtx,
    set: &[u8],
    reflect: Reflect,
    prefixes: &[N],
    out: &mut Vec<u8>,
) {
    announce_with(
        ctx,
        stored::next_hop(set),
        stored::path_data(set),
        prefixes,
        out,
        |v4, head, tail| stored::encode(set, reflect, ctx, v4, head, tail),
    )
}

/// Whether routes of `family` with `next_hop` go in the NEXT_HOP attribute and the NLRI
/// field: IPv4 unicast, but for an IPv6 next hop (RFC 8950), which needs MP_REACH_NLRI.
fn classic(family: Family, next_hop: &NextHop) -> bool {
    family == Family::Ipv4Unicast && !matches!(next_hop, NextHop::V6 { .. })
}

/// Encodes the attributes once with `encode` (given whether the routes carry NEXT_HOP,
/// `classic`), then packs `prefixes` after them.
fn announce_with<N: Nlri>(
    ctx: &CodecCtx,
    next_hop: NextHop,
    data: Option<&[u8]>,
    prefixes: &[N],
    out: &mut Vec<u8>,
    encode: impl FnOnce(bool, &mut Vec<u8>, &mut Vec<u8>),
) {
    if prefixes.is_empty() {
        return;
    }
    let v4 = classic(N::FAMILY, &next_hop);
    if matches!(next_hop, NextHop::V6 { .. }) && !ctx.takes_v6_next_hop(N::FAMILY) {
        // RFC 8950 §4: without the capability the peer cannot take an IPv6 next hop for
        // this family; withdrawn, so no earlier version of the route stays there. The RIB
        // plans no such route for such a peer (`rib::reflect::GroupView`); this is for
        // the encoder's other callers.
        withdraw(ctx, prefixes, out);
        return;
    }
    SECTIONS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut sections) => {
            let (head, tail) = &mut *sections;
            head.clear();
            tail.clear();
            encode(v4, head, tail);
            pack_announce(ctx, head, tail, next_hop, data, prefixes, out)
        }
        // Not reached (nothing here packs while packing), but never a panic if it were.
        Err(_) => {
            let (mut head, mut tail) = (Vec::new(), Vec::new());
            encode(v4, &mut head, &mut tail);
            pack_announce(ctx, &head, &tail, next_hop, data, prefixes, out)
        }
    })
}

thread_local! {
    /// The attribute sections of the set being packed, kept per thread: a full table is
    /// hundreds of thousands of sets, and two allocations each were measurable.
    static SECTIONS: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// UPDATEs announcing `prefixes` with the encoded attributes `head` (type codes below
/// MP_REACH_NLRI) and `tail` (above it), as many prefixes to a message as fit.
fn pack_announce<N: Nlri>(
    ctx: &CodecCtx,
    head: &[u8],
    tail: &[u8],
    nh: NextHop,
    data: Option<&[u8]>,
    prefixes: &[N],
    out: &mut Vec<u8>,
) {
    let family = N::FAMILY;
    let path_id = path_id_len(ctx, family);
    let max = ctx.max_message_len();
    let v4 = classic(family, &nh);
    let (afi, safi) = family.afi_safi();
    let nh_len = attrs::mp_next_hop_len(safi, &nh);
    // MP_REACH_NLRI: header (at most 4) + AFI, SAFI, NH length, next hop, reserved.
    let mp_fixed = if v4 { 0 } else { 4 + 5 + nh_len };
    let room = max.saturating_sub(HEADER_LEN + 4 + head.len() + tail.len() + mp_fixed);

    let mut rest = prefixes;
    while !rest.is_empty() {
        let (n, used) = fit(rest, data, path_id, room);
        if n == 0 {
            // The attributes leave no room for a single prefix: a path learned over extended
            // messages, for a peer without them. RFC 8654 §4: treat the route as withdrawn
            // for this peer, so no earlier version of it stays there either.
            withdraw(ctx, rest, out);
            return;
        }
        let (now, later) = rest.split_at(n);
        rest = later;
        out.reserve(HEADER_LEN + 4 + head.len() + tail.len() + mp_fixed + used);
        let at = framing::start(out, MSG_UPDATE);
        out.extend_from_slice(&[0, 0]);
        let al = len_placeholder(out);
        out.extend_from_slice(head);
        if !v4 {
            attrs::put_mp_reach_head(out, afi, safi, &nh, used);
            put_prefixes(out, now, path_id, data);
        }
        out.extend_from_slice(tail);
        patch_len(out, al);
        if v4 {
            put_prefixes(out, now, path_id, None);
        }
        framing::finish(out, at);
    }
}

pub(crate) fn withdraw<N: Nlri>(ctx: &CodecCtx, prefixes: &[N], out: &mut Vec<u8>) {
    let family = N::FAMILY;
    let path_id = path_id_len(ctx, family);
    let v4 = family == Family::Ipv4Unicast;
    // MP_UNREACH_NLRI: header (at most 4) + AFI, SAFI.
    let room = ctx.max_message_len() - (HEADER_LEN + 4) - if v4 { 0 } else { 4 + 3 };
    let (afi, safi) = family.afi_safi();
    let mut rest = prefixes;
    while !rest.is_empty() {
        let (n, used) = fit(rest, None, path_id, room);
        if n == 0 {
            return;
        }
        let (now, later) = rest.split_at(n);
        rest = later;
        if used == 0 {
            // Only routes with no withdrawal to write: an empty MP_UNREACH_NLRI would be
            // End-of-RIB.
            continue;
        }
        out.reserve(HEADER_LEN + 4 + 7 + used);
        let at = framing::start(out, MSG_UPDATE);
        if v4 {
            let wl = len_placeholder(out);
            put_prefixes(out, now, path_id, None);
            patch_len(out, wl);
            out.extend_from_slice(&[0, 0]);
        } else {
            out.extend_from_slice(&[0, 0]);
            let al = len_placeholder(out);
            attrs::put_mp_unreach_head(out, afi, safi, used);
            put_prefixes(out, now, path_id, None);
            patch_len(out, al);
        }
        framing::finish(out, at);
    }
}

pub(crate) fn end_of_rib(family: Family, out: &mut Vec<u8>) {
    let at = framing::start(out, MSG_UPDATE);
    out.extend_from_slice(&[0, 0]);
    if family == Family::Ipv4Unicast {
        out.extend_from_slice(&[0, 0]);
    } else {
        let (afi, safi) = family.afi_safi();
        let al = len_placeholder(out);
        attrs::put_mp_unreach_head(out, afi, safi, 0);
        patch_len(out, al);
    }
    framing::finish(out, at);
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{encode_announce, encode_announce_reflected, encode_withdraw};
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn attrs(next_hop: NextHop) -> PathAttrs {
        PathAttrs {
            as_path: AsPath {
                segments: vec![AsSegment {
                    kind: SegmentKind::Sequence,
                    asns: vec![65001, 400_000],
                }],
            },
            next_hop,
            local_pref: Some(100),
            communities: vec![1, 2, 3],
            originator_id: Some(Ipv4Addr::new(10, 0, 0, 1)),
            cluster_list: vec![Ipv4Addr::new(10, 0, 0, 2)],
            large_communities: vec![[1, 2, 3]],
            ..PathAttrs::default()
        }
    }

    fn v4_prefixes(n: u32) -> Vec<Prefix4> {
        (0..n)
            .map(|i| Prefix4::new(Ipv4Addr::from((10 << 24) | (i << 8)), 24).unwrap())
            .collect()
    }

    fn v6_prefixes(n: u32) -> Vec<Prefix6> {
        (0..n)
            .map(|i| {
                let a = (0x2001_0db8_u128 << 96) | ((i as u128) << 80);
                Prefix6::new(Ipv6Addr::from(a), 48).unwrap()
            })
            .collect()
    }

    fn nh4() -> NextHop {
        NextHop::V4(Ipv4Addr::new(192, 0, 2, 1))
    }

    fn nh6() -> NextHop {
        NextHop::V6 {
            global: "2001:db8::1".parse().unwrap(),
            link_local: Some("fe80::1".parse().unwrap()),
        }
    }

    #[test]
    fn an_ipv4_route_with_an_ipv6_next_hop_goes_in_mp_reach_only_where_rfc_8950_was_agreed() {
        let a = attrs(nh6());
        let ps = v4_prefixes(3);
        let enh = CodecCtx {
            four_octet_as: true,
            extended_next_hop: FamilySet::EMPTY.with(Family::Ipv4Unicast),
            ..CodecCtx::default()
        };
        let mut out = Vec::new();
        encode_announce(&enh, &a, &ps, &mut out);
        let u = decode_update(&out, &enh).unwrap();
        assert!(u.nlri.is_empty(), "no NLRI field");
        assert!(u
            .attrs
            .as_ref()
            .is_some_and(|a| a.next_hop == NextHop::None));
        let mp = u.mp_reach.unwrap();
        assert_eq!(mp.next_hop, nh6());
        assert_eq!(mp.nlri, NlriSet::Ipv4Unicast(ps.clone()));

        let plain = CodecCtx {
            extended_next_hop: FamilySet::EMPTY,
            ..enh
        };
        let mut out = Vec::new();
        encode_announce(&plain, &a, &ps, &mut out);
        let u = decode_update(&out, &plain).unwrap();
        assert_eq!(u.withdrawn, ps, "withdrawn where it cannot be sent");
        assert!(u.mp_reach.is_none() && u.nlri.is_empty());
    }

    fn check_v4_announce(c: &CodecCtx, min_msgs: usize) {
        let a = attrs(nh4());
        let ps = v4_prefixes(10_000);
        let mut out = Vec::new();
        encode_announce(c, &a, &ps, &mut out);
        let max = c.max_message_len();
        let msgs = split(&out, max);
        assert!(msgs.len() >= min_msgs, "{} messages", msgs.len());
        let mut back = Vec::new();
        for m in &msgs {
            assert!(m.len() <= max);
            let u = decode_update(m, c).unwrap();
            assert!(u.attr_errors.is_empty(), "{:?}", u.attr_errors);
            assert_eq!(u.attrs.as_ref(), Some(&a));
            assert!(u.mp_reach.is_none());
            back.extend(u.nlri);
        }
        assert_eq!(back, ps);
    }

    #[test]
    fn ten_thousand_slash_24s_pack_into_4096_byte_updates_in_order() {
        for four_octet_as in [false, true] {
            let c = CodecCtx {
                four_octet_as,
                ..CodecCtx::default()
            };
            // 40,000 bytes of NLRI: at least 10 messages.
            check_v4_announce(&c, 10);
        }
    }

    #[test]
    fn extended_messages_pack_up_to_65535_bytes() {
        let c = CodecCtx {
            four_octet_as: true,
            extended_message: true,
            ..CodecCtx::default()
        };
        check_v4_announce(&c, 1);
        let mut out = Vec::new();
        encode_announce(&c, &attrs(nh4()), &v4_prefixes(20_000), &mut out);
        let msgs = split(&out, 65535);
        assert_eq!(msgs.len(), 2);
        assert!(msgs[0].len() > 60_000);
    }

    #[test]
    fn path_too_big_for_4096_bytes_is_withdrawn_without_extended_messages() {
        let mut a = attrs(nh4());
        a.communities = (0..1100).collect(); // 4,400 bytes
        let ps = v4_prefixes(3);
        for extended_message in [false, true] {
            let c = CodecCtx {
                extended_message,
                ..CodecCtx::default()
            };
            let mut out = Vec::new();
            encode_announce(&c, &a, &ps, &mut out);
            let msgs = split(&out, c.max_message_len());
            assert_eq!(msgs.len(), 1);
            let u = decode_update(msgs[0], &c).unwrap();
            if extended_message {
                assert_eq!((u.nlri, u.attrs), (ps.clone(), Some(a.clone())));
            } else {
                assert_eq!((u.withdrawn, u.attrs), (ps.clone(), None));
            }
        }
    }

    #[test]
    fn messages_are_filled_to_the_limit() {
        let c = CodecCtx::default();
        let mut out = Vec::new();
        encode_announce(&c, &attrs(nh4()), &v4_prefixes(10_000), &mut out);
        for m in split(&out, 4096).iter().rev().skip(1) {
            assert!(m.len() > 4096 - 4, "{}", m.len());
        }
    }

    #[test]
    fn ipv6_announcements_use_mp_reach_with_the_attribute_next_hop() {
        for extended_message in [false, true] {
            let c = CodecCtx {
                four_octet_as: true,
                extended_message,
                ..CodecCtx::default()
            };
            let a = attrs(nh6());
            let ps = v6_prefixes(10_000);
            let mut out = Vec::new();
            encode_announce(&c, &a, &ps, &mut out);
            let mut back = Vec::new();
            for m in split(&out, c.max_message_len()) {
                assert!(m.len() <= c.max_message_len());
                let u = decode_update(m, &c).unwrap();
                assert!(u.attr_errors.is_empty() && u.nlri.is_empty());
                let mut got = u.attrs.unwrap();
                assert_eq!(
                    got.next_hop,
                    NextHop::None,
                    "no NEXT_HOP attribute for IPv6"
                );
                let mp = u.mp_reach.unwrap();
                got.next_hop = mp.next_hop;
                assert_eq!(got, a);
                match mp.nlri {
                    NlriSet::Ipv6Unicast(v) => back.extend(v),
                    other => panic!("{other:?}"),
                }
            }
            assert_eq!(back, ps);
        }
    }

    #[test]
    fn withdrawals_pack_and_decode_back_for_both_families() {
        let c = CodecCtx::default();
        let ps4 = v4_prefixes(5_000);
        let ps6 = v6_prefixes(5_000);
        let mut out = Vec::new();
        encode_withdraw(&c, &ps4, &mut out);
        let n4 = split(&out, 4096).len();
        encode_withdraw(&c, &ps6, &mut out);
        let (mut back4, mut back6) = (Vec::new(), Vec::new());
        for (i, m) in split(&out, 4096).into_iter().enumerate() {
            assert!(m.len() <= 4096);
            let u = decode_update(m, &c).unwrap();
            assert!(u.attrs.is_none() && u.attr_errors.is_empty());
            if i < n4 {
                back4.extend(u.withdrawn);
            } else {
                match u.mp_unreach.unwrap().nlri {
                    NlriSet::Ipv6Unicast(v) => back6.extend(v),
                    other => panic!("{other:?}"),
                }
            }
        }
        assert_eq!((back4, back6), (ps4, ps6));
    }

    #[test]
    fn add_path_send_prefixes_decode_with_add_path_receive() {
        let fams = FamilySet::EMPTY
            .with(Family::Ipv4Unicast)
            .with(Family::Ipv6Unicast);
        let tx = CodecCtx {
            add_path_tx: fams,
            ..CodecCtx::default()
        };
        let rx = CodecCtx {
            add_path_rx: fams,
            ..CodecCtx::default()
        };
        let ps = v4_prefixes(3_000);
        let mut out = Vec::new();
        encode_announce(&tx, &attrs(nh4()), &ps, &mut out);
        let back: Vec<Prefix4> = split(&out, 4096)
            .into_iter()
            .flat_map(|m| {
                assert!(m.len() <= 4096);
                decode_update(m, &rx).unwrap().nlri
            })
            .collect();
        assert_eq!(back, ps);
        let ps6 = v6_prefixes(10);
        let mut out = Vec::new();
        encode_withdraw(&tx, &ps6, &mut out);
        let u = decode_update(&out, &rx).unwrap();
        assert_eq!(u.mp_unreach.unwrap().nlri, NlriSet::Ipv6Unicast(ps6));
    }

    /// The reflector's encoder adds ORIGINATOR_ID / CLUSTER_LIST on the fly: the bytes must
    /// equal encoding a copy with them set (RFC 4456 §8), for both families and codecs.
    #[test]
    fn reflected_encoding_equals_encoding_the_reflected_copy() {
        let reflect = Reflect {
            originator_id: Ipv4Addr::new(192, 0, 2, 7),
            cluster_id: Ipv4Addr::new(192, 0, 2, 99),
        };
        let bare = PathAttrs {
            originator_id: None,
            cluster_list: Vec::new(),
            ..attrs(nh4())
        };
        for a in [attrs(nh4()), bare, attrs(nh6())] {
            let mut copy = a.clone();
            copy.originator_id.get_or_insert(reflect.originator_id);
            copy.cluster_list.insert(0, reflect.cluster_id);
            for four in [true, false] {
                let c = CodecCtx {
                    four_octet_as: four,
                    ..CodecCtx::default()
                };
                let (mut want, mut got) = (Vec::new(), Vec::new());
                if matches!(a.next_hop, NextHop::V4(_)) {
                    encode_announce(&c, &copy, &v4_prefixes(3000), &mut want);
                    encode_announce_reflected(&c, &a, reflect, &v4_prefixes(3000), &mut got);
                } else {
                    encode_announce(&c, &copy, &v6_prefixes(3000), &mut want);
                    encode_announce_reflected(&c, &a, reflect, &v6_prefixes(3000), &mut got);
                }
                assert!(!want.is_empty());
                assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn empty_prefix_lists_encode_nothing() {
        let mut out = Vec::new();
        encode_announce(
            &CodecCtx::default(),
            &attrs(nh4()),
            &[] as &[Prefix4],
            &mut out,
        );
        encode_withdraw(&CodecCtx::default(), &[] as &[Prefix6], &mut out);
        assert!(out.is_empty());
    }
}
