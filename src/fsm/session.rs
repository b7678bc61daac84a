//! One TCP connection's session (RFC 4271 §8): state, hold timer, keepalive timer.
//! Must not: do I/O, read a clock or allocate per UPDATE — the worker passes `now` in and
//! owns the `Vec<Action>` the outputs go to.

use super::open::{check_open, negotiate, our_open};
use super::types::{hold_timer_expired, Action, CloseReason, Negotiated, SessionConfig, State};
use crate::wire::{notif, CodecCtx, DecodeError, Message, Notification, RouteRefresh};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The hold timer while waiting for the peer's OPEN: RFC 4271 §8.2.2 suggests "a large
/// value" of 4 minutes, so a peer that connects and says nothing is eventually dropped.
pub const OPEN_HOLD_TIME: Duration = Duration::from_secs(240);

/// RFC 7313 §3: subtype 0 is a normal request. BoRR/EoRR (1, 2) only mean something with
/// Enhanced Route Refresh, which we do not advertise; other values must be ignored (§5).
const ROUTE_REFRESH_REQUEST: u8 = 0;

/// FSM Error "Unspecified" (RFC 6608 §4): a message before the worker said TCP was up.
const FSM_UNSPECIFIED: u8 = 0;

pub struct Session {
    cfg: Arc<SessionConfig>,
    state: State,
    /// Set when a valid OPEN was received (OpenConfirm onward).
    negotiated: Option<Negotiated>,
    /// Negotiated durations; zero when the hold time is 0 (no timers, RFC 4271 §4.2).
    hold: Duration,
    keepalive: Duration,
    hold_deadline: Option<Instant>,
    keepalive_deadline: Option<Instant>,
}

impl Session {
    /// A session whose TCP connection is being set up (state Connect).
    pub fn new(cfg: Arc<SessionConfig>) -> Session {
        debug_assert!(
            cfg.hold_time == 0 || cfg.hold_time >= 3,
            "config validates hold_time"
        );
        Session {
            cfg,
            state: State::Connect,
            negotiated: None,
            hold: Duration::ZERO,
            keepalive: Duration::ZERO,
            hold_deadline: None,
            keepalive_deadline: None,
        }
    }

    /// TCP is up (either direction): send our OPEN and wait for theirs (RFC 4271 §8.2.2,
    /// Connect state, event 16/17). Ignored in any other state than Connect.
    pub fn connected(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state != State::Connect {
            return;
        }
        out.push(Action::Send(Message::Open(our_open(&self.cfg))));
        self.state = State::OpenSent;
        self.hold_deadline = Some(now + OPEN_HOLD_TIME);
    }

    /// One decoded message from the peer.
    pub fn receive(&mut self, msg: Message, now: Instant, out: &mut Vec<Action>) {
        match (self.state, msg) {
            // Finished: the worker may still drain bytes that were already read.
            (State::Idle, _) => {}
            // RFC 4271 §6.4 and §8.2.2: a NOTIFICATION ends the session in every state,
            // and is never answered.
            (_, Message::Notification(n)) => self.close(CloseReason::NotificationReceived(n), out),
            (State::OpenSent, Message::Open(open)) => {
                if let Err(n) = check_open(&self.cfg, &open) {
                    return self.notify_and_close(n, out);
                }
                let neg = negotiate(&self.cfg, open);
                self.hold = Duration::from_secs(neg.hold_time.into());
                self.keepalive = Duration::from_secs(neg.keepalive.into());
                self.negotiated = Some(neg);
                // RFC 4271 §8.2.2 OpenSent, event 19: KEEPALIVE, timers to negotiated values.
                out.push(Action::Send(Message::Keepalive));
                self.state = State::OpenConfirm;
                self.restart_hold(now);
                self.restart_keepalive(now);
            }
            (State::OpenConfirm, Message::Keepalive) => match &self.negotiated {
                Some(neg) => {
                    out.push(Action::Established(neg.clone()));
                    self.state = State::Established;
                    self.restart_hold(now);
                }
                None => {
                    debug_assert!(false, "OpenConfirm without a negotiated OPEN");
                    self.fsm_error(out);
                }
            },
            (State::Established, Message::Update(update)) => {
                self.restart_hold(now);
                out.push(Action::Update(update));
            }
            (State::Established, Message::Keepalive) => self.restart_hold(now),
            (State::Established, Message::RouteRefresh(rr)) => {
                // Any message proves the peer alive (RFC 4271 §4.4 counts all of them).
                self.restart_hold(now);
                self.route_refresh(&rr, out);
            }
            // RFC 6608: everything else is unexpected in this state.
            _ => self.fsm_error(out),
        }
    }

    /// An UPDATE the worker read in place (`wire::scan`) instead of decoding it: in
    /// Established, what `receive` does with one, the caller delivering it itself. False in
    /// any other state, where nothing changed: decode it and `receive` it (an FSM error).
    pub fn update_read_in_place(&mut self, now: Instant) -> bool {
        if self.state != State::Established {
            return false;
        }
        self.restart_hold(now);
        true
    }

    /// The codec rejected what the peer sent: its NOTIFICATION goes out, then we close.
    pub fn decode_error(&mut self, err: &DecodeError, out: &mut Vec<Action>) {
        if self.state != State::Idle {
            self.notify_and_close(err.notification.clone(), out);
        }
    }

