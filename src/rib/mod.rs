//! The RIB thread: the single writer of routing state. It applies the workers' batches to
//! the tables (Adj-RIB-In and Loc-RIB in one map per family), selects best paths, applies
//! the reflection rules and, once per batch, encodes what each update group must be sent
//! and hands the shared bytes to the workers. It never touches sockets or the FSM.
//!
//! ```text
//!  workers ──ToRib (Updates, PeerUp/Down, Xoff/Xon, RouteRefresh)──▶ inbox
//!                                                                     │ recv 1, try_recv ≤ 255
//!                                                          Rib::handle each message
//!                                                          Rib::flush: plan + encode once
//!  workers ◀──ToWorker::Send { peers: Arc<[PeerId]>, data: Bytes }────┤
//!  readers ◀──arc-swap RibSnapshot (counts; routes on PublishRoutes)──┘
//! ```
//!
//! `Rib` is a plain struct, testable without threads: `handle` changes state and records
//! what became dirty; `plan` decides what to send (per group, dumps, catch-ups); `flush`
//! encodes that plan into worker messages.

pub mod attrs;
pub mod decide;
mod nlri_shim;
pub mod pending;
pub mod plan;
pub mod reflect;
pub mod snapshot;
pub mod table;
pub mod update_group;

#[cfg(test)]
mod mem_test;
#[cfg(test)]
mod tests;

use crate::metrics as m;
use crate::msg::{PeerId, PeerUp, ToRib, WorkerHandle};
use crate::wire::{Family, FamilySet, NlriSet, PathAttrs, Prefix4, Prefix6, Update};
use attrs::{AttrId, AttrTable};
use decide::Candidate;
use hashbrown::hash_map::Entry;
use hashbrown::HashMap;
use pending::OutState;
use plan::{Outbox, Plan, PlannedSend, RouteSet, Routes, SendKind};
use reflect::{Adv, OutCache};
use snapshot::{FamilyCounts, PathView, PeerCounts, RibSnapshot, RouteView};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Instant;
use table::{Families, FamilyRib, PathEntry, Paths, RibNlri};
use update_group::{GroupId, GroupKey, Groups};

/// Messages applied per batch before one flush: bounds the latency of a flush and the size
/// of what it encodes.
pub const MAX_BATCH: usize = 256;

#[derive(Clone, Debug)]
pub struct RibConfig {
    pub asn: u32,
    pub router_id: Ipv4Addr,
    pub cluster_id: Ipv4Addr,
}

/// Whether the loop goes on after a message.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Handled {
    Continue,
    Shutdown,
}

const NFAM: usize = Family::ALL.len();

struct Peer {
    up: PeerUp,
    group: GroupId,
    /// Per family (`Family as usize`): prefixes held from this peer, including looped ones
    /// (received), and of those the ones eligible for selection (accepted).
    received: [u64; NFAM],
    accepted: [u64; NFAM],
    out: OutState,
    eor_received: FamilySet,
}

type PeerMap = HashMap<PeerId, Peer>;

/// The routing state and its single writer's logic.
pub struct Rib {
    cfg: RibConfig,
    attrs: AttrTable,
    peers: PeerMap,
    groups: Groups,
    fams: Families,
    out_cache: OutCache,
    scratch: Vec<Candidate>,
    generation: u64,
    routes: Option<Arc<Vec<RouteView>>>,
    routes_generation: u64,
    routes_requested: bool,
    /// Whole-table scans done for PeerDown (the one O(table) operation per event).
    peer_down_scans: u64,
}

/// The advertisement of a table entry: its attributes and what we know of its source.
fn adv_of(e: PathEntry, peers: &PeerMap) -> Option<Adv> {
    let p = peers.get(&e.peer);
    debug_assert!(p.is_some(), "path from unknown peer {}", e.peer);
    p.map(|p| Adv {
        attr: e.attr,
        source_id: p.up.remote_id,
        from_client: p.up.rr_client,
    })
}

/// Moves the best eligible path of `paths` to the front (deterministic, see `decide`).
fn reselect(paths: &mut Paths, attrs: &AttrTable, peers: &PeerMap, scratch: &mut Vec<Candidate>) {
    if paths.len() == 1 {
        return;
    }
    scratch.clear();
    for e in paths.as_slice().iter().filter(|e| e.is_eligible()) {
        if let Some(p) = peers.get(&e.peer) {
            scratch.push(Candidate::new(
                attrs.rank(e.attr),
                e.peer,
                p.up.remote_id,
                p.up.address,
            ));
        }
    }
    if let Some(i) = decide::best(scratch) {
        let peer = scratch[i].peer;
        if let Some(pos) = paths.position(peer) {
            paths.set_best(pos);
        }
    }
}

