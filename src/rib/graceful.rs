//! Graceful Restart, receiving speaker (RFC 4724 §4.2). A peer whose session is lost with
//! no NOTIFICATION either way, and that advertised the capability for a family, keeps that
//! family's routes, marked stale, until:
//!
//! - the peer is back and sends End-of-RIB for the family: the stale routes it did not
//!   re-announce are withdrawn (a re-announced or withdrawn prefix loses its mark);
//! - the peer is back without the capability, without the family, or with the family's
//!   Forwarding State bit clear: that family's stale routes are withdrawn at once;
//! - the restart timer (the peer's Restart Time, capped by `graceful_restart_time`) ends
//!   before the peer is back, or the stale-path timer (`graceful_restart_stale_time`) ends
//!   after it is back but before its End-of-RIB: the rest are withdrawn;
//! - the session is lost again before End-of-RIB (a consecutive restart): the routes still
//!   stale from the previous restart are withdrawn ("To deal with possible consecutive
//!   restarts, a route (from the peer) previously marked as stale MUST be deleted", §4.2)
//!   and only what the peer announced in the lost session is marked stale. Otherwise a peer
//!   that keeps reconnecting and dropping would keep routes it never re-announced forever;
//! - a reload changes anything about the neighbor (even its description): that is a remove
//!   and an add, so its stale routes are withdrawn at once, like any of its routes.
//!
//! Stale routes do not count toward `max_prefixes` until they are swept (see `limit`): the
//! peer's new session may announce another set before its End-of-RIB without being stopped
//! for what it announced in the previous one.
//!
//! Stale routes stay in best-path selection exactly like fresh ones (as BIRD does): the
//! RFC's point is that forwarding through the restarting peer goes on, and a route that
//! dropped out of selection would be withdrawn from every client, which is what GR avoids.
//! A restarting peer is out of its update group (nothing is sent to it) but stays in the
//! peer map, so its paths keep their source (ORIGINATOR_ID, client or not).
//!
//! Memory: one set of prefixes per restarting peer and family, only while marks remain.
//! Time is a parameter (`Rib::handle(msg, now)`, `expire(now)`): nothing here reads a clock
//! or sleeps. The RIB thread's loop passes the time, and wakes for `next_deadline`.

use super::peer::NFAM;
use super::table::{for_each_table, with_table, RibNlri};
use super::Rib;
use crate::metrics as m;
use crate::msg::{PeerId, PeerUp};
use crate::wire::{Family, FamilySet};
use hashbrown::HashSet;
use std::time::Instant;

/// Why stale routes were withdrawn: the `reason` label of `m::GR_STALE_SWEPT`.
#[derive(Copy, Clone, Debug)]
enum Sweep {
    EndOfRib,
    StaleTimer,
    RestartTimer,
    /// The peer came back without the capability, the family or its F bit.
    NotPreserved,
    /// The session was lost again before the previous restart's stale routes were swept.
    ConsecutiveRestart,
}

impl Sweep {
    fn label(self) -> &'static str {
        match self {
            Sweep::EndOfRib => "end_of_rib",
            Sweep::StaleTimer => "stale_timer",
            Sweep::RestartTimer => "restart_timer",
            Sweep::NotPreserved => "not_preserved",
            Sweep::ConsecutiveRestart => "consecutive_restart",
        }
    }
}

