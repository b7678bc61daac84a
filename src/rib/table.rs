//! The route table of one family: one map from prefix to every peer's path for it.
//! That single map is both the Adj-RIB-In (each peer's entry) and the Loc-RIB (the entry
//! kept first is the best path): no per-peer copy of the routes exists.
//!
//! A path is `(PeerId, AttrId)`: 8 bytes. A prefix with one path stores it inline; more
//! paths go to one boxed slice sized exactly. Path identity is the source (`PathEntry::peer`
//! today); ADD-PATH receive adds a path id to that identity (`same_source`) without changing
//! the layout elsewhere. Owns no decision logic: callers reorder via `set_best`.

use super::attrs::AttrId;
use super::plan::{RouteSet, Routes};
use super::prefix_map::{Blocked, PrefixMap};
use super::reflect::Adv;
use crate::msg::PeerId;
use crate::wire::evpn::EvpnKey;
use crate::wire::rtc::RtcNlri;
use crate::wire::AnyPrefix;
use crate::wire::{Nlri, Prefix4, Prefix6, Vpn4, Vpn6};
use hashbrown::{HashMap, HashSet};

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PathEntry {
    pub peer: PeerId,
    /// `AttrId::REJECTED` for a path that failed the loop checks.
    pub attr: AttrId,
}

impl PathEntry {
    pub fn is_eligible(&self) -> bool {
        !self.attr.is_rejected()
    }
    /// Same source: the entry a new path from `peer` replaces.
    pub fn same_source(&self, peer: PeerId) -> bool {
        self.peer == peer
    }
}

/// Every path for one prefix, best first (when any path is eligible).
#[derive(Clone, Debug)]
pub enum Paths {
    One(PathEntry),
    Many(Box<[PathEntry]>),
}

impl Paths {
    pub fn as_slice(&self) -> &[PathEntry] {
        match self {
            Paths::One(e) => std::slice::from_ref(e),
            Paths::Many(v) => v,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [PathEntry] {
        match self {
            Paths::One(e) => std::slice::from_mut(e),
            Paths::Many(v) => v,
        }
    }

    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// The best path: the first entry, if it is eligible.
    pub fn best(&self) -> Option<PathEntry> {
        self.as_slice()
            .first()
            .copied()
            .filter(PathEntry::is_eligible)
    }

    pub fn position(&self, peer: PeerId) -> Option<usize> {
        self.as_slice().iter().position(|e| e.same_source(peer))
    }

    pub fn get(&self, peer: PeerId) -> Option<PathEntry> {
        self.position(peer).map(|i| self.as_slice()[i])
    }

    /// Replaces the entry at `i`.
    pub fn set(&mut self, i: usize, e: PathEntry) {
        self.as_mut_slice()[i] = e;
    }

    /// Appends a path from a source not present yet.
    pub fn push(&mut self, e: PathEntry) {
        let mut v = Vec::with_capacity(self.len() + 1);
        v.extend_from_slice(self.as_slice());
        v.push(e);
        *self = Paths::Many(v.into_boxed_slice());
    }

    /// Removes the entry at `i`; the caller removes the whole `Paths` instead when it holds a
    /// single entry (a `Paths` is never empty).
    pub fn remove_at(&mut self, i: usize) {
        debug_assert!(self.len() >= 2);
        let s = self.as_slice();
        *self = if s.len() == 2 {
            Paths::One(s[1 - i])
        } else {
            let mut v = s.to_vec();
            v.remove(i);
            Paths::Many(v.into_boxed_slice())
        };
    }

    /// Moves entry `i` to the front (the best position).
    pub fn set_best(&mut self, i: usize) {
        self.as_mut_slice().swap(0, i);
    }
}

/// A prefix changed since the last flush. `new` is kept equal to the table's current best
/// by every change (`inbound::set_path`, the only writer of the table), so the flush plans
/// from this entry alone, without a second random probe of the (large) table per prefix.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Dirty {
    /// The best path before the first change of the batch; holds a reference on its
    /// attributes until the flush (the table may have let go of them).
    pub old: Option<Adv>,
    /// The best path now; its attributes are held by the table itself.
    pub new: Option<Adv>,
}

/// One family's routing state.
pub struct FamilyRib<N: Blocked> {
    /// Laid out by address (`prefix_map`): sorted streams stay in cache.
    pub table: PrefixMap<N, Paths>,
    /// Prefixes changed since the last flush: what the next flush compares.
    pub dirty: HashMap<N, Dirty>,
    /// Per throttled or resyncing peer, the prefixes changed for its group while it was
    /// not active: what to send it on catch-up (`pending`).
    pub pending: PeerPrefixes<N>,
    /// Per restarting peer, its paths still marked stale (RFC 4724, `graceful`).
    pub stale: PeerPrefixes<N>,
    /// Per peer, the prefixes whose best path is its own and may be advertised (no
    /// NO_ADVERTISE): what its group advertises that it is not sent (`Adv::sent_to`).
    /// Kept by each flush from the dirty prefixes (`OwnBest`); a peer with none has no
    /// entry. Keyed by peer, not kept in `Peer`: it follows the paths in the table, which
    /// outlive a session that restarts.
    pub own_best: HashMap<PeerId, OwnCount>,
    /// Prefixes with a best path, and eligible paths.
    pub prefixes: usize,
    pub paths: usize,
}

impl<N: Nlri + Blocked> Default for FamilyRib<N> {
    fn default() -> Self {
        FamilyRib {
            table: PrefixMap::default(),
            dirty: HashMap::new(),
            pending: PeerPrefixes::default(),
            stale: PeerPrefixes::default(),
            own_best: HashMap::new(),
            prefixes: 0,
            paths: 0,
        }
    }
}

/// A peer's own best paths that may be advertised (`FamilyRib::own_best`), and how many of
/// them have an IPv6 next hop: a group that may not take those (RFC 8950,
/// `reflect::GroupView`) counts none of them.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnCount {
    pub all: u64,
    pub v6_next_hop: u64,
}

