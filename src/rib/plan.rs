//! What one flush decided to send, before and after encoding. A `Plan` lists, per
//! destination (a group's active members, or single peers for dumps and catch-ups), the
//! prefixes to announce grouped by outbound attribute set and the prefixes to withdraw.
//! `encode` turns each entry into UPDATE bytes once and shares them with every target.

use super::update_group::{GroupId, Targets};
use crate::msg::{PeerId, ToWorker};
use crate::wire::{self, CodecCtx, Family, Nlri, PathAttrs, Prefix4, Prefix6, Reflect};
use bytes::Bytes;
use std::sync::Arc;

/// An interned attribute set as it is sent: the encoder adds the reflector's
/// ORIGINATOR_ID and CLUSTER_LIST entry, so no per-flush copy of the set is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutAttrs {
    pub attrs: Arc<PathAttrs>,
    pub reflect: Reflect,
}

impl OutAttrs {
    /// The attributes exactly as encoded (for tests and logs; allocates).
    pub fn sent(&self) -> PathAttrs {
        super::reflect::outbound(
            &self.attrs,
            self.reflect.originator_id,
            self.reflect.cluster_id,
        )
    }
}

/// Prefixes of one family, per outbound attribute set, plus withdrawals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteSet<N> {
    pub announce: Vec<(OutAttrs, Vec<N>)>,
    pub withdraw: Vec<N>,
    /// Append End-of-RIB for the family (after a full dump).
    pub end_of_rib: bool,
}

impl<N> Default for RouteSet<N> {
    fn default() -> Self {
        RouteSet {
            announce: Vec::new(),
            withdraw: Vec::new(),
            end_of_rib: false,
        }
    }
}

impl<N: Copy> RouteSet<N> {
    /// Every announced prefix with its attributes as sent (for tests and logs).
    pub fn announced(&self) -> Vec<(N, PathAttrs)> {
        self.announce
            .iter()
            .flat_map(|(a, ps)| {
                let sent = a.sent();
                ps.iter().map(move |p| (*p, sent.clone()))
            })
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Routes {
    V4(RouteSet<Prefix4>),
    V6(RouteSet<Prefix6>),
    /// Just End-of-RIB, for a negotiated family the RIB carries no table for yet.
    EndOfRibOnly(Family),
}

impl Routes {
    pub fn family(&self) -> Family {
        match self {
            Routes::V4(_) => Family::Ipv4Unicast,
            Routes::V6(_) => Family::Ipv6Unicast,
            Routes::EndOfRibOnly(f) => *f,
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
    pub routes: Routes,
}

impl PlannedSend {
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

/// Encodes every planned send once and queues it for each target worker.
pub fn encode(plan: Plan, out: &mut Outbox) {
    for send in plan.sends {
        if send.targets.is_empty() {
            continue;
        }
        let mut enc = Encoder {
            targets: &send.targets,
            buf: Vec::new(),
            out,
        };
        match &send.routes {
            Routes::V4(rs) => enc.route_set(&send.ctx, rs),
            Routes::V6(rs) => enc.route_set(&send.ctx, rs),
            Routes::EndOfRibOnly(f) => wire::encode_end_of_rib(*f, &mut enc.buf),
        }
        enc.emit();
    }
}

struct Encoder<'a> {
    targets: &'a Targets,
    buf: Vec<u8>,
    out: &'a mut Outbox,
}

impl Encoder<'_> {
    fn route_set<N: Nlri>(&mut self, ctx: &CodecCtx, rs: &RouteSet<N>) {
        for chunk in rs.withdraw.chunks(PREFIXES_PER_CALL) {
            wire::encode_withdraw(ctx, chunk, &mut self.buf);
            self.maybe_emit();
        }
        for (out, prefixes) in &rs.announce {
            for chunk in prefixes.chunks(PREFIXES_PER_CALL) {
                wire::encode_announce_reflected(ctx, &out.attrs, out.reflect, chunk, &mut self.buf);
                self.maybe_emit();
            }
        }
        if rs.end_of_rib {
            wire::encode_end_of_rib(N::FAMILY, &mut self.buf);
        }
    }

    fn maybe_emit(&mut self) {
        if self.buf.len() >= SEND_CHUNK_BYTES {
            self.emit();
        }
    }

    fn emit(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let data = Bytes::from(std::mem::take(&mut self.buf));
        for (w, peers) in self.targets.iter() {
            self.out.msgs.push((
                *w,
                ToWorker::Send {
                    peers: peers.clone(),
                    data: data.clone(),
                },
            ));
        }
    }
}
