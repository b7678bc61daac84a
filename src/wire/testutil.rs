//! Builders of raw messages for the codec's tests.

use super::message::*;
use super::{decode, encode};

pub(crate) fn with_header(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&((body.len() + HEADER_LEN) as u16).to_be_bytes());
    m.push(kind);
    m.extend_from_slice(body);
    m
}

/// One raw attribute; the Extended Length bit in `flags` picks a 2-octet length.
pub(crate) fn attr(flags: u8, code: u8, value: &[u8]) -> Vec<u8> {
    let mut a = vec![flags, code];
    if flags & 0x10 != 0 {
        a.extend_from_slice(&(value.len() as u16).to_be_bytes());
    } else {
        a.push(value.len() as u8);
    }
    a.extend_from_slice(value);
    a
}

pub(crate) fn update_msg(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&(withdrawn.len() as u16).to_be_bytes());
    b.extend_from_slice(withdrawn);
    b.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    b.extend_from_slice(attrs);
    b.extend_from_slice(nlri);
    with_header(MSG_UPDATE, &b)
}

/// ORIGIN IGP, AS_PATH (65001) in 2 or 4 octets, NEXT_HOP 192.0.2.1, as (code, bytes).
pub(crate) fn base_attrs(four_octet: bool) -> Vec<(u8, Vec<u8>)> {
    let as_path: &[u8] = if four_octet {
        &[2, 1, 0, 0, 0xfd, 0xe9]
    } else {
        &[2, 1, 0xfd, 0xe9]
    };
    vec![
        (1, attr(0x40, 1, &[0])),
        (2, attr(0x40, 2, as_path)),
        (3, attr(0x40, 3, &[192, 0, 2, 1])),
    ]
}

/// `base` with `extra` replacing the attribute of the same code (or added, in order).
pub(crate) fn attrs_with(mut base: Vec<(u8, Vec<u8>)>, code: u8, extra: Vec<u8>) -> Vec<u8> {
    match base.iter_mut().find(|(c, _)| *c == code) {
        Some(slot) => slot.1 = extra,
        None => {
            base.push((code, extra));
            base.sort_by_key(|(c, _)| *c);
        }
    }
    base.into_iter().flat_map(|(_, a)| a).collect()
}

pub(crate) fn decode_update(msg: &[u8], ctx: &CodecCtx) -> Result<Update, DecodeError> {
    match decode(msg, ctx)? {
        Message::Update(u) => Ok(u),
        m => panic!("not an UPDATE: {m:?}"),
    }
}

/// Splits concatenated messages.
pub(crate) fn split(mut buf: &[u8], max: usize) -> Vec<&[u8]> {
    let mut v = Vec::new();
    while !buf.is_empty() {
        let n = super::frame(buf, max).unwrap().expect("whole message");
        v.push(&buf[..n]);
        buf = &buf[n..];
    }
    v
}

pub(crate) fn encoded(m: &Message, ctx: &CodecCtx) -> Vec<u8> {
    let mut out = Vec::new();
    encode(m, ctx, &mut out);
    out
}

use super::error::DecodeError;
