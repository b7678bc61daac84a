//! Path attribute encoding: the attributes of a `PathAttrs` in ascending type code, the
//! Extended Length bit only where a value exceeds 255 bytes, unknown transitive attributes
//! passed on with the Partial bit, and RFC 6793 AS_TRANS / AS4_* toward 2-octet speakers.
//! MP_REACH_NLRI / MP_UNREACH_NLRI headers are written here; their NLRI by the caller.

use super::as4;
use super::attr_code::*;
use super::message::*;
use super::types::*;

/// Appends an attribute header; the Extended Length bit is set only when needed.
pub(crate) fn put_header(out: &mut Vec<u8>, flags: u8, code: u8, len: usize) {
    debug_assert!(len <= u16::MAX as usize, "attribute {code} of {len} bytes");
    if len > 255 {
        out.extend_from_slice(&[flags | EXTENDED_LENGTH, code]);
        out.extend_from_slice(&(len.min(u16::MAX as usize) as u16).to_be_bytes());
    } else {
        out.extend_from_slice(&[flags & !EXTENDED_LENGTH, code, len as u8]);
    }
}

fn is_known(code: u8) -> bool {
    expected_flags(code).is_some()
}

/// Segments as sent: at most 255 ASNs each, empty ones dropped.
fn wire_segments(path: &AsPath, confed: bool) -> impl Iterator<Item = (SegmentKind, &[u32])> {
    path.segments
        .iter()
        .filter(move |s| {
            confed || !matches!(s.kind, SegmentKind::ConfedSequence | SegmentKind::ConfedSet)
        })
        .flat_map(|s| s.asns.chunks(255).map(move |c| (s.kind, c)))
}

pub(crate) fn as_path_len(path: &AsPath, width: usize, confed: bool) -> usize {
    wire_segments(path, confed)
        .map(|(_, c)| 2 + width * c.len())
        .sum()
}

fn put_as_path(out: &mut Vec<u8>, code: u8, path: &AsPath, four_octet: bool, confed: bool) {
    let width = if four_octet { 4 } else { 2 };
    let flags = if code == AS4_PATH {
        OPTIONAL | TRANSITIVE
    } else {
        TRANSITIVE
    };
    put_header(out, flags, code, as_path_len(path, width, confed));
    for (kind, asns) in wire_segments(path, confed) {
        out.push(kind as u8);
        out.push(asns.len() as u8);
        for &a in asns {
            if four_octet {
                out.extend_from_slice(&a.to_be_bytes());
            } else {
                out.extend_from_slice(&as4::narrow(a).to_be_bytes());
            }
        }
    }
}

/// Unknown transitive attributes in type-code order, emitted as the known ones pass them.
struct Unknowns<'a> {
    sorted: Vec<&'a RawAttr>,
    next: usize,
}

impl<'a> Unknowns<'a> {
    fn new(attrs: &'a PathAttrs) -> Self {
        let mut sorted: Vec<&RawAttr> = attrs
            .unknown
            .iter()
            .filter(|u| !is_known(u.code) && u.data.len() <= u16::MAX as usize)
            .collect();
        sorted.sort_by_key(|u| u.code);
        Unknowns { sorted, next: 0 }
    }

    /// Emits the unknown attributes whose code is below `limit`.
    fn below(&mut self, limit: u16, out: &mut Vec<u8>) {
        while let Some(u) = self.sorted.get(self.next) {
            if u16::from(u.code) >= limit {
                break;
            }
            // RFC 4271 §5: passed on with the Partial bit set.
            put_header(
                out,
                u.flags | OPTIONAL | TRANSITIVE | PARTIAL,
                u.code,
                u.data.len(),
            );
            out.extend_from_slice(&u.data);
            self.next += 1;
        }
    }
}

