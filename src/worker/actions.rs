//! What a worker does with a session's `fsm::Action`s: queue its messages, batch its
//! UPDATEs for the RIB, tell the RIB of Established and ROUTE-REFRESH, and close; with the
//! RFC 4271 §6.8 collision check and the RFC 4724 §4.2 takeover of a restarted peer's old
//! session that follow an accepted OPEN.
//!
//! Writing never calls back into the FSM: a write that fails is turned into the session's
//! `connection_lost` here, and its actions run in the same loop.

use super::Worker;
use crate::fsm::{collision, Action, CloseReason, Negotiated, Session, State};
use crate::msg::{self, ToRib};
use crate::wire::{self, notif, Notification};
use std::time::Instant;
use tracing::{debug, info, warn};

impl Worker {
    /// Runs one session call and then the actions it produced.
    pub(super) fn with_session(
        &mut self,
        key: usize,
        now: Instant,
        f: impl FnOnce(&mut Session, Instant, &mut Vec<Action>),
    ) {
        let mut actions = std::mem::take(&mut self.actions);
        if let Some(c) = self.conn_mut(key) {
            f(&mut c.session, now, &mut actions);
        }
        self.run_actions(key, &mut actions, now);
        self.actions = actions;
    }

    pub(super) fn run_actions(&mut self, key: usize, actions: &mut Vec<Action>, now: Instant) {
        while !actions.is_empty() {
            let mut write_failed = false;
            for action in actions.drain(..) {
                let Some(peer_id) = self.conn(key).map(|c| c.peer) else {
                    return;
                };
                match action {
                    Action::Send(msg) => {
                        self.queue_message(key, &msg);
                        // What follows a message that could not be written is moot: the
                        // connection is lost (below).
                        if self.write(key).is_err() {
                            write_failed = true;
                            break;
                        }
                    }
                    Action::Established(neg) => self.established(key, neg, now),
                    Action::Update(u) => self.received_update(peer_id, u),
                    Action::RouteRefresh(family) => self.tell_rib(ToRib::RouteRefresh {
                        peer: peer_id,
                        family,
                    }),
                    Action::Close(reason) => {
                        if reason == CloseReason::ConnectionLost {
                            if let Some(c) = self.conn_mut(key) {
                                c.lost = true;
                            }
                        }
                        self.write_last(key);
                        self.close_conn(key, Some(reason.to_string()), now);
                        return;
                    }
                }
            }
            if write_failed {
                if let Some(c) = self.conn_mut(key) {
                    c.session.connection_lost(actions);
                }
            }
        }
        self.next_due = self.next_due.min(
            self.conn(key)
                .and_then(|c| c.session.next_deadline())
                .unwrap_or(self.next_due),
        );
        self.check_collision(key, now);
    }

    /// An UPDATE the decoder read (one `wire::scan` could not): counted, logged if RFC 7606
    /// repaired it, and batched behind the peer's earlier ones.
    fn received_update(&mut self, peer_id: msg::PeerId, u: wire::Update) {
        if let Some(p) = self.peers.get_mut(&peer_id) {
            for e in &u.attr_errors {
                match e.action {
                    wire::AttrAction::TreatAsWithdraw => p.counters.treat_as_withdraw += 1,
                    wire::AttrAction::Discard => p.counters.attr_discard += 1,
                }
                warn!(neighbor = %p.neighbor.address, attribute = e.code, action = ?e.action, "malformed attribute: {}", e.reason);
            }
        }
        let was_withdraw = u.treat_as_withdraw;
        let r = msg::Received::of(u);
        if r.treat_as_withdraw && !was_withdraw {
            if let Some(p) = self.peers.get_mut(&peer_id) {
                p.counters.treat_as_withdraw += 1;
                warn!(neighbor = %p.neighbor.address, action = ?wire::AttrAction::TreatAsWithdraw, "malformed attribute: AS_PATH (4-octet) or CLUSTER_LIST (with ours) over 65535 bytes");
            }
        }
        self.rib.push(peer_id, r);
        self.sync_toggled();
    }

