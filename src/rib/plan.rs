//! What one flush decided to send, before and after encoding. A `Plan` lists, per
//! destination (a group's active members, or single peers for dumps and catch-ups), the
//! prefixes to announce grouped by outbound attribute set and the prefixes to withdraw,
//! and, before them, parts that one target must not be sent (its own routes). `encode`
//! turns each entry into UPDATE bytes once and shares them with every target: a target
//! left out of a part gets the same bytes around that part, as slices.

use super::attrs::AttrId;
use super::update_group::{self, GroupId, Targets};
use crate::msg::{PeerId, ToWorker};
use crate::wire::evpn::EvpnKey;
use crate::wire::rtc::RtcNlri;
use crate::wire::{self, CodecCtx, Family, Nlri, PathAttrs, Prefix4, Prefix6, Reflect, Vpn4, Vpn6};
use bytes::Bytes;
use hashbrown::HashMap;
use std::ops::Range;
use std::sync::Arc;

/// An interned attribute set as it is sent: the encoder adds the reflector's
/// ORIGINATOR_ID and CLUSTER_LIST entry, so no per-flush copy of the set is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutAttrs {
    /// The set in its stored form (`wire::stored`), shared with the attribute table.
    pub set: Arc<[u8]>,
    pub reflect: Reflect,
}

impl OutAttrs {
    /// The attributes exactly as encoded (for tests and logs; allocates).
    pub fn sent(&self) -> PathAttrs {
        super::reflect::outbound(
            &wire::stored::load(&self.set),
            self.reflect.originator_id,
            self.reflect.cluster_id,
        )
    }
}

/// Prefixes of one family, per outbound attribute set, plus withdrawals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteSet<N> {
    /// Each set with its range of `prefixes`.
    pub announce: Vec<(OutAttrs, Range<usize>)>,
    pub prefixes: Vec<N>,
    pub withdraw: Vec<N>,
    /// Append End-of-RIB for the family (after a full dump).
    pub end_of_rib: bool,
}

impl<N> Default for RouteSet<N> {
    fn default() -> Self {
        RouteSet {
            announce: Vec::new(),
            prefixes: Vec::new(),
            withdraw: Vec::new(),
            end_of_rib: false,
        }
    }
}

impl<N: Copy> RouteSet<N> {
    /// Each outbound attribute set with its prefixes.
    pub fn sets(&self) -> impl Iterator<Item = (&OutAttrs, &[N])> {
        self.announce
            .iter()
            .map(|(a, r)| (a, &self.prefixes[r.clone()]))
    }

    /// Every announced prefix with its attributes as sent (for tests and logs).
    pub fn announced(&self) -> Vec<(N, PathAttrs)> {
        self.sets()
            .flat_map(|(a, ps)| {
                let sent = a.sent();
                ps.iter().map(move |p| (*p, sent.clone()))
            })
            .collect()
    }
}

/// Prefixes grouped by outbound attribute set as a plan collects them: one index of the
/// sets and one flat list of prefixes, not a `Vec` per set. A full table has hundreds of
/// thousands of sets of a few prefixes each; a `Vec` apiece cost two allocations per set
/// and their frees, on the RIB thread (the critical path of convergence).
pub struct Buckets<N> {
    index: HashMap<(AttrId, PeerId), u32>,
    keys: Vec<(AttrId, PeerId)>,
    items: Vec<(u32, N)>,
}

impl<N> Default for Buckets<N> {
    fn default() -> Self {
        Buckets {
            index: HashMap::new(),
            keys: Vec::new(),
            items: Vec::new(),
        }
    }
}

