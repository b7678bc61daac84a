//! A configured neighbor as one worker sees it: its connections (at most one per direction
//! while a collision is being resolved), reconnect timing, plain counters, and the status it
//! publishes on the worker's tick (`/metrics` renders the counters from that status).
//!
//! Owns the peer-level decisions — when to dial (back-off, idle hold after a session went
//! down), hold-down after `max_prefixes`, whether a new connection takes over a Graceful
//! Restart peer's old session, the RFC 4271 state shown — as plain methods with the time
//! as a parameter. Must not touch sockets, the poller or the RIB link: the worker acts on
//! what these return.

use super::graceful;
use super::status::{Counters, NeighborStatus};
use crate::config::Neighbor;
use crate::fsm::{Backoff, Negotiated, SessionConfig, State};
use crate::msg::{PeerId, PeerUp};
use crate::wire::MessageType;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::info;

pub struct Peer {
    pub id: PeerId,
    pub neighbor: Arc<Neighbor>,
    pub session_cfg: Arc<SessionConfig>,
    /// Poll keys of this peer's connections (at most two).
    pub conns: Vec<usize>,
    /// The key of the connection in Established, if any.
    pub established: Option<usize>,
    pub negotiated: Option<Negotiated>,
    pub since: Instant,
    pub backoff: Backoff,
    /// When to dial next (None: passive, or a connection exists).
    pub next_connect: Option<Instant>,
    pub last_error: Option<String>,
    pub counters: Counters,
    /// Being removed: no reconnect, dropped once its connections are closed.
    pub removing: bool,
    /// PeerDowns sent to the RIB and not yet acknowledged: group bytes arriving meanwhile
    /// were meant for the old session and are dropped.
    pub awaiting_down_ack: u32,
    /// Kept down after exceeding `max_prefixes` (`max_prefixes_restart`): no dialling, and
    /// inbound connections are closed.
    pub held_down: Option<HoldDown>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HoldDown {
    Until(Instant),
    /// `max_prefixes_restart: 0`: until a reload restarts the neighbor.
    UntilReload,
}

impl std::fmt::Display for HoldDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HoldDown::Until(t) => {
                let secs = t.saturating_duration_since(Instant::now()).as_secs();
                write!(f, "for {secs} s")
            }
            HoldDown::UntilReload => f.write_str("until reload"),
        }
    }
}

impl Peer {
    pub fn new(
        id: PeerId,
        neighbor: Arc<Neighbor>,
        session_cfg: Arc<SessionConfig>,
        now: Instant,
    ) -> Peer {
        let backoff = Backoff::new(neighbor.connect_retry, u64::from(id));
        Peer {
            id,
            next_connect: (!neighbor.passive).then_some(now),
            neighbor,
            session_cfg,
            conns: Vec::with_capacity(2),
            established: None,
            negotiated: None,
            since: now,
            backoff,
            last_error: None,
            counters: Counters::default(),
            removing: false,
            awaiting_down_ack: 0,
            held_down: None,
        }
    }

    /// We dial this neighbor (it is not passive, and not being removed).
    fn dials(&self) -> bool {
        !self.neighbor.passive && !self.removing
    }

    /// With no connection left, schedules the next dial after a failure, one back-off step
    /// per failure (RFC 4271 §8 ConnectRetryTimer): nothing if a dial is already scheduled.
    /// Returns the time it set.
    pub fn retry_later(&mut self, now: Instant) -> Option<Instant> {
        if !self.conns.is_empty() || !self.dials() || self.next_connect.is_some() {
            return None;
        }
        let at = now + self.backoff.next_delay();
        self.next_connect = Some(at);
        Some(at)
    }

    /// A dial failed (`why`); returns when the next one is due, if it set one.
    pub fn connect_failed(&mut self, why: &str, now: Instant) -> Option<Instant> {
        self.last_error = Some(format!("connect: {why}"));
        self.retry_later(now)
    }

    /// Time to dial: no connection, not held down, and the scheduled time has come.
    pub fn dial_due(&self, now: Instant) -> bool {
        self.conns.is_empty()
            && !self.removing
            && !self.is_held_down(now)
            && self.next_connect.is_some_and(|t| t <= now)
    }

    /// When the worker must wake to dial. Only while there is no connection: a stale dial
    /// time in the past would otherwise make the loop spin.
    pub fn next_dial(&self) -> Option<Instant> {
        self.next_connect.filter(|_| self.conns.is_empty())
    }

    /// Whether a connection the peer opened to us is taken (else it is dropped).
    pub fn accepts_connection(&self, now: Instant) -> bool {
        !self.removing && !self.is_held_down(now)
    }

    /// Connection `key` reached Established; returns what the RIB is told.
    pub fn session_up(
        &mut self,
        key: usize,
        neg: Negotiated,
        worker: usize,
        now: Instant,
    ) -> PeerUp {
        info!(neighbor = %self.neighbor.address, remote_id = %neg.remote_id, hold = neg.hold_time, "session established");
        self.established = Some(key);
        self.next_connect = None;
        self.since = now;
        self.counters.established += 1;
        self.backoff.reset();
        self.last_error = None;
        let up = PeerUp {
            peer: self.id,
            worker,
            address: self.neighbor.address,
            remote_asn: neg.remote_asn,
            remote_id: neg.remote_id,
            rr_client: self.neighbor.rr_client,
            families: neg.families,
            codec: neg.codec,
            route_refresh: neg.route_refresh,
            max_prefixes: self.neighbor.max_prefixes,
            graceful_restart: graceful::peer_capability(&self.neighbor, &neg),
        };
        self.negotiated = Some(neg);
        up
    }

