//! Outbound: once per batch, decides what every update group, new peer and caught-up peer
//! is sent (a `Plan`), from the dirty prefixes and their previous best paths. No per-group
//! Adj-RIB-Out exists: what a group advertises is a function of the best path (RFC 4456 §6).

use super::plan::{Buckets, OutAttrs, Plan, PlannedSend, RouteSet, Routes, SendKind};
use super::table::{Dirty, Paths, RibNlri};
use super::update_group::{self, GroupId};
use super::{adv_of, Peer, Rib, NFAM};
use crate::msg::PeerId;
use crate::wire::{Family, Prefix4, Prefix6, Reflect};
use hashbrown::HashMap;

impl Rib {
    /// Decides everything to send for what was applied since the last call: per group, the
    /// changed prefixes (encoded once for all its active members); then full dumps (PeerUp,
    /// ROUTE-REFRESH) and throttled peers' catch-ups at the current state.
    pub fn plan(&mut self) -> Plan {
        let mut plan = Plan::default();
        self.plan_deltas::<Prefix4>(&mut plan);
        self.plan_deltas::<Prefix6>(&mut plan);
        self.count_fresh_groups();
        self.plan_syncs(&mut plan);
        plan
    }

    fn plan_deltas<N: RibNlri>(&mut self, plan: &mut Plan) {
        struct Work<N> {
            gid: GroupId,
            client: bool,
            send: bool,
            inactive: Vec<PeerId>,
            announce: Buckets<N>,
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
            let targets = active_targets(g, peers);
            let inactive = g
                .members
                .iter()
                .copied()
                .filter(|p| {
                    peers.get(p).is_some_and(|x| {
                        !(x.out.active() || x.out.initial && x.out.dump.contains(N::FAMILY))
                    })
                })
                .collect();
            works.push(Work {
                gid,
                client: g.key.rr_client,
                send: !targets.is_empty(),
                inactive,
                announce: Buckets::default(),
                withdraw: Vec::new(),
                advertised: 0,
            });
        }
        for (prefix, Dirty { old, new }) in fam.dirty.drain() {
            for w in works.iter_mut() {
                let o = old.filter(|a| a.reflected_to(w.client));
                let n = new.filter(|a| a.reflected_to(w.client));
                if o == n {
                    continue;
                }
                w.advertised += n.is_some() as i64 - o.is_some() as i64;
                if w.send {
                    match n {
                        Some(a) => w.announce.push(a.attr, a.source_id, prefix),
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
            let (targets, ctx) = (active_targets(g, &self.peers), g.key.codec);
            plan.sends.push(PlannedSend {
                kind: SendKind::Delta(w.gid),
                targets,
                ctx,
                routes: N::routes(self.route_set(w.announce, w.withdraw, false)),
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
            // An initial dump covers everything; otherwise catch up first (withdrawals
            // included), and a refresh dump, planned after it, re-sends the rest.
            if out.initial && out.dump.contains(Family::Ipv4Unicast) {
                self.fams.v4.pending.take(id);
            } else if (out.syncing || out.dump.contains(Family::Ipv4Unicast))
                && families.contains(Family::Ipv4Unicast)
            {
                self.plan_catch_up::<Prefix4>(plan, id);
            }
            if out.initial && out.dump.contains(Family::Ipv6Unicast) {
                self.fams.v6.pending.take(id);
            } else if (out.syncing || out.dump.contains(Family::Ipv6Unicast))
                && families.contains(Family::Ipv6Unicast)
            {
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

    /// The announcements of `buckets` (each set's attributes as sent) and `withdraw`.
    fn route_set<N: RibNlri>(
        &self,
        buckets: Buckets<N>,
        withdraw: Vec<N>,
        end_of_rib: bool,
    ) -> RouteSet<N> {
        let cluster_id = self.cfg.cluster_id;
        let (announce, prefixes) = buckets.finish(|attr, source_id| OutAttrs {
            set: self.attrs.stored(attr).clone(),
            reflect: Reflect {
                originator_id: source_id,
                cluster_id,
            },
        });
        RouteSet {
            announce,
            prefixes,
            withdraw,
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
        let (client, ctx) = (g.key.rr_client, g.key.codec);
        let mut buckets = Buckets::default();
        for (prefix, paths) in N::rib(&self.fams).table.iter() {
            if let Some(a) = paths.best().and_then(|e| adv_of(e, &self.peers)) {
                if a.reflected_to(client) {
                    buckets.push(a.attr, a.source_id, *prefix);
                }
            }
        }
        plan.sends.push(PlannedSend {
            kind: SendKind::Dump(gid),
            targets,
            ctx,
            routes: N::routes(self.route_set(buckets, Vec::new(), true)),
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
        let mut buckets = Buckets::default();
        let mut withdraw = Vec::new();
        for prefix in pending {
            let best = fam
                .table
                .get(&prefix)
                .and_then(Paths::best)
                .and_then(|e| adv_of(e, &self.peers));
            match best.filter(|a| a.reflected_to(client)) {
                Some(a) => buckets.push(a.attr, a.source_id, prefix),
                None => withdraw.push(prefix),
            }
        }
        plan.sends.push(PlannedSend {
            kind: SendKind::CatchUp(peer),
            targets: update_group::targets_of([(worker, peer)]),
            ctx,
            routes: N::routes(self.route_set(buckets, withdraw, false)),
        });
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