impl<N: Blocked> FamilyRib<N> {
    /// Prefixes whose best path is `peer`'s own and may be advertised.
    pub fn own_best_of(&self, peer: PeerId) -> OwnCount {
        self.own_best.get(&peer).copied().unwrap_or_default()
    }
}

/// Per peer, a set of prefixes of one family: those pending for a throttled peer, those
/// still stale for a restarting one. A peer with none has no entry.
pub struct PeerPrefixes<N> {
    by_peer: HashMap<PeerId, HashSet<N>>,
}

impl<N> Default for PeerPrefixes<N> {
    fn default() -> Self {
        PeerPrefixes {
            by_peer: HashMap::new(),
        }
    }
}

impl<N: std::hash::Hash + Eq> PeerPrefixes<N> {
    pub fn add(&mut self, peer: PeerId, prefix: N) {
        self.by_peer.entry(peer).or_default().insert(prefix);
    }

    /// Removes and returns `peer`'s set (empty if none).
    pub fn take(&mut self, peer: PeerId) -> HashSet<N> {
        self.by_peer.remove(&peer).unwrap_or_default()
    }

    /// Stores `peer`'s set back; an empty set is dropped.
    pub fn put(&mut self, peer: PeerId, set: HashSet<N>) {
        if !set.is_empty() {
            self.by_peer.insert(peer, set);
        }
    }

    pub fn len(&self, peer: PeerId) -> usize {
        self.by_peer.get(&peer).map_or(0, HashSet::len)
    }

    /// Prefixes held, all peers.
    pub fn total(&self) -> usize {
        self.by_peer.values().map(HashSet::len).sum()
    }
}