/// Sets (`Some`) or removes (`None`) `peer`'s path for `prefix`, records the prefix's
/// previous best path as dirty and reselects. An interned `new` hands its reference to the
/// table. Returns the previous entry's attributes (outer None: nothing changed).
fn set_path<N: RibNlri>(
    fam: &mut FamilyRib<N>,
    attrs: &mut AttrTable,
    peers: &PeerMap,
    scratch: &mut Vec<Candidate>,
    prefix: N,
    peer: PeerId,
    new: Option<AttrId>,
) -> Option<Option<AttrId>> {
    let FamilyRib { table, dirty, .. } = fam;
    // One table lookup: the entry is changed in place.
    let (old, old_best, has_best) = match table.entry(prefix) {
        Entry::Vacant(v) => {
            let attr = new?;
            dirty.entry(prefix).or_insert(None);
            v.insert(Paths::One(PathEntry { peer, attr }));
            (None, None, !attr.is_rejected())
        }
        Entry::Occupied(mut o) => {
            let paths = o.get_mut();
            let pos = paths.position(peer);
            let old = pos.map(|i| paths.as_slice()[i].attr);
            if old == new {
                if let Some(a) = new.filter(|a| !a.is_rejected()) {
                    attrs.release(a);
                }
                return None;
            }
            let old_best = paths.best();
            dirty.entry(prefix).or_insert_with(|| {
                let adv = old_best.and_then(|b| adv_of(b, peers));
                if let Some(a) = adv {
                    attrs.retain(a.attr);
                }
                adv
            });
            let has_best = match (pos, new) {
                (Some(_), None) if paths.len() == 1 => {
                    o.remove();
                    false
                }
                (pos, new) => {
                    match (pos, new) {
                        (Some(i), Some(attr)) => paths.set(i, PathEntry { peer, attr }),
                        (None, Some(attr)) => paths.push(PathEntry { peer, attr }),
                        (Some(i), None) => paths.remove_at(i),
                        (None, None) => {}
                    }
                    reselect(paths, attrs, peers, scratch);
                    paths.best().is_some()
                }
            };
            (old, old_best, has_best)
        }
    };
    let eligible = |a: Option<AttrId>| a.is_some_and(|a| !a.is_rejected());
    if eligible(old) {
        fam.paths -= 1;
    }
    if eligible(new) {
        fam.paths += 1;
    }
    if let Some(a) = old.filter(|a| !a.is_rejected()) {
        attrs.release(a);
    }
    match (old_best.is_some(), has_best) {
        (false, true) => fam.prefixes += 1,
        (true, false) => fam.prefixes -= 1,
        _ => {}
    }
    Some(old)
}

impl Rib {
    pub fn new(cfg: RibConfig) -> Rib {
        Rib {
            attrs: AttrTable::new(cfg.asn),
            cfg,
            peers: HashMap::new(),
            groups: Groups::default(),
            fams: Families::default(),
            out_cache: OutCache::default(),
            scratch: Vec::new(),
            generation: 0,
            routes: None,
            routes_generation: 0,
            routes_requested: false,
            peer_down_scans: 0,
        }
    }

