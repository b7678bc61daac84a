//! The RIB's fan-out encoders: announce, withdraw and End-of-RIB. These are hot paths: the
//! attributes are encoded once into scratch buffers, then prefixes are packed into as few
//! UPDATEs as `ctx.max_message_len()` allows. Nothing is allocated per prefix.
//!
//! IPv4 unicast uses NEXT_HOP and the NLRI / Withdrawn Routes fields; other families use
//! MP_REACH_NLRI (placed in type-code order, NLRI inside) and MP_UNREACH_NLRI.

use super::attrs;
use super::framing;
use super::message::*;
use super::types::*;
use super::update::{len_placeholder, patch_len};
use super::Nlri;

fn path_id_len(ctx: &CodecCtx, family: Family) -> usize {
    if ctx.add_path_tx.contains(family) {
        4
    } else {
        0
    }
}

/// How many of `prefixes` (from the start) fit in `room` bytes, and the bytes they take.
fn fit<N: Nlri>(prefixes: &[N], path_id: usize, room: usize) -> (usize, usize) {
    let mut used = 0;
    for (i, p) in prefixes.iter().enumerate() {
        let l = p.wire_len() + path_id;
        if used + l > room {
            return (i, used);
        }
        used += l;
    }
    (prefixes.len(), used)
}

fn put_prefixes<N: Nlri>(out: &mut Vec<u8>, prefixes: &[N], path_id: usize) {
    for p in prefixes {
        // ADD-PATH: one path per prefix, identifier 0.
        out.extend_from_slice(&[0u8; 4][..path_id]);
        p.encode(out);
    }
}

pub(crate) fn announce<N: Nlri>(
    ctx: &CodecCtx,
    attrs: &PathAttrs,
    prefixes: &[N],
    out: &mut Vec<u8>,
) {
    if prefixes.is_empty() {
        return;
    }
    let family = N::FAMILY;
    let path_id = path_id_len(ctx, family);
    let max = ctx.max_message_len();
    let v4 = family == Family::Ipv4Unicast;
    let mut head = Vec::with_capacity(256);
    let mut tail = Vec::new();
    attrs::encode(attrs, ctx, v4, &mut head, &mut tail);
    let (afi, safi) = family.afi_safi();
    let nh = attrs.next_hop;
    let nh_len = attrs::next_hop_len(&nh);
    // MP_REACH_NLRI: header (at most 4) + AFI, SAFI, NH length, next hop, reserved.
    let mp_fixed = if v4 { 0 } else { 4 + 5 + nh_len };
    let room = max.saturating_sub(HEADER_LEN + 4 + head.len() + tail.len() + mp_fixed);

    let mut rest = prefixes;
    while !rest.is_empty() {
        let (n, used) = fit(rest, path_id, room);
        if n == 0 {
            // The attributes leave no room for a single prefix: nothing can be sent.
            debug_assert!(
                false,
                "path attributes of {} bytes leave no room",
                head.len() + tail.len()
            );
            return;
        }
        let (now, later) = rest.split_at(n);
        rest = later;
        let at = framing::start(out, MSG_UPDATE);
        out.extend_from_slice(&[0, 0]);
        let al = len_placeholder(out);
        out.extend_from_slice(&head);
        if !v4 {
            attrs::put_mp_reach_head(out, afi, safi, &nh, used);
            put_prefixes(out, now, path_id);
        }
        out.extend_from_slice(&tail);
        patch_len(out, al);
        if v4 {
            put_prefixes(out, now, path_id);
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
        let (n, used) = fit(rest, path_id, room);
        if n == 0 {
            return;
        }
        let (now, later) = rest.split_at(n);
        rest = later;
        let at = framing::start(out, MSG_UPDATE);
        if v4 {
            let wl = len_placeholder(out);
            put_prefixes(out, now, path_id);
            patch_len(out, wl);
            out.extend_from_slice(&[0, 0]);
        } else {
            out.extend_from_slice(&[0, 0]);
            let al = len_placeholder(out);
            attrs::put_mp_unreach_head(out, afi, safi, used);
            put_prefixes(out, now, path_id);
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