/// The tables of the families the RIB carries, one field per family. Reached by type
/// (`RibNlri::rib`) from generic code, and by `Family` through `with_table!` alone.
#[derive(Default)]
pub struct Families {
    pub v4: FamilyRib<Prefix4>,
    pub v6: FamilyRib<Prefix6>,
    pub vpn4: FamilyRib<Vpn4>,
    pub vpn6: FamilyRib<Vpn6>,
    pub evpn: FamilyRib<EvpnKey>,
    pub rtc: FamilyRib<RtcNlri>,
}

/// The one place a `Family` is mapped to the RIB's table for it: `$body` runs with `$n`
/// the family's NLRI type (generic code, monomorphized per family). Every family has a
/// table.
///
/// Every match on a family in the RIB goes through here or `for_each_table!`, and it is
/// exhaustive: a family added to `wire::Family` does not compile until it is listed here.
/// Giving a family a table takes: its NLRI type (`wire::Nlri`, `prefix_map::Blocked`), a
/// `FamilyRib` field in `Families`, an `impl RibNlri` (which also asks for its
/// `wire::AnyPrefix` and `plan::Routes` variants, and the compiler then for their
/// matches), its arm below, and, when UPDATEs carry it, its `wire::NlriSet` arm in
/// `inbound::apply_set`.
macro_rules! with_table {
    ($family:expr, |$n:ident| $body:expr) => {{
        // `$n` is a concrete type here: its traits' items need these in scope.
        #[allow(unused_imports)]
        use $crate::{rib::table::RibNlri as _, wire::Nlri as _};
        match $family {
            $crate::wire::Family::Ipv4Unicast => {
                type $n = $crate::wire::Prefix4;
                $body
            }
            $crate::wire::Family::Ipv6Unicast => {
                type $n = $crate::wire::Prefix6;
                $body
            }
            $crate::wire::Family::Ipv4Vpn => {
                type $n = $crate::wire::Vpn4;
                $body
            }
            $crate::wire::Family::Ipv6Vpn => {
                type $n = $crate::wire::Vpn6;
                $body
            }
            $crate::wire::Family::L2vpnEvpn => {
                type $n = $crate::wire::evpn::EvpnKey;
                $body
            }
            $crate::wire::Family::RtConstraint => {
                type $n = $crate::wire::rtc::RtcNlri;
                $body
            }
        }
    }};
}
pub(crate) use with_table;

/// `$body` once per family, in `Family::ALL` order, with `$n` the family's NLRI type
/// (`with_table!`). The loop is over a constant array: the optimizer unrolls it.
macro_rules! for_each_table {
    (|$n:ident| $body:expr) => {
        for family in $crate::wire::Family::ALL {
            $crate::rib::table::with_table!(family, |$n| $body)
        }
    };
}
pub(crate) use for_each_table;

/// What the RIB needs of an NLRI type beyond the codec's `Nlri`: where its table lives and
/// how readers and the encoder see it (see `with_table!` for what a new family takes).
pub trait RibNlri: Nlri + Blocked {
    fn rib(f: &Families) -> &FamilyRib<Self>;
    fn rib_mut(f: &mut Families) -> &mut FamilyRib<Self>;
    fn any(self) -> AnyPrefix;
    fn routes(set: RouteSet<Self>) -> Routes;
    /// A route of this family is sent to a peer that negotiated RT-Constraint only when
    /// the peer's membership admits one of the route targets in its attributes (RFC 4684,
    /// `rib::rt_filter`). Read from the stored set, so any family carrying route targets
    /// only says so here.
    const RT_FILTERED: bool = false;
    /// The default route of the family that reflectd may originate itself (only
    /// RT-Constraint's default route target, `rt_filter`).
    fn rtc_default() -> Option<Self> {
        None
    }
}

impl RibNlri for Prefix4 {
    fn rib(f: &Families) -> &FamilyRib<Self> {
        &f.v4
    }
    fn rib_mut(f: &mut Families) -> &mut FamilyRib<Self> {
        &mut f.v4
    }
    fn any(self) -> AnyPrefix {
        AnyPrefix::V4(self)
    }
    fn routes(set: RouteSet<Self>) -> Routes {
        Routes::V4(set)
    }
}

