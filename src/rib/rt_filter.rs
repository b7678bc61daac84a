//! RT-Constraint (RFC 4684) in the RIB: which VPN routes a peer is sent, and which
//! memberships reflectd itself announces. It owns a peer's RT-Constraint state (its
//! membership, learned from the RT-Constraint routes it sent; whether that membership is
//! complete), the filter that state puts in the peer's update-group key, moving a peer whose
//! filter changed to the group of its new filter with exactly the difference to send, and
//! the choice between reflecting memberships and asking for everything (the default route
//! target). It does not decide best paths or encode anything: the outbound planner asks
//! `Rib::rt_passes` per route and group.
//!
//! Filtering. A family whose `RibNlri::RT_FILTERED` is set (VPN-IPv4, VPN-IPv6, EVPN) is sent to
//! a peer that negotiated RT-Constraint only if the peer's membership admits one of the
//! route targets of the path's stored attribute set (`route_target::targets_in_stored`: the
//! NLRI type plays no part, so a new family only sets the constant). A peer without
//! RT-Constraint, or whose membership admits everything, has no filter. The filter is part
//! of the update-group key (`GroupKey::rt`): peers with the same membership share a group
//! and one encoding, peers with different ones cannot.
//!
//! When the membership starts to filter (RFC 4684 §6). A peer that negotiated Graceful
//! Restart with us sends End-of-RIB markers, so its membership is complete at its End-of-RIB
//! for RT-Constraint: until then (bounded by `DEFERRAL` after the session came up, the upper
//! bound the RFC asks for) it is sent no route of the filtered families, not even
//! End-of-RIB. Their first dump waits, as GoBGP's does with Graceful Restart, rather than
//! flooding the peer with routes it would not ask for and withdrawing them after; then it
//! gets one dump of what its membership admits, encoded once for every peer released into
//! the same group in that flush. Two peers do not wait: one restarting itself (Restart State
//! bit: it may wait for our End-of-RIB before sending its own, RFC 4724 §4.1), which starts
//! from the memberships kept for it (stale, like its other routes); and one without
//! Graceful Restart, which may never send End-of-RIB (GoBGP 3.10 does not). Their membership
//! filters from the start as it stands, the first dump goes out at once (empty while they
//! have asked for nothing), and what they ask for later reaches them as membership changes,
//! as GoBGP itself does by default. Filtering nothing until End-of-RIB instead would send a
//! peer without Graceful Restart every VPN route, for good.
//!
//! A membership that changes after that moves the peer to the group of its new filter; what
//! differs between the two views (routes admitted by one and not the other) and what changed
//! in the same batch becomes the peer's pending set, and the usual catch-up
//! (`plan_catch_up`) sends each such prefix once at its current state: announced if the new
//! filter admits it, withdrawn if not. Nothing it already holds is sent again.
//!
//! Our own memberships (RFC 4684 §3.2, §3.3). RT-Constraint routes are a family with a
//! table: best path per NLRI, reflected by the RFC 4456 rules like any route. But when some
//! peer needs every VPN route (it has a filtered family and no RT-Constraint, or its
//! membership admits everything), reflectd must ask its RT-Constraint peers for everything:
//! it then sends each of them the default route target alone (originated, as Junos'
//! `advertise-default`) and none of the reflected memberships (GoBGP 3.10 fails when one
//! peer sends it both the default and a specific membership). A reflected membership that
//! admits everything never goes out either: it switches to the default.

use super::attrs::{AttrId, AttrTable};
use super::membership::Membership;
use super::peer::{adv_of, Peer};
use super::reflect::{Adv, GroupView};
use super::table::{for_each_table, with_table, RibNlri};
use super::Rib;
use crate::msg::{PeerId, PeerUp};
use crate::wire::route_target::{targets_in_stored, RouteTarget};
use crate::wire::rtc::RtcNlri;
use crate::wire::{stored, AsPath, Family, FamilySet, NextHop, Origin, PathAttrs};
use hashbrown::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a peer's first dump of the filtered families waits for its RT-Constraint
/// End-of-RIB (RFC 4684 §6: "By default, a 60 second value should be used").
pub const DEFERRAL: Duration = Duration::from_secs(60);

/// The source of the routes reflectd originates (the default route target): no peer has
/// this id (`msg::PeerId` counts up from 0).
pub const LOCAL: PeerId = PeerId::MAX;

/// What an update group may be sent of the filtered families: None, everything; a
/// membership, what it admits.
pub type RtFilter = Option<Arc<Membership>>;

