//! A peer as the RIB knows it: its session, its update group, what it sent and is sent,
//! and its Graceful Restart timers. State only: what changes it is `Rib`'s (`mod.rs`,
//! `inbound`, `limit`, `graceful`).

use super::attrs::AttrTable;
use super::pending::OutState;
use super::reflect::Adv;
use super::table::PathEntry;
use super::update_group::GroupId;
use crate::msg::{PeerId, PeerUp};
use crate::wire::{Family, FamilySet};
use hashbrown::HashMap;
use std::time::Instant;

/// Per-family counters are arrays indexed by `Family as usize`.
pub(super) const NFAM: usize = Family::ALL.len();

/// A peer with a session up, or awaited after a lost one with its routes kept stale.
pub(super) struct Peer {
    pub(super) up: PeerUp,
    pub(super) group: GroupId,
    /// Per family (`Family as usize`): prefixes held from this peer, including looped ones
    /// (received), and of those the ones eligible for selection (accepted).
    pub(super) received: [u64; NFAM],
    pub(super) accepted: [u64; NFAM],
    pub(super) out: OutState,
    pub(super) eor_received: FamilySet,
    /// The 90% `max_prefixes` warning was logged for this session.
    pub(super) limit_warned: bool,
    /// Over `max_prefixes`: a StopPeer was sent and the peer's UPDATEs are ignored.
    pub(super) over_limit: bool,
    /// Graceful Restart helper timers; `gr.restarting()`: the session is lost and the
    /// peer's routes are kept stale (see `graceful`).
    pub(super) gr: PeerGr,
    /// RT-Constraint membership and whether it filters yet (`rt_filter`).
    pub(super) rtc: super::rt_filter::PeerRtc,
}

pub(super) type PeerMap = HashMap<PeerId, Peer>;

/// The advertisement of a table entry: its attributes and what we know of its source.
pub(super) fn adv_of(e: PathEntry, peers: &PeerMap, attrs: &AttrTable) -> Option<Adv> {
    let p = peers.get(&e.peer);
    debug_assert!(p.is_some(), "path from unknown peer {}", e.peer);
    p.map(|p| {
        let (well_known, v6_next_hop) = attrs.advertising(e.attr);
        Adv {
            attr: e.attr,
            peer: e.peer,
            from_client: p.up.rr_client,
            no_advertise: well_known.no_advertise(),
            v6_next_hop,
        }
    })
}

/// A peer's Graceful Restart timers.
#[derive(Clone, Debug, Default)]
pub(super) struct PeerGr {
    /// Set while the session is lost: the peer is awaited until then (restart timer).
    pub restart_deadline: Option<Instant>,
    /// Set while the peer is back with stale routes left: they are withdrawn then
    /// (stale-path timer) unless End-of-RIB comes first.
    pub stale_deadline: Option<Instant>,
}

impl PeerGr {
    /// The session is lost and the peer is awaited: it is sent nothing, and it sends
    /// nothing that could be applied.
    pub fn restarting(&self) -> bool {
        self.restart_deadline.is_some()
    }

    pub fn deadline(&self) -> Option<Instant> {
        match (self.restart_deadline, self.stale_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
