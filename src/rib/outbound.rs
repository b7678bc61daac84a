//! Outbound: once per batch, decides what every update group, new peer and caught-up peer
//! is sent (a `Plan`), from the dirty prefixes and their previous best paths. No per-group
//! Adj-RIB-Out exists: what a group advertises is a function of the best path (RFC 4456 §6),
//! and what a member is sent is that less its own routes (`Adv::sent_to`, `Split`).

use super::attrs::AttrId;
use super::peer::{adv_of, Peer, NFAM};
use super::plan::{Buckets, OutAttrs, Plan, PlannedSend, RouteSet, SendKind};
use super::reflect::{Adv, GroupView};
use super::rt_filter::{self, rt_passes, RtFilter, TargetsMemo};
use super::table::{for_each_table, with_table, Dirty, OwnCount, Paths, RibNlri};
use super::update_group::{self, GroupId, GroupKey};
use super::Rib;
use crate::msg::PeerId;
use crate::wire::rtc::RtcNlri;
use crate::wire::{CodecCtx, Family, Reflect};
use hashbrown::HashMap;
use std::net::Ipv4Addr;

impl Rib {
    /// Decides everything to send for what was applied since the last call: per group, the
    /// changed prefixes (encoded once for all its active members); then full dumps (PeerUp,
    /// ROUTE-REFRESH) and throttled peers' catch-ups at the current state.
    pub fn plan(&mut self) -> Plan {
        let mut plan = Plan::default();
        self.rt_regroup();
        for_each_table!(|N| self.plan_deltas::<N>(&mut plan));
        if std::mem::take(&mut self.rtc.recount) {
            self.recount::<RtcNlri>();
        }
        self.count_fresh_groups();
        self.plan_syncs(&mut plan);
        plan
    }

