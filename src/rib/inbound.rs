//! Inbound: applies a peer's UPDATEs to the table of each family (RFC 4271 §9.1,
//! RFC 4760, RFC 7606 treat-as-withdraw, RFC 4456 §8 loop checks), reselects the best path
//! of every changed prefix and records it as dirty for the next flush. Sends nothing.

use super::attrs::{AttrId, AttrTable};
use super::decide::{self, Candidate};
use super::peer::{adv_of, PeerMap};
use super::table::{Dirty, FamilyRib, PathEntry, Paths, RibNlri};
use super::{limit, Rib};
use crate::msg::{MpNlri, PeerId, Prepared, Received};
use crate::wire::{stored, NlriSet};

/// Moves the best eligible path of `paths` to the front (deterministic, see `decide`).
fn reselect(paths: &mut Paths, attrs: &AttrTable, peers: &PeerMap, scratch: &mut Vec<Candidate>) {
    if paths.len() == 1 {
        return;
    }
    scratch.clear();
    for e in paths.as_slice().iter().filter(|e| e.is_eligible()) {
        if let Some(p) = peers.get(&e.peer) {
            scratch.push(Candidate::new(
                &attrs.rank(e.attr),
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
    // One table lookup: the entry is changed in place (a second only to remove it).
    let (old, old_best, new_best) = match table.get_mut(&prefix) {
        None => {
            let attr = new?;
            let e = PathEntry { peer, attr };
            table.insert_new(prefix, Paths::One(e));
            (None, None, Some(e).filter(PathEntry::is_eligible))
        }
        Some(paths) => {
            let pos = paths.position(peer);
            let old = pos.map(|i| paths.as_slice()[i].attr);
            if old == new {
                if let Some(a) = new.filter(|a| !a.is_rejected()) {
                    attrs.release(a);
                }
                return None;
            }
            let old_best = paths.best();
            let new_best = match (pos, new) {
                (Some(_), None) if paths.len() == 1 => {
                    table.remove(&prefix);
                    None
                }
                (pos, new) => {
                    match (pos, new) {
                        (Some(i), Some(attr)) => paths.set(i, PathEntry { peer, attr }),
                        (None, Some(attr)) => paths.push(PathEntry { peer, attr }),
                        (Some(i), None) => paths.remove_at(i),
                        (None, None) => {}
                    }
                    reselect(paths, attrs, peers, scratch);
                    paths.best()
                }
            };
            (old, old_best, new_best)
        }
    };
    // Before `old` is released below: the previous best may be the only holder of its set.
    let d = dirty.entry(prefix).or_insert_with(|| {
        let adv = old_best.and_then(|b| adv_of(b, peers, attrs));
        if let Some(a) = adv {
            attrs.retain(a.attr);
        }
        Dirty {
            old: adv,
            new: None,
        }
    });
    d.new = new_best.and_then(|b| adv_of(b, peers, attrs));
    let has_best = new_best.is_some();
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
    pub(super) fn update(&mut self, peer: PeerId, u: Received) {
        // A peer over its limit is being stopped: nothing more of its is stored. One
        // awaited after a lost session has no session that could send anything.
        if self
            .peers
            .get(&peer)
            .is_none_or(|p| p.over_limit || p.gr.restarting())
        {
            return;
        }
        if let Some(family) = u.end_of_rib {
            if let Some(p) = self.peers.get_mut(&peer) {
                p.eor_received.insert(family);
            }
            tracing::debug!(peer, %family, "rib: End-of-RIB received");
            self.gr_end_of_rib(peer, family);
            if family == crate::wire::Family::RtConstraint {
                self.rtc_ready(peer);
            }
            return;
        }
        self.withdraw(peer, &u.withdrawn);
        let rare = u.rare.map(|r| *r).unwrap_or_default();
        if let Some(set) = &rare.mp_unreach {
            self.apply_set(peer, set, None);
        }
        if u.treat_as_withdraw {
            // RFC 7606 §2: every NLRI of the UPDATE is withdrawn instead of installed.
            self.withdraw(peer, &u.nlri);
            if let Some(nlri) = &u.mp_nlri {
                self.apply_mp(peer, nlri, None);
            }
            for (nlri, _) in &rare.mp_more {
                self.apply_set(peer, nlri, None);
            }
            return;
        }
        if let Some(set) = u.set {
            self.announce(peer, &u.nlri, set);
        }
        if let (Some(nlri), Some(set)) = (&u.mp_nlri, u.mp_set) {
            self.apply_mp(peer, nlri, Some(set));
        }
        for (nlri, set) in rare.mp_more {
            self.apply_set(peer, &nlri, Some(set));
        }
    }

    /// Announces (`set`) or withdraws (`None`) the prefixes of an MP_REACH_NLRI or
    /// MP_UNREACH_NLRI: the one match on the NLRI types the RIB keeps tables for.
    fn apply_set(&mut self, peer: PeerId, nlri: &NlriSet, set: Option<Prepared>) {
        match nlri {
            NlriSet::Ipv4Unicast(v) => self.apply(peer, v, set),
            NlriSet::Ipv6Unicast(v) => self.apply(peer, v, set),
            NlriSet::Ipv4Vpn(v) => self.apply(peer, &v.keys, set),
            NlriSet::Ipv6Vpn(v) => self.apply(peer, &v.keys, set),
            NlriSet::Evpn(v) => self.apply(peer, &v.keys, set),
            NlriSet::RtConstraint(v) => {
                self.apply(peer, v, set);
                self.membership_changed(peer, v);
            }
            NlriSet::Other { .. } => {}
        }
    }

    /// `apply_set` for `Received::mp_nlri`.
    fn apply_mp(&mut self, peer: PeerId, nlri: &MpNlri, set: Option<Prepared>) {
        match nlri {
            MpNlri::Set(s) => self.apply_set(peer, s, set),
            MpNlri::Vpn4(keys) => self.apply(peer, keys, set),
            MpNlri::Vpn6(keys) => self.apply(peer, keys, set),
        }
    }

    fn apply<N: RibNlri>(&mut self, peer: PeerId, prefixes: &[N], set: Option<Prepared>) {
        match set {
            Some(set) => self.announce(peer, prefixes, set),
            None => self.withdraw(peer, prefixes),
        }
    }

    pub(super) fn withdraw<N: RibNlri>(&mut self, peer: PeerId, prefixes: &[N]) {
        self.set_paths(peer, prefixes, None);
    }

    /// Installs `set` (its next hop the family's) for `prefixes`; a looped route (our AS
    /// in its AS_PATH, RFC 4271 §9.1.2; our ORIGINATOR_ID or CLUSTER_ID, RFC 4456 §8) is
    /// kept as received but not eligible.
    fn announce<N: RibNlri>(&mut self, peer: PeerId, prefixes: &[N], set: Prepared) {
        if prefixes.is_empty()
            || !self
                .peers
                .get(&peer)
                .is_some_and(|p| p.up.families.contains(N::FAMILY))
        {
            return;
        }
        let ours = stored::Ours {
            asn: self.cfg.asn,
            router_id: self.cfg.router_id,
            cluster_id: self.cfg.cluster_id,
        };
        // Most sets carry neither reflection attribute (a client's own routes) and, by the
        // worker's summary of the path, certainly not our AS: no walk for those.
        let reflected = set.rank.originator_id.is_some() || set.rank.cluster_list_len > 0;
        if (reflected || set.may_have_as(ours.asn)) && stored::is_looped(&set.set, &ours) {
            self.set_paths(peer, prefixes, Some(AttrId::REJECTED));
            return;
        }
        let id = self.attrs.intern_prepared(set);
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
        let limit = p.up.max_prefixes.filter(|_| new.is_some());
        // Stale paths are not counted (see `limit`): `held` is the fresh ones.
        let mut held = limit::counted(p, self.stale_of(peer));
        let mut exceeded = false;
        let fam = N::rib_mut(&mut self.fams);
        // A path set or removed is no longer stale (RFC 4724 §4.2: re-announced).
        let mut stale = fam.stale.take(peer);
        let (mut received, mut accepted) = (0i64, 0i64);
        let eligible = |a: Option<AttrId>| a.is_some_and(|a| !a.is_rejected()) as i64;
        for &prefix in prefixes {
            // At the limit, a prefix not held fresh yet would be one too many (RFC 4486
            // §4); replacing a fresh one is fine. The lookups are only paid at the limit.
            if limit.is_some_and(|l| held >= l)
                && (stale.contains(&prefix)
                    || fam
                        .table
                        .get(&prefix)
                        .is_none_or(|ps| ps.position(peer).is_none()))
            {
                exceeded = true;
                break;
            }
            let was_stale = !stale.is_empty() && stale.remove(&prefix);
            if let Some(a) = new.filter(|a| !a.is_rejected()) {
                self.attrs.retain(a);
            }
            let old = set_path(
                fam,
                &mut self.attrs,
                &self.peers,
                &mut self.scratch,
                prefix,
                peer,
                new,
            );
            // A stale path announced again with the same attributes changes nothing in
            // the table but is fresh now.
            let had_fresh = match old {
                Some(old) => old.is_some() && !was_stale,
                None => new.is_some() && !was_stale,
            };
            held = held.saturating_add_signed(new.is_some() as i64 - had_fresh as i64);
            let Some(old) = old else {
                continue;
            };
            received += new.is_some() as i64 - old.is_some() as i64;
            accepted += eligible(new) - eligible(old);
        }
        fam.stale.put(peer, stale);
        let stale_left = self.stale_of(peer);
        if let Some(p) = self.peers.get_mut(&peer) {
            let i = N::FAMILY as usize;
            p.received[i] = p.received[i].saturating_add_signed(received);
            p.accepted[i] = p.accepted[i].saturating_add_signed(accepted);
            limit::warn_if_near(p, stale_left);
            if let (true, Some(l)) = (exceeded, limit) {
                tracing::warn!(neighbor = %p.up.address, limit = l, family = %N::FAMILY, "max_prefixes exceeded: stopping the session");
                p.over_limit = true;
                let n = limit::max_prefixes_cease(N::FAMILY, l);
                self.stops.push((p.up.worker, peer, n));
            }
        }
    }
}
