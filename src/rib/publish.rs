//! Building what readers see: counts after every batch (O(peers)), the sorted route list
//! only when asked (`ToRib::PublishRoutes`).

use super::attrs::AttrId;
use super::decide::{self, Candidate};
use super::peer::{Peer, NFAM};
use super::reflect::GroupView;
use super::snapshot::{FamilyCounts, PathView, PeerCounts, RibSnapshot, RouteView};
use super::table::{for_each_table, Paths, RibNlri};
use super::Rib;
use crate::msg::PeerId;
use crate::wire::PathAttrs;
use hashbrown::HashMap;
use std::sync::Arc;

impl Rib {
    /// Counts for readers (O(peers)); the route list too when a reader asked for it.
    pub fn snapshot(&mut self, queue_depth: usize) -> RibSnapshot {
        self.generation += 1;
        if self.routes_requested {
            self.routes_requested = false;
            let mut routes = Vec::new();
            for_each_table!(|N| self.route_views::<N>(&mut routes));
            self.routes = Some(Arc::new(routes));
            self.routes_generation = self.generation;
        }
        let mut families = Vec::new();
        for_each_table!(|N| {
            let fam = N::rib(&self.fams);
            families.push(FamilyCounts {
                family: N::FAMILY,
                prefixes: fam.prefixes,
                paths: fam.paths,
            });
        });
        let mut peers: Vec<PeerCounts> = self
            .peers
            .iter()
            .map(|(&id, p)| {
                let adv = self.advertised_to(id, p);
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

    /// Prefixes `peer` holds from us per family: its group's view less its own best
    /// routes, which it is not sent (`Adv::sent_to`).
    fn advertised_to(&self, id: PeerId, p: &Peer) -> [u64; NFAM] {
        // Out of its group while it restarts (whose id may be another's by now): sent
        // nothing.
        let Some(g) = self.groups.get(p.group).filter(|_| !p.gr.restarting()) else {
            return [0; NFAM];
        };
        let mut adv = g.advertised;
        // Its own routes count in its group's view only when they are reflected to its
        // group: a client's are, a non-client's are not (RFC 4456 §6).
        // Of those, the ones with an IPv6 next hop only if the group may take them (RFC 8950).
        if p.up.rr_client {
            for_each_table!(|N| {
                let (f, own) = (N::FAMILY, N::rib(&self.fams).own_best_of(id));
                let own = match GroupView::of::<N>(&g.key).v6_next_hop {
                    true => own.all,
                    false => own.all.saturating_sub(own.v6_next_hop),
                };
                let i = f as usize;
                // A filtered group may not be sent a member's own routes at all
                // (`rt_filter`): then the count is a bound, not exact.
                let filtered = g.key.rt.is_some() && N::RT_FILTERED;
                let asks_all = f == crate::wire::Family::RtConstraint && self.rtc.ask_all;
                debug_assert!(
                    own <= adv[i] || filtered || asks_all,
                    "{id} owns {own} of {} {f}",
                    adv[i]
                );
                adv[i] = adv[i].saturating_sub(own);
            });
        }
        adv
    }

    /// Adds every prefix of a family to `out`, sorted, with its eligible paths best first.
    fn route_views<N: RibNlri>(&mut self, out: &mut Vec<RouteView>) {
        let table = &N::rib(&self.fams).table;
        let mut routes: Vec<(N, &Paths)> = table.iter().collect();
        routes.sort_unstable_by_key(|(prefix, _)| *prefix);
        out.reserve(routes.len());
        // Each set decoded once per publish and shared by its routes, as in the table.
        let mut decoded: HashMap<AttrId, Arc<PathAttrs>> = HashMap::new();
        for (prefix, paths) in routes {
            self.scratch.clear();
            for e in paths.as_slice().iter().filter(|e| e.is_eligible()) {
                if let Some(p) = self.peers.get(&e.peer) {
                    self.scratch.push(Candidate::new(
                        &self.attrs.rank(e.attr),
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
                        attrs: decoded
                            .entry(e.attr)
                            .or_insert_with(|| Arc::new(self.attrs.load(e.attr)))
                            .clone(),
                        path_data: crate::wire::stored::path_data(self.attrs.stored(e.attr))
                            .map(Box::from),
                    })
                })
                .collect();
            out.push(RouteView {
                prefix: prefix.any(),
                paths: views,
            });
        }
    }
}
