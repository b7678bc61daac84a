//! Attribute sets in the form the RIB stores them: one canonical byte string per set (the
//! next hop, then every other attribute as our encoder writes it toward a 4-octet AS
//! speaker). Equal sets have equal bytes, so interning hashes and compares bytes, and a
//! set costs its wire size instead of a `PathAttrs` with four or five heap blocks.
//!
//! Reflecting a stored set toward a 4-octet AS peer is a copy of its bytes with NEXT_HOP,
//! ORIGINATOR_ID and CLUSTER_LIST spliced in at their type-code positions; only a 2-octet
//! peer (AS_TRANS, AS4_PATH) needs the set decoded and encoded again.
//!
//! Layout: `[n][next hop: n bytes][attributes]`, n ∈ {0, 4, 16, 32} (none, IPv4, IPv6
//! global, IPv6 global + link-local); the attributes never include NEXT_HOP,
//! MP_REACH_NLRI or MP_UNREACH_NLRI. A path of a family whose NLRI holds fields that are the
//! path's and not the route key's (`Nlri::PATH_DATA`: a VPN route's label, RFC 8277; an EVPN
//! route's labels, ESI and gateway, RFC 7432) has them in its set:
//! `[n | PATH_DATA][next hop][length: 1][path data: length bytes][attributes]`. Paths that
//! differ only in those fields are then different sets, as they must be sent apart.

use super::attr_code::{next_attr, AS_PATH, CLUSTER_LIST, MP_REACH_NLRI, NEXT_HOP};
use super::attr_code::{OPTIONAL, ORIGINATOR_ID, TRANSITIVE};
use super::attrs;
use super::attrs_encode;
use super::message::CodecCtx;
use super::scan::ScannedAttrs;
use super::types::{NextHop, PathAttrs};
use super::vpn::Label;
use super::Reflect;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The context stored sets are encoded in: 4-octet ASNs, no length limit of ours.
fn canonical_ctx() -> CodecCtx {
    CodecCtx {
        four_octet_as: true,
        extended_message: true,
        ..CodecCtx::default()
    }
}

/// Whether `attrs` has a stored form and can be reflected. Two attributes grow on the way,
/// and over extended messages either can then pass the 65,535 bytes an attribute may hold:
/// AS_PATH from a 2-octet AS speaker (its ASNs become 4-octet), and CLUSTER_LIST, which
/// reflecting prepends our CLUSTER_ID to. Such a route cannot be stored or sent to anyone:
/// the caller treats it as withdrawn (RFC 7606 §2).
pub fn fits(attrs: &PathAttrs) -> bool {
    let max = u16::MAX as usize;
    attrs_encode::as_path_len(&attrs.as_path, 4, true) <= max
        && 4 * (attrs.cluster_list.len() + 1) <= max
}

/// The canonical bytes of `attrs` (which `fits`).
pub fn store(attrs: &PathAttrs) -> Vec<u8> {
    store_with(attrs, &attrs.next_hop)
}

/// The first byte's flag: the path's NLRI data follows the next hop.
const PATH_DATA: u8 = 0x80;

/// The canonical bytes of `attrs` with `next_hop` in place of its own.
pub fn store_with(attrs: &PathAttrs, next_hop: &NextHop) -> Vec<u8> {
    store_labeled(attrs, next_hop, None)
}

/// `store_with` for a path of a labeled family, with its `label`.
pub fn store_labeled(attrs: &PathAttrs, next_hop: &NextHop, label: Option<Label>) -> Vec<u8> {
    store_path(attrs, next_hop, label.as_ref().map(|l| &l.0[..]))
}

/// `store_with` for a path whose NLRI has fields of its own (`Nlri::PATH_DATA`): `data`,
/// at most 255 bytes (longer is cut, which no family's NLRI needs: its whole value is
/// at most 255 bytes).
pub fn store_path(attrs: &PathAttrs, next_hop: &NextHop, data: Option<&[u8]>) -> Vec<u8> {
    // Most sets are under 128 bytes: written without regrowing.
    let mut out = Vec::with_capacity(128);
    let flag = if data.is_some() { PATH_DATA } else { 0 };
    out.push(attrs_encode::next_hop_len(next_hop) as u8 | flag);
    attrs_encode::put_next_hop(&mut out, next_hop);
    if let Some(d) = data {
        let d = d.get(..255).unwrap_or(d);
        out.push(d.len() as u8);
        out.extend_from_slice(d);
    }
    let mut tail = Vec::new();
    attrs_encode::encode(attrs, None, &canonical_ctx(), false, &mut out, &mut tail);
    out.extend_from_slice(&tail);
    out
}

