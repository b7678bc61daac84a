//! The messages that cross threads (our "imsg"): workers -> RIB thread, RIB thread and
//! control -> workers. Batches, never one message per prefix.
//!
//! ```text
//!  listener ──Accepted──▶ worker k ──ToRib (Updates per read, PeerUp/Down)──▶ RIB thread
//!  control  ──Add/Remove/Shutdown──▶ worker k ◀──ToWorker::Send (Arc'd bytes), StopPeer── RIB
//! ```

use crate::wire::{CodecCtx, Family, FamilySet, Notification, Update};
use bytes::Bytes;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

/// A configured neighbor's slot. Assigned by control when the neighbor is added and never
/// reused for another neighbor while the process runs, so a stale message about a removed
/// peer can be recognised and dropped.
pub type PeerId = u32;

/// What the RIB needs to know about a session that reached Established.
#[derive(Clone, Debug)]
pub struct PeerUp {
    pub peer: PeerId,
    /// Index of the worker that owns the peer's socket.
    pub worker: usize,
    pub address: IpAddr,
    pub remote_asn: u32,
    /// The peer's BGP Identifier: the ORIGINATOR_ID we set on its routes (RFC 4456 §8).
    pub remote_id: Ipv4Addr,
    pub rr_client: bool,
    /// Families both sides advertised (Multiprotocol capability, or IPv4 unicast implied).
    pub families: FamilySet,
    /// Negotiated encoding for what we send to this peer.
    pub codec: CodecCtx,
    /// The peer may send ROUTE-REFRESH (we advertised it; it asked for it).
    pub route_refresh: bool,
    /// The neighbor's `max_prefixes`: the RIB holds at most this many of its prefixes
    /// (summed over families) and asks the worker to end the session beyond it.
    pub max_prefixes: Option<u64>,
    /// Both sides advertised Graceful Restart (RFC 4724): what the RIB, as the receiving
    /// speaker, does with this peer's routes when the session is lost. None: withdraw them.
    pub graceful_restart: Option<GracefulRestartPeer>,
}

/// A peer's Graceful Restart capability as the RIB applies it (RFC 4724 §4.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GracefulRestartPeer {
    /// Negotiated families the peer listed: their routes are kept stale when the session is
    /// lost.
    pub families: FamilySet,
    /// Of those, the ones with the Forwarding State bit set. When the peer comes back, a
    /// family's stale routes are kept only if it is listed here in the new capability.
    pub forwarding: FamilySet,
    /// How long a lost peer's routes are kept: its Restart Time, capped by our
    /// `graceful_restart_time`. Zero keeps nothing.
    pub restart_time: Duration,
    /// How long a peer that came back has to send End-of-RIB (`graceful_restart_stale_time`).
    pub stale_time: Duration,
}

/// Worker (or control) -> RIB thread.
#[derive(Debug)]
pub enum ToRib {
    PeerUp(PeerUp),
    /// The session left Established: the peer's routes are withdrawn.
    PeerDown {
        peer: PeerId,
    },
    /// The session left Established with no NOTIFICATION sent or received (TCP lost, or
    /// replaced by a new connection from the restarted peer; RFC 4724 §4.2): a peer with
    /// `PeerUp::graceful_restart` has its routes kept as stale, any other is as `PeerDown`.
    /// Acknowledged with `ToWorker::PeerDownAck` like `PeerDown`.
    PeerLost {
        peer: PeerId,
    },
    /// Every UPDATE decoded from one read of one peer, in order.
    Updates {
        peer: PeerId,
        updates: Vec<Update>,
        /// `update_weight` summed over `updates`, computed once by the sender: it is added
        /// to and taken off the shared `InboxWeight` without walking the batch again.
        weight: usize,
    },
    /// ROUTE-REFRESH received (RFC 2918): resend the whole Adj-RIB-Out for `family`.
    RouteRefresh {
        peer: PeerId,
        family: Family,
    },
    /// The peer's send queue is above its high watermark: stop sending it group updates and
    /// remember what changed instead (the pending output stays RIB state, never bytes).
    Xoff {
        peer: PeerId,
    },
    /// The queue drained below the low watermark: send what changed meanwhile.
    Xon {
        peer: PeerId,
    },
    /// Publish a fresh route snapshot for readers that asked for one.
    PublishRoutes,
    Shutdown,
}

