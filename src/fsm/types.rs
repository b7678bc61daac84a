//! The session state machine's vocabulary, shared by its parts and its callers: what a
//! session is configured with (`SessionConfig`), its states, what it negotiated, the
//! `Action`s it emits and why it closed. Types only, with their Display for logs; the
//! transitions are `session`'s.

use crate::wire::{notif, Capability, CodecCtx, Family, FamilySet, GracefulRestart};
use crate::wire::{Message, Notification, Update};
use std::fmt;
use std::net::Ipv4Addr;

/// What one session needs from the configuration (built by the worker from `config::Neighbor`
/// and the global `asn` / `router_id`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    pub local_asn: u32,
    pub local_id: Ipv4Addr,
    pub remote_asn: u32,
    /// Ours, in seconds: 0 (no keepalives) or >= 3 (RFC 4271 §4.2; config validates it).
    pub hold_time: u16,
    /// We advertise the Multiprotocol capability for each (RFC 4760).
    pub families: FamilySet,
    /// ConnectRetryTime in seconds (RFC 4271 §8); used by `Backoff`, not by `Session`.
    pub connect_retry: u16,
    /// The Graceful Restart capability we advertise (RFC 4724 §3), if any.
    pub graceful_restart: Option<GracefulRestart>,
}

impl SessionConfig {
    /// Internal BGP: the peer is in our AS (RFC 4271 §6.2 identifier uniqueness applies).
    pub fn is_ibgp(&self) -> bool {
        self.local_asn == self.remote_asn
    }
}

/// RFC 4271 §8.2.2 states. Idle, Connect and Active are also the states a worker reports for
/// a peer with no session past Connect.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

impl State {
    /// The BGP4-MIB `bgpPeerState` value (RFC 4273): idle(1) .. established(6).
    pub fn as_u8(self) -> u8 {
        match self {
            State::Idle => 1,
            State::Connect => 2,
            State::Active => 3,
            State::OpenSent => 4,
            State::OpenConfirm => 5,
            State::Established => 6,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            State::Idle => "Idle",
            State::Connect => "Connect",
            State::Active => "Active",
            State::OpenSent => "OpenSent",
            State::OpenConfirm => "OpenConfirm",
            State::Established => "Established",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the OPEN exchange settled (RFC 4271 §4.2, RFC 5492 capabilities).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    pub codec: CodecCtx,
    /// Ours ∩ theirs; a peer without any Multiprotocol capability means IPv4 unicast
    /// (RFC 4760 §8).
    pub families: FamilySet,
    /// min(ours, theirs) in seconds; 0 means no hold timer and no keepalives.
    pub hold_time: u16,
    /// hold_time / 3 (RFC 4271 §10 suggests a third of the hold time).
    pub keepalive: u16,
    pub remote_asn: u32,
    pub remote_id: Ipv4Addr,
    /// The peer advertised Route Refresh (RFC 2918): we may send it ROUTE-REFRESH.
    pub route_refresh: bool,
    /// The peer's Graceful Restart capability (RFC 4724): whether, and for which families, we
    /// keep its routes as stale when the session is lost (see `rib::graceful`).
    pub graceful_restart: Option<GracefulRestart>,
    /// Everything the peer advertised, for the API and logs.
    pub remote_capabilities: Vec<Capability>,
}

/// Outputs of the FSM, in the order the worker must apply them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Encode with `Session::codec()` and queue.
    Send(Message),
    /// The session just reached Established.
    Established(Negotiated),
    /// An UPDATE received in Established (the hold timer is already restarted).
    Update(Update),
    /// A ROUTE-REFRESH received in Established for a negotiated family.
    RouteRefresh(Family),
    /// Flush the queued Sends, then close the TCP connection. The Session is finished.
    Close(CloseReason),
}

/// Why a session ended, by who decided it. Every reason but `ConnectionLost` and
/// `NotificationReceived` follows an `Action::Send` of a NOTIFICATION (or none at all for
/// `AdminStop` before OpenSent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// We found a protocol error (bad OPEN, FSM error, decode error) and sent this.
    NotificationSent(Notification),
    /// The peer ended the session (RFC 4271 §6.4: no reply is sent).
    NotificationReceived(Notification),
    /// The hold timer expired: NOTIFICATION Hold Timer Expired (4/0) was sent. A variant of
    /// its own because it is the commonest way a session dies and logs should say so plainly;
    /// `notification_sent()` still reports the 4/0.
    HoldTimerExpired,
    /// TCP closed or failed under us.
    ConnectionLost,
    /// `Session::stop` was called (reload, shutdown, collision loser, max prefixes).
    AdminStop,
}