    fn plan_deltas<N: RibNlri>(&mut self, plan: &mut Plan) {
        struct Work<N> {
            gid: GroupId,
            view: GroupView,
            rt: RtFilter,
            send: bool,
            inactive: Vec<PeerId>,
            out: Split<N>,
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
            let targets = active_targets(g, peers);
            // Members out of the send lists keep what changed, unless they hold nothing of
            // the family yet: its first dump is due (or waits, `rt_filter`) and covers it.
            let inactive = g
                .members
                .iter()
                .copied()
                .filter(|p| {
                    peers.get(p).is_some_and(|x| {
                        let f = N::FAMILY;
                        let unsent = x.out.initial.contains(f) && x.out.dump.contains(f)
                            || x.rtc.deferred.contains(f);
                        !(x.out.active() || unsent)
                    })
                })
                .collect();
            works.push(Work {
                gid,
                view: GroupView::of::<N>(&g.key),
                rt: g.key.rt.clone().filter(|_| N::RT_FILTERED),
                send: !targets.is_empty(),
                inactive,
                out: Split::default(),
                advertised: 0,
            });
        }
        // The group whose deltas a source takes directly, if any: there it is sent
        // something else than the rest (`Adv::sent_to`). A member out of the send lists
        // catches up on its own (`plan_catch_up`).
        let mut group_of = BySourceMemo::new(|peer| {
            peers
                .get(&peer)
                .filter(|p| p.out.active() && !p.gr.restarting())
                .map(|p| p.group)
        });
        let mut own_best = OwnBest::default();
        let ask_all = self.rtc.ask_all;
        let mut memo = TargetsMemo::default();
        for (prefix, Dirty { old, new }) in fam.dirty.drain() {
            let attrs = &self.attrs;
            own_best.change(old, new);
            let old_group = old.and_then(|a| group_of.get(a.peer));
            let new_group = new.and_then(|a| group_of.get(a.peer));
            for w in works.iter_mut() {
                let mut passes = |a: &Adv| {
                    a.reflected_to(w.view) && rt_passes::<N>(attrs, ask_all, &mut memo, &w.rt, a)
                };
                let o = old.filter(&mut passes);
                let n = new.filter(&mut passes);
                if o == n {
                    continue;
                }
                w.advertised += n.is_some() as i64 - o.is_some() as i64;
                if w.send {
                    let o_source = o.filter(|_| old_group == Some(w.gid)).map(|a| a.peer);
                    let n_source = n.filter(|_| new_group == Some(w.gid)).map(|a| a.peer);
                    match (n, n_source) {
                        // A member's own route: to the others; the member itself drops
                        // what it held from us (unless that was its own route too).
                        (Some(a), Some(s)) => {
                            let by = w.out.source(s);
                            by.others.announce.push(a.attr, a.peer, prefix);
                            if o.is_some() && o_source != Some(s) {
                                by.itself.push(prefix);
                            }
                        }
                        (Some(a), None) => w.out.all.announce.push(a.attr, a.peer, prefix),
                        // The source of the route withdrawn was never sent it.
                        (None, _) => match o_source {
                            Some(s) => w.out.source(s).others.withdraw.push(prefix),
                            None => w.out.all.withdraw.push(prefix),
                        },
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
        own_best.apply(&mut fam.own_best);
        for w in works {
            let Some(g) = self.groups.get_mut(w.gid) else {
                continue;
            };
            let i = N::FAMILY as usize;
            g.advertised[i] = g.advertised[i].saturating_add_signed(w.advertised);
            if w.out.is_empty() {
                continue;
            }
            let (targets, ctx) = (active_targets(g, &self.peers), g.key.codec);
            self.plan_split(plan, SendKind::Delta(w.gid), targets, ctx, w.out, false);
        }
    }

    /// Queues `split` to `targets` as one send: each source's part to all but it, then
    /// what goes to all (last, so that a dump's End-of-RIB follows every route of it);
    /// each source's own withdrawals go to it alone.
    fn plan_split<N: RibNlri>(
        &self,
        plan: &mut Plan,
        kind: SendKind,
        targets: update_group::Targets,
        ctx: CodecCtx,
        split: Split<N>,
        end_of_rib: bool,
    ) {
        let total = update_group::count(&targets);
        let mut except = Vec::new();
        for (s, by) in split.by_source {
            let itself = update_group::only(&targets, s);
            // A part for nobody (the source is the only target) is not encoded.
            if !by.others.is_empty() && total > usize::from(itself.is_some()) {
                except.push((s, N::routes(self.route_set(by.others, false))));
            }
            if let (false, Some(itself)) = (by.itself.is_empty(), itself) {
                let out = Out {
                    withdraw: by.itself,
                    ..Out::default()
                };
                let routes = N::routes(self.route_set(out, false));
                plan.sends
                    .push(PlannedSend::to_all(kind, itself, ctx, routes));
            }
        }
        if !except.is_empty() || !split.all.is_empty() || end_of_rib {
            plan.sends.push(PlannedSend {
                kind,
                targets,
                ctx,
                except,
                routes: N::routes(self.route_set(split.all, end_of_rib)),
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
            let key = g.key.clone();
            let mut counts = [0u64; NFAM];
            for_each_table!(|N| if key.families.contains(N::FAMILY) {
                counts[N::FAMILY as usize] = self.count_advertised::<N>(&key);
            });
            if let Some(g) = self.groups.get_mut(gid) {
                g.advertised = counts;
                g.fresh = false;
            }
        }
    }

    fn count_advertised<N: RibNlri>(&self, key: &GroupKey) -> u64 {
        let (view, rt) = (GroupView::of::<N>(key), &key.rt);
        let mut memo = TargetsMemo::default();
        let own = rt_filter::originated::<N>(self.rtc.ask_all).is_some() as u64;
        own + N::rib(&self.fams)
            .table
            .values()
            .filter_map(Paths::best)
            .filter_map(|e| adv_of(e, &self.peers, &self.attrs))
            .filter(|a| a.reflected_to(view) && self.rt_passes::<N>(&mut memo, rt, a))
            .count() as u64
    }

    /// Every group's count of one family, by a table walk (what we send of it changed
    /// for all groups at once).
    fn recount<N: RibNlri>(&mut self) {
        for gid in self.groups.ids() {
            let Some(g) = self.groups.get(gid).filter(|g| !g.fresh) else {
                continue;
            };
            if !g.key.families.contains(N::FAMILY) {
                continue;
            }
            let n = self.count_advertised::<N>(&g.key.clone());
            if let Some(g) = self.groups.get_mut(gid) {
                g.advertised[N::FAMILY as usize] = n;
            }
        }
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
            // An initial dump covers everything; otherwise catch up first (withdrawals
            // included), and a refresh dump, planned after it, re-sends the rest.
            for_each_table!(|N| {
                let f = N::FAMILY;
                if out.initial.contains(f) && out.dump.contains(f) {
                    N::rib_mut(&mut self.fams).pending.take(id);
                } else if (out.syncing || out.dump.contains(f)) && families.contains(f) {
                    self.plan_catch_up::<N>(plan, id);
                }
            });
        }
        for ((gid, family), members) in dumps {
            let targets = update_group::targets_of(members);
            with_table!(family, |N| self.plan_dump::<N>(plan, gid, targets));
        }
    }

    /// `out`'s announcements (each set's attributes as sent) and withdrawals.
    fn route_set<N: RibNlri>(&self, out: Out<N>, end_of_rib: bool) -> RouteSet<N> {
        let cluster_id = self.cfg.cluster_id;
        let (announce, prefixes) = out.announce.finish(|attr, peer| {
            if peer == rt_filter::LOCAL {
                // Our own route (the default route target): no reflection, but the
                // encoder writes ORIGINATOR_ID and CLUSTER_LIST on every set; ours then.
                return OutAttrs {
                    set: self.rtc.own.clone(),
                    reflect: Reflect {
                        originator_id: self.cfg.router_id,
                        cluster_id,
                    },
                };
            }
            // A best path's source is up (or restarting): its paths go before it does.
            let source = self.peers.get(&peer);
            debug_assert!(source.is_some(), "announcing a path of unknown peer {peer}");
            OutAttrs {
                set: self.attrs.stored(attr).clone(),
                reflect: Reflect {
                    originator_id: source.map_or(Ipv4Addr::UNSPECIFIED, |p| p.up.remote_id),
                    cluster_id,
                },
            }
        });
        RouteSet {
            announce,
            prefixes,
            withdraw: out.withdraw,
            end_of_rib,
        }
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
        let (view, ctx, rt) = (GroupView::of::<N>(&g.key), g.key.codec, g.key.rt.clone());
        let mut memo = TargetsMemo::default();
        let mut out = Split::default();
        if let Some(own) = rt_filter::originated::<N>(self.rtc.ask_all) {
            out.all
                .announce
                .push(AttrId::REJECTED, rt_filter::LOCAL, own);
        }
        // A peer dumped to is sent its own routes' part apart (one back from a graceful
        // restart, several members dumped at once).
        let mut dumped = BySourceMemo::new(|peer| {
            targets
                .iter()
                .any(|(_, ps)| ps.binary_search(&peer).is_ok())
        });
        for (prefix, paths) in N::rib(&self.fams).table.iter() {
            let Some(a) = paths
                .best()
                .and_then(|e| adv_of(e, &self.peers, &self.attrs))
            else {
                continue;
            };
            if !a.reflected_to(view) || !self.rt_passes::<N>(&mut memo, &rt, &a) {
                continue;
            }
            let to = match dumped.get(a.peer) {
                true => &mut out.source(a.peer).others,
                false => &mut out.all,
            };
            to.announce.push(a.attr, a.peer, prefix);
        }
        self.plan_split(plan, SendKind::Dump(gid), targets, ctx, out, true);
    }

    fn plan_catch_up<N: RibNlri>(&mut self, plan: &mut Plan, peer: PeerId) {
        let Some(p) = self.peers.get(&peer) else {
            return;
        };
        let Some(g) = self.groups.get(p.group) else {
            return;
        };
        let (view, ctx, worker) = (GroupView::of::<N>(&g.key), g.key.codec, p.up.worker);
        let rt = g.key.rt.clone();
        let (attrs, ask_all) = (&self.attrs, self.rtc.ask_all);
        let own = rt_filter::originated::<N>(ask_all);
        let fam = N::rib_mut(&mut self.fams);
        let pending = fam.pending.take(peer);
        if pending.is_empty() {
            return;
        }
        let mut memo = TargetsMemo::default();
        let mut out = Out::default();
        for prefix in pending {
            if own == Some(prefix) {
                out.announce
                    .push(AttrId::REJECTED, rt_filter::LOCAL, prefix);
                continue;
            }
            let best = fam
                .table
                .get(&prefix)
                .and_then(Paths::best)
                .and_then(|e| adv_of(e, &self.peers, attrs));
            let sent = |a: &Adv| {
                a.sent_to(peer, view) && rt_passes::<N>(attrs, ask_all, &mut memo, &rt, a)
            };
            match best.filter(sent) {
                Some(a) => out.announce.push(a.attr, a.peer, prefix),
                None => out.withdraw.push(prefix),
            }
        }
        plan.sends.push(PlannedSend::to_all(
            SendKind::CatchUp(peer),
            update_group::targets_of([(worker, peer)]),
            ctx,
            N::routes(self.route_set(out, false)),
        ));
    }
}

/// What one set of targets is sent of one family: announcements by attribute set, and
/// withdrawals.
struct Out<N> {
    announce: Buckets<N>,
    withdraw: Vec<N>,
}

impl<N> Default for Out<N> {
    fn default() -> Self {
        Out {
            announce: Buckets::default(),
            withdraw: Vec::new(),
        }
    }
}

impl<N: Copy> Out<N> {
    fn is_empty(&self) -> bool {
        self.announce.is_empty() && self.withdraw.is_empty()
    }
}

/// A group's output split by who may be sent it (`Adv::sent_to`): `all` goes to every
/// target; per member that is the source of a best path, `others` (its routes and their
/// withdrawals) goes to every target but it, and `itself` (prefixes its own route took
/// over: what it held from us is withdrawn) to it alone. Each part is encoded once.
struct Split<N> {
    all: Out<N>,
    /// In first-seen order; `index` finds a source's entry, `last` the last one used
    /// (consecutive prefixes mostly share their source).
    by_source: Vec<(PeerId, BySource<N>)>,
    index: HashMap<PeerId, usize>,
    last: usize,
}

struct BySource<N> {
    others: Out<N>,
    itself: Vec<N>,
}

impl<N> Default for Split<N> {
    fn default() -> Self {
        Split {
            all: Out::default(),
            by_source: Vec::new(),
            index: HashMap::new(),
            last: 0,
        }
    }
}

impl<N: Copy> Split<N> {
    fn source(&mut self, peer: PeerId) -> &mut BySource<N> {
        if self
            .by_source
            .get(self.last)
            .is_none_or(|(p, _)| *p != peer)
        {
            let next = self.by_source.len();
            self.last = *self.index.entry(peer).or_insert(next);
            if self.last == next {
                let by = BySource {
                    others: Out::default(),
                    itself: Vec::new(),
                };
                self.by_source.push((peer, by));
            }
        }
        &mut self.by_source[self.last].1
    }

    fn is_empty(&self) -> bool {
        self.all.is_empty() && self.by_source.is_empty()
    }
}

/// Changes to `FamilyRib::own_best` over one flush's dirty prefixes, summed per peer
/// (runs of prefixes from one source, as a peer sends them, cost one map update): (all,
/// those with an IPv6 next hop).
#[derive(Default)]
struct OwnBest {
    run: Option<(PeerId, (i64, i64))>,
    sums: HashMap<PeerId, (i64, i64)>,
}

impl OwnBest {
    fn change(&mut self, old: Option<Adv>, new: Option<Adv>) {
        let owner = |a: Option<Adv>| {
            a.filter(|a| !a.no_advertise)
                .map(|a| (a.peer, a.v6_next_hop))
        };
        let (was, now) = (owner(old), owner(new));
        if was == now {
            return;
        }
        for (o, d) in [(was, -1), (now, 1)] {
            let Some((peer, v6)) = o else {
                continue;
            };
            let delta = (d, if v6 { d } else { 0 });
            match &mut self.run {
                Some((p, n)) if *p == peer => add(n, delta),
                run => {
                    if let Some((p, n)) = run.replace((peer, delta)) {
                        add(self.sums.entry(p).or_default(), n);
                    }
                }
            }
        }
    }

    fn apply(mut self, own_best: &mut HashMap<PeerId, OwnCount>) {
        if let Some((p, n)) = self.run.take() {
            add(self.sums.entry(p).or_default(), n);
        }
        for (peer, (all, v6)) in self.sums {
            let n = own_best.entry(peer).or_default();
            debug_assert!(
                n.all.checked_add_signed(all).is_some(),
                "{peer}: {n:?} {all:+}"
            );
            debug_assert!(
                n.v6_next_hop.checked_add_signed(v6).is_some(),
                "{peer}: {n:?} {v6:+}"
            );
            n.all = n.all.saturating_add_signed(all);
            n.v6_next_hop = n.v6_next_hop.saturating_add_signed(v6);
            if n.all == 0 {
                own_best.remove(&peer);
            }
        }
    }
}

/// Adds an (all, IPv6 next hop) change to a sum of them.
fn add(sum: &mut (i64, i64), d: (i64, i64)) {
    sum.0 += d.0;
    sum.1 += d.1;
}

/// A function of a route's source, remembering the last answer: consecutive prefixes
/// mostly share their source, and the answer costs a lookup.
struct BySourceMemo<F, T> {
    f: F,
    last: Option<(PeerId, T)>,
}

impl<T: Copy, F: FnMut(PeerId) -> T> BySourceMemo<F, T> {
    fn new(f: F) -> Self {
        BySourceMemo { f, last: None }
    }

    fn get(&mut self, peer: PeerId) -> T {
        match self.last {
            Some((p, v)) if p == peer => v,
            _ => {
                let v = (self.f)(peer);
                self.last = Some((peer, v));
                v
            }
        }
    }
}

/// The send lists of a group's members that take deltas directly (neither throttled nor
/// waiting for a dump or catch-up).
fn active_targets(
    g: &mut update_group::Group,
    peers: &HashMap<PeerId, Peer>,
) -> update_group::Targets {
    g.targets(|p| {
        peers
            .get(&p)
            .filter(|x| x.out.active())
            .map(|x| x.up.worker)
    })
}
