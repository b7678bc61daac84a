//! NOTIFICATION (RFC 4271 §4.5) and ROUTE-REFRESH (RFC 2918, subtypes RFC 7313 §3).
//!
//! ```text
//! NOTIFICATION:  | Error code (1) | Error subcode (1) | Data (variable) |
//! ROUTE-REFRESH: |       AFI (2)      | Subtype (1) |    SAFI (1)    |
//! ```

use super::error::DecodeError;
use super::framing;
use super::message::*;
use super::reader::Reader;

/// Header + code + subcode.
pub(crate) const MIN_LEN: usize = HEADER_LEN + 2;
/// ROUTE-REFRESH is exactly this long.
pub(crate) const ROUTE_REFRESH_LEN: usize = HEADER_LEN + 4;

/// `body` is at least 2 bytes (checked by the caller).
pub(crate) fn decode(body: &[u8]) -> Notification {
    let mut r = Reader::new(body);
    let code = r.u8().unwrap_or(0);
    let subcode = r.u8().unwrap_or(0);
    Notification {
        code,
        subcode,
        data: r.rest().to_vec(),
    }
}

pub(crate) fn encode(n: &Notification, ctx: &CodecCtx, out: &mut Vec<u8>) {
    let at = framing::start(out, MSG_NOTIFICATION);
    out.push(n.code);
    out.push(n.subcode);
    // Data that would not fit is cut: the code and subcode are what matter.
    let room = ctx.max_message_len() - MIN_LEN;
    out.extend_from_slice(&n.data[..n.data.len().min(room)]);
    framing::finish(out, at);
}

/// `msg` is the whole message, header included (its data is echoed on a length error).
pub(crate) fn decode_route_refresh(msg: &[u8]) -> Result<RouteRefresh, DecodeError> {
    if msg.len() != ROUTE_REFRESH_LEN {
        // RFC 7313 §5: the data is the complete ROUTE-REFRESH message.
        return Err(DecodeError::new(
            notif::ROUTE_REFRESH_MESSAGE,
            notif::INVALID_MESSAGE_LENGTH,
            msg.to_vec(),
            "ROUTE-REFRESH is not 23 bytes",
        ));
    }
    let mut r = Reader::new(msg.get(HEADER_LEN..).unwrap_or_default());
    match (r.u16(), r.u8(), r.u8()) {
        (Some(afi), Some(subtype), Some(safi)) => Ok(RouteRefresh { afi, safi, subtype }),
        _ => Err(DecodeError::new(
            notif::ROUTE_REFRESH_MESSAGE,
            notif::INVALID_MESSAGE_LENGTH,
            msg.to_vec(),
            "ROUTE-REFRESH is not 23 bytes",
        )),
    }
}

pub(crate) fn encode_route_refresh(rr: &RouteRefresh, out: &mut Vec<u8>) {
    let at = framing::start(out, MSG_ROUTE_REFRESH);
    out.extend_from_slice(&rr.afi.to_be_bytes());
    out.push(rr.subtype);
    out.push(rr.safi);
    framing::finish(out, at);
}

#[cfg(test)]
mod tests {
    use super::super::{decode as decode_msg, encode as encode_msg, frame};
    use super::*;

    fn roundtrip(m: &Message) -> Vec<u8> {
        let ctx = CodecCtx::default();
        let mut out = Vec::new();
        encode_msg(m, &ctx, &mut out);
        assert_eq!(frame(&out, 4096), Ok(Some(out.len())));
        assert_eq!(&decode_msg(&out, &ctx).unwrap(), m);
        out
    }

    #[test]
    fn keepalive_is_the_19_byte_header() {
        let bytes = roundtrip(&Message::Keepalive);
        let mut want = vec![0xff; 16];
        want.extend_from_slice(&[0, 19, 4]);
        assert_eq!(bytes, want);
    }

    #[test]
    fn keepalive_with_a_body_is_bad_message_length() {
        let mut m = vec![0xff; 16];
        m.extend_from_slice(&[0, 20, 4, 0]);
        let e = decode_msg(&m, &CodecCtx::default())
            .unwrap_err()
            .notification;
        assert_eq!((e.code, e.subcode, e.data), (1, 2, vec![0, 20]));
    }

    #[test]
    fn notification_round_trips_with_its_data() {
        let n = Notification {
            code: 6,
            subcode: 2,
            data: b"\x05bye".to_vec(),
        };
        let bytes = roundtrip(&Message::Notification(n));
        assert_eq!(&bytes[16..], &[0, 25, 3, 6, 2, 5, b'b', b'y', b'e']);
    }

    #[test]
    fn notification_shorter_than_21_is_bad_message_length() {
        let mut m = vec![0xff; 16];
        m.extend_from_slice(&[0, 20, 3, 6]);
        let e = decode_msg(&m, &CodecCtx::default())
            .unwrap_err()
            .notification;
        assert_eq!((e.code, e.subcode, e.data), (1, 2, vec![0, 20]));
    }

    #[test]
    fn route_refresh_round_trips_with_rfc7313_subtypes() {
        for subtype in 0..=2 {
            let rr = RouteRefresh {
                afi: 2,
                safi: 1,
                subtype,
            };
            let bytes = roundtrip(&Message::RouteRefresh(rr));
            assert_eq!(&bytes[16..], &[0, 23, 5, 0, 2, subtype, 1]);
        }
    }

    #[test]
    fn route_refresh_of_wrong_length_is_rfc7313_invalid_message_length_with_the_message() {
        let mut m = vec![0xff; 16];
        m.extend_from_slice(&[0, 24, 5, 0, 1, 0, 1, 0]);
        let e = decode_msg(&m, &CodecCtx::default())
            .unwrap_err()
            .notification;
        assert_eq!((e.code, e.subcode), (7, 1));
        assert_eq!(e.data, m);
    }
}
