//! What a worker publishes about its peers for readers (API, CLI, metrics): one `arc-swap`ed
//! list per worker, replaced on state changes and on the worker's tick, and a heartbeat the
//! liveness probe reads. Readers never lock. `Counters` are defined here, as what is
//! published, but bumped per message only in the worker's own `Peer`, and copied here on the
//! tick: nothing published is touched per message.

use crate::config::Neighbor;
use crate::fsm::State;
use crate::msg::PeerId;
use crate::wire::MessageType;
use serde::Serialize;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::ops::{Index, IndexMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

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

#[derive(Clone, Debug, Serialize)]
pub struct NeighborStatus {
    pub peer: PeerId,
    pub address: IpAddr,
    pub asn: u32,
    pub description: Option<String>,
    pub rr_client: bool,
    /// RFC 4271 state name (Idle, Connect, Active, OpenSent, OpenConfirm, Established).
    pub state: &'static str,
    /// Seconds since the session reached Established (or since it went down).
    pub state_seconds: u64,
    pub remote_id: Option<Ipv4Addr>,
    /// Negotiated families once Established.
    pub families: Vec<&'static str>,
    pub hold_time: Option<u16>,
    pub established_transitions: u64,
    pub messages_received: u64,
    pub messages_sent: u64,
    pub updates_received: u64,
    pub updates_sent: u64,
    /// Why the last session ended (or the last connection attempt failed).
    pub last_error: Option<String>,
    /// Bytes queued for the peer's sockets and not yet taken by the kernel.
    pub output_queue_bytes: u64,
    /// What `/metrics` renders from this status (never serialized: the API has its own
    /// fields): the FSM state, when it was entered, the counters as of this publish and the
    /// neighbor's configuration (its families get prefix gauges even while it is down).
    #[serde(skip)]
    pub fsm_state: State,
    #[serde(skip)]
    pub since: Instant,
    #[serde(skip)]
    pub counters: Counters,
    #[serde(skip)]
    pub config: Arc<Neighbor>,
}

/// When a worker last went round its loop, for `/livez`. A worker wakes at least once per
/// publish period even when idle, so an old beat means a stuck loop. Beats once per
/// publish, not per message.
#[derive(Clone, Debug, Default)]
pub struct Heartbeat(Arc<AtomicU64>);

/// Beats are milliseconds since the first use of this clock (monotonic, fits an atomic).
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

impl Heartbeat {
    pub fn beat(&self, now: Instant) {
        // Stored plus one: zero means "never".
        let ms = now.saturating_duration_since(epoch()).as_millis() + 1;
        self.0
            .store(u64::try_from(ms).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Time since the last beat; None before the first.
    pub fn age(&self, now: Instant) -> Option<Duration> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(now.saturating_duration_since(epoch() + Duration::from_millis(ms - 1))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heartbeat_has_no_age_until_it_beats_then_ages_with_the_clock() {
        let hb = Heartbeat::default();
        let t = epoch();
        assert_eq!(hb.age(t), None);
        hb.beat(t);
        assert_eq!(hb.age(t), Some(Duration::ZERO));
        assert_eq!(
            hb.age(t + Duration::from_secs(3)),
            Some(Duration::from_secs(3))
        );
    }
}
