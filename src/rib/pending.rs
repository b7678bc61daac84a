//! Throttle state (ARCHITECTURE invariant 1, after OpenBGPD's XOFF/XON): a peer whose worker
//! queue is full is taken out of its group's send lists, and what changed for its group
//! meanwhile is remembered as *prefixes* (RIB state, `FamilyRib::pending`), never as bytes.
//! On catch-up the peer is sent the group's current view of exactly those prefixes. Memory
//! is bounded by the table size per family, however long the peer stays stuck.

use crate::wire::FamilySet;

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
    /// Families whose dump is the session's first: the peer holds nothing of ours in them
    /// yet, so nothing it missed needs withdrawing. A ROUTE-REFRESH dump goes to a peer
    /// that already holds routes, so what changed while it was throttled must still be
    /// caught up. (Per family: a filtered family's first dump may wait for the peer's
    /// RT-Constraint membership, `rt_filter`.)
    pub initial: FamilySet,
}

impl OutState {
    /// In the group's send lists: group deltas go to it directly.
    pub fn active(&self) -> bool {
        !self.xoff && !self.syncing
    }
}