/// A peer's RT-Constraint state.
#[derive(Clone, Debug, Default)]
pub(super) struct PeerRtc {
    /// What its RT-Constraint routes held in the table ask for (eligible paths only).
    pub membership: Membership,
    /// Its membership is complete and filters: End-of-RIB came, or the deferral ran out.
    /// True from the start for a peer without RT-Constraint or Graceful Restart.
    pub ready: bool,
    /// While not ready: when to stop waiting.
    pub deadline: Option<Instant>,
    /// Filtered families whose first dump waits for `ready`.
    pub deferred: FamilySet,
}

impl PeerRtc {
    /// The state of a session that just came up at `now`.
    pub fn new(up: &PeerUp, now: Instant) -> PeerRtc {
        let filtered = filtered_families(up.families);
        // A restarting peer may wait for our End-of-RIB markers before it sends its own
        // (RFC 4724 §4.1): waiting for its own would only run out the deferral.
        let waits = up.graceful_restart.as_ref().is_some_and(|g| !g.restarting);
        if !up.families.contains(Family::RtConstraint) || filtered.is_empty() || !waits {
            return PeerRtc {
                ready: true,
                ..PeerRtc::default()
            };
        }
        PeerRtc {
            membership: Membership::new(),
            ready: false,
            deadline: Some(now + DEFERRAL),
            deferred: filtered,
        }
    }

    /// The filter this state puts in the peer's group key (`families`: the session's).
    pub fn filter(&self, families: FamilySet) -> RtFilter {
        if !families.contains(Family::RtConstraint) || filtered_families(families).is_empty() {
            return None;
        }
        if !self.ready {
            // Waiting: nothing of the filtered families (their dump is held back too).
            return Some(Arc::new(Membership::new()));
        }
        if self.membership.admits_all() {
            return None;
        }
        Some(Arc::new(self.membership.clone()))
    }
}

/// Whether routes of `f` are filtered by route target (`RibNlri::RT_FILTERED`).
pub fn rt_filtered(f: Family) -> bool {
    with_table!(f, |N| N::RT_FILTERED)
}

/// The filtered families of `families`.
pub fn filtered_families(families: FamilySet) -> FamilySet {
    families.iter().filter(|f| rt_filtered(*f)).collect()
}

/// Whether a peer needs every VPN route from us, so that we must ask our RT-Constraint
/// peers for everything.
fn needs_all(p: &Peer) -> bool {
    let rtc = p.up.families.contains(Family::RtConstraint);
    let filtered = !filtered_families(p.up.families).is_empty();
    (filtered && !rtc) || (rtc && p.rtc.membership.admits_all())
}

/// The route targets of each attribute set asked about, read once per set.
#[derive(Default)]
pub(super) struct TargetsMemo {
    by_attr: HashMap<AttrId, Box<[RouteTarget]>>,
}

impl TargetsMemo {
    /// Whether `filter` admits a path with attributes `attr`.
    pub fn admits(&mut self, attrs: &AttrTable, filter: &RtFilter, attr: AttrId) -> bool {
        let Some(m) = filter else {
            return true;
        };
        if m.admits_all() {
            return true;
        }
        if m.is_empty() {
            return false;
        }
        let targets = self.by_attr.entry(attr).or_insert_with(|| {
            targets_in_stored(attrs.stored(attr))
                .map(Iterator::collect)
                .unwrap_or_default()
        });
        m.admits(targets.iter().copied())
    }
}

/// The RT-Constraint state of the RIB as a whole.
pub(super) struct RtcState {
    /// Peers whose filter may have changed since the last flush.
    pub changed: HashSet<PeerId>,
    /// Peers waiting for their membership to complete (`PeerRtc::deadline`).
    pub timed: HashSet<PeerId>,
    /// Some peer needs every VPN route: RT-Constraint peers are sent the default route
    /// target alone.
    pub ask_all: bool,
    /// `ask_all` is to be worked out again at the next flush.
    pub recheck: bool,
    /// `ask_all` changed: each group's count of RT-Constraint routes is to be recounted.
    pub recount: bool,
    /// The attributes of our default route target, in stored form. Not interned: it is no
    /// path of the table (its source is `LOCAL`).
    pub own: Arc<[u8]>,
}

impl RtcState {
    pub fn new(router_id: std::net::Ipv4Addr) -> RtcState {
        // A route we originate: IGP, empty AS_PATH, LOCAL_PREF 100, our router ID as next
        // hop (RFC 4684 §4: the speaker's address; no one forwards to it).
        let a = PathAttrs {
            origin: Origin::Igp,
            as_path: AsPath::default(),
            next_hop: NextHop::V4(router_id),
            local_pref: Some(100),
            ..PathAttrs::default()
        };
        RtcState {
            changed: HashSet::new(),
            timed: HashSet::new(),
            ask_all: false,
            recheck: false,
            recount: false,
            own: Arc::from(stored::store(&a)),
        }
    }
}