/// The stored form of a set read in place: its attribute bytes are already canonical
/// (`scan`), so the set is the next hop followed by those bytes minus NEXT_HOP. One
/// allocation.
pub fn scanned(a: &ScannedAttrs) -> std::sync::Arc<[u8]> {
    let mut out = smallvec::SmallVec::<[u8; 256]>::new();
    out.push(4);
    out.extend_from_slice(&a.next_hop.octets());
    out.extend_from_slice(a.head);
    out.extend_from_slice(a.tail);
    std::sync::Arc::from(&out[..])
}

/// The attribute section of a stored set (after its next hop and path data). None for bytes
/// that are no stored set (shorter than their next hop and path data say).
pub fn attributes(stored: &[u8]) -> Option<&[u8]> {
    let first = *stored.first()?;
    let nh_end = 1 + usize::from(first & !PATH_DATA);
    if first & PATH_DATA == 0 {
        return stored.get(nh_end..);
    }
    let len = usize::from(*stored.get(nh_end)?);
    stored.get(nh_end + 1 + len..)
}

/// The label of a stored set of a labeled family's path (VPN: its path data is the label).
pub fn label(stored: &[u8]) -> Option<Label> {
    Label::from_path_data(path_data(stored)?)
}

/// The path's own NLRI fields, in a set of a family that has them (`Nlri::PATH_DATA`).
pub fn path_data(stored: &[u8]) -> Option<&[u8]> {
    let (_, data, _) = split(stored);
    data
}

/// The stored form of a VPN path read in place (`scan::vpn_update`): the next hop and
/// label, then the attribute bytes around MP_REACH_NLRI. One allocation.
pub fn scanned_vpn(a: &ScannedAttrs, next_hop: &NextHop, label: Label) -> std::sync::Arc<[u8]> {
    let mut out = smallvec::SmallVec::<[u8; 256]>::new();
    out.push(attrs_encode::next_hop_len(next_hop) as u8 | PATH_DATA);
    attrs_encode::put_next_hop(&mut out, next_hop);
    out.push(label.0.len() as u8);
    out.extend_from_slice(&label.0);
    out.extend_from_slice(a.head);
    out.extend_from_slice(a.tail);
    std::sync::Arc::from(&out[..])
}

/// The next hop of a stored set.
pub fn next_hop(stored: &[u8]) -> NextHop {
    let (nh, _, _) = split(stored);
    let v6 = |b: &[u8]| Ipv6Addr::from(<[u8; 16]>::try_from(b).unwrap_or([0; 16]));
    match nh.len() {
        4 => NextHop::V4(Ipv4Addr::new(nh[0], nh[1], nh[2], nh[3])),
        16 => NextHop::V6 {
            global: v6(nh),
            link_local: None,
        },
        32 => NextHop::V6 {
            global: v6(&nh[..16]),
            link_local: Some(v6(&nh[16..])),
        },
        _ => NextHop::None,
    }
}

/// The set `store` was given (up to what the encoder normalizes: unknown attributes in
/// type-code order with the Partial bit, AS_PATH segments of at most 255 ASNs).
pub fn load(stored: &[u8]) -> PathAttrs {
    let (_, _, section) = split(stored);
    let mut a = match attrs::decode(section, &canonical_ctx()) {
        Ok(d) => d.attrs,
        Err(_) => {
            debug_assert!(false, "a stored attribute set does not decode");
            PathAttrs::default()
        }
    };
    a.next_hop = next_hop(stored);
    a
}

