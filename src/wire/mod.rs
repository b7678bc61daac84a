//! The BGP wire codec (RFC 4271 §4 and extensions): framing, decoding and encoding of
//! messages. Pure functions over byte slices: no I/O, clocks, threads or logging. Every
//! input is untrusted; decoding never panics and never allocates from an unchecked length.

pub mod message;
pub mod types;

pub use message::*;
pub use types::*;

/// A decode failure that must end the session: carries the NOTIFICATION to send.
/// (Errors RFC 7606 resolves without a reset are reported inside `Update` instead.)
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason} (NOTIFICATION {}/{})", notification.code, notification.subcode)]
pub struct DecodeError {
    pub notification: Notification,
    pub reason: &'static str,
}

/// Checks the 19-byte header at the start of `buf`.
/// `Ok(None)`: more bytes are needed. `Ok(Some(n))`: `buf[..n]` is one whole message.
/// `Err`: bad marker, length or type (Message Header Error).
pub fn frame(buf: &[u8], max_len: usize) -> Result<Option<usize>, DecodeError> {
    let _ = (buf, max_len);
    todo!("wire: frame")
}

/// Decodes one whole message (header included), as returned by `frame`.
pub fn decode(msg: &[u8], ctx: &CodecCtx) -> Result<Message, DecodeError> {
    let _ = (msg, ctx);
    todo!("wire: decode")
}

/// Appends one encoded message (header included) to `out`.
pub fn encode(msg: &Message, ctx: &CodecCtx, out: &mut Vec<u8>) {
    let _ = (msg, ctx, out);
    todo!("wire: encode")
}

/// Appends as many UPDATEs as needed to announce `prefixes` of one family with `attrs`
/// (whose `next_hop` is the one to send): the attributes are encoded once and the prefixes
/// packed into messages up to `ctx.max_message_len()`.
pub fn encode_announce<N: Nlri>(ctx: &CodecCtx, attrs: &PathAttrs, prefixes: &[N], out: &mut Vec<u8>) {
    let _ = (ctx, attrs, prefixes, out);
    todo!("wire: encode_announce")
}

/// Appends as many UPDATEs as needed to withdraw `prefixes`.
pub fn encode_withdraw<N: Nlri>(ctx: &CodecCtx, prefixes: &[N], out: &mut Vec<u8>) {
    let _ = (ctx, prefixes, out);
    todo!("wire: encode_withdraw")
}

/// Appends the End-of-RIB marker for `family` (RFC 4724 §2).
pub fn encode_end_of_rib(family: Family, out: &mut Vec<u8>) {
    let _ = (family, out);
    todo!("wire: encode_end_of_rib")
}

/// A prefix type the RIB and codec are generic over. Unicast prefixes now; VPN (RD + label)
/// and EVPN route types implement it later without changing the RIB.
pub trait Nlri:
    Copy + Eq + std::hash::Hash + Ord + std::fmt::Debug + std::fmt::Display + Send + Sync + 'static
{
    const FAMILY: Family;
    /// Bytes this NLRI takes on the wire (without an ADD-PATH path id).
    fn wire_len(&self) -> usize;
    fn encode(&self, out: &mut Vec<u8>);
    /// Wraps a list of this type as the matching `NlriSet` variant.
    fn into_set(v: Vec<Self>) -> NlriSet;
}
