//! Update groups: peers that must be sent exactly the same bytes share a group, so each
//! change is encoded once per group and the bytes are shared by every member. A group's
//! key is everything that shapes its outbound view and encoding: client or not (RFC 4456
//! §6), the negotiated codec context and the negotiated families.
//!
//! A member is never sent a route learned from itself (`reflect::Adv::sent_to`): the
//! group's bytes for such routes go to the group less that member, and the member alone
//! gets the withdrawal of what it held before. So every route is still encoded once per
//! group, however many of its members are sources.
//!
//! A group keeps its members, the cached per-worker send lists of its *active* members
//! (rebuilt on any membership or throttle change) and how many prefixes it advertises per
//! family. It keeps no Adj-RIB-Out: what it advertises is a function of the best paths.

use crate::msg::PeerId;
use crate::wire::{CodecCtx, Family, FamilySet};
use hashbrown::HashMap;
use std::collections::BTreeMap;
use std::sync::Arc;

pub type GroupId = usize;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupKey {
    pub rr_client: bool,
    pub codec: CodecCtx,
    pub families: FamilySet,
    /// What the members may be sent of the route-target filtered families (RFC 4684,
    /// `rt_filter`): peers with equal memberships share a group.
    pub rt: super::rt_filter::RtFilter,
}

/// Per worker, the peers of that worker to send the same bytes to.
pub type Targets = Arc<[(usize, Arc<[PeerId]>)]>;

/// Groups `(worker, peer)` pairs into send lists, one per worker, in worker order.
pub fn targets_of(pairs: impl IntoIterator<Item = (usize, PeerId)>) -> Targets {
    let mut by_worker: BTreeMap<usize, Vec<PeerId>> = BTreeMap::new();
    for (w, p) in pairs {
        by_worker.entry(w).or_default().push(p);
    }
    by_worker
        .into_iter()
        .map(|(w, mut ps)| {
            ps.sort_unstable();
            (w, Arc::from(ps))
        })
        .collect()
}

/// `targets` less the peers of `left_out` (sorted); a worker left with no peer is dropped.
/// Lists with none of them are shared, not copied.
pub fn without_all(targets: &Targets, left_out: &[PeerId]) -> Targets {
    if left_out.is_empty() {
        return targets.clone();
    }
    targets
        .iter()
        .filter_map(|(w, ps)| {
            if !ps.iter().any(|p| left_out.binary_search(p).is_ok()) {
                return Some((*w, ps.clone()));
            }
            let rest: Arc<[PeerId]> = ps
                .iter()
                .copied()
                .filter(|p| left_out.binary_search(p).is_err())
                .collect();
            (!rest.is_empty()).then_some((*w, rest))
        })
        .collect()
}

/// How many peers `targets` holds.
pub fn count(targets: &Targets) -> usize {
    targets.iter().map(|(_, ps)| ps.len()).sum()
}

/// `peer` alone, if it is among `targets`.
pub fn only(targets: &Targets, peer: PeerId) -> Option<Targets> {
    let (w, _) = targets
        .iter()
        .find(|(_, ps)| ps.binary_search(&peer).is_ok())?;
    Some(targets_of([(*w, peer)]))
}

pub struct Group {
    pub key: GroupKey,
    pub members: Vec<PeerId>,
    targets: Option<Targets>,
    /// Prefixes advertised per family (index `Family as usize`).
    pub advertised: [u64; Family::ALL.len()],
    /// Created during the current flush: its members all get full dumps, so it takes no
    /// part in this flush's deltas and its counts are computed by a table walk.
    pub fresh: bool,
}

impl Group {
    /// Forgets the cached send lists (membership or a member's activity changed).
    pub fn invalidate(&mut self) {
        self.targets = None;
    }

    /// The send lists of the active members; `active` returns a member's worker when it is
    /// active.
    pub fn targets(&mut self, active: impl Fn(PeerId) -> Option<usize>) -> Targets {
        let members = &self.members;
        self.targets
            .get_or_insert_with(|| {
                targets_of(members.iter().filter_map(|&p| active(p).map(|w| (w, p))))
            })
            .clone()
    }
}

