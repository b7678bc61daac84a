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
//! `Rib` is a plain struct, testable without threads or clocks: `handle` changes state and
//! records what became dirty; `plan` decides what to send (per group, dumps, catch-ups);
//! `flush` encodes that plan into worker messages. Time is a parameter (`handle`,
//! `expire`): only the loop (`run`) reads the clock.

pub mod attrs;
pub mod decide;
pub mod graceful;
mod inbound;
pub mod limit;
pub mod membership;
mod outbound;
mod peer;
pub mod pending;
pub mod plan;
mod prefetch;
pub mod prefix_map;
mod publish;
pub mod reflect;
pub mod rt_filter;
pub mod snapshot;
pub mod table;
pub mod update_group;

#[cfg(test)]
mod mem_test;
#[cfg(test)]
mod tests;

use crate::metrics as m;
use crate::msg::{PeerId, PeerUp, ToRib, ToWorker, WorkerHandle};
use crate::wire::{Family, FamilySet, Notification, PathAttrs};
use attrs::AttrTable;
use decide::Candidate;
use hashbrown::HashMap;
use peer::{Peer, PeerGr, PeerMap, NFAM};
use pending::OutState;
use plan::Outbox;
use snapshot::{RibSnapshot, RouteView};
use std::net::Ipv4Addr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;
use table::{for_each_table, Families, RibNlri};
use update_group::{GroupKey, Groups};

/// Messages applied per batch before one flush: bounds the latency of a flush and the size
/// of what it encodes.
pub const MAX_BATCH: usize = 256;

/// Dirty prefixes that end a batch early: one flush's transient memory (previous-best map,
/// announcement buckets, outbound attribute sets, encoded bytes) is proportional to it, and
/// a full table arriving at once would otherwise be planned and encoded in one piece.
pub const MAX_DIRTY: usize = 32 * 1024;

/// While changes keep arriving, flushes are at least this far apart. Each flush writes
/// once to every client it changes something for; at 10k changes/s flushing each change
/// on its own cost 50 writes per change toward 50 clients (0.8 of a core in scenario E),
/// and the queueing that followed was the tail of the latency. Waiting up to this long
/// lets one flush carry what arrived meanwhile. After a quiet spell nothing waits.
pub const FLUSH_GAP: std::time::Duration = std::time::Duration::from_millis(1);

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

/// The routing state and its single writer's logic.
pub struct Rib {
    cfg: RibConfig,
    attrs: AttrTable,
    peers: PeerMap,
    groups: Groups,
    fams: Families,
    scratch: Vec<Candidate>,
    generation: u64,
    routes: Option<Arc<Vec<RouteView>>>,
    routes_generation: u64,
    routes_requested: bool,
    /// Whole-table scans done for PeerDown (the one O(table) operation per event).
    peer_down_scans: u64,
    /// PeerDowns applied since the last flush: (worker, peer) to acknowledge.
    down_acks: Vec<(usize, PeerId)>,
    /// Sessions to end (peers over `max_prefixes`): (worker, peer, NOTIFICATION).
    stops: Vec<(usize, PeerId, Notification)>,
    /// Peers with a Graceful Restart timer running.
    gr_timed: hashbrown::HashSet<PeerId>,
    /// RT-Constraint: memberships, filters, what we ask for (`rt_filter`).
    rtc: rt_filter::RtcState,
}

impl Rib {
    pub fn new(cfg: RibConfig) -> Rib {
        Rib {
            attrs: AttrTable::new(cfg.asn),
            rtc: rt_filter::RtcState::new(cfg.router_id),
            cfg,
            peers: HashMap::new(),
            groups: Groups::default(),
            fams: Families::default(),
            scratch: Vec::new(),
            generation: 0,
            routes: None,
            routes_generation: 0,
            routes_requested: false,
            peer_down_scans: 0,
            down_acks: Vec::new(),
            stops: Vec::new(),
            gr_timed: hashbrown::HashSet::new(),
        }
    }