    /// Connection `key` closed (`why`, if said). Returns whether it carried the Established
    /// session (the RIB is to hear of it) and when the next dial is due, if it set one.
    pub fn conn_closed(
        &mut self,
        key: usize,
        why: Option<&str>,
        now: Instant,
    ) -> (bool, Option<Instant>) {
        self.conns.retain(|k| *k != key);
        if let Some(r) = why {
            self.last_error = Some(r.to_owned());
        }
        if self.established != Some(key) {
            return (false, self.retry_later(now));
        }
        let uptime = now.duration_since(self.since);
        self.established = None;
        self.negotiated = None;
        self.since = now;
        self.awaiting_down_ack += 1;
        info!(neighbor = %self.neighbor.address, reason = why.unwrap_or(""), "session down");
        // A session that failed waits before dialling again, longer the more it flaps
        // (RFC 4271 §8.1.1, DampPeerOscillations in spirit).
        if self.dials() {
            let at = now + self.backoff.idle_hold(uptime);
            self.next_connect = Some(at);
            return (true, Some(at));
        }
        (true, self.retry_later(now))
    }

    /// The connection for bytes the RIB encoded for this peer: its Established one, unless
    /// that session went down since (bytes the RIB produced for it are stale until the RIB
    /// acknowledges the PeerDown).
    pub fn group_conn(&self) -> Option<usize> {
        self.established.filter(|_| self.awaiting_down_ack == 0)
    }

    /// The neighbor is being removed: no more dials. Returns true if the RIB must hear a
    /// PeerDown now: a session lost with Graceful Restart left stale routes in the RIB that
    /// only the peer's return would clear, and a removed neighbor will not return. (A
    /// PeerDown for a peer the RIB does not hold is a no-op; its ack finds the peer gone.)
    pub fn remove(&mut self) -> bool {
        self.removing = true;
        self.next_connect = None;
        info!(neighbor = %self.neighbor.address, "neighbor removed");
        self.established.is_none()
    }

    /// The session was ended for exceeding `max_prefixes`: RFC 4486 §4 leaves when to
    /// reconnect to configuration (`max_prefixes_restart`). Returns when the hold-down
    /// ends, if it does by itself.
    pub fn hold_down_after_max_prefixes(&mut self, now: Instant) -> Option<Instant> {
        self.last_error = Some("max_prefixes exceeded".into());
        let until = match self.neighbor.max_prefixes_restart {
            None => None,
            Some(0) => {
                self.held_down = Some(HoldDown::UntilReload);
                self.next_connect = None;
                None
            }
            Some(secs) => {
                let until = now + Duration::from_secs(secs.into());
                self.held_down = Some(HoldDown::Until(until));
                if !self.neighbor.passive {
                    self.next_connect = Some(until);
                }
                Some(until)
            }
        };
        if let Some(h) = self.held_down {
            info!(neighbor = %self.neighbor.address, "held down after max_prefixes: {h}");
        }
        until
    }

    /// RFC 4724 §4.2: an OPEN with Graceful Restart on a new connection from a peer that
    /// advertised it on `old`, which we still think Established, means the peer restarted
    /// and `old` is half dead. Then `old` ends as if lost and the new one goes on, instead
    /// of the RFC 4271 §6.8 rule that keeps the Established one. `new_gr` / `old_gr`: each
    /// connection's peer advertised Graceful Restart.
    pub fn is_restart(&self, old: usize, new_gr: bool, old_gr: bool) -> bool {
        self.neighbor.graceful_restart && self.established == Some(old) && new_gr && old_gr
    }

    /// The RFC 4271 §8.2.2 state shown: that of its most advanced connection (`best`; a
    /// dial in progress is Connect). With none, it is Active, as BIRD and GoBGP show it: RFC
    /// 4271 Active listens for the peer's connection, and a neighbor that dials goes back to
    /// Active after a failed attempt, until its ConnectRetryTimer sends it to Connect again;
    /// a passive neighbor waits in Active. Idle refuses the peer's connections, which only
    /// a neighbor held down after `max_prefixes` (or being removed) does.
    pub fn state(&self, best: Option<State>, now: Instant) -> State {
        if self.established.is_some() {
            return State::Established;
        }
        match best {
            Some(s) => s,
            None if self.removing || self.is_held_down(now) => State::Idle,
            None => State::Active,
        }
    }

    pub fn is_held_down(&self, now: Instant) -> bool {
        match self.held_down {
            None => false,
            Some(HoldDown::Until(t)) => now < t,
            Some(HoldDown::UntilReload) => true,
        }
    }

    /// `queued`: bytes waiting in this peer's connections' write queues.
    pub fn status(&self, state: State, queued: usize, now: Instant) -> NeighborStatus {
        let c = &self.counters;
        let n = &self.neighbor;
        NeighborStatus {
            peer: self.id,
            address: n.address,
            asn: n.asn,
            description: n.description.clone(),
            rr_client: n.rr_client,
            state: state.name(),
            state_seconds: now.duration_since(self.since).as_secs(),
            remote_id: self.negotiated.as_ref().map(|x| x.remote_id),
            families: self
                .negotiated
                .as_ref()
                .map(|x| x.families.iter().map(|f| f.name()).collect())
                .unwrap_or_default(),
            hold_time: self.negotiated.as_ref().map(|x| x.hold_time),
            established_transitions: c.established,
            messages_received: c.msgs_in.total(),
            messages_sent: c.msgs_out.total(),
            updates_received: c.msgs_in[MessageType::Update],
            updates_sent: c.msgs_out[MessageType::Update],
            last_error: self.last_error.clone(),
            output_queue_bytes: queued as u64,
            fsm_state: state,
            since: self.since,
            counters: c.clone(),
            config: n.clone(),
        }
    }
}

#[cfg(test)]
#[path = "peer_tests.rs"]
mod tests;