/// The NOTIFICATION sent on hold timer expiry (RFC 4271 §6.5).
pub fn hold_timer_expired() -> Notification {
    Notification {
        code: notif::HOLD_TIMER_EXPIRED,
        subcode: 0,
        data: Vec::new(),
    }
}

impl CloseReason {
    /// The NOTIFICATION the FSM itself sent before this close, if that is implied by the
    /// reason (`AdminStop` sends whatever the caller passed to `stop`).
    pub fn notification_sent(&self) -> Option<Notification> {
        match self {
            CloseReason::NotificationSent(n) => Some(n.clone()),
            CloseReason::HoldTimerExpired => Some(hold_timer_expired()),
            _ => None,
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::NotificationSent(n) => write!(f, "sent NOTIFICATION {}", Described(n)),
            CloseReason::NotificationReceived(n) => {
                write!(f, "received NOTIFICATION {}", Described(n))
            }
            CloseReason::HoldTimerExpired => f.write_str("hold timer expired"),
            CloseReason::ConnectionLost => f.write_str("connection lost"),
            CloseReason::AdminStop => f.write_str("administratively stopped"),
        }
    }
}

/// `code/subcode (name / subname)` plus an RFC 8203 shutdown communication if present.
struct Described<'a>(&'a Notification);

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        write!(f, "{}/{} ({}", n.code, n.subcode, n.code_name())?;
        if let Some(s) = n.subcode_name() {
            write!(f, " / {s}")?;
        }
        f.write_str(")")?;
        // RFC 8203 §2: Cease Administrative Shutdown / Reset carry a length-prefixed UTF-8
        // message. Untrusted: shown lossily, never trusted for its length.
        let is_shutdown = n.code == notif::CEASE
            && (n.subcode == notif::CEASE_ADMIN_SHUTDOWN || n.subcode == notif::CEASE_ADMIN_RESET);
        if let (true, Some((&len, rest))) = (is_shutdown, n.data.split_first()) {
            let text = rest.get(..len as usize).unwrap_or(rest);
            if !text.is_empty() {
                write!(f, ": {:?}", String::from_utf8_lossy(text))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_numbers_follow_the_bgp4_mib() {
        let all = [
            State::Idle,
            State::Connect,
            State::Active,
            State::OpenSent,
            State::OpenConfirm,
            State::Established,
        ];
        let nums: Vec<u8> = all.iter().map(|s| s.as_u8()).collect();
        assert_eq!(nums, [1, 2, 3, 4, 5, 6]);
        assert_eq!(State::OpenConfirm.to_string(), "OpenConfirm");
    }

    #[test]
    fn close_reason_display_names_code_and_subcode() {
        let n = Notification {
            code: 2,
            subcode: 2,
            data: vec![],
        };
        assert_eq!(
            CloseReason::NotificationSent(n).to_string(),
            "sent NOTIFICATION 2/2 (OPEN Message Error / Bad Peer AS)"
        );
        let n = Notification {
            code: 9,
            subcode: 9,
            data: vec![],
        };
        assert_eq!(
            CloseReason::NotificationReceived(n).to_string(),
            "received NOTIFICATION 9/9 (unknown error code)"
        );
        assert_eq!(
            CloseReason::HoldTimerExpired.to_string(),
            "hold timer expired"
        );
    }

    #[test]
    fn close_reason_display_shows_shutdown_communication_even_if_truncated() {
        let mut data = vec![5];
        data.extend_from_slice(b"maint");
        let n = Notification {
            code: 6,
            subcode: 2,
            data,
        };
        assert_eq!(
            CloseReason::NotificationReceived(n).to_string(),
            "received NOTIFICATION 6/2 (Cease / Administrative Shutdown): \"maint\""
        );
        // A length larger than the data must not panic.
        let n = Notification {
            code: 6,
            subcode: 4,
            data: vec![200, b'x'],
        };
        assert!(CloseReason::NotificationReceived(n)
            .to_string()
            .ends_with(": \"x\""));
    }

    #[test]
    fn hold_timer_expiry_reports_the_notification_it_sent() {
        let n = CloseReason::HoldTimerExpired.notification_sent().unwrap();
        assert_eq!((n.code, n.subcode), (4, 0));
        assert_eq!(CloseReason::ConnectionLost.notification_sent(), None);
    }
}