impl Rib {
    /// After an UPDATE of `peer`'s RT-Constraint routes `nlris` was applied: its membership
    /// follows what the table now holds of it.
    pub(super) fn membership_changed(&mut self, peer: PeerId, nlris: &[RtcNlri]) {
        let table = &self.fams.rtc.table;
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        let mut changed = false;
        for n in nlris {
            let held = table
                .get(n)
                .and_then(|ps| ps.get(peer))
                .is_some_and(|e| e.is_eligible());
            changed |= match held {
                true => p.rtc.membership.insert(*n),
                false => p.rtc.membership.remove(n),
            };
        }
        if changed {
            self.rtc.recheck = true;
            if p.rtc.ready {
                self.rtc.changed.insert(peer);
            }
        }
    }

    /// The membership of the RT-Constraint paths `peer` holds in the table (eligible ones).
    pub(super) fn kept_membership(&self, peer: PeerId) -> Membership {
        let mut m = Membership::new();
        for (n, paths) in self.fams.rtc.table.iter() {
            if paths.get(peer).is_some_and(|e| e.is_eligible()) {
                m.insert(n);
            }
        }
        m
    }

    /// Sets `peer`'s membership to what the table holds of it, after its paths changed
    /// other than by its UPDATEs (stale memberships swept, RFC 4724).
    pub(super) fn membership_resync(&mut self, peer: PeerId) {
        let m = self.kept_membership(peer);
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        if p.rtc.membership != m {
            self.rtc.recheck = true;
            if p.rtc.ready {
                self.rtc.changed.insert(peer);
            }
        }
        p.rtc.membership = m;
    }

    /// `peer`'s membership is complete (its End-of-RIB for RT-Constraint, or the deferral
    /// ran out): it starts to filter, and the held-back dumps go out at the next flush.
    pub(super) fn rtc_ready(&mut self, peer: PeerId) {
        self.rtc.timed.remove(&peer);
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        if p.rtc.ready {
            return;
        }
        p.rtc.ready = true;
        p.rtc.deadline = None;
        self.rtc.changed.insert(peer);
        tracing::debug!(peer, released = ?p.rtc.deferred, "rib: RT-Constraint membership complete");
    }

    /// The earliest deferral deadline.
    pub(super) fn rtc_deadline(&self) -> Option<Instant> {
        self.rtc
            .timed
            .iter()
            .filter_map(|id| self.peers.get(id)?.rtc.deadline)
            .min()
    }

    /// Ends the deferrals due at `now`.
    pub(super) fn rtc_expire(&mut self, now: Instant) {
        let due: Vec<PeerId> = self
            .rtc
            .timed
            .iter()
            .copied()
            .filter(|id| {
                self.peers
                    .get(id)
                    .and_then(|p| p.rtc.deadline)
                    .is_none_or(|d| d <= now)
            })
            .collect();
        for peer in due {
            if let Some(p) = self.peers.get(&peer) {
                tracing::info!(neighbor = %p.up.address, "no RT-Constraint End-of-RIB after {} s: its membership filters as it stands", DEFERRAL.as_secs());
            }
            self.rtc_ready(peer);
        }
    }

    /// Whether a best path `a` of family `N` passes a group's RT-Constraint rules (after
    /// `Adv::reflected_to`): a filtered family's route targets against `filter`; a
    /// reflected membership only while we do not ask for everything.
    pub(super) fn rt_passes<N: RibNlri>(
        &self,
        memo: &mut TargetsMemo,
        filter: &RtFilter,
        a: &Adv,
    ) -> bool {
        rt_passes::<N>(&self.attrs, self.rtc.ask_all, memo, filter, a)
    }

    /// Runs at the start of each plan: works out whether we ask for everything, and moves
    /// every peer whose filter changed to its new group with its difference pending.
    pub(super) fn rt_regroup(&mut self) {
        if std::mem::take(&mut self.rtc.recheck) {
            let ask_all = self.peers.values().any(needs_all);
            if ask_all != self.rtc.ask_all {
                self.rtc.ask_all = ask_all;
                tracing::info!(
                    ask_all,
                    "RT-Constraint: {}",
                    match ask_all {
                        true =>
                            "a peer needs every VPN route: asking for all (default route target)",
                        false => "every peer filters: reflecting memberships",
                    }
                );
                self.rtc_switch();
            }
        }
        if self.rtc.changed.is_empty() {
            return;
        }
        let mut changed: Vec<PeerId> = self.rtc.changed.drain().collect();
        changed.sort_unstable();
        let mut memo = TargetsMemo::default();
        for peer in changed {
            self.rt_move(peer, &mut memo);
        }
    }

