//! A configured neighbor as one worker sees it: its connections (at most one per direction
//! while a collision is being resolved), reconnect timing, plain counters flushed to metrics
//! on the worker's tick, and the status it publishes.

use super::status::NeighborStatus;
use crate::config::Neighbor;
use crate::fsm::{Backoff, Negotiated, SessionConfig, State};
use crate::metrics as m;
use crate::msg::PeerId;
use metrics::{Counter, Gauge};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// Message type index for counters: open, update, notification, keepalive, route_refresh.
pub const MSG_TYPES: [&str; 5] = [
    "open",
    "update",
    "notification",
    "keepalive",
    "route_refresh",
];

pub fn msg_type_index(t: u8) -> Option<usize> {
    (1..=5).contains(&t).then(|| t as usize - 1)
}

#[derive(Default)]
pub struct Counters {
    pub msgs_in: [u64; 5],
    pub msgs_out: [u64; 5],
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub established: u64,
    pub treat_as_withdraw: u64,
    pub attr_discard: u64,
    pub notif_in: HashMap<(u8, u8), u64>,
    pub notif_out: HashMap<(u8, u8), u64>,
}

struct Handles {
    state: Gauge,
    established: Counter,
    uptime: Gauge,
    msgs_in: Vec<Counter>,
    msgs_out: Vec<Counter>,
    updates_in: Counter,
    updates_out: Counter,
    bytes_in: Counter,
    bytes_out: Counter,
    treat_as_withdraw: Counter,
    attr_discard: Counter,
}

impl Handles {
    fn new(label: &str) -> Handles {
        let n = label.to_string();
        let per_type = |name: &'static str| {
            MSG_TYPES
                .iter()
                .map(|t| metrics::counter!(name, "neighbor" => n.clone(), "type" => *t))
                .collect()
        };
        Handles {
            state: metrics::gauge!(m::NEIGHBOR_STATE, "neighbor" => n.clone()),
            established: metrics::counter!(m::NEIGHBOR_ESTABLISHED, "neighbor" => n.clone()),
            uptime: metrics::gauge!(m::NEIGHBOR_UPTIME, "neighbor" => n.clone()),
            msgs_in: per_type(m::NEIGHBOR_MESSAGES_IN),
            msgs_out: per_type(m::NEIGHBOR_MESSAGES_OUT),
            updates_in: metrics::counter!(m::NEIGHBOR_UPDATES_IN, "neighbor" => n.clone()),
            updates_out: metrics::counter!(m::NEIGHBOR_UPDATES_OUT, "neighbor" => n.clone()),
            bytes_in: metrics::counter!(m::NEIGHBOR_BYTES_IN, "neighbor" => n.clone()),
            bytes_out: metrics::counter!(m::NEIGHBOR_BYTES_OUT, "neighbor" => n.clone()),
            treat_as_withdraw: metrics::counter!(m::NEIGHBOR_ATTR_ERRORS, "neighbor" => n.clone(), "action" => "treat_as_withdraw"),
            attr_discard: metrics::counter!(m::NEIGHBOR_ATTR_ERRORS, "neighbor" => n, "action" => "attribute_discard"),
        }
    }
}

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
    handles: Handles,
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
        let handles = Handles::new(&neighbor.address.to_string());
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
            handles,
        }
    }

    pub fn is_held_down(&self, now: Instant) -> bool {
        match self.held_down {
            None => false,
            Some(HoldDown::Until(t)) => now < t,
            Some(HoldDown::UntilReload) => true,
        }
    }

    /// Pushes the plain counters into the metrics registry (called on the worker's tick).
    pub fn flush_metrics(&self, state: State, now: Instant) {
        let c = &self.counters;
        let h = &self.handles;
        h.state.set(f64::from(state.as_u8()));
        h.established.absolute(c.established);
        let up = if self.established.is_some() {
            now.duration_since(self.since).as_secs_f64()
        } else {
            0.0
        };
        h.uptime.set(up);
        for i in 0..5 {
            h.msgs_in[i].absolute(c.msgs_in[i]);
            h.msgs_out[i].absolute(c.msgs_out[i]);
        }
        h.updates_in.absolute(c.msgs_in[1]);
        h.updates_out.absolute(c.msgs_out[1]);
        h.bytes_in.absolute(c.bytes_in);
        h.bytes_out.absolute(c.bytes_out);
        h.treat_as_withdraw.absolute(c.treat_as_withdraw);
        h.attr_discard.absolute(c.attr_discard);
        let label = self.neighbor.address.to_string();
        for (&(code, sub), &v) in &c.notif_in {
            metrics::counter!(m::NEIGHBOR_NOTIFICATIONS_IN, "neighbor" => label.clone(), "code" => code.to_string(), "subcode" => sub.to_string()).absolute(v);
        }
        for (&(code, sub), &v) in &c.notif_out {
            metrics::counter!(m::NEIGHBOR_NOTIFICATIONS_OUT, "neighbor" => label.clone(), "code" => code.to_string(), "subcode" => sub.to_string()).absolute(v);
        }
    }

    pub fn status(&self, state: State, now: Instant) -> NeighborStatus {
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
            messages_received: c.msgs_in.iter().sum(),
            messages_sent: c.msgs_out.iter().sum(),
            updates_received: c.msgs_in[1],
            updates_sent: c.msgs_out[1],
            last_error: self.last_error.clone(),
        }
    }
}