    fn established(&mut self, key: usize, neg: Negotiated, now: Instant) {
        let Some(c) = self.conn(key) else { return };
        let peer_id = c.peer;
        // `check_collision` judged this connection in OpenConfirm (`parse` stops after an
        // accepted OPEN); this only backs it up should an Established one be left over.
        let old = self.peers.get(&peer_id).and_then(|p| p.established);
        if let Some(old) = old.filter(|&k| k != key) {
            if self.is_restart(key, old) {
                self.take_over(old, now);
            } else {
                self.stop_conn(key, collision::collision_notification(), now);
                return;
            }
        }
        let Some(p) = self.peers.get_mut(&peer_id) else {
            return;
        };
        let up = p.session_up(key, neg, self.cfg.index, now);
        let others: Vec<usize> = p.conns.iter().copied().filter(|k| *k != key).collect();
        for other in others {
            let n = Notification::cease(notif::CEASE_COLLISION_RESOLUTION, "");
            self.stop_conn(other, n, now);
        }
        self.tell_rib(ToRib::PeerUp(up));
        self.status_dirty = true;
    }

    /// `Peer::is_restart` for the connections `new` and `old`.
    fn is_restart(&self, new: usize, old: usize) -> bool {
        let has_gr = |k: usize| {
            self.conn(k).is_some_and(|c| {
                c.session
                    .negotiated()
                    .is_some_and(|n| n.graceful_restart.is_some())
            })
        };
        let Some(c) = self.conn(new) else {
            return false;
        };
        self.peers
            .get(&c.peer)
            .is_some_and(|p| p.is_restart(old, has_gr(new), has_gr(old)))
    }

    /// Ends the half-dead `old` session of a restarted peer without a NOTIFICATION, so the
    /// RIB keeps its routes stale (`ToRib::PeerLost`).
    fn take_over(&mut self, old: usize, now: Instant) {
        let Some(o) = self.conn_mut(old) else { return };
        o.lost = true;
        let peer = o.peer;
        if let Some(p) = self.peers.get(&peer) {
            info!(neighbor = %p.neighbor.address, "peer restarted: its new connection replaces the Established session (graceful restart)");
        }
        self.close_conn(old, Some("peer restarted (new connection)".into()), now);
    }

    /// RFC 4271 §6.8: once a connection has accepted the peer's OPEN, at most one of the
    /// peer's two connections may go on (see `fsm::collision` for the rule).
    fn check_collision(&mut self, key: usize, now: Instant) {
        let Some(c) = self.conn(key) else { return };
        let (peer_id, new_local) = (c.peer, c.outbound);
        let Some(remote_id) = c.session.remote_id() else {
            return;
        };
        if c.session.state() != State::OpenConfirm {
            return;
        }
        let Some(p) = self.peers.get(&peer_id) else {
            return;
        };
        let Some(&other) = p.conns.iter().find(|k| **k != key) else {
            return;
        };
        let Some(o) = self.conn(other) else { return };
        let other_state = o.session.state();
        if !matches!(other_state, State::OpenConfirm | State::Established) {
            return;
        }
        if other_state == State::Established && self.is_restart(key, other) {
            self.take_over(other, now);
            return;
        }
        let survivor = collision::resolve_collision(
            &p.session_cfg,
            remote_id,
            other_state,
            o.outbound,
            new_local,
        );
        let loser = if survivor == collision::Survivor::Existing {
            key
        } else {
            other
        };
        debug!(neighbor = %p.neighbor.address, "connection collision resolved");
        self.stop_conn(loser, collision::collision_notification(), now);
    }

    /// Sends a NOTIFICATION (if the session got that far) and closes.
    pub(super) fn stop_conn(&mut self, key: usize, n: Notification, now: Instant) {
        if self.conn(key).is_some_and(|c| c.connecting) {
            self.close_conn(key, Some("stopped".into()), now);
            return;
        }
        self.with_session(key, now, |s, _, out| s.stop(n, out));
        if self.conn(key).is_some() {
            self.close_conn(key, Some("stopped".into()), now);
        }
    }

    pub(super) fn close_conn(&mut self, key: usize, reason: Option<String>, now: Instant) {
        let Some(c) = self.conns.get_mut(key).and_then(|c| c.take()) else {
            return;
        };
        let _ = self.poller.delete(&c.stream);
        self.free_keys.push(key);
        let _ = c.stream.shutdown(std::net::Shutdown::Both);
        let Some(p) = self.peers.get_mut(&c.peer) else {
            return;
        };
        let (was_established, redial) = p.conn_closed(key, reason.as_deref(), now);
        if let Some(at) = redial {
            self.next_due = self.next_due.min(at);
        }
        if was_established && c.lost {
            self.tell_rib(ToRib::PeerLost { peer: c.peer });
        } else if was_established {
            self.tell_rib(ToRib::PeerDown { peer: c.peer });
        }
        self.reap_peer(c.peer);
        self.status_dirty = true;
    }
}