    fn rt_move(&mut self, peer: PeerId, memo: &mut TargetsMemo) {
        let Some(p) = self.peers.get_mut(&peer).filter(|p| !p.gr.restarting()) else {
            return;
        };
        if !p.rtc.ready {
            return;
        }
        let new = p.rtc.filter(p.up.families);
        let released = std::mem::take(&mut p.rtc.deferred);
        let Some(g) = self.groups.get(p.group) else {
            return;
        };
        let held = g.key.rt.clone();
        if held == new && released.is_empty() {
            return;
        }
        let mut key = g.key.clone();
        if held != new {
            key.rt = new.clone();
            self.groups.leave(p.group, peer);
            p.group = self.groups.join(key.clone(), peer);
            tracing::debug!(
                peer,
                group = p.group,
                "rib: RT-Constraint membership changed"
            );
        } else if let Some(g) = self.groups.get_mut(p.group) {
            g.invalidate();
        }
        p.out.syncing = true;
        // Released families were never sent: their first dump, as at session start. So is
        // a filtered family the peer holds nothing of: its filter admitted nothing and no
        // catch-up of it is owed. A dump is encoded once for every peer dumped in the same
        // group in the flush (members asking for the same targets, coming up together),
        // where a catch-up is encoded per peer.
        let mut fresh = released;
        if held.as_ref().is_some_and(|m| m.is_empty()) && !p.out.xoff {
            for f in filtered_families(p.up.families).iter() {
                let owed = with_table!(f, |N| N::rib(&self.fams).pending.len(peer));
                if owed == 0 {
                    fresh.insert(f);
                }
            }
        }
        p.out.dump = FamilySet(p.out.dump.0 | fresh.0);
        p.out.initial = FamilySet(p.out.initial.0 | fresh.0);
        let (families, out) = (p.up.families, p.out.clone());
        for_each_table!(|N| {
            let f = N::FAMILY;
            if families.contains(f) && !(out.initial.contains(f) && out.dump.contains(f)) {
                self.rt_diff::<N>(peer, GroupView::of::<N>(&key), &held, &new, memo);
            }
        });
    }

    /// Makes pending for `peer` (moved out of its group) what it may hold wrongly in one
    /// family: the prefixes changed in this batch (its old group's delta is not sent to it
    /// any more, and a group created now sends none) and, for a filtered family, those that
    /// one filter admits and the other does not.
    fn rt_diff<N: RibNlri>(
        &mut self,
        peer: PeerId,
        view: GroupView,
        held: &RtFilter,
        new: &RtFilter,
        memo: &mut TargetsMemo,
    ) {
        let fam = N::rib_mut(&mut self.fams);
        let dirty: Vec<N> = fam.dirty.keys().copied().collect();
        for prefix in dirty {
            fam.pending.add(peer, prefix);
        }
        if !N::RT_FILTERED || held == new {
            return;
        }
        for (prefix, paths) in fam.table.iter() {
            let Some(a) = paths
                .best()
                .and_then(|e| adv_of(e, &self.peers, &self.attrs))
            else {
                continue;
            };
            if !a.sent_to(peer, view) {
                continue;
            }
            if memo.admits(&self.attrs, held, a.attr) != memo.admits(&self.attrs, new, a.attr) {
                fam.pending.add(peer, prefix);
            }
        }
    }

    /// We start or stop asking for everything: each RT-Constraint peer is caught up on
    /// every membership (and the default) at the next flush, in the new mode.
    fn rtc_switch(&mut self) {
        let table: Vec<RtcNlri> = self.fams.rtc.table.iter().map(|(k, _)| k).collect();
        let pending = &mut self.fams.rtc.pending;
        for (&id, p) in self.peers.iter_mut() {
            let f = Family::RtConstraint;
            if p.gr.restarting() || !p.up.families.contains(f) {
                continue;
            }
            if p.out.initial.contains(f) && p.out.dump.contains(f) {
                continue;
            }
            for n in table.iter().chain([&RtcNlri::DEFAULT]) {
                pending.add(id, *n);
            }
            p.out.syncing = true;
            if let Some(g) = self.groups.get_mut(p.group) {
                g.invalidate();
            }
        }
        self.rtc.recount = true;
    }
}

/// `Rib::rt_passes` on the parts of the RIB it reads (for callers holding a table).
pub(super) fn rt_passes<N: RibNlri>(
    attrs: &AttrTable,
    ask_all: bool,
    memo: &mut TargetsMemo,
    filter: &RtFilter,
    a: &Adv,
) -> bool {
    if N::RT_FILTERED {
        return memo.admits(attrs, filter, a.attr);
    }
    if N::FAMILY == Family::RtConstraint {
        // Asking for everything: the default alone is sent, none of the table.
        return !ask_all;
    }
    true
}

/// The route a group is sent of family `N` besides the table: our default route target
/// while we ask for everything.
pub(super) fn originated<N: RibNlri>(ask_all: bool) -> Option<N> {
    match ask_all {
        true => N::rtc_default(),
        false => None,
    }
}