impl Rib {
    /// `ToRib::PeerLost`: keep the routes of the families the peer advertised GR for as
    /// stale, withdraw the rest (and everything, for a peer without GR).
    pub(super) fn peer_lost(&mut self, peer: PeerId, now: Instant) {
        let Some(p) = self.peers.get(&peer) else {
            return;
        };
        // RFC 4724 §4.2: "To deal with possible consecutive restarts, a route (from the peer)
        // previously marked as stale MUST be deleted." Before anything is marked again.
        if !p.gr.restarting() {
            let address = p.up.address;
            let swept = self.sweep_all(peer);
            if swept > 0 {
                metrics::counter!(m::GR_STALE_SWEPT, "reason" => Sweep::ConsecutiveRestart.label())
                    .increment(swept as u64);
                tracing::info!(neighbor = %address, swept, "session lost again before End-of-RIB: swept {swept} routes still stale from the previous restart");
            }
        }
        let Some(p) = self.peers.get(&peer) else {
            return;
        };
        let keep = match &p.up.graceful_restart {
            // Over its limit the peer was being stopped: nothing of it is worth keeping.
            Some(g) if !g.restart_time.is_zero() && !p.over_limit && !p.gr.restarting() => {
                FamilySet(g.families.0 & p.up.families.0)
            }
            _ => FamilySet::EMPTY,
        };
        if keep.is_empty() {
            self.peer_down(peer);
            return;
        }
        let restart_time = p.up.graceful_restart.as_ref().map(|g| g.restart_time);
        let (families, group, address) = (p.up.families, p.group, p.up.address);
        let (mut kept, mut withdrawn) = (0, 0);
        for f in families.iter() {
            with_table!(f, |N| if keep.contains(f) {
                kept += self.mark_stale::<N>(peer)
            } else {
                withdrawn += self.remove_all::<N>(peer)
            });
        }
        for_each_table!(|N| {
            N::rib_mut(&mut self.fams).pending.take(peer);
        });
        self.groups.leave(group, peer);
        self.stops.retain(|s| s.1 != peer);
        let restart_time = restart_time.unwrap_or_default();
        if let Some(p) = self.peers.get_mut(&peer) {
            p.out = Default::default();
            p.eor_received = FamilySet::EMPTY;
            p.gr.restart_deadline = Some(now + restart_time);
            p.gr.stale_deadline = None;
        }
        self.gr_timed.insert(peer);
        metrics::counter!(m::GR_RESTARTS).increment(1);
        tracing::info!(
            neighbor = %address,
            kept,
            withdrawn,
            families = ?keep.iter().map(Family::name).collect::<Vec<_>>(),
            "peer {address} restarting: {kept} routes kept stale for {} s",
            restart_time.as_secs()
        );
    }

    /// Marks every path of `peer` in one family stale (a table scan, counted); returns how
    /// many. `peer_lost` swept the marks of an earlier restart first, so every path marked
    /// here was announced in the session just lost.
    fn mark_stale<N: RibNlri>(&mut self, peer: PeerId) -> usize {
        let set: HashSet<N> = self.prefixes_of(peer);
        let n = set.len();
        N::rib_mut(&mut self.fams).stale.put(peer, set);
        n
    }

    /// A `PeerUp` for a peer whose routes are kept stale (same identity and role; otherwise
    /// the caller treats it as a new peer). Withdraws the stale routes of every family the
    /// new session does not preserve; returns the peer's counters to carry over.
    pub(super) fn resume(&mut self, up: &PeerUp) -> ([u64; NFAM], [u64; NFAM]) {
        let peer = up.peer;
        let preserved = up.graceful_restart.as_ref().map_or(FamilySet::EMPTY, |g| {
            FamilySet(g.families.0 & g.forwarding.0 & up.families.0)
        });
        let mut swept = 0;
        // With the old session's families still in place: the withdrawals need them.
        for f in FamilySet(!preserved.0).iter() {
            swept += with_table!(f, |N| self.sweep::<N>(peer));
        }
        if swept > 0 {
            metrics::counter!(m::GR_STALE_SWEPT, "reason" => Sweep::NotPreserved.label())
                .increment(swept as u64);
        }
        let left = self.stale_of(peer);
        self.gr_timed.remove(&peer);
        let Some(old) = self.peers.remove(&peer) else {
            return ([0; NFAM], [0; NFAM]);
        };
        tracing::info!(
            neighbor = %up.address,
            kept = left,
            swept,
            "peer {} back: {left} stale routes kept until End-of-RIB, {swept} withdrawn (family not preserved)",
            up.address
        );
        (old.received, old.accepted)
    }