impl<N: Copy> Buckets<N> {
    /// Adds `prefix` to the set of attributes `attr` learned from `source`.
    pub fn push(&mut self, attr: AttrId, source: PeerId, prefix: N) {
        let next = self.keys.len() as u32;
        let b = *self.index.entry((attr, source)).or_insert(next);
        if b == next {
            self.keys.push((attr, source));
        }
        self.items.push((b, prefix));
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The sets in first-seen order, each with its prefixes in the order pushed (a counting
    /// sort: two passes over the prefixes). `out` gives a set's attributes as sent.
    pub fn finish<T>(
        self,
        mut out: impl FnMut(AttrId, PeerId) -> T,
    ) -> (Vec<(T, Range<usize>)>, Vec<N>) {
        let Some(&(_, any)) = self.items.first() else {
            return (Vec::new(), Vec::new());
        };
        let mut start = vec![0usize; self.keys.len() + 1];
        for &(b, _) in &self.items {
            start[b as usize + 1] += 1;
        }
        for i in 1..start.len() {
            start[i] += start[i - 1];
        }
        let sets = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, &(attr, source))| (out(attr, source), start[i]..start[i + 1]))
            .collect();
        let mut prefixes = vec![any; self.items.len()];
        for (b, p) in self.items {
            let at = &mut start[b as usize];
            prefixes[*at] = p;
            *at += 1;
        }
        (sets, prefixes)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Routes {
    V4(RouteSet<Prefix4>),
    V6(RouteSet<Prefix6>),
    Vpn4(RouteSet<Vpn4>),
    Vpn6(RouteSet<Vpn6>),
    Evpn(RouteSet<EvpnKey>),
    Rtc(RouteSet<RtcNlri>),
}

impl Routes {
    /// Roughly the bytes these routes encode to, for sizing a buffer: a prefix takes at
    /// most its in-memory size on the wire, and a set's attributes about 64 bytes.
    fn size_hint(&self) -> usize {
        fn of<N>(rs: &RouteSet<N>) -> usize {
            let prefixes = rs.prefixes.len() + rs.withdraw.len();
            64 * (rs.announce.len() + 1) + std::mem::size_of::<N>() * prefixes
        }
        match self {
            Routes::V4(rs) => of(rs),
            Routes::V6(rs) => of(rs),
            Routes::Vpn4(rs) => of(rs),
            Routes::Vpn6(rs) => of(rs),
            Routes::Evpn(rs) => of(rs),
            Routes::Rtc(rs) => of(rs),
        }
    }

    pub fn family(&self) -> Family {
        match self {
            Routes::V4(_) => Family::Ipv4Unicast,
            Routes::V6(_) => Family::Ipv6Unicast,
            Routes::Vpn4(_) => Family::Ipv4Vpn,
            Routes::Vpn6(_) => Family::Ipv6Vpn,
            Routes::Evpn(_) => Family::L2vpnEvpn,
            Routes::Rtc(_) => Family::RtConstraint,
        }
    }
}

/// Why an entry is sent.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SendKind {
    /// What changed for a group since the last flush.
    Delta(GroupId),
    /// A group's whole view of a family, then End-of-RIB (PeerUp, ROUTE-REFRESH).
    Dump(GroupId),
    /// A throttled peer's pending prefixes, at their current state (Xon).
    CatchUp(PeerId),
}

#[derive(Clone, Debug)]
pub struct PlannedSend {
    pub kind: SendKind,
    pub targets: Targets,
    pub ctx: CodecCtx,
    /// Parts sent before `routes`, each to every target but one peer (a member's own
    /// routes and their withdrawals, `Adv::sent_to`). All parts and `routes` are encoded
    /// into one buffer; a peer left out of a part gets the buffer less that part's bytes,
    /// as slices of the same bytes, so a group with many sources among its members still
    /// costs one queued buffer per member, not one per source.
    pub except: Vec<(PeerId, Routes)>,
    pub routes: Routes,
}

impl PlannedSend {
    /// A send of `routes` to every target alike.
    pub fn to_all(kind: SendKind, targets: Targets, ctx: CodecCtx, routes: Routes) -> Self {
        PlannedSend {
            kind,
            targets,
            ctx,
            except: Vec::new(),
            routes,
        }
    }

    /// Every targeted peer, over all workers.
    pub fn peers(&self) -> Vec<PeerId> {
        self.targets
            .iter()
            .flat_map(|(_, ps)| ps.iter().copied())
            .collect()
    }
}

#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// In send order.
    pub sends: Vec<PlannedSend>,
}

/// Messages for the workers, in order: (worker index, message).
#[derive(Debug, Default)]
pub struct Outbox {
    pub msgs: Vec<(usize, ToWorker)>,
}

/// Prefixes per `encode_announce` call: bounds the work between two chunk checks.
const PREFIXES_PER_CALL: usize = 2048;
/// Bytes per `ToWorker::Send`: large dumps go out in pieces the worker can interleave.
const SEND_CHUNK_BYTES: usize = 256 * 1024;
/// Room past a chunk's end for the call that crosses it: one set's prefixes, usually a few
/// kilobytes (the buffer still grows if a call takes more).
const CHUNK_SLACK: usize = 128 * 1024;

/// Encodes every planned send once and queues it for each target worker.
pub fn encode(plan: Plan, out: &mut Outbox) {
    for send in plan.sends {
        if send.targets.is_empty() {
            continue;
        }
        let size: usize = send.except.iter().map(|(_, r)| r.size_hint()).sum();
        let mut enc = Encoder {
            targets: &send.targets,
            // Sized once, by `size_hint`'s guess: a chunk grown from nothing is copied about
            // twice over.
            buf: Vec::with_capacity(
                (size + send.routes.size_hint()).min(SEND_CHUNK_BYTES + CHUNK_SLACK),
            ),
            out,
            except: Vec::new(),
            open: None,
        };
        for (peer, routes) in &send.except {
            enc.open = Some((*peer, enc.buf.len()));
            enc.routes(&send.ctx, routes);
            enc.close();
        }
        enc.routes(&send.ctx, &send.routes);
        enc.emit(0);
    }
}

