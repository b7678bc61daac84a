//! The 19-byte message header (RFC 4271 §4.1): finding message boundaries in a read buffer
//! (`Frames`), checking marker, length and type, and writing headers whose length is patched
//! in later. No code outside `wire` reads a header's offsets.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                           Marker (16 x 0xff)                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Length               |      Type     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use super::error::DecodeError;
use super::message::*;

const MARKER: [u8; 16] = [0xff; 16];

/// A whole KEEPALIVE: the header alone (RFC 4271 §4.4), for a writer with no encoder at hand.
pub const KEEPALIVE: [u8; HEADER_LEN] = {
    let mut k = [0xff; HEADER_LEN];
    k[16] = 0;
    k[17] = HEADER_LEN as u8;
    k[18] = MSG_KEEPALIVE;
    k
};

/// One whole message in a buffer, header included, and its checked type.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    bytes: &'a [u8],
    kind: MessageType,
}

impl<'a> Frame<'a> {
    /// The whole message, header included (what `super::decode` takes).
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// What follows the header.
    pub fn body(&self) -> &'a [u8] {
        self.bytes.get(HEADER_LEN..).unwrap_or_default()
    }

    pub fn kind(&self) -> MessageType {
        self.kind
    }
}

/// The whole messages at the front of a buffer, in order. Yields a header error once (with
/// the NOTIFICATION it calls for) and then nothing: a stream that lost its framing cannot be
/// read further. Stops quietly at a partial message; `consumed` says how far it got.
#[derive(Clone, Debug)]
pub struct Frames<'a> {
    buf: &'a [u8],
    pos: usize,
    max_len: usize,
    failed: bool,
}

