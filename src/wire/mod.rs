//! The BGP wire codec (RFC 4271 §4 and extensions): framing, decoding and encoding of
//! messages. Pure functions over byte slices: no I/O, clocks, threads or logging. Every
//! input is untrusted; decoding never panics and never allocates from an unchecked length.
//!
//! Layout: `framing` (header), `open` (OPEN + capabilities), `notification` (NOTIFICATION,
//! KEEPALIVE, ROUTE-REFRESH), `update` (UPDATE structure, RFC 7606 message-level rules),
//! `attrs` (path attributes and their RFC 7606 verdicts), `attrs_encode` (attributes out),
//! `as4` (RFC 6793 merge/split), `community` (RFC 1997 well-known communities), `nlri` (prefix encoding), `pack` (the RIB's hot-path
//! announce/withdraw packing), `scan` (the common UPDATE read in place, for the workers'
//! hot path).

mod any_prefix;
mod as4;
pub mod attr_code;
mod attrs;
mod attrs_encode;
pub mod community;
mod error;
pub mod evpn;
pub mod evpn_nlri;
mod framing;
// Fuzz harnesses: used by `fuzz/` and `tests/fuzz_corpus.rs`, not part of the API.
#[doc(hidden)]
pub mod fuzzing;
// `Message::Update` is large by design: UPDATEs dominate and are moved, not copied.
#[allow(clippy::large_enum_variant)]
pub mod message;
mod nlri;
mod notification;
mod open;
mod pack;
pub mod rd;
mod reader;
pub mod route_target;
pub mod rtc;
pub mod scan;
pub mod stored;
// A prefix's `len` is its length in bits; an `is_empty` would mean nothing.
#[allow(clippy::len_without_is_empty)]
pub mod types;
mod update;
pub mod vpn;

#[cfg(test)]
mod robustness;
#[cfg(test)]
mod testutil;

pub use any_prefix::AnyPrefix;
pub use error::DecodeError;
pub use message::*;
pub use nlri::Nlri;
pub use rd::Rd;
pub use types::*;
pub use vpn::{Label, Labeled, Vpn4, Vpn6};

/// Checks the 19-byte header at the start of `buf`.
/// `Ok(None)`: more bytes are needed. `Ok(Some(n))`: `buf[..n]` is one whole message.
/// `Err`: bad marker, length or type (Message Header Error).
pub fn frame(buf: &[u8], max_len: usize) -> Result<Option<usize>, DecodeError> {
    framing::frame(buf, max_len)
}

/// The whole messages in a read buffer, one by one (see `frame`).
pub use framing::{Frame, Frames, KEEPALIVE};

/// Decodes one whole message (header included), as returned by `frame`.
pub fn decode(msg: &[u8], ctx: &CodecCtx) -> Result<Message, DecodeError> {
    // Re-check the header: `msg` must be exactly one framed message.
    let len = match framing::frame(msg, ctx.max_message_len())? {
        Some(n) if n == msg.len() => n,
        _ => {
            let field = [
                msg.get(16).copied().unwrap_or(0),
                msg.get(17).copied().unwrap_or(0),
            ];
            return Err(framing::bad_length(
                field,
                "message length does not match the buffer",
            ));
        }
    };
    let kind = msg.get(18).copied().unwrap_or(0);
    let body = msg.get(HEADER_LEN..).unwrap_or_default();
    let len_field = (len as u16).to_be_bytes();
    let too_short = |min: usize| -> Result<(), DecodeError> {
        if len < min {
            Err(framing::bad_length(
                len_field,
                "message shorter than its type allows",
            ))
        } else {
            Ok(())
        }
    };
    match kind {
        MSG_KEEPALIVE => {
            if len != HEADER_LEN {
                return Err(framing::bad_length(
                    len_field,
                    "KEEPALIVE longer than 19 bytes",
                ));
            }
            Ok(Message::Keepalive)
        }
        MSG_OPEN => {
            too_short(open::MIN_LEN)?;
            open::decode(body).map(Message::Open)
        }
        MSG_UPDATE => {
            too_short(update::MIN_LEN)?;
            update::decode(body, ctx).map(Message::Update)
        }
        MSG_NOTIFICATION => {
            too_short(notification::MIN_LEN)?;
            Ok(Message::Notification(notification::decode(body)))
        }
        MSG_ROUTE_REFRESH => notification::decode_route_refresh(msg).map(Message::RouteRefresh),
        _ => Err(DecodeError::new(
            notif::MESSAGE_HEADER,
            notif::BAD_MESSAGE_TYPE,
            vec![kind],
            "unknown message type",
        )),
    }
}

/// Appends one encoded message (header included) to `out`.
pub fn encode(msg: &Message, ctx: &CodecCtx, out: &mut Vec<u8>) {
    match msg {
        Message::Open(o) => open::encode(o, out),
        Message::Update(u) => update::encode(u, ctx, out),
        Message::Notification(n) => notification::encode(n, ctx, out),
        Message::Keepalive => {
            let at = framing::start(out, MSG_KEEPALIVE);
            framing::finish(out, at);
        }
        Message::RouteRefresh(r) => notification::encode_route_refresh(r, out),
    }
}

/// Appends as many UPDATEs as needed to announce `prefixes` of one family with `attrs`
/// (whose `next_hop` is the one to send): the attributes are encoded once and the prefixes
/// packed into messages up to `ctx.max_message_len()`.
///
/// With ADD-PATH send negotiated for the family, every prefix carries path identifier 0
/// (one path per prefix, as a reflector without multipath sends).
pub fn encode_announce<N: Nlri>(
    ctx: &CodecCtx,
    attrs: &PathAttrs,
    prefixes: &[N],
    out: &mut Vec<u8>,
) {
    pack::announce(ctx, attrs, None, None, prefixes, out)
}

/// `encode_announce` of routes of a labeled family (VPN), each with `label` (RFC 8277).
pub fn encode_announce_labeled<N: Nlri>(
    ctx: &CodecCtx,
    attrs: &PathAttrs,
    label: Label,
    prefixes: &[N],
    out: &mut Vec<u8>,
) {
    pack::announce(ctx, attrs, None, Some(label), prefixes, out)
}

/// `encode_announce` of `attrs` as a route reflector sends them: with `reflect`'s
/// ORIGINATOR_ID (unless `attrs` has one) and CLUSTER_ID prepended to CLUSTER_LIST.
pub fn encode_announce_reflected<N: Nlri>(
    ctx: &CodecCtx,
    attrs: &PathAttrs,
    reflect: Reflect,
    prefixes: &[N],
    out: &mut Vec<u8>,
) {
    pack::announce(ctx, attrs, Some(reflect), None, prefixes, out)
}

/// `encode_announce_reflected` of a set in the RIB's stored form (`stored::store`).
pub fn encode_announce_stored<N: Nlri>(
    ctx: &CodecCtx,
    set: &[u8],
    reflect: Reflect,
    prefixes: &[N],
    out: &mut Vec<u8>,
) {
    pack::announce_stored(ctx, set, reflect, prefixes, out)
}

/// Appends as many UPDATEs as needed to withdraw `prefixes`.
pub fn encode_withdraw<N: Nlri>(ctx: &CodecCtx, prefixes: &[N], out: &mut Vec<u8>) {
    pack::withdraw(ctx, prefixes, out)
}

/// Appends the End-of-RIB marker for `family` (RFC 4724 §2).
pub fn encode_end_of_rib(family: Family, out: &mut Vec<u8>) {
    pack::end_of_rib(family, out)
}