/// (next hop bytes, path data, attribute section).
fn split(stored: &[u8]) -> (&[u8], Option<&[u8]>, &[u8]) {
    let first = stored.first().copied().unwrap_or(0);
    let n = usize::from(first & !PATH_DATA);
    let nh_end = (1 + n).min(stored.len());
    let nh = &stored[1.min(stored.len())..nh_end];
    let rest = &stored[nh_end..];
    if first & PATH_DATA == 0 {
        return (nh, None, rest);
    }
    let Some((&len, rest)) = rest.split_first() else {
        return (nh, None, &[]);
    };
    match rest.split_at_checked(usize::from(len)) {
        Some((data, rest)) => (nh, Some(data), rest),
        None => (nh, None, &[]),
    }
}

/// The attributes of `stored` as `attrs::encode` writes them for `ctx` (head: type codes
/// below MP_REACH_NLRI, tail: above MP_UNREACH_NLRI): the NEXT_HOP attribute if
/// `with_next_hop` and the next hop is IPv4, and `reflect`'s ORIGINATOR_ID (unless the set
/// has one) and CLUSTER_ID prepended to its CLUSTER_LIST.
pub(crate) fn encode(
    stored: &[u8],
    reflect: Reflect,
    ctx: &CodecCtx,
    with_next_hop: bool,
    head: &mut Vec<u8>,
    tail: &mut Vec<u8>,
) {
    if !ctx.four_octet_as {
        // AS_TRANS and AS4_PATH / AS4_AGGREGATOR: the encoder's slow path.
        attrs_encode::encode(&load(stored), Some(reflect), ctx, with_next_hop, head, tail);
        return;
    }
    let (nh, _, section) = split(stored);
    let mut need_nh = with_next_hop && nh.len() == 4;
    let mut need_rr = true;
    let (mut originator, mut clusters): (Option<&[u8]>, &[u8]) = (None, &[]);
    let mut rest = section;
    while let Some((code, value, whole)) = next_attr(rest) {
        rest = &rest[whole.len()..];
        // The encoder writes an unknown attribute of the reserved type code 0 after
        // AGGREGATOR, so NEXT_HOP (after AS_PATH) comes before it too.
        if need_nh && (code > NEXT_HOP || code == 0) {
            put_v4_next_hop(head, nh);
            need_nh = false;
        }
        match code {
            ORIGINATOR_ID => originator = Some(value),
            CLUSTER_LIST => clusters = value,
            _ => {
                if need_rr && code > CLUSTER_LIST {
                    put_reflected(head, reflect, originator, clusters);
                    need_rr = false;
                }
                let out = if code < MP_REACH_NLRI {
                    &mut *head
                } else {
                    &mut *tail
                };
                out.extend_from_slice(whole);
            }
        }
    }
    if need_nh {
        put_v4_next_hop(head, nh);
    }
    if need_rr {
        put_reflected(head, reflect, originator, clusters);
    }
}

/// What a route that has passed through us before carries.
#[derive(Clone, Copy, Debug)]
pub struct Ours {
    /// RFC 4271 §9.1.2: our AS anywhere in the AS_PATH.
    pub asn: u32,
    /// RFC 4456 §8: our BGP Identifier as ORIGINATOR_ID, or our CLUSTER_ID in CLUSTER_LIST.
    pub router_id: Ipv4Addr,
    pub cluster_id: Ipv4Addr,
}

/// The set carries one of `ours` (above): a loop, so the route is not eligible.
pub fn is_looped(stored: &[u8], ours: &Ours) -> bool {
    let (_, _, mut rest) = split(stored);
    while let Some((code, value, whole)) = next_attr(rest) {
        rest = &rest[whole.len()..];
        match code {
            AS_PATH if as_path_has(value, ours.asn) => return true,
            ORIGINATOR_ID if value == ours.router_id.octets() => return true,
            CLUSTER_LIST if value.chunks(4).any(|c| c == ours.cluster_id.octets()) => return true,
            c if c > CLUSTER_LIST => return false,
            _ => {}
        }
    }
    false
}

/// `asn` in any segment of a stored (4-octet) AS_PATH value. Confederation segments count
/// too: without confederations configured, our AS there is as much a loop.
fn as_path_has(value: &[u8], asn: u32) -> bool {
    let want = asn.to_be_bytes();
    attrs::as4_segments(value).any(|(_, asns)| asns.chunks_exact(4).any(|a| a == want))
}

fn put_v4_next_hop(out: &mut Vec<u8>, nh: &[u8]) {
    attrs_encode::put_header(out, TRANSITIVE, NEXT_HOP, 4);
    out.extend_from_slice(nh);
}