impl<'a> Frames<'a> {
    /// Messages up to `max_len` bytes (`CodecCtx::max_message_len`) are accepted.
    pub fn new(buf: &'a [u8], max_len: usize) -> Frames<'a> {
        Frames {
            buf,
            pos: 0,
            max_len,
            failed: false,
        }
    }

    /// Bytes of the whole messages yielded so far.
    pub fn consumed(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<Frame<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let buf = self.buf.get(self.pos..).unwrap_or_default();
        match frame_at(buf, self.max_len) {
            Ok(Some(f)) => {
                self.pos += f.bytes.len();
                Some(Ok(f))
            }
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// See `super::frame`.
pub(crate) fn frame(buf: &[u8], max_len: usize) -> Result<Option<usize>, DecodeError> {
    frame_at(buf, max_len).map(|f| f.map(|f| f.bytes.len()))
}

fn frame_at(buf: &[u8], max_len: usize) -> Result<Option<Frame<'_>>, DecodeError> {
    let Some(header) = buf.get(..HEADER_LEN) else {
        // Reject a bad marker as early as the bytes allow: a desynchronised stream
        // should not wait for 19 bytes that may never come.
        if buf.iter().take(MARKER.len()).any(|&b| b != 0xff) {
            return Err(not_synchronized());
        }
        return Ok(None);
    };
    if header[..16] != MARKER {
        return Err(not_synchronized());
    }
    let len_bytes = [header[16], header[17]];
    let len = u16::from_be_bytes(len_bytes) as usize;
    if len < HEADER_LEN || len > max_len {
        return Err(bad_length(len_bytes, "message length out of range"));
    }
    let Some(kind) = MessageType::from_u8(header[18]) else {
        return Err(DecodeError::new(
            notif::MESSAGE_HEADER,
            notif::BAD_MESSAGE_TYPE,
            vec![header[18]],
            "unknown message type",
        ));
    };
    Ok(buf.get(..len).map(|bytes| Frame { bytes, kind }))
}

fn not_synchronized() -> DecodeError {
    DecodeError::new(
        notif::MESSAGE_HEADER,
        notif::CONNECTION_NOT_SYNCHRONIZED,
        Vec::new(),
        "header marker is not all ones",
    )
}

/// Message Header Error / Bad Message Length; the data is the erroneous Length field.
pub(crate) fn bad_length(len: [u8; 2], reason: &'static str) -> DecodeError {
    DecodeError::new(
        notif::MESSAGE_HEADER,
        notif::BAD_MESSAGE_LENGTH,
        len.to_vec(),
        reason,
    )
}

/// Appends a header with a zero length; returns the offset to pass to `finish`.
pub(crate) fn start(out: &mut Vec<u8>, kind: u8) -> usize {
    let at = out.len();
    out.extend_from_slice(&MARKER);
    out.extend_from_slice(&[0, 0, kind]);
    at
}

/// Patches the length of the message that starts at `at` (returned by `start`).
pub(crate) fn finish(out: &mut [u8], at: usize) {
    let len = out.len() - at;
    debug_assert!(
        len <= MAX_EXTENDED_MESSAGE_LEN,
        "encoded message of {len} bytes"
    );
    let len = (len.min(u16::MAX as usize) as u16).to_be_bytes();
    out[at + 16] = len[0];
    out[at + 17] = len[1];
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(len: u16, kind: u8) -> Vec<u8> {
        let mut v = vec![0xff; 16];
        v.extend_from_slice(&len.to_be_bytes());
        v.push(kind);
        v
    }

    #[test]
    fn keepalive_header_is_one_whole_message() {
        let mut buf = header(19, MSG_KEEPALIVE);
        assert_eq!(frame(&buf, 4096), Ok(Some(19)));
        buf.extend_from_slice(&header(19, MSG_KEEPALIVE)[..5]);
        assert_eq!(frame(&buf, 4096), Ok(Some(19)));
    }

    #[test]
    fn partial_header_or_body_needs_more_bytes() {
        let buf = header(30, MSG_OPEN);
        assert_eq!(frame(&buf[..10], 4096), Ok(None));
        assert_eq!(frame(&buf[..17], 4096), Ok(None));
        assert_eq!(frame(&buf[..18], 4096), Ok(None));
        assert_eq!(frame(&buf, 4096), Ok(None));
        assert_eq!(frame(&[], 4096), Ok(None));
    }

    #[test]
    fn message_with_bad_marker_is_connection_not_synchronized() {
        let mut buf = header(19, MSG_KEEPALIVE);
        buf[3] = 0;
        let e = frame(&buf, 4096).unwrap_err().notification;
        assert_eq!((e.code, e.subcode), (1, 1));
        assert!(e.data.is_empty());
        // Detected before the whole header arrived.
        assert_eq!(frame(&buf[..5], 4096).unwrap_err().notification.subcode, 1);
    }

    #[test]
    fn length_below_19_or_above_max_is_bad_message_length_with_the_length_as_data() {
        for (len, max) in [(18u16, 4096), (0, 4096), (4097, 4096), (5000, 4096)] {
            let e = frame(&header(len, MSG_UPDATE), max)
                .unwrap_err()
                .notification;
            assert_eq!((e.code, e.subcode), (1, 2));
            assert_eq!(e.data, len.to_be_bytes().to_vec());
        }
        assert_eq!(frame(&header(5000, MSG_UPDATE), 65535), Ok(None));
    }

    #[test]
    fn unknown_type_is_bad_message_type_with_the_type_as_data() {
        for kind in [0u8, 6, 255] {
            let e = frame(&header(19, kind), 4096).unwrap_err().notification;
            assert_eq!((e.code, e.subcode, e.data), (1, 3, vec![kind]));
        }
    }

    #[test]
    fn frames_yield_each_whole_message_with_its_type_and_stop_at_a_partial_one() {
        let mut buf = header(19, MSG_KEEPALIVE);
        buf.extend_from_slice(&header(21, MSG_NOTIFICATION));
        buf.extend_from_slice(&[6, 2]);
        buf.extend_from_slice(&header(23, MSG_ROUTE_REFRESH)[..10]);
        let mut frames = Frames::new(&buf, 4096);
        let got: Vec<(MessageType, usize)> = frames
            .by_ref()
            .map(|f| f.map(|f| (f.kind(), f.bytes().len())).unwrap())
            .collect();
        assert_eq!(
            got,
            [
                (MessageType::Keepalive, 19),
                (MessageType::Notification, 21)
            ]
        );
        assert_eq!(frames.consumed(), 40);
        let second = Frames::new(&buf[19..], 4096).next().unwrap().unwrap();
        assert_eq!(second.body(), &[6, 2]);
    }

    #[test]
    fn frames_end_after_a_header_error_which_carries_its_notification() {
        let mut buf = header(19, MSG_KEEPALIVE);
        buf.extend_from_slice(&header(19, 9));
        buf.extend_from_slice(&header(19, MSG_KEEPALIVE));
        let mut frames = Frames::new(&buf, 4096);
        assert!(frames.next().unwrap().is_ok());
        let e = frames.next().unwrap().unwrap_err().notification;
        assert_eq!((e.code, e.subcode, e.data), (1, 3, vec![9]));
        assert!(frames.next().is_none());
        assert_eq!(frames.consumed(), 19);
    }

    #[test]
    fn message_types_are_the_type_octets_one_to_five_and_index_from_zero() {
        for (i, t) in MessageType::ALL.into_iter().enumerate() {
            assert_eq!(MessageType::from_u8(t as u8), Some(t));
            assert_eq!(t.index(), i);
        }
        assert_eq!(
            MessageType::from_u8(MSG_ROUTE_REFRESH),
            Some(MessageType::RouteRefresh)
        );
        assert_eq!(MessageType::from_u8(0), None);
        assert_eq!(MessageType::from_u8(6), None);
        assert_eq!(Message::Keepalive.message_type(), MessageType::Keepalive);
    }

    #[test]
    fn the_keepalive_constant_is_an_encoded_keepalive() {
        let mut out = Vec::new();
        super::super::encode(&Message::Keepalive, &CodecCtx::default(), &mut out);
        assert_eq!(out, KEEPALIVE);
    }

    #[test]
    fn start_and_finish_write_the_length() {
        let mut out = vec![9];
        let at = start(&mut out, MSG_KEEPALIVE);
        finish(&mut out, at);
        assert_eq!(&out[1..], &header(19, MSG_KEEPALIVE)[..]);
    }
}
