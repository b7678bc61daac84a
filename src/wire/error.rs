//! The decode error that ends a session: what went wrong, and the NOTIFICATION (RFC 4271
//! §6) that says so to the peer. Every decoder in `wire` returns it; it sits in a file of its
//! own so that they all import it from below rather than from the module that uses them.

use super::message::Notification;

/// A decode failure that must end the session: carries the NOTIFICATION to send.
/// (Errors RFC 7606 resolves without a reset are reported inside `Update` instead.)
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason} (NOTIFICATION {}/{})", notification.code, notification.subcode)]
pub struct DecodeError {
    pub notification: Notification,
    pub reason: &'static str,
}

impl DecodeError {
    /// The error whose NOTIFICATION is `code`/`subcode` with `data`.
    pub fn new(code: u8, subcode: u8, data: Vec<u8>, reason: &'static str) -> Self {
        DecodeError {
            notification: Notification {
                code,
                subcode,
                data,
            },
            reason,
        }
    }
}