/// RFC 4456 §8: the set's ORIGINATOR_ID or the source's; our CLUSTER_ID, then the set's
/// CLUSTER_LIST.
fn put_reflected(out: &mut Vec<u8>, r: Reflect, originator: Option<&[u8]>, clusters: &[u8]) {
    attrs_encode::put_header(out, OPTIONAL, ORIGINATOR_ID, 4);
    match originator {
        Some(id) => out.extend_from_slice(id),
        None => out.extend_from_slice(&r.originator_id.octets()),
    }
    attrs_encode::put_header(out, OPTIONAL, CLUSTER_LIST, 4 + clusters.len());
    out.extend_from_slice(&r.cluster_id.octets());
    out.extend_from_slice(clusters);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::attr_code;
    use crate::wire::{AsPath, AsSegment, Origin, RawAttr, SegmentKind};

    fn sets() -> Vec<PathAttrs> {
        let base = PathAttrs {
            origin: Origin::Igp,
            as_path: AsPath {
                segments: vec![AsSegment {
                    kind: SegmentKind::Sequence,
                    asns: vec![64512, 4200000001, 7],
                }],
            },
            next_hop: NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)),
            local_pref: Some(200),
            ..PathAttrs::default()
        };
        let v6 = NextHop::V6 {
            global: "2001:db8::1".parse().unwrap(),
            link_local: None,
        };
        let v6ll = NextHop::V6 {
            global: "2001:db8::1".parse().unwrap(),
            link_local: Some("fe80::1".parse().unwrap()),
        };
        vec![
            base.clone(),
            PathAttrs {
                med: Some(5),
                atomic_aggregate: true,
                aggregator: Some((4200000002, Ipv4Addr::new(10, 0, 0, 1))),
                communities: vec![1, 2, 3],
                ext_communities: vec![[0, 2, 0, 1, 0, 0, 0, 9]],
                large_communities: vec![[1, 2, 3]],
                ..base.clone()
            },
            PathAttrs {
                originator_id: Some(Ipv4Addr::new(9, 9, 9, 9)),
                cluster_list: vec![Ipv4Addr::new(8, 8, 8, 8), Ipv4Addr::new(7, 7, 7, 7)],
                next_hop: v6,
                ..base.clone()
            },
            PathAttrs {
                cluster_list: (0..70).map(|i| Ipv4Addr::new(10, 0, 0, i)).collect(),
                next_hop: v6ll,
                unknown: vec![
                    RawAttr {
                        flags: OPTIONAL | TRANSITIVE,
                        code: 99,
                        data: vec![1, 2, 3],
                    },
                    RawAttr {
                        flags: OPTIONAL | TRANSITIVE,
                        code: 12,
                        data: vec![4; 300],
                    },
                ],
                ..base.clone()
            },
            // Found by the `attributes` fuzz target: the reserved type code 0, IPv4 next hop.
            PathAttrs {
                unknown: vec![RawAttr {
                    flags: OPTIONAL | TRANSITIVE,
                    code: 0,
                    data: vec![],
                }],
                local_pref: None,
                ..base.clone()
            },
            PathAttrs {
                next_hop: NextHop::None,
                local_pref: None,
                as_path: AsPath::default(),
                ..base
            },
        ]
    }

    #[test]
    fn an_as_path_or_cluster_list_that_would_pass_65535_bytes_does_not_fit() {
        let seg = |n| AsSegment {
            kind: SegmentKind::Sequence,
            asns: vec![64512; n],
        };
        let mut a = PathAttrs {
            as_path: AsPath {
                segments: (0..64).map(|_| seg(255)).collect(),
            },
            ..PathAttrs::default()
        };
        // 64 x (2 + 4 x 255) = 65,408 bytes: fits.
        assert!(fits(&a));
        a.as_path.segments.push(seg(40));
        // + 2 + 160 = 65,570: as received over 2 octets (32,866 bytes) it was valid.
        assert!(!fits(&a));
        // 16,382 cluster ids fit with ours in front (65,532 bytes); 16,383 are the most a
        // peer can send, and ours would make 65,536.
        let mut b = PathAttrs {
            cluster_list: vec![Ipv4Addr::new(10, 0, 0, 1); 16382],
            ..PathAttrs::default()
        };
        assert!(fits(&b));
        b.cluster_list.push(Ipv4Addr::new(10, 0, 0, 2));
        assert!(!fits(&b));
    }

    #[test]
    fn loop_checks_match_originator_and_cluster_list() {
        let us = Ipv4Addr::new(1, 1, 1, 1);
        let cl = Ipv4Addr::new(2, 2, 2, 2);
        let ours = Ours {
            asn: 65000,
            router_id: us,
            cluster_id: cl,
        };
        let mut a = PathAttrs::default();
        assert!(!is_looped(&store(&a), &ours));
        a.originator_id = Some(us);
        assert!(is_looped(&store(&a), &ours));
        a.originator_id = Some(cl);
        assert!(!is_looped(&store(&a), &ours));
        a.cluster_list = vec![Ipv4Addr::new(3, 3, 3, 3), cl];
        assert!(is_looped(&store(&a), &ours));
        a.cluster_list = vec![us];
        assert!(!is_looped(&store(&a), &ours));
    }

    #[test]
    fn loop_check_finds_our_as_in_any_segment_of_the_path() {
        let ours = Ours {
            asn: 65000,
            router_id: Ipv4Addr::new(1, 1, 1, 1),
            cluster_id: Ipv4Addr::new(2, 2, 2, 2),
        };
        let path = |segs: Vec<(SegmentKind, Vec<u32>)>| PathAttrs {
            as_path: AsPath {
                segments: (segs.into_iter())
                    .map(|(kind, asns)| AsSegment { kind, asns })
                    .collect(),
            },
            ..PathAttrs::default()
        };
        let seq = SegmentKind::Sequence;
        assert!(!is_looped(
            &store(&path(vec![(seq, vec![64512, 3356, 1299])])),
            &ours
        ));
        assert!(is_looped(
            &store(&path(vec![(seq, vec![64512, 65000])])),
            &ours
        ));
        assert!(is_looped(&store(&path(vec![(seq, vec![65000])])), &ours));
        let set = SegmentKind::Set;
        let two = vec![(seq, vec![64512, 3356]), (set, vec![7, 65000, 9])];
        assert!(is_looped(&store(&path(two)), &ours));
        // A 4-octet AS whose low half is ours is another AS.
        let four = vec![(seq, vec![(1 << 16) | 65000, 65000 << 16])];
        assert!(!is_looped(&store(&path(four)), &ours));
        // Segments of 255 ASNs (a longer one is split when stored) are walked to the end.
        let long: Vec<u32> = (1..=300).chain([65000]).collect();
        assert!(is_looped(&store(&path(vec![(seq, long)])), &ours));
    }

    #[test]
    fn a_stored_set_loads_back_and_keeps_its_next_hop() {
        for a in sets() {
            let s = store(&a);
            assert_eq!(next_hop(&s), a.next_hop);
            let mut back = load(&s);
            // The encoder sends unknown transitive attributes on with the Partial bit.
            for u in &mut back.unknown {
                u.flags &= !attr_code::PARTIAL;
            }
            back.unknown.sort_by_key(|u| u.code);
            let mut want = a.clone();
            want.unknown.sort_by_key(|u| u.code);
            assert_eq!(back, want);
            assert_eq!(store(&back), s, "storing is stable");
        }
    }

    #[test]
    fn reflecting_a_stored_set_writes_the_bytes_the_encoder_writes() {
        let r = Reflect {
            originator_id: Ipv4Addr::new(1, 1, 1, 1),
            cluster_id: Ipv4Addr::new(2, 2, 2, 2),
        };
        for four_octet_as in [true, false] {
            let ctx = CodecCtx {
                four_octet_as,
                ..CodecCtx::default()
            };
            for a in sets() {
                for with_nh in [true, false] {
                    let (mut h1, mut t1, mut h2, mut t2) = Default::default();
                    attrs_encode::encode(&a, Some(r), &ctx, with_nh, &mut h1, &mut t1);
                    encode(&store(&a), r, &ctx, with_nh, &mut h2, &mut t2);
                    assert_eq!(
                        (h2, t2),
                        (h1, t1),
                        "{a:?} four {four_octet_as} nh {with_nh}"
                    );
                }
            }
        }
    }
}