#[derive(Default)]
pub struct Groups {
    slots: Vec<Option<Group>>,
    by_key: HashMap<GroupKey, GroupId>,
}

impl Groups {
    /// Adds `peer` to the group for `key`, creating it (fresh) if needed.
    pub fn join(&mut self, key: GroupKey, peer: PeerId) -> GroupId {
        let gid = match self.by_key.get(&key).copied() {
            Some(g) => g,
            None => {
                let group = Group {
                    key: key.clone(),
                    members: Vec::new(),
                    targets: None,
                    advertised: [0; Family::ALL.len()],
                    fresh: true,
                };
                let g = match self.slots.iter().position(Option::is_none) {
                    Some(g) => {
                        self.slots[g] = Some(group);
                        g
                    }
                    None => {
                        self.slots.push(Some(group));
                        self.slots.len() - 1
                    }
                };
                self.by_key.insert(key, g);
                g
            }
        };
        if let Some(g) = self.slots[gid].as_mut() {
            g.members.push(peer);
            g.invalidate();
        }
        gid
    }

    /// Removes `peer`; the group goes with its last member.
    pub fn leave(&mut self, gid: GroupId, peer: PeerId) {
        let Some(g) = self.slots.get_mut(gid).and_then(Option::as_mut) else {
            return;
        };
        g.members.retain(|&p| p != peer);
        g.invalidate();
        if g.members.is_empty() {
            self.by_key.remove(&g.key);
            self.slots[gid] = None;
        }
    }

    pub fn get(&self, gid: GroupId) -> Option<&Group> {
        self.slots.get(gid).and_then(Option::as_ref)
    }

    pub fn get_mut(&mut self, gid: GroupId) -> Option<&mut Group> {
        self.slots.get_mut(gid).and_then(Option::as_mut)
    }

    pub fn ids(&self) -> Vec<GroupId> {
        (0..self.slots.len())
            .filter(|&g| self.slots[g].is_some())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(client: bool) -> GroupKey {
        GroupKey {
            rr_client: client,
            codec: CodecCtx::default(),
            families: FamilySet::EMPTY.with(Family::Ipv4Unicast),
            rt: None,
        }
    }

    #[test]
    fn peers_with_the_same_key_share_a_group_that_goes_with_its_last_member() {
        let mut g = Groups::default();
        let a = g.join(key(true), 1);
        let b = g.join(key(true), 2);
        let c = g.join(key(false), 3);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(g.len(), 2);
        g.leave(a, 1);
        g.leave(a, 2);
        assert!(g.get(a).is_none());
        assert_eq!(g.len(), 1);
    }

    #[test]
    fn a_peer_is_taken_out_of_send_lists_and_an_emptied_worker_with_it() {
        let t = targets_of([(0, 4), (0, 2), (1, 3)]);
        let t2 = without_all(&t, &[2]);
        assert_eq!(t2.len(), 2);
        assert_eq!((t2[0].0, &*t2[0].1), (0, &[4][..]));
        assert_eq!(only(&t, 2).as_deref(), Some(&[(0, Arc::from([2]))][..]));
        assert_eq!(only(&t2, 2), None);
        let t3 = without_all(&t, &[3]);
        assert_eq!(t3.len(), 1);
        assert_eq!((t3[0].0, &*t3[0].1), (0, &[2, 4][..]));
        assert_eq!(
            &*without_all(&t, &[9]),
            &*t,
            "a peer not there changes nothing"
        );
        assert_eq!(&*without_all(&t, &[2, 3, 4]), &[][..]);
        assert_eq!((count(&t), count(&t2)), (3, 2));
    }

    #[test]
    fn send_lists_group_active_members_by_worker() {
        let mut g = Groups::default();
        for p in [1, 2, 3, 4] {
            g.join(key(true), p);
        }
        let grp = g.get_mut(0).unwrap();
        let t = grp.targets(|p| (p != 3).then_some(p as usize % 2));
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].0, &*t[0].1), (0, &[2, 4][..]));
        assert_eq!((t[1].0, &*t[1].1), (1, &[1][..]));
    }
}