    /// Applies one inbox message. Output is produced by the next `plan` / `flush`.
    pub fn handle(&mut self, msg: ToRib) -> Handled {
        match msg {
            ToRib::PeerUp(up) => self.peer_up(up),
            ToRib::PeerDown { peer } => self.peer_down(peer),
            ToRib::Updates { peer, updates } => {
                for u in updates {
                    self.update(peer, u);
                }
            }
            ToRib::RouteRefresh { peer, family } => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    if p.up.families.contains(family) {
                        p.out.dump.insert(family);
                    }
                }
            }
            ToRib::Xoff { peer } => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    if !p.out.xoff {
                        p.out.xoff = true;
                        if let Some(g) = self.groups.get_mut(p.group) {
                            g.invalidate();
                        }
                    }
                }
            }
            ToRib::Xon { peer } => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    if p.out.xoff {
                        p.out.xoff = false;
                        p.out.syncing = true;
                    }
                }
            }
            ToRib::PublishRoutes => self.routes_requested = true,
            ToRib::Shutdown => return Handled::Shutdown,
        }
        Handled::Continue
    }

    /// Plans the output of everything applied since the last flush and encodes it.
    pub fn flush(&mut self, out: &mut Outbox) {
        let plan = self.plan();
        plan::encode(plan, out);
    }

    fn peer_up(&mut self, up: PeerUp) {
        if self.peers.contains_key(&up.peer) {
            // A new session without a PeerDown for the old one: the old one is gone.
            self.peer_down(up.peer);
        }
        let key = GroupKey {
            rr_client: up.rr_client,
            codec: up.codec,
            families: up.families,
        };
        let group = self.groups.join(key, up.peer);
        let out = OutState {
            xoff: false,
            syncing: true,
            dump: up.families,
        };
        tracing::debug!(peer = up.peer, group, "rib: peer up");
        self.peers.insert(
            up.peer,
            Peer {
                up,
                group,
                received: [0; NFAM],
                accepted: [0; NFAM],
                out,
                eor_received: FamilySet::EMPTY,
            },
        );
    }

    fn peer_down(&mut self, peer: PeerId) {
        let Some(p) = self.peers.get(&peer) else {
            return;
        };
        let (families, group) = (p.up.families, p.group);
        let start = Instant::now();
        let mut removed = 0;
        if families.contains(Family::Ipv4Unicast) {
            removed += self.remove_all::<Prefix4>(peer);
        }
        if families.contains(Family::Ipv6Unicast) {
            removed += self.remove_all::<Prefix6>(peer);
        }
        self.fams.v4.pending.take(peer);
        self.fams.v6.pending.take(peer);
        self.groups.leave(group, peer);
        self.peers.remove(&peer);
        tracing::debug!(peer, removed, elapsed = ?start.elapsed(), "rib: peer down");
    }

    /// Withdraws every path of `peer` in one family (a table scan, counted).
    fn remove_all<N: RibNlri>(&mut self, peer: PeerId) -> usize {
        let Some(p) = self.peers.get(&peer) else {
            return 0;
        };
        if p.received[N::FAMILY as usize] == 0 {
            return 0;
        }
        self.peer_down_scans += 1;
        let fam = N::rib(&self.fams);
        let prefixes: Vec<N> = fam
            .table
            .iter()
            .filter(|(_, ps)| ps.position(peer).is_some())
            .map(|(k, _)| *k)
            .collect();
        self.withdraw(peer, &prefixes);
        prefixes.len()
    }

    fn update(&mut self, peer: PeerId, u: Update) {
        if !self.peers.contains_key(&peer) {
            return;
        }
        if let Some(family) = u.end_of_rib() {
            if let Some(p) = self.peers.get_mut(&peer) {
                p.eor_received.insert(family);
            }
            tracing::debug!(peer, %family, "rib: End-of-RIB received");
            return;
        }
        self.withdraw(peer, &u.withdrawn);
        if let Some(mp) = &u.mp_unreach {
            self.withdraw_set(peer, &mp.nlri);
        }
        if u.treat_as_withdraw {
            // RFC 7606 §2: every NLRI of the UPDATE is withdrawn instead of installed.
            self.withdraw(peer, &u.nlri);
            if let Some(mp) = &u.mp_reach {
                self.withdraw_set(peer, &mp.nlri);
            }
            return;
        }
        let Some(attrs) = u.attrs else { return };
        match u.mp_reach {
            Some(mp) => {
                if !u.nlri.is_empty() {
                    self.announce(peer, &u.nlri, attrs.clone());
                }
                let mut a = attrs;
                a.next_hop = mp.next_hop;
                match &mp.nlri {
                    NlriSet::Ipv4Unicast(v) => self.announce(peer, v, a),
                    NlriSet::Ipv6Unicast(v) => self.announce(peer, v, a),
                    NlriSet::Other { .. } => {}
                }
            }
            None => {
                if !u.nlri.is_empty() {
                    self.announce(peer, &u.nlri, attrs);
                }
            }
        }
    }

    fn withdraw_set(&mut self, peer: PeerId, set: &NlriSet) {
        match set {
            NlriSet::Ipv4Unicast(v) => self.withdraw(peer, v),
            NlriSet::Ipv6Unicast(v) => self.withdraw(peer, v),
            NlriSet::Other { .. } => {}
        }
    }

    fn withdraw<N: RibNlri>(&mut self, peer: PeerId, prefixes: &[N]) {
        self.set_paths(peer, prefixes, None);
    }

    /// Installs `attrs` (its `next_hop` already set for the family) for `prefixes`; a looped
    /// route (RFC 4456 §8) is kept as received but not eligible.
    fn announce<N: RibNlri>(&mut self, peer: PeerId, prefixes: &[N], attrs: PathAttrs) {
        if prefixes.is_empty()
            || !self
                .peers
                .get(&peer)
                .is_some_and(|p| p.up.families.contains(N::FAMILY))
        {
            return;
        }
        if reflect::is_looped(&attrs, self.cfg.router_id, self.cfg.cluster_id) {
            self.set_paths(peer, prefixes, Some(AttrId::REJECTED));
            return;
        }
        let id = self.attrs.intern(attrs);
        self.set_paths(peer, prefixes, Some(id));
        self.attrs.release(id);
    }

    /// `set_path` over many prefixes of one peer, with its counters updated once.
    fn set_paths<N: RibNlri>(&mut self, peer: PeerId, prefixes: &[N], new: Option<AttrId>) {
        let Some(p) = self.peers.get(&peer) else {
            return;
        };
        if prefixes.is_empty() || !p.up.families.contains(N::FAMILY) {
            return;
        }
        let fam = N::rib_mut(&mut self.fams);
        let (mut received, mut accepted) = (0i64, 0i64);
        let eligible = |a: Option<AttrId>| a.is_some_and(|a| !a.is_rejected()) as i64;
        for &prefix in prefixes {
            if let Some(a) = new.filter(|a| !a.is_rejected()) {
                self.attrs.retain(a);
            }
            let Some(old) = set_path(
                fam,
                &mut self.attrs,
                &self.peers,
                &mut self.scratch,
                prefix,
                peer,
                new,
            ) else {
                continue;
            };
            received += new.is_some() as i64 - old.is_some() as i64;
            accepted += eligible(new) - eligible(old);
        }
        if let Some(p) = self.peers.get_mut(&peer) {
            let i = N::FAMILY as usize;
            p.received[i] = p.received[i].saturating_add_signed(received);
            p.accepted[i] = p.accepted[i].saturating_add_signed(accepted);
        }
    }

    /// Decides everything to send for what was applied since the last call: per group, the
    /// changed prefixes (encoded once for all its active members); then full dumps (PeerUp,
    /// ROUTE-REFRESH) and throttled peers' catch-ups at the current state.
    pub fn plan(&mut self) -> Plan {
        let mut plan = Plan::default();
        self.plan_deltas::<Prefix4>(&mut plan);
        self.plan_deltas::<Prefix6>(&mut plan);
        self.count_fresh_groups();
        self.plan_syncs(&mut plan);
        self.out_cache.clear();
        plan
    }

    fn plan_deltas<N: RibNlri>(&mut self, plan: &mut Plan) {
        struct Work<N> {
            gid: GroupId,
            client: bool,
            send: bool,
            inactive: Vec<PeerId>,
            announce: HashMap<(AttrId, Ipv4Addr), Vec<N>>,
            withdraw: Vec<N>,
            advertised: i64,
        }
        let fam = N::rib_mut(&mut self.fams);
        if fam.dirty.is_empty() {
            return;
        }
        let peers = &self.peers;
        let mut works = Vec::new();
        for gid in self.groups.ids() {
            let Some(g) = self.groups.get_mut(gid) else {
                continue;
            };
            if g.fresh || !g.key.families.contains(N::FAMILY) {
                continue;
            }
            let targets = g.targets(|p| {
                peers
                    .get(&p)
                    .filter(|x| x.out.active())
                    .map(|x| x.up.worker)
            });
            let inactive = g
                .members
                .iter()
                .copied()
                .filter(|p| {
                    peers
                        .get(p)
                        .is_some_and(|x| !x.out.active() && !x.out.dump.contains(N::FAMILY))
                })
                .collect();
            works.push(Work {
                gid,
                client: g.key.rr_client,
                send: !targets.is_empty(),
                inactive,
                announce: HashMap::new(),
                withdraw: Vec::new(),
                advertised: 0,
            });
        }
        for (prefix, old) in fam.dirty.drain() {
            let new = fam
                .table
                .get(&prefix)
                .and_then(Paths::best)
                .and_then(|e| adv_of(e, peers));
            for w in works.iter_mut() {
                let o = old.filter(|a| a.reflected_to(w.client));
                let n = new.filter(|a| a.reflected_to(w.client));
                if o == n {
                    continue;
                }
                w.advertised += n.is_some() as i64 - o.is_some() as i64;
                if w.send {
                    match n {
                        Some(a) => w
                            .announce
                            .entry((a.attr, a.source_id))
                            .or_default()
                            .push(prefix),
                        None => w.withdraw.push(prefix),
                    }
                }
                for &p in &w.inactive {
                    fam.pending.add(p, prefix);
                }
            }
            if let Some(o) = old {
                self.attrs.release(o.attr);
            }
        }
        for w in works {
            let Some(g) = self.groups.get_mut(w.gid) else {
                continue;
            };
            let i = N::FAMILY as usize;
            g.advertised[i] = g.advertised[i].saturating_add_signed(w.advertised);
            if w.announce.is_empty() && w.withdraw.is_empty() {
                continue;
            }
            let targets = g.targets(|p| {
                peers
                    .get(&p)
                    .filter(|x| x.out.active())
                    .map(|x| x.up.worker)
            });
            let announce = w
                .announce
                .into_iter()
                .map(|((attr, source_id), ps)| {
                    let adv = Adv {
                        attr,
                        source_id,
                        from_client: false,
                    };
                    (
                        self.out_cache.get(&self.attrs, &adv, self.cfg.cluster_id),
                        ps,
                    )
                })
                .collect();
            plan.sends.push(PlannedSend {
                kind: SendKind::Delta(w.gid),
                targets,
                ctx: g.key.codec,
                routes: N::routes(RouteSet {
                    announce,
                    withdraw: w.withdraw,
                    end_of_rib: false,
                }),
            });
        }
    }

    /// Groups created since the last flush get their advertised counts by a table walk
    /// (they took no part in the deltas); then they are ordinary groups.
    fn count_fresh_groups(&mut self) {
        for gid in self.groups.ids() {
            let Some(g) = self.groups.get(gid) else {
                continue;
            };
            if !g.fresh {
                continue;
            }
            let (client, fams) = (g.key.rr_client, g.key.families);
            let mut counts = [0u64; NFAM];
            if fams.contains(Family::Ipv4Unicast) {
                counts[Family::Ipv4Unicast as usize] = self.count_advertised::<Prefix4>(client);
            }
            if fams.contains(Family::Ipv6Unicast) {
                counts[Family::Ipv6Unicast as usize] = self.count_advertised::<Prefix6>(client);
            }
            if let Some(g) = self.groups.get_mut(gid) {
                g.advertised = counts;
                g.fresh = false;
            }
        }
    }

    fn count_advertised<N: RibNlri>(&self, client: bool) -> u64 {
        N::rib(&self.fams)
            .table
            .values()
            .filter_map(Paths::best)
            .filter_map(|e| adv_of(e, &self.peers))
            .filter(|a| a.reflected_to(client))
            .count() as u64
    }

    fn plan_syncs(&mut self, plan: &mut Plan) {
        let mut ids: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, p)| !p.out.xoff && (p.out.syncing || !p.out.dump.is_empty()))
            .map(|(&id, _)| id)
            .collect();
        if ids.is_empty() {
            return;
        }
        ids.sort_unstable();
        // Dumps are encoded once per (group, family) for every peer that needs one.
        let mut dumps: std::collections::BTreeMap<(GroupId, Family), Vec<(usize, PeerId)>> =
            Default::default();
        for id in ids {
            let Some(p) = self.peers.get_mut(&id) else {
                continue;
            };
            let out = std::mem::take(&mut p.out);
            let (group, worker, families) = (p.group, p.up.worker, p.up.families);
            for f in out.dump.iter() {
                dumps.entry((group, f)).or_default().push((worker, id));
            }
            if let Some(g) = self.groups.get_mut(group) {
                g.invalidate();
            }
            if out.dump.contains(Family::Ipv4Unicast) {
                self.fams.v4.pending.take(id);
            } else if out.syncing && families.contains(Family::Ipv4Unicast) {
                self.plan_catch_up::<Prefix4>(plan, id);
            }
            if out.dump.contains(Family::Ipv6Unicast) {
                self.fams.v6.pending.take(id);
            } else if out.syncing && families.contains(Family::Ipv6Unicast) {
                self.plan_catch_up::<Prefix6>(plan, id);
            }
        }
        for ((gid, family), members) in dumps {
            let targets = update_group::targets_of(members);
            match family {
                Family::Ipv4Unicast => self.plan_dump::<Prefix4>(plan, gid, targets),
                Family::Ipv6Unicast => self.plan_dump::<Prefix6>(plan, gid, targets),
                _ => {
                    let Some(g) = self.groups.get(gid) else {
                        continue;
                    };
                    plan.sends.push(PlannedSend {
                        kind: SendKind::Dump(gid),
                        targets,
                        ctx: g.key.codec,
                        routes: Routes::EndOfRibOnly(family),
                    });
                }
            }
        }
    }

    /// Groups `(prefix, best)` pairs into announcements by outbound attribute set.
    fn announce_sets<N: RibNlri>(
        &mut self,
        buckets: HashMap<(AttrId, Ipv4Addr), Vec<N>>,
    ) -> Vec<(Arc<PathAttrs>, Vec<N>)> {
        buckets
            .into_iter()
            .map(|((attr, source_id), ps)| {
                let adv = Adv {
                    attr,
                    source_id,
                    from_client: false,
                };
                (
                    self.out_cache.get(&self.attrs, &adv, self.cfg.cluster_id),
                    ps,
                )
            })
            .collect()
    }

    fn plan_dump<N: RibNlri>(
        &mut self,
        plan: &mut Plan,
        gid: GroupId,
        targets: update_group::Targets,
    ) {
        let Some(g) = self.groups.get(gid) else {
            return;
        };
        let (client, ctx) = (g.key.rr_client, g.key.codec);
        let mut buckets: HashMap<(AttrId, Ipv4Addr), Vec<N>> = HashMap::new();
        for (prefix, paths) in &N::rib(&self.fams).table {
            if let Some(a) = paths.best().and_then(|e| adv_of(e, &self.peers)) {
                if a.reflected_to(client) {
                    buckets
                        .entry((a.attr, a.source_id))
                        .or_default()
                        .push(*prefix);
                }
            }
        }
        let announce = self.announce_sets(buckets);
        plan.sends.push(PlannedSend {
            kind: SendKind::Dump(gid),
            targets,
            ctx,
            routes: N::routes(RouteSet {
                announce,
                withdraw: Vec::new(),
                end_of_rib: true,
            }),
        });
    }

    fn plan_catch_up<N: RibNlri>(&mut self, plan: &mut Plan, peer: PeerId) {
        let Some(p) = self.peers.get(&peer) else {
            return;
        };
        let Some(g) = self.groups.get(p.group) else {
            return;
        };
        let (client, ctx, worker) = (g.key.rr_client, g.key.codec, p.up.worker);
        let fam = N::rib_mut(&mut self.fams);
        let pending = fam.pending.take(peer);
        if pending.is_empty() {
            return;
        }
        let mut buckets: HashMap<(AttrId, Ipv4Addr), Vec<N>> = HashMap::new();
        let mut withdraw = Vec::new();
        for prefix in pending {
            let best = fam
                .table
                .get(&prefix)
                .and_then(Paths::best)
                .and_then(|e| adv_of(e, &self.peers));
            match best.filter(|a| a.reflected_to(client)) {
                Some(a) => buckets
                    .entry((a.attr, a.source_id))
                    .or_default()
                    .push(prefix),
                None => withdraw.push(prefix),
            }
        }
        let announce = self.announce_sets(buckets);
        plan.sends.push(PlannedSend {
            kind: SendKind::CatchUp(peer),
            targets: update_group::targets_of([(worker, peer)]),
            ctx,
            routes: N::routes(RouteSet {
                announce,
                withdraw,
                end_of_rib: false,
            }),
        });
    }

    /// Counts for readers (O(peers)); the route list too when a reader asked for it.
    pub fn snapshot(&mut self, queue_depth: usize) -> RibSnapshot {
        self.generation += 1;
        if self.routes_requested {
            self.routes_requested = false;
            let mut routes = self.route_views::<Prefix4>();
            routes.extend(self.route_views::<Prefix6>());
            self.routes = Some(Arc::new(routes));
            self.routes_generation = self.generation;
        }
        let families = vec![
            FamilyCounts {
                family: Family::Ipv4Unicast,
                prefixes: self.fams.v4.prefixes,
                paths: self.fams.v4.paths,
            },
            FamilyCounts {
                family: Family::Ipv6Unicast,
                prefixes: self.fams.v6.prefixes,
                paths: self.fams.v6.paths,
            },
        ];
        let mut peers: Vec<PeerCounts> = self
            .peers
            .iter()
            .map(|(&id, p)| {
                let adv = self.groups.get(p.group).map_or([0; NFAM], |g| g.advertised);
                PeerCounts {
                    peer: id,
                    per_family: p
                        .up
                        .families
                        .iter()
                        .map(|f| {
                            let i = f as usize;
                            (f, p.received[i], p.accepted[i], adv[i])
                        })
                        .collect(),
                }
            })
            .collect();
        peers.sort_unstable_by_key(|p| p.peer);
        RibSnapshot {
            generation: self.generation,
            families,
            peers,
            routes: self.routes.clone(),
            routes_generation: self.routes_generation,
            queue_depth,
        }
    }

    /// Every prefix of a family, sorted, with its eligible paths best first.
    fn route_views<N: RibNlri>(&mut self) -> Vec<RouteView> {
        let table = &N::rib(&self.fams).table;
        let mut prefixes: Vec<&N> = table.keys().collect();
        prefixes.sort_unstable();
        let mut out = Vec::with_capacity(prefixes.len());
        for prefix in prefixes {
            let paths = &table[prefix];
            self.scratch.clear();
            for e in paths.as_slice().iter().filter(|e| e.is_eligible()) {
                if let Some(p) = self.peers.get(&e.peer) {
                    self.scratch.push(Candidate::new(
                        self.attrs.rank(e.attr),
                        e.peer,
                        p.up.remote_id,
                        p.up.address,
                    ));
                }
            }
            if self.scratch.is_empty() {
                continue;
            }
            let views = decide::ranking(&self.scratch)
                .into_iter()
                .enumerate()
                .filter_map(|(rank, i)| {
                    let peer = self.scratch[i].peer;
                    let e = paths.get(peer)?;
                    Some(PathView {
                        peer,
                        peer_address: self.scratch[i].peer_address,
                        best: rank == 0,
                        attrs: self.attrs.get(e.attr).clone(),
                    })
                })
                .collect();
            out.push(RouteView {
                prefix: prefix.any(),
                paths: views,
            });
        }
        out
    }

    /// The best path for `prefix`: its source and (inbound) attributes.
    pub fn best<N: RibNlri>(&self, prefix: N) -> Option<(PeerId, Arc<PathAttrs>)> {
        let e = N::rib(&self.fams).table.get(&prefix)?.best()?;
        Some((e.peer, self.attrs.get(e.attr).clone()))
    }

    /// Distinct interned attribute sets.
    pub fn attr_sets(&self) -> usize {
        self.attrs.len()
    }

    /// Whole-table scans done for PeerDown so far.
    pub fn peer_down_scans(&self) -> u64 {
        self.peer_down_scans
    }
}