    /// Applies one inbox message, arrived at `now` (the Graceful Restart timers start from
    /// it; the RIB reads no clock). Output is produced by the next `plan` / `flush`.
    pub fn handle(&mut self, msg: ToRib, now: Instant) -> Handled {
        match msg {
            ToRib::PeerUp(up) => self.peer_up(up, now),
            ToRib::PeerDown { peer } => {
                if let Some(p) = self.peers.get(&peer).filter(|p| !p.gr.restarting()) {
                    self.down_acks.push((p.up.worker, peer));
                }
                self.peer_down(peer);
            }
            ToRib::PeerLost { peer } => {
                if let Some(p) = self.peers.get(&peer).filter(|p| !p.gr.restarting()) {
                    self.down_acks.push((p.up.worker, peer));
                }
                self.peer_lost(peer, now);
            }
            ToRib::Updates { peer, updates, .. } => {
                // The batch was written on a worker's core, so each UPDATE and its set
                // would miss the cache on first touch here, one miss after another. Asked
                // for up front (a batch is tens of kilobytes), the misses overlap.
                for u in &updates {
                    prefetch::value(u);
                    if let Some(set) = &u.set {
                        prefetch::bytes(&set.set);
                    }
                }
                for u in updates {
                    self.update(peer, u);
                }
            }
            ToRib::RouteRefresh { peer, family } => {
                if let Some(p) = self.live_mut(peer) {
                    // A family whose first dump waits for the peer's membership gets it then.
                    if p.up.families.contains(family) && !p.rtc.deferred.contains(family) {
                        p.out.dump.insert(family);
                    }
                }
            }
            ToRib::Xoff { peer } => {
                let live = self.peers.get_mut(&peer).filter(|p| !p.gr.restarting());
                if let Some(p) = live {
                    if !p.out.xoff {
                        p.out.xoff = true;
                        if let Some(g) = self.groups.get_mut(p.group) {
                            g.invalidate();
                        }
                    }
                }
            }
            ToRib::Xon { peer } => {
                if let Some(p) = self.live_mut(peer) {
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

    /// A peer with a session up (not one whose routes are kept while it restarts).
    fn live_mut(&mut self, peer: PeerId) -> Option<&mut Peer> {
        self.peers.get_mut(&peer).filter(|p| !p.gr.restarting())
    }

    /// Plans the output of everything applied since the last flush and encodes it.
    pub fn flush(&mut self, out: &mut Outbox) {
        // Acks first: nothing in this flush is for the old session, and a dump for the
        // peer's next session (if it came back in this batch) must not be taken as stale.
        for (worker, peer) in self.down_acks.drain(..) {
            out.msgs.push((worker, ToWorker::PeerDownAck { peer }));
        }
        // After the acks: a stop here is for the peer's current session (`peer_down`
        // dropped any meant for an earlier one).
        for (worker, peer, notification) in self.stops.drain(..) {
            out.msgs
                .push((worker, ToWorker::StopPeer { peer, notification }));
        }
        let plan = self.plan();
        plan::encode(plan, out);
    }

    fn peer_up(&mut self, up: PeerUp, now: Instant) {
        let peer = up.peer;
        let mut counters = ([0; NFAM], [0; NFAM]);
        if let Some(p) = self.peers.get(&up.peer) {
            // Stale routes carry the source they were learned with: a peer back with
            // another identity or role starts afresh.
            if p.gr.restarting() && p.up.remote_id == up.remote_id && p.up.rr_client == up.rr_client
            {
                counters = self.resume(&up);
            } else {
                // A new session without a PeerDown for the old one: the old one is gone.
                self.peer_down(up.peer);
            }
        }
        let mut rtc = rt_filter::PeerRtc::new(&up, now);
        if counters.0[Family::RtConstraint as usize] > 0 {
            // Back from a restart with its memberships kept stale: they count until
            // refreshed or swept, as its other routes do.
            rtc.membership = self.kept_membership(peer);
        }
        let key = GroupKey {
            rr_client: up.rr_client,
            codec: up.codec,
            families: up.families,
            rt: rtc.filter(up.families),
        };
        let group = self.groups.join(key, up.peer);
        let out = OutState {
            xoff: false,
            syncing: true,
            // Filtered families wait for the peer's membership (`rt_filter`).
            dump: FamilySet(up.families.0 & !rtc.deferred.0),
            initial: up.families,
        };
        if rtc.deadline.is_some() {
            self.rtc.timed.insert(peer);
        }
        self.rtc.recheck = true;
        tracing::debug!(peer = up.peer, group, "rib: peer up");
        self.peers.insert(
            up.peer,
            Peer {
                up,
                group,
                received: counters.0,
                accepted: counters.1,
                out,
                eor_received: FamilySet::EMPTY,
                limit_warned: false,
                over_limit: false,
                gr: PeerGr::default(),
                rtc,
            },
        );
        self.arm_stale_timer(peer, now);
    }

    fn peer_down(&mut self, peer: PeerId) {
        let Some(p) = self.peers.get(&peer) else {
            return;
        };
        let (families, group, restarting) = (p.up.families, p.group, p.gr.restarting());
        let mut removed = 0;
        for_each_table!(|N| if families.contains(N::FAMILY) {
            removed += self.remove_all::<N>(peer);
        });
        for_each_table!(|N| {
            let fam = N::rib_mut(&mut self.fams);
            fam.pending.take(peer);
            fam.stale.take(peer);
        });
        self.gr_timed.remove(&peer);
        self.rtc.timed.remove(&peer);
        self.rtc.changed.remove(&peer);
        self.rtc.recheck = true;
        // A restarting peer left its group when its session was lost (the id may be
        // another group's by now).
        if !restarting {
            self.groups.leave(group, peer);
        }
        self.peers.remove(&peer);
        self.stops.retain(|s| s.1 != peer);
        tracing::debug!(peer, removed, "rib: peer down");
    }

    /// Withdraws every path of `peer` in one family; returns how many.
    fn remove_all<N: RibNlri>(&mut self, peer: PeerId) -> usize {
        let prefixes: Vec<N> = self.prefixes_of(peer);
        self.withdraw(peer, &prefixes);
        prefixes.len()
    }

    /// The prefixes `peer` has a path for in one family: a table scan (counted), skipped
    /// for a peer that sent none.
    fn prefixes_of<N: RibNlri, C: FromIterator<N> + Default>(&mut self, peer: PeerId) -> C {
        let Some(p) = self.peers.get(&peer) else {
            return C::default();
        };
        if p.received[N::FAMILY as usize] == 0 {
            return C::default();
        }
        self.peer_down_scans += 1;
        N::rib(&self.fams)
            .table
            .iter()
            .filter(|(_, ps)| ps.position(peer).is_some())
            .map(|(k, _)| k)
            .collect()
    }

    /// The best path for `prefix`: its source and (inbound) attributes.
    pub fn best<N: RibNlri>(&self, prefix: N) -> Option<(PeerId, Arc<PathAttrs>)> {
        let e = N::rib(&self.fams).table.get(&prefix)?.best()?;
        Some((e.peer, Arc::new(self.attrs.load(e.attr))))
    }

    /// Prefixes changed since the last flush, all families.
    pub fn dirty_len(&self) -> usize {
        let mut n = 0;
        for_each_table!(|N| n += N::rib(&self.fams).dirty.len());
        n
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

/// The RIB thread's loop: block for one message (or until the next Graceful Restart timer),
/// run the timers due, take up to `MAX_BATCH` messages without blocking, apply them, flush
/// once, hand the bytes to the workers, publish the snapshot. Returns on `ToRib::Shutdown`
/// or when every sender is gone.
pub fn run(
    cfg: RibConfig,
    inbox: crossbeam_channel::Receiver<ToRib>,
    workers: Vec<WorkerHandle>,
    snapshot: Arc<arc_swap::ArcSwap<RibSnapshot>>,
) {
    run_weighted(cfg, inbox, workers, snapshot, Default::default())
}

/// `run`, taking each batch's weight off the workers' shared `msg::InboxWeight`.
pub fn run_weighted(
    cfg: RibConfig,
    inbox: crossbeam_channel::Receiver<ToRib>,
    workers: Vec<WorkerHandle>,
    snapshot: Arc<arc_swap::ArcSwap<RibSnapshot>>,
    weight: crate::msg::InboxWeight,
) {
    let mut rib = Rib::new(cfg);
    let mut out = Outbox::default();
    let mut last_flush: Option<Instant> = None;
    let take = |rib: &mut Rib, msg: ToRib| {
        if let ToRib::Updates { weight: w, .. } = msg {
            let _ = weight.fetch_update(Relaxed, Relaxed, |x| Some(x.saturating_sub(w)));
        }
        rib.handle(msg, Instant::now())
    };
    loop {
        // A timer wake-up (None) runs the timers and flushes what they withdrew.
        let first = match rib.next_deadline() {
            None => match inbox.recv() {
                Ok(msg) => Some(msg),
                Err(_) => break,
            },
            Some(at) => match inbox.recv_deadline(at) {
                Ok(msg) => Some(msg),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => None,
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            },
        };
        let start = Instant::now();
        rib.expire(start);
        let (mut stop, mut n) = (false, 0);
        if let Some(first) = first {
            stop = take(&mut rib, first) == Handled::Shutdown;
            n = 1;
        }
        while !stop && n > 0 && n < MAX_BATCH && rib.dirty_len() < MAX_DIRTY {
            let msg = match inbox.try_recv() {
                Ok(msg) => msg,
                // Nothing more waiting: flush, but not sooner than FLUSH_GAP after the
                // last flush (no wait at all after a quiet spell).
                Err(_) => {
                    let hold = last_flush.map_or(start, |t| t + FLUSH_GAP);
                    let hold = rib.next_deadline().map_or(hold, |d| d.min(hold));
                    match inbox.recv_deadline(hold) {
                        Ok(msg) => msg,
                        Err(_) => break,
                    }
                }
            };
            stop = take(&mut rib, msg) == Handled::Shutdown;
            n += 1;
        }
        rib.flush(&mut out);
        last_flush = Some(Instant::now());
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
        metrics::gauge!(m::RIB_STALE_ROUTES).set(rib.stale_routes() as f64);
        if stop {
            break;
        }
    }
}
