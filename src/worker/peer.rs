//! A configured neighbor as one worker sees it: its connections (at most one per direction
//! while a collision is being resolved), reconnect timing, plain counters, and the status it
//! publishes on the worker's tick (`/metrics` renders the counters from that status).

use super::status::NeighborStatus;
use crate::config::Neighbor;
use crate::fsm::{Backoff, Negotiated, SessionConfig, State};
use crate::msg::PeerId;
use crate::wire::MessageType;
use std::collections::HashMap;
use std::ops::{Index, IndexMut};
use std::sync::Arc;
use std::time::Instant;

/// Messages counted by type: `MessageType` indexes it.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageCounts([u64; MessageType::ALL.len()]);

impl MessageCounts {
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Each type with its count, in Type-octet order.
    pub fn iter(&self) -> impl Iterator<Item = (MessageType, u64)> + '_ {
        MessageType::ALL.into_iter().zip(self.0.iter().copied())
    }
}

impl From<[u64; MessageType::ALL.len()]> for MessageCounts {
    fn from(counts: [u64; MessageType::ALL.len()]) -> Self {
        MessageCounts(counts)
    }
}

impl Index<MessageType> for MessageCounts {
    type Output = u64;
    fn index(&self, t: MessageType) -> &u64 {
        &self.0[t.index()]
    }
}

impl IndexMut<MessageType> for MessageCounts {
    fn index_mut(&mut self, t: MessageType) -> &mut u64 {
        &mut self.0[t.index()]
    }
}

#[derive(Clone, Debug, Default)]
pub struct Counters {
    pub msgs_in: MessageCounts,
    pub msgs_out: MessageCounts,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub established: u64,
    pub treat_as_withdraw: u64,
    pub attr_discard: u64,
    pub notif_in: HashMap<(u8, u8), u64>,
    pub notif_out: HashMap<(u8, u8), u64>,
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