    /// TCP closed or failed (RFC 4271 §8.2.2 event 18): no NOTIFICATION can be sent.
    pub fn connection_lost(&mut self, out: &mut Vec<Action>) {
        if self.state != State::Idle {
            self.close(CloseReason::ConnectionLost, out);
        }
    }

    /// Administrative stop (RFC 4271 event 2; Cease per RFC 4486). The NOTIFICATION is only
    /// sent once our OPEN is out: before that the peer is not listening for one.
    pub fn stop(&mut self, notification: Notification, out: &mut Vec<Action>) {
        match self.state {
            State::Idle => return,
            State::Connect | State::Active => {}
            State::OpenSent | State::OpenConfirm | State::Established => {
                out.push(Action::Send(Message::Notification(notification)));
            }
        }
        self.close(CloseReason::AdminStop, out);
    }

    /// Fires whatever timer is due. The hold timer wins over the keepalive timer: a peer
    /// that is already dead is not sent a KEEPALIVE first.
    pub fn tick(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state == State::Idle {
            return;
        }
        if self.hold_deadline.is_some_and(|d| d <= now) {
            // RFC 4271 §6.5.
            out.push(Action::Send(Message::Notification(hold_timer_expired())));
            return self.close(CloseReason::HoldTimerExpired, out);
        }
        if self.keepalive_deadline.is_some_and(|d| d <= now) {
            out.push(Action::Send(Message::Keepalive));
            // From `now`, not from the old deadline: a late tick sends one, not a burst.
            self.restart_keepalive(now);
        }
    }

    /// The earliest instant `tick` has something to do; None when no timer runs.
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.hold_deadline, self.keepalive_deadline) {
            (Some(h), Some(k)) => Some(h.min(k)),
            (h, k) => h.or(k),
        }
    }

    /// The worker wrote an UPDATE: RFC 4271 §8.2.2 restarts the KeepaliveTimer on each
    /// KEEPALIVE or UPDATE sent, so a busy session sends no KEEPALIVEs.
    pub fn update_sent(&mut self, now: Instant) {
        if self.keepalive_deadline.is_some() {
            self.restart_keepalive(now);
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// When the hold timer expires unless a message arrives first (None: not running).
    pub fn hold_deadline(&self) -> Option<Instant> {
        self.hold_deadline
    }

    /// How to encode and decode on this connection: the default (2-octet AS, 4096 bytes)
    /// until the peer's OPEN has been accepted.
    pub fn codec(&self) -> CodecCtx {
        self.negotiated
            .as_ref()
            .map(|n| n.codec)
            .unwrap_or_default()
    }

    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// The peer's BGP Identifier, known once its OPEN was accepted (for RFC 4271 §6.8).
    pub fn remote_id(&self) -> Option<Ipv4Addr> {
        self.negotiated.as_ref().map(|n| n.remote_id)
    }

    pub fn config(&self) -> &Arc<SessionConfig> {
        &self.cfg
    }

    /// RFC 2918 §4: a request for a family we did not negotiate is ignored.
    fn route_refresh(&self, rr: &RouteRefresh, out: &mut Vec<Action>) {
        if rr.subtype != ROUTE_REFRESH_REQUEST {
            return;
        }
        let negotiated = self
            .negotiated
            .as_ref()
            .map(|n| n.families)
            .unwrap_or_default();
        if let Some(family) = crate::wire::Family::from_afi_safi(rr.afi, rr.safi) {
            if negotiated.contains(family) {
                out.push(Action::RouteRefresh(family));
            }
        }
    }

    fn restart_hold(&mut self, now: Instant) {
        self.hold_deadline = (!self.hold.is_zero()).then(|| now + self.hold);
    }

    fn restart_keepalive(&mut self, now: Instant) {
        self.keepalive_deadline = (!self.keepalive.is_zero()).then(|| now + self.keepalive);
    }

    /// RFC 6608 §4: the subcode says which state did not expect the message.
    fn fsm_error(&mut self, out: &mut Vec<Action>) {
        let subcode = match self.state {
            State::OpenSent => notif::FSM_UNEXPECTED_IN_OPENSENT,
            State::OpenConfirm => notif::FSM_UNEXPECTED_IN_OPENCONFIRM,
            State::Established => notif::FSM_UNEXPECTED_IN_ESTABLISHED,
            State::Idle | State::Connect | State::Active => FSM_UNSPECIFIED,
        };
        let n = Notification {
            code: notif::FSM_ERROR,
            subcode,
            data: Vec::new(),
        };
        self.notify_and_close(n, out);
    }

    fn notify_and_close(&mut self, n: Notification, out: &mut Vec<Action>) {
        out.push(Action::Send(Message::Notification(n.clone())));
        self.close(CloseReason::NotificationSent(n), out);
    }

    /// The end of this Session: back to Idle, timers stopped, every later input ignored.
    fn close(&mut self, reason: CloseReason, out: &mut Vec<Action>) {
        self.state = State::Idle;
        self.hold_deadline = None;
        self.keepalive_deadline = None;
        out.push(Action::Close(reason));
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