/// RIB thread / control / listener -> worker.
#[derive(Debug)]
pub enum ToWorker {
    /// The same encoded UPDATE bytes (one or more whole messages) for several peers of this
    /// worker: encoded once, shared by reference.
    Send { peers: Arc<[PeerId]>, data: Bytes },
    /// Start a neighbor (on startup or reload).
    AddPeer {
        peer: PeerId,
        neighbor: Arc<crate::config::Neighbor>,
    },
    /// Stop a neighbor: Cease NOTIFICATION with `subcode` (RFC 4486) and forget it.
    RemovePeer { peer: PeerId, subcode: u8 },
    /// End the peer's established session with `notification` but keep the neighbor: it
    /// reconnects as after any session failure (the RIB sends this when the peer exceeds
    /// `max_prefixes`; the worker then applies `max_prefixes_restart`). Ignored when the
    /// session it was meant for is already down (a PeerDown is awaiting its ack).
    StopPeer {
        peer: PeerId,
        notification: Notification,
    },
    /// An inbound connection accepted by the listener for a neighbor this worker owns.
    Accepted {
        peer: PeerId,
        stream: std::net::TcpStream,
    },
    /// The RIB has applied `ToRib::PeerDown` for this peer: every `Send` emitted before it
    /// has been delivered, so later ones belong to the peer's next session.
    PeerDownAck { peer: PeerId },
    /// Cease to every peer (RFC 8203 message), flush, and return.
    Shutdown { message: String },
}

/// A worker's inbox: the channel plus the poller to wake it from `Poller::wait`.
#[derive(Clone)]
pub struct WorkerHandle {
    pub tx: crossbeam_channel::Sender<ToWorker>,
    pub poller: Arc<polling::Poller>,
}

impl WorkerHandle {
    /// Sends and wakes the worker. False if the worker has exited.
    pub fn send(&self, msg: ToWorker) -> bool {
        let ok = self.tx.send(msg).is_ok();
        // A failed notify only means the worker is gone; the send result already says so.
        let _ = self.poller.notify();
        ok
    }
}

/// Decoded UPDATEs in the RIB thread's inbox, by estimated memory: shared by the workers,
/// which add a batch's weight when they put it in the inbox and hold further batches back
/// (pausing those batches' peers) while the total is above `INBOX_BUDGET`, and the RIB
/// thread, which subtracts it when it takes the batch. What waits in a worker's backlog is
/// not counted, so a backlog can always drain once the RIB thread catches up; it holds at
/// most about one read per paused peer. The inbox's bound in messages alone
/// is no bound on memory: decoding multiplies small messages (a 27-byte withdrawal becomes
/// a several-hundred-byte `Update`), so a fast peer could fill gigabytes while the RIB
/// thread is busy.
pub type InboxWeight = Arc<std::sync::atomic::AtomicUsize>;

/// Above this many estimated bytes of decoded UPDATEs in the inbox, batches wait.
pub const INBOX_BUDGET: usize = 64 << 20;

/// The estimated memory of one decoded UPDATE (inline size plus what its vectors hold).
impl ToRib {
    /// `ToRib::Updates` with its weight computed.
    pub fn updates(peer: PeerId, updates: Vec<Update>) -> ToRib {
        let weight = updates.iter().map(update_weight).sum();
        ToRib::Updates {
            peer,
            updates,
            weight,
        }
    }
}

pub fn update_weight(u: &Update) -> usize {
    use crate::wire::{AsSegment, AttrError, NlriSet, Prefix4, Prefix6, RawAttr};
    use std::mem::size_of;
    let nlri = |s: &NlriSet| match s {
        NlriSet::Ipv4Unicast(v) => v.len() * size_of::<Prefix4>(),
        NlriSet::Ipv6Unicast(v) => v.len() * size_of::<Prefix6>(),
        NlriSet::Other { .. } => 0,
    };
    let attrs = u.attrs.as_ref().map_or(0, |a| {
        let segments: usize = a
            .as_path
            .segments
            .iter()
            .map(|s| size_of::<AsSegment>() + s.asns.len() * 4)
            .sum();
        let unknown: usize = a
            .unknown
            .iter()
            .map(|r| size_of::<RawAttr>() + r.data.len())
            .sum();
        segments
            + unknown
            + a.communities.len() * 4
            + a.ext_communities.len() * 8
            + a.large_communities.len() * 12
            + a.cluster_list.len() * 4
    });
    // Each non-empty vector is one heap block; the allocator's smallest is 32 bytes.
    const BLOCK: usize = 32;
    let blocks = [
        !u.withdrawn.is_empty(),
        !u.nlri.is_empty(),
        u.mp_reach.is_some(),
        u.mp_unreach.is_some(),
        !u.attr_errors.is_empty(),
        u.attrs
            .as_ref()
            .is_some_and(|a| !a.as_path.segments.is_empty()),
    ]
    .iter()
    .filter(|b| **b)
    .count()
        * BLOCK;
    // Twice the inline size: it sits in the batch vector, which may be up to half empty.
    2 * size_of::<Update>()
        + blocks
        + (u.withdrawn.len() + u.nlri.len()) * size_of::<Prefix4>()
        + u.mp_reach.as_ref().map_or(0, |r| nlri(&r.nlri))
        + u.mp_unreach.as_ref().map_or(0, |r| nlri(&r.nlri))
        + u.attr_errors.len() * size_of::<AttrError>()
        + attrs
}