struct Encoder<'a> {
    targets: &'a Targets,
    buf: Vec<u8>,
    out: &'a mut Outbox,
    /// Byte ranges of the chunk in `buf` that a peer is not sent.
    except: Vec<(PeerId, Range<usize>)>,
    /// The part being encoded leaves out this peer, from this offset of `buf`.
    open: Option<(PeerId, usize)>,
}

impl Encoder<'_> {
    fn routes(&mut self, ctx: &CodecCtx, routes: &Routes) {
        match routes {
            Routes::V4(rs) => self.route_set(ctx, rs),
            Routes::V6(rs) => self.route_set(ctx, rs),
            Routes::Vpn4(rs) => self.route_set(ctx, rs),
            Routes::Vpn6(rs) => self.route_set(ctx, rs),
            Routes::Evpn(rs) => self.route_set(ctx, rs),
            Routes::Rtc(rs) => self.route_set(ctx, rs),
        }
    }

    /// Ends the part that leaves out a peer.
    fn close(&mut self) {
        if let Some((peer, start)) = self.open.take() {
            if start < self.buf.len() {
                self.except.push((peer, start..self.buf.len()));
            }
        }
    }

    fn route_set<N: Nlri>(&mut self, ctx: &CodecCtx, rs: &RouteSet<N>) {
        for chunk in rs.withdraw.chunks(PREFIXES_PER_CALL) {
            wire::encode_withdraw(ctx, chunk, &mut self.buf);
            self.maybe_emit();
        }
        for (out, prefixes) in rs.sets() {
            for chunk in prefixes.chunks(PREFIXES_PER_CALL) {
                wire::encode_announce_stored(ctx, &out.set, out.reflect, chunk, &mut self.buf);
                self.maybe_emit();
            }
        }
        if rs.end_of_rib {
            wire::encode_end_of_rib(N::FAMILY, &mut self.buf);
        }
    }

    fn maybe_emit(&mut self) {
        if self.buf.len() >= SEND_CHUNK_BYTES {
            // More follows, likely as much again.
            self.emit(SEND_CHUNK_BYTES + CHUNK_SLACK);
        }
    }

    /// Queues the bytes so far; the next chunk starts with room for `next` bytes. A peer
    /// left out of a part gets the rest of the chunk as up to one slice more than it was
    /// left out of parts.
    fn emit(&mut self, next: usize) {
        // A part cut by the chunk's end goes on at the start of the next chunk.
        let open = self.open.map(|(peer, _)| peer);
        self.close();
        self.open = open.map(|peer| (peer, 0));
        if self.buf.is_empty() {
            return;
        }
        let data = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(next)));
        let mut left_out: Vec<PeerId> = self.except.iter().map(|(p, _)| *p).collect();
        left_out.sort_unstable();
        left_out.dedup();
        let mut push = |w: usize, peers: Arc<[PeerId]>, data: Bytes| {
            self.out.msgs.push((w, ToWorker::Send { peers, data }));
        };
        for (w, peers) in update_group::without_all(self.targets, &left_out).iter() {
            push(*w, peers.clone(), data.clone());
        }
        for &peer in &left_out {
            let Some(only) = update_group::only(self.targets, peer) else {
                continue;
            };
            let (w, peers) = &only[0];
            let mut at = 0;
            for (_, r) in self.except.iter().filter(|(p, _)| *p == peer) {
                if at < r.start {
                    push(*w, peers.clone(), data.slice(at..r.start));
                }
                at = r.end;
            }
            if at < data.len() {
                push(*w, peers.clone(), data.slice(at..));
            }
        }
        self.except.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_keep_sets_in_first_seen_order_and_prefixes_in_push_order() {
        let (a, b): (PeerId, PeerId) = (1, 2);
        let mut bk = Buckets::default();
        assert!(bk.is_empty());
        // Same attributes from two sources are two sets; prefixes interleave.
        for (i, (attr, src)) in [(7, a), (3, a), (7, b), (7, a), (3, a), (7, a)]
            .into_iter()
            .enumerate()
        {
            bk.push(AttrId::test(attr), src, i as u32);
        }
        let (sets, prefixes) = bk.finish(|attr, src| (attr, src));
        assert_eq!(
            sets,
            vec![
                ((AttrId::test(7), a), 0..3),
                ((AttrId::test(3), a), 3..5),
                ((AttrId::test(7), b), 5..6),
            ]
        );
        assert_eq!(prefixes, vec![0, 3, 5, 1, 4, 2]);
        let (sets, prefixes) = Buckets::<u32>::default().finish(|a, s| (a, s));
        assert!(sets.is_empty() && prefixes.is_empty());
    }
}