/// The RIB thread's loop: block for one message, take up to `MAX_BATCH` without blocking,
/// apply them, flush once, hand the bytes to the workers, publish the snapshot. Returns on
/// `ToRib::Shutdown` or when every sender is gone.
pub fn run(
    cfg: RibConfig,
    inbox: crossbeam_channel::Receiver<ToRib>,
    workers: Vec<WorkerHandle>,
    snapshot: Arc<arc_swap::ArcSwap<RibSnapshot>>,
) {
    let mut rib = Rib::new(cfg);
    let mut out = Outbox::default();
    while let Ok(first) = inbox.recv() {
        let start = Instant::now();
        let mut stop = rib.handle(first) == Handled::Shutdown;
        let mut n = 1;
        while !stop && n < MAX_BATCH {
            let Ok(msg) = inbox.try_recv() else { break };
            stop = rib.handle(msg) == Handled::Shutdown;
            n += 1;
        }
        rib.flush(&mut out);
        for (w, msg) in out.msgs.drain(..) {
            // A worker that has exited drops its peers' output; nothing to do here.
            if let Some(h) = workers.get(w) {
                h.send(msg);
            }
        }
        let depth = inbox.len();
        snapshot.store(Arc::new(rib.snapshot(depth)));
        metrics::histogram!(m::RIB_BATCH_SECONDS).record(start.elapsed().as_secs_f64());
        metrics::gauge!(m::RIB_QUEUE_DEPTH).set(depth as f64);
        if stop {
            break;
        }
    }
}