    /// After `resume` re-inserted the peer (at `now`): arms the stale-path timer if marks
    /// remain.
    pub(super) fn arm_stale_timer(&mut self, peer: PeerId, now: Instant) {
        if self.stale_of(peer) == 0 {
            return;
        }
        if let Some(p) = self.peers.get_mut(&peer) {
            let stale_time = p.up.graceful_restart.as_ref().map(|g| g.stale_time);
            p.gr.stale_deadline = Some(now + stale_time.unwrap_or_default());
            self.gr_timed.insert(peer);
        }
    }

    /// End-of-RIB from `peer` for `family`: its stale routes of that family are withdrawn.
    pub(super) fn gr_end_of_rib(&mut self, peer: PeerId, family: Family) {
        let swept = with_table!(family, |N| self.sweep::<N>(peer));
        if swept == 0 {
            return;
        }
        metrics::counter!(m::GR_STALE_SWEPT, "reason" => Sweep::EndOfRib.label())
            .increment(swept as u64);
        if let Some(p) = self.peers.get(&peer) {
            tracing::info!(neighbor = %p.up.address, %family, swept, "swept {swept} stale routes after End-of-RIB");
        }
        if self.stale_of(peer) == 0 {
            if let Some(p) = self.peers.get_mut(&peer) {
                p.gr.stale_deadline = None;
            }
            self.gr_timed.remove(&peer);
        }
    }

    /// Withdraws `peer`'s stale routes of one family; returns how many.
    fn sweep<N: RibNlri>(&mut self, peer: PeerId) -> usize {
        let set = N::rib_mut(&mut self.fams).stale.take(peer);
        if set.is_empty() {
            return 0;
        }
        let prefixes: Vec<N> = set.into_iter().collect();
        self.withdraw(peer, &prefixes);
        if N::FAMILY == Family::RtConstraint {
            self.membership_resync(peer);
        }
        prefixes.len()
    }

    /// `sweep` in every family.
    fn sweep_all(&mut self, peer: PeerId) -> usize {
        let mut n = 0;
        for_each_table!(|N| n += self.sweep::<N>(peer));
        n
    }

    /// Routes of `peer` still marked stale, all families.
    pub(super) fn stale_of(&self, peer: PeerId) -> usize {
        let mut n = 0;
        for_each_table!(|N| n += N::rib(&self.fams).stale.len(peer));
        n
    }

    /// Routes marked stale, all peers and families.
    pub fn stale_routes(&self) -> usize {
        let mut n = 0;
        for_each_table!(|N| n += N::rib(&self.fams).stale.total());
        n
    }

    /// When `expire` next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        let gr = self
            .gr_timed
            .iter()
            .filter_map(|id| self.peers.get(id)?.gr.deadline())
            .min();
        match (gr, self.rtc_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs the Graceful Restart timers (and RT-Constraint deferrals) due at `now`.
    pub fn expire(&mut self, now: Instant) {
        self.rtc_expire(now);
        let due: Vec<PeerId> = self
            .gr_timed
            .iter()
            .copied()
            .filter(|id| {
                self.peers
                    .get(id)
                    .and_then(|p| p.gr.deadline())
                    .is_none_or(|d| d <= now)
            })
            .collect();
        for peer in due {
            self.gr_timed.remove(&peer);
            let Some(p) = self.peers.get(&peer) else {
                continue;
            };
            let address = p.up.address;
            if p.gr.restart_deadline.is_some() {
                let swept = self.stale_of(peer);
                self.peer_down(peer);
                metrics::counter!(m::GR_STALE_SWEPT, "reason" => Sweep::RestartTimer.label())
                    .increment(swept as u64);
                tracing::info!(neighbor = %address, swept, "peer {address} did not come back: swept {swept} stale routes after the restart timeout");
            } else {
                let swept = self.sweep_all(peer);
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.gr.stale_deadline = None;
                }
                metrics::counter!(m::GR_STALE_SWEPT, "reason" => Sweep::StaleTimer.label())
                    .increment(swept as u64);
                tracing::info!(neighbor = %address, swept, "no End-of-RIB from {address}: swept {swept} stale routes after the stale-path timeout");
            }
        }
    }
}
