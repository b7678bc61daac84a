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

use super::attrs::{self, update_error};
use super::framing;
use super::message::*;
use super::nlri;
use super::reader::Reader;
use super::types::*;
use super::{DecodeError, Nlri};

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

    let mut d = attrs::decode(section, ctx)?;
    let carries_nlri = !u.nlri.is_empty() || d.mp_reach.is_some();
    if carries_nlri {
        // RFC 7606 §3 d; NEXT_HOP only matters for the NLRI field (RFC 4760 §3).
        for (code, needed, reason) in [
            (attrs::ORIGIN, true, "ORIGIN missing"),
            (attrs::AS_PATH, true, "AS_PATH missing"),
            (attrs::NEXT_HOP, !u.nlri.is_empty(), "NEXT_HOP missing"),
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

fn set_len(set: &NlriSet, path_id: usize) -> usize {
    match set {
        NlriSet::Ipv4Unicast(v) => prefixes_len(v, path_id),
        NlriSet::Ipv6Unicast(v) => prefixes_len(v, path_id),
        NlriSet::Other { .. } => 0,
    }
}

fn put_set(out: &mut Vec<u8>, set: &NlriSet, path_id: usize) {
    match set {
        NlriSet::Ipv4Unicast(v) => put_prefixes(out, v, path_id),
        NlriSet::Ipv6Unicast(v) => put_prefixes(out, v, path_id),
        NlriSet::Other { .. } => {}
    }
}

fn afi_safi(set: &NlriSet) -> (u16, u8) {
    match set {
        NlriSet::Ipv4Unicast(_) => Family::Ipv4Unicast.afi_safi(),
        NlriSet::Ipv6Unicast(_) => Family::Ipv6Unicast.afi_safi(),
        NlriSet::Other { afi, safi } => (*afi, *safi),
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
        attrs::encode(a, ctx, true, out, &mut tail);
    }
    if let Some(mp) = &u.mp_reach {
        let (afi, safi) = afi_safi(&mp.nlri);
        let path_id = add_path_len(ctx, mp.nlri.family());
        attrs::put_mp_reach_head(out, afi, safi, &mp.next_hop, set_len(&mp.nlri, path_id));
        put_set(out, &mp.nlri, path_id);
    }
    if let Some(mp) = &u.mp_unreach {
        let (afi, safi) = afi_safi(&mp.nlri);
        let path_id = add_path_len(ctx, mp.nlri.family());
        attrs::put_mp_unreach_head(out, afi, safi, set_len(&mp.nlri, path_id));
        put_set(out, &mp.nlri, path_id);
    }
    out.extend_from_slice(&tail);
    patch_len(out, al);
    put_prefixes(out, &u.nlri, v4_path_id);
    framing::finish(out, at);
}