/// Encodes `attrs` in type-code order: those below MP_REACH_NLRI into `head`, those above
/// MP_UNREACH_NLRI into `tail`. The NEXT_HOP attribute is written only if `with_next_hop`
/// and the next hop is IPv4. Toward a 2-octet AS speaker, AS_TRANS replaces wide ASNs and
/// AS4_PATH / AS4_AGGREGATOR carry them (RFC 6793 §4.2.2).
pub(crate) fn encode(
    attrs: &PathAttrs,
    reflect: Option<Reflect>,
    ctx: &CodecCtx,
    with_next_hop: bool,
    head: &mut Vec<u8>,
    tail: &mut Vec<u8>,
) {
    let four = ctx.four_octet_as;
    let mut unknowns = Unknowns::new(attrs);
    let out = head;

    put_header(out, TRANSITIVE, ORIGIN, 1);
    out.push(attrs.origin as u8);
    put_as_path(out, AS_PATH, &attrs.as_path, four, true);
    if let (true, NextHop::V4(nh)) = (with_next_hop, attrs.next_hop) {
        put_header(out, TRANSITIVE, NEXT_HOP, 4);
        out.extend_from_slice(&nh.octets());
    }
    if let Some(med) = attrs.med {
        put_header(out, OPTIONAL, MED, 4);
        out.extend_from_slice(&med.to_be_bytes());
    }
    if let Some(lp) = attrs.local_pref {
        put_header(out, TRANSITIVE, LOCAL_PREF, 4);
        out.extend_from_slice(&lp.to_be_bytes());
    }
    if attrs.atomic_aggregate {
        put_header(out, TRANSITIVE, ATOMIC_AGGREGATE, 0);
    }
    if let Some((asn, id)) = attrs.aggregator {
        if four {
            put_header(out, OPTIONAL | TRANSITIVE, AGGREGATOR, 8);
            out.extend_from_slice(&asn.to_be_bytes());
        } else {
            put_header(out, OPTIONAL | TRANSITIVE, AGGREGATOR, 6);
            out.extend_from_slice(&as4::narrow(asn).to_be_bytes());
        }
        out.extend_from_slice(&id.octets());
    }
    unknowns.below(COMMUNITIES as u16, out);
    if !attrs.communities.is_empty() {
        put_header(
            out,
            OPTIONAL | TRANSITIVE,
            COMMUNITIES,
            4 * attrs.communities.len(),
        );
        for c in &attrs.communities {
            out.extend_from_slice(&c.to_be_bytes());
        }
    }
    if let Some(id) = attrs.originator_id.or(reflect.map(|r| r.originator_id)) {
        put_header(out, OPTIONAL, ORIGINATOR_ID, 4);
        out.extend_from_slice(&id.octets());
    }
    let ours = reflect.map(|r| r.cluster_id);
    let clusters = ours.iter().chain(&attrs.cluster_list);
    let n = clusters.clone().count();
    if n > 0 {
        put_header(out, OPTIONAL, CLUSTER_LIST, 4 * n);
        for id in clusters {
            out.extend_from_slice(&id.octets());
        }
    }
    unknowns.below(MP_REACH_NLRI as u16, out);

    let out = tail;
    // Unknown codes 14 and 15 cannot occur (they are known); skip past them.
    unknowns.below(EXT_COMMUNITIES as u16, out);
    if !attrs.ext_communities.is_empty() {
        put_header(
            out,
            OPTIONAL | TRANSITIVE,
            EXT_COMMUNITIES,
            8 * attrs.ext_communities.len(),
        );
        for c in &attrs.ext_communities {
            out.extend_from_slice(c);
        }
    }
    if !four && as4::needs_as4_path(&attrs.as_path) {
        // RFC 6793 §6: no confederation segments in AS4_PATH.
        put_as_path(out, AS4_PATH, &attrs.as_path, true, false);
    }
    if let (false, Some((asn, id))) = (four, attrs.aggregator) {
        if as4::is_wide(asn) {
            put_header(out, OPTIONAL | TRANSITIVE, AS4_AGGREGATOR, 8);
            out.extend_from_slice(&asn.to_be_bytes());
            out.extend_from_slice(&id.octets());
        }
    }
    unknowns.below(LARGE_COMMUNITIES as u16, out);
    if !attrs.large_communities.is_empty() {
        put_header(
            out,
            OPTIONAL | TRANSITIVE,
            LARGE_COMMUNITIES,
            12 * attrs.large_communities.len(),
        );
        for c in &attrs.large_communities {
            for w in c {
                out.extend_from_slice(&w.to_be_bytes());
            }
        }
    }
    unknowns.below(256, out);
}