impl RibNlri for Prefix6 {
    fn rib(f: &Families) -> &FamilyRib<Self> {
        &f.v6
    }
    fn rib_mut(f: &mut Families) -> &mut FamilyRib<Self> {
        &mut f.v6
    }
    fn any(self) -> AnyPrefix {
        AnyPrefix::V6(self)
    }
    fn routes(set: RouteSet<Self>) -> Routes {
        Routes::V6(set)
    }
}

impl RibNlri for Vpn4 {
    fn rib(f: &Families) -> &FamilyRib<Self> {
        &f.vpn4
    }
    fn rib_mut(f: &mut Families) -> &mut FamilyRib<Self> {
        &mut f.vpn4
    }
    fn any(self) -> AnyPrefix {
        AnyPrefix::Vpn4(self)
    }
    fn routes(set: RouteSet<Self>) -> Routes {
        Routes::Vpn4(set)
    }
    const RT_FILTERED: bool = true;
}

impl RibNlri for Vpn6 {
    fn rib(f: &Families) -> &FamilyRib<Self> {
        &f.vpn6
    }
    fn rib_mut(f: &mut Families) -> &mut FamilyRib<Self> {
        &mut f.vpn6
    }
    fn any(self) -> AnyPrefix {
        AnyPrefix::Vpn6(self)
    }
    fn routes(set: RouteSet<Self>) -> Routes {
        Routes::Vpn6(set)
    }
    const RT_FILTERED: bool = true;
}

impl RibNlri for RtcNlri {
    fn rib(f: &Families) -> &FamilyRib<Self> {
        &f.rtc
    }
    fn rib_mut(f: &mut Families) -> &mut FamilyRib<Self> {
        &mut f.rtc
    }
    fn any(self) -> AnyPrefix {
        AnyPrefix::Rtc(self)
    }
    fn routes(set: RouteSet<Self>) -> Routes {
        Routes::Rtc(set)
    }
    fn rtc_default() -> Option<Self> {
        Some(RtcNlri::DEFAULT)
    }
}

impl RibNlri for EvpnKey {
    /// RFC 7432 §9.1 / RFC 4684: EVPN routes are distributed by route target as VPN
    /// routes are.
    const RT_FILTERED: bool = true;
    fn rib(f: &Families) -> &FamilyRib<Self> {
        &f.evpn
    }
    fn rib_mut(f: &mut Families) -> &mut FamilyRib<Self> {
        &mut f.evpn
    }
    fn any(self) -> AnyPrefix {
        AnyPrefix::Evpn(self)
    }
    fn routes(set: RouteSet<Self>) -> Routes {
        Routes::Evpn(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(peer: PeerId) -> PathEntry {
        PathEntry {
            peer,
            attr: AttrId::REJECTED,
        }
    }

    #[test]
    fn paths_grow_shrink_and_keep_a_single_path_inline() {
        let mut p = Paths::One(e(1));
        p.push(e(2));
        p.push(e(3));
        assert_eq!(p.len(), 3);
        assert_eq!(p.position(3), Some(2));
        p.set_best(2);
        assert_eq!(p.as_slice()[0].peer, 3);
        p.remove_at(0);
        assert_eq!(p.len(), 2);
        p.remove_at(p.position(1).unwrap());
        assert!(matches!(p, Paths::One(PathEntry { peer: 2, .. })));
        assert_eq!(p.best(), None, "a rejected path is never best");
    }

    #[test]
    fn each_family_with_a_table_is_dispatched_to_its_own_nlri_type() {
        let mut tables = Vec::new();
        for f in crate::wire::Family::ALL {
            with_table!(f, |N| {
                assert_eq!(N::FAMILY, f);
                tables.push(f);
            });
        }
        let mut each = Vec::new();
        for_each_table!(|N| each.push(N::FAMILY));
        assert_eq!(each, tables);
    }

    #[test]
    fn a_single_path_costs_no_allocation() {
        assert!(std::mem::size_of::<Paths>() <= 24);
    }
}
