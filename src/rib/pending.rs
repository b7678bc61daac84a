//! Throttle state (ARCHITECTURE invariant 1, after OpenBGPD's XOFF/XON): a peer whose worker
//! queue is full is taken out of its group's send lists, and what changed for its group
//! meanwhile is remembered as *prefixes* (RIB state), never as bytes. On catch-up the peer
//! is sent the group's current view of exactly those prefixes. Memory is bounded by the
//! table size per family, however long the peer stays stuck.

use crate::msg::PeerId;
use crate::wire::FamilySet;
use hashbrown::{HashMap, HashSet};

/// A peer's output state, apart from its group.
#[derive(Clone, Debug, Default)]
pub struct OutState {
    /// Throttled by its worker (Xoff seen, no Xon yet).
    pub xoff: bool,
    /// Out of the send lists until the next flush sends it its full dumps / catch-up
    /// (set by PeerUp and Xon).
    pub syncing: bool,
    /// Families to send in full, followed by End-of-RIB (PeerUp, ROUTE-REFRESH).
    pub dump: FamilySet,
    /// The dump is the session's first: the peer holds nothing of ours yet, so nothing it
    /// missed needs withdrawing. A ROUTE-REFRESH dump goes to a peer that already holds
    /// routes, so what changed while it was throttled must still be caught up.
    pub initial: bool,
}

impl OutState {
    /// In the group's send lists: group deltas go to it directly.
    pub fn active(&self) -> bool {
        !self.xoff && !self.syncing
    }
}

/// Per peer, the prefixes of one family changed for its group while it was not active.
pub struct Pending<N> {
    by_peer: HashMap<PeerId, HashSet<N>>,
}

impl<N> Default for Pending<N> {
    fn default() -> Self {
        Pending {
            by_peer: HashMap::new(),
        }
    }
}

impl<N: std::hash::Hash + Eq> Pending<N> {
    pub fn add(&mut self, peer: PeerId, prefix: N) {
        self.by_peer.entry(peer).or_default().insert(prefix);
    }

    /// Removes and returns what is pending for `peer`.
    pub fn take(&mut self, peer: PeerId) -> HashSet<N> {
        self.by_peer.remove(&peer).unwrap_or_default()
    }

    pub fn len(&self, peer: PeerId) -> usize {
        self.by_peer.get(&peer).map_or(0, HashSet::len)
    }
}
