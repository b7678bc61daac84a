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

impl Notification {
    /// A Cease (RFC 4486). `text` is the Shutdown Communication (RFC 8203 §2: a length
    /// octet and UTF-8, cut to 255 bytes on a character boundary), which only Administrative
    /// Shutdown and Administrative Reset carry; other subcodes carry no data.
    pub fn cease(subcode: u8, text: &str) -> Notification {
        let data = if subcode == notif::CEASE_ADMIN_SHUTDOWN || subcode == notif::CEASE_ADMIN_RESET
        {
            let mut end = text.len().min(255);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let mut data = Vec::with_capacity(end + 1);
            data.push(end as u8);
            data.extend_from_slice(&text.as_bytes()[..end]);
            data
        } else {
            debug_assert!(text.is_empty(), "Cease subcode {subcode} carries no text");
            Vec::new()
        };
        Notification {
            code: notif::CEASE,
            subcode,
            data,
        }
    }

    /// The RFC name of the error code.
    pub fn code_name(&self) -> &'static str {
        match self.code {
            notif::MESSAGE_HEADER => "Message Header Error",
            notif::OPEN_MESSAGE => "OPEN Message Error",
            notif::UPDATE_MESSAGE => "UPDATE Message Error",
            notif::HOLD_TIMER_EXPIRED => "Hold Timer Expired",
            notif::FSM_ERROR => "Finite State Machine Error",
            notif::CEASE => "Cease",
            notif::ROUTE_REFRESH_MESSAGE => "ROUTE-REFRESH Message Error",
            _ => "unknown error code",
        }
    }

    /// The RFC name of the error subcode, if it has one.
    pub fn subcode_name(&self) -> Option<&'static str> {
        use notif::*;
        Some(match (self.code, self.subcode) {
            (MESSAGE_HEADER, CONNECTION_NOT_SYNCHRONIZED) => "Connection Not Synchronized",
            (MESSAGE_HEADER, BAD_MESSAGE_LENGTH) => "Bad Message Length",
            (MESSAGE_HEADER, BAD_MESSAGE_TYPE) => "Bad Message Type",
            (OPEN_MESSAGE, UNSUPPORTED_VERSION) => "Unsupported Version Number",
            (OPEN_MESSAGE, BAD_PEER_AS) => "Bad Peer AS",
            (OPEN_MESSAGE, BAD_BGP_IDENTIFIER) => "Bad BGP Identifier",
            (OPEN_MESSAGE, UNSUPPORTED_OPTIONAL_PARAMETER) => "Unsupported Optional Parameter",
            (OPEN_MESSAGE, UNACCEPTABLE_HOLD_TIME) => "Unacceptable Hold Time",
            (OPEN_MESSAGE, UNSUPPORTED_CAPABILITY) => "Unsupported Capability",
            (UPDATE_MESSAGE, MALFORMED_ATTRIBUTE_LIST) => "Malformed Attribute List",
            (UPDATE_MESSAGE, UNRECOGNIZED_WELL_KNOWN) => "Unrecognized Well-known Attribute",
            (UPDATE_MESSAGE, MISSING_WELL_KNOWN) => "Missing Well-known Attribute",
            (UPDATE_MESSAGE, ATTRIBUTE_FLAGS_ERROR) => "Attribute Flags Error",
            (UPDATE_MESSAGE, ATTRIBUTE_LENGTH_ERROR) => "Attribute Length Error",
            (UPDATE_MESSAGE, INVALID_ORIGIN) => "Invalid ORIGIN Attribute",
            (UPDATE_MESSAGE, INVALID_NEXT_HOP) => "Invalid NEXT_HOP Attribute",
            (UPDATE_MESSAGE, OPTIONAL_ATTRIBUTE_ERROR) => "Optional Attribute Error",
            (UPDATE_MESSAGE, INVALID_NETWORK_FIELD) => "Invalid Network Field",
            (UPDATE_MESSAGE, MALFORMED_AS_PATH) => "Malformed AS_PATH",
            (FSM_ERROR, 0) => "Unspecified Error",
            (FSM_ERROR, FSM_UNEXPECTED_IN_OPENSENT) => "Unexpected Message in OpenSent",
            (FSM_ERROR, FSM_UNEXPECTED_IN_OPENCONFIRM) => "Unexpected Message in OpenConfirm",
            (FSM_ERROR, FSM_UNEXPECTED_IN_ESTABLISHED) => "Unexpected Message in Established",
            (CEASE, CEASE_MAX_PREFIXES) => "Maximum Number of Prefixes Reached",
            (CEASE, CEASE_ADMIN_SHUTDOWN) => "Administrative Shutdown",
            (CEASE, CEASE_PEER_DECONFIGURED) => "Peer De-configured",
            (CEASE, CEASE_ADMIN_RESET) => "Administrative Reset",
            (CEASE, CEASE_CONNECTION_REJECTED) => "Connection Rejected",
            (CEASE, CEASE_OTHER_CONFIG_CHANGE) => "Other Configuration Change",
            (CEASE, CEASE_COLLISION_RESOLUTION) => "Connection Collision Resolution",
            (CEASE, CEASE_OUT_OF_RESOURCES) => "Out of Resources",
            (ROUTE_REFRESH_MESSAGE, INVALID_MESSAGE_LENGTH) => "Invalid Message Length",
            _ => return None,
        })
    }
}

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
        let want = message(&[0, 19, 4]);
        assert_eq!(bytes, want);
    }

    /// The marker, then `rest` (length, type, body).
    fn message(rest: &[u8]) -> Vec<u8> {
        let mut m = vec![0xff; 16];
        m.extend_from_slice(rest);
        m
    }

    /// The NOTIFICATION decoding `m` calls for.
    fn refused(m: &[u8]) -> Notification {
        decode_msg(m, &CodecCtx::default())
            .unwrap_err()
            .notification
    }

    #[test]
    fn keepalive_with_a_body_is_bad_message_length() {
        let e = refused(&message(&[0, 20, 4, 0]));
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
    fn a_cease_carries_a_shutdown_communication_only_for_shutdown_and_reset() {
        let n = Notification::cease(notif::CEASE_ADMIN_SHUTDOWN, "bye");
        assert_eq!((n.code, n.subcode, n.data), (6, 2, b"\x03bye".to_vec()));
        let n = Notification::cease(notif::CEASE_ADMIN_RESET, "");
        assert_eq!(n.data, [0], "an empty communication is its length octet");
        let n = Notification::cease(notif::CEASE_COLLISION_RESOLUTION, "");
        assert_eq!((n.code, n.subcode, n.data), (6, 7, vec![]));
    }

    #[test]
    fn a_shutdown_communication_is_cut_to_255_bytes_on_a_character_boundary() {
        // 127 two-byte characters and one more: 256 bytes, cut before the last.
        let text = "é".repeat(128);
        let n = Notification::cease(notif::CEASE_ADMIN_SHUTDOWN, &text);
        assert_eq!(n.data[0], 254);
        assert_eq!(&n.data[1..], "é".repeat(127).as_bytes());
    }

    #[test]
    fn codes_and_subcodes_have_their_rfc_names() {
        let n = Notification::cease(notif::CEASE_PEER_DECONFIGURED, "");
        assert_eq!(n.code_name(), "Cease");
        assert_eq!(n.subcode_name(), Some("Peer De-configured"));
        let unknown = Notification {
            code: 9,
            subcode: 9,
            data: vec![],
        };
        assert_eq!(
            (unknown.code_name(), unknown.subcode_name()),
            ("unknown error code", None)
        );
    }

    #[test]
    fn notification_shorter_than_21_is_bad_message_length() {
        let e = refused(&message(&[0, 20, 3, 6]));
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
        let m = message(&[0, 24, 5, 0, 1, 0, 1, 0]);
        let e = refused(&m);
        assert_eq!((e.code, e.subcode), (7, 1));
        assert_eq!(e.data, m);
    }
}
