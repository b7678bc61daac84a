//! The 19-byte message header (RFC 4271 §4.1): finding message boundaries in a read buffer,
//! checking marker, length and type, and writing headers whose length is patched in later.
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

/// See `super::frame`.
pub(crate) fn frame(buf: &[u8], max_len: usize) -> Result<Option<usize>, DecodeError> {
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
    let kind = header[18];
    if !(MSG_OPEN..=MSG_ROUTE_REFRESH).contains(&kind) {
        return Err(DecodeError::new(
            notif::MESSAGE_HEADER,
            notif::BAD_MESSAGE_TYPE,
            vec![kind],
            "unknown message type",
        ));
    }
    Ok((buf.len() >= len).then_some(len))
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
    fn start_and_finish_write_the_length() {
        let mut out = vec![9];
        let at = start(&mut out, MSG_KEEPALIVE);
        finish(&mut out, at);
        assert_eq!(&out[1..], &header(19, MSG_KEEPALIVE)[..]);
    }
}