/// Bytes the next hop takes inside MP_REACH_NLRI.
pub(crate) fn next_hop_len(nh: &NextHop) -> usize {
    match nh {
        NextHop::None => 0,
        NextHop::V4(_) => 4,
        NextHop::V6 {
            link_local: None, ..
        } => 16,
        NextHop::V6 {
            link_local: Some(_),
            ..
        } => 32,
    }
}

/// Into any byte container: the stored form of a set read in place is built inline.
pub(crate) fn put_next_hop(out: &mut impl Extend<u8>, nh: &NextHop) {
    match nh {
        NextHop::None => {}
        NextHop::V4(a) => out.extend(a.octets()),
        NextHop::V6 { global, link_local } => {
            out.extend(global.octets());
            if let Some(ll) = link_local {
                out.extend(ll.octets());
            }
        }
    }
}

/// Bytes the next hop takes inside MP_REACH_NLRI of `safi`: a VPN family puts a zero
/// Route Distinguisher before each address (RFC 4364 §4.3.2, RFC 4659 §3.2).
pub(crate) fn mp_next_hop_len(safi: u8, nh: &NextHop) -> usize {
    let len = next_hop_len(nh);
    match (safi, nh) {
        (
            SAFI_MPLS_VPN,
            NextHop::V6 {
                link_local: Some(_),
                ..
            },
        ) => len + 16,
        (SAFI_MPLS_VPN, NextHop::V4(_) | NextHop::V6 { .. }) => len + 8,
        _ => len,
    }
}

/// Writes the MP_REACH_NLRI header and fixed fields for `nlri_len` bytes of NLRI, which
/// the caller appends right after.
pub(crate) fn put_mp_reach_head(
    out: &mut Vec<u8>,
    afi: u16,
    safi: u8,
    nh: &NextHop,
    nlri_len: usize,
) {
    let nh_len = mp_next_hop_len(safi, nh);
    put_header(out, OPTIONAL, MP_REACH_NLRI, 5 + nh_len + nlri_len);
    out.extend_from_slice(&afi.to_be_bytes());
    out.push(safi);
    out.push(nh_len as u8);
    match (safi, nh) {
        (
            SAFI_MPLS_VPN,
            NextHop::V4(_)
            | NextHop::V6 {
                link_local: None, ..
            },
        ) => {
            out.extend_from_slice(&[0; 8]);
            put_next_hop(out, nh);
        }
        (
            SAFI_MPLS_VPN,
            NextHop::V6 {
                global,
                link_local: Some(ll),
            },
        ) => {
            out.extend_from_slice(&[0; 8]);
            out.extend_from_slice(&global.octets());
            out.extend_from_slice(&[0; 8]);
            out.extend_from_slice(&ll.octets());
        }
        _ => put_next_hop(out, nh),
    }
    out.push(0);
}

/// Writes the MP_UNREACH_NLRI header and fixed fields for `nlri_len` bytes of NLRI.
pub(crate) fn put_mp_unreach_head(out: &mut Vec<u8>, afi: u16, safi: u8, nlri_len: usize) {
    put_header(out, OPTIONAL, MP_UNREACH_NLRI, 3 + nlri_len);
    out.extend_from_slice(&afi.to_be_bytes());
    out.push(safi);
}
