//! A worker thread: one `polling::Poller` and a shard of peers — their sockets, sessions,
//! timers and buffers. Nothing here is shared; no lock is taken per message. The worker
//! parses what it reads, turns each UPDATE's attribute set into the RIB's stored form
//! (`msg::Received`: work the one RIB thread would otherwise do for every peer) and hands
//! the RIB thread one batch per read. The common UPDATE is read in place (`wire::scan`):
//! its attribute bytes already are the stored form, so it is not decoded at all.
//!
//! ```text
//!             ToWorker (Send, AddPeer, RemovePeer, Accepted, Shutdown)
//!  RIB / control / listener ────────────────▶ inbox ──┐  Poller::notify wakes us
//!                                                     ▼
//!  peer sockets ◀──▶ Poller ──▶ read ─ frame ─ decode ─ Session ──▶ ToRib (batches) ──▶ RIB
//!                       ▲                                │
//!                       └── write queues (Arc'd bytes) ◀─┘ Send(OPEN/KEEPALIVE/NOTIFICATION)
//! ```
//!
//! Back-pressure: a peer whose write queue passes `write::HIGH_WATER` gets `ToRib::Xoff`;
//! the RIB then keeps what that peer is owed as RIB state, and `ToRib::Xon` (below
//! `write::LOW_WATER`) makes it send the difference. The queue itself therefore stays
//! bounded.
//!
//! Inbound, the other way round: while the decoded UPDATEs in flight to the RIB thread
//! (all workers together, `msg::InboxWeight`) weigh more than `msg::INBOX_BUDGET`, or its
//! inbox is full, a peer's next batch waits in the worker's backlog (`rib_link`) and that
//! peer is not read (TCP pushes back on it) until the batch is taken. Peers that send
//! nothing for the RIB (KEEPALIVEs only) are still read, so their hold timers never lapse
//! because of it.
//!
//! This file is the loop and its dispatch; beside it, each part with one job:
//!
//! - `rib_link`: everything told to the RIB thread, in order (the batch, the backlog, the
//!   inbox weight);
//! - `read`: reads, framing, the in-place UPDATE path, feeding the session;
//! - `actions`: the session's actions, collisions and Graceful Restart takeovers, closing;
//! - `write`: every write, the output watermarks and the poll interest;
//! - `dial`: outbound connects;
//! - `lifecycle`: neighbors added, removed and stopped, accepted connections, registering
//!   a connection with the poller;
//! - `peer`: a neighbor's state and its decisions (when to dial, hold-down, back-off),
//!   plain methods with the time as a parameter; `conn`: one TCP connection and its buffers;
//!   `graceful`: the Graceful Restart capabilities; `status`: what readers see.

mod actions;
mod conn;
mod dial;
mod graceful;
mod lifecycle;
mod peer;
mod read;
mod rib_link;
pub mod status;
mod write;

use crate::fsm::{Action, State};
use crate::msg::{InboxWeight, PeerId, ToRib, ToWorker, WorkerHandle};
use crate::wire::{notif, Notification};
use arc_swap::ArcSwap;
use conn::Conn;
use crossbeam_channel::{Receiver, Sender};
use hashbrown::HashMap;
use peer::Peer;
use polling::{Event, Events, Poller};
use rib_link::RibLink;
use status::NeighborStatus;
use std::io;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::warn;

/// RIB messages queued before the worker writes them out even if more are waiting, so one
/// long burst is not all held back until the inbox is empty.
const SENDS_PER_FLUSH: usize = 64;
/// How often counters go to metrics and status to readers when nothing else happens.
const PUBLISH_EVERY: Duration = Duration::from_secs(1);
/// How often a worker retries handing the RIB thread what its full inbox refused.
const RIB_RETRY: Duration = Duration::from_millis(5);
/// How long shutdown waits for Cease NOTIFICATIONs to drain.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(2);

#[derive(Clone, Debug)]
pub struct WorkerConfig {
    pub index: usize,
    pub local_asn: u32,
    pub local_id: Ipv4Addr,
    /// Decoded UPDATEs in flight to the RIB thread, shared with the other workers and it.
    pub inbox_weight: InboxWeight,
    /// Beaten on every publish, for `/livez`.
    pub heartbeat: status::Heartbeat,
}

/// Starts a worker thread, pinned to `core` if given.
pub fn spawn(
    cfg: WorkerConfig,
    rib: Sender<ToRib>,
    status: Arc<ArcSwap<Vec<NeighborStatus>>>,
    core: Option<core_affinity::CoreId>,
) -> io::Result<(WorkerHandle, std::thread::JoinHandle<()>)> {
    let poller = Arc::new(Poller::new()?);
    let (tx, inbox) = crossbeam_channel::unbounded();
    let handle = WorkerHandle {
        tx,
        poller: poller.clone(),
    };
    let name = format!("worker-{}", cfg.index);
    let join = std::thread::Builder::new().name(name).spawn(move || {
        if let Some(core) = core {
            if !core_affinity::set_for_current(core) {
                warn!(
                    worker = cfg.index,
                    "could not pin worker to core {}", core.id
                );
            }
        }
        Worker::new(cfg, poller, inbox, rib, status).run();
    })?;
    Ok((handle, join))
}

struct Worker {
    cfg: WorkerConfig,
    poller: Arc<Poller>,
    inbox: Receiver<ToWorker>,
    rib: RibLink,
    status: Arc<ArcSwap<Vec<NeighborStatus>>>,
    peers: HashMap<PeerId, Peer>,
    /// Connections by poll key (the index); freed keys are reused.
    conns: Vec<Option<Conn>>,
    /// Connections with bytes queued by `send_shared` and not yet written.
    unflushed: Vec<usize>,
    free_keys: Vec<usize>,
    /// Scratch buffer reused across calls (no allocation per message).
    actions: Vec<Action>,
    next_due: Instant,
    next_publish: Instant,
    status_dirty: bool,
}

impl Worker {
    fn new(
        cfg: WorkerConfig,
        poller: Arc<Poller>,
        inbox: Receiver<ToWorker>,
        rib: Sender<ToRib>,
        status: Arc<ArcSwap<Vec<NeighborStatus>>>,
    ) -> Worker {
        let now = Instant::now();
        Worker {
            rib: RibLink::new(rib, cfg.inbox_weight.clone()),
            cfg,
            poller,
            inbox,
            status,
            peers: HashMap::new(),
            conns: Vec::new(),
            unflushed: Vec::new(),
            free_keys: Vec::new(),
            actions: Vec::new(),
            next_due: now,
            next_publish: now,
            status_dirty: true,
        }
    }

    /// Hands a message to the RIB thread, behind what this worker told it before, without
    /// ever blocking this thread; a peer whose message has to wait is not read meanwhile.
    fn tell_rib(&mut self, msg: ToRib) {
        self.rib.send(msg);
        self.sync_toggled();
    }

    /// Hands over the UPDATEs read so far.
    fn ship_batch(&mut self) {
        self.rib.ship();
        self.sync_toggled();
    }

    fn drain_rib_backlog(&mut self) {
        self.rib.drain_backlog();
        self.sync_toggled();
    }

    /// True while the connection's peer has messages waiting in the RIB link's backlog.
    fn reads_paused(&self, key: usize) -> bool {
        self.conn(key).is_some_and(|c| self.rib.is_paused(c.peer))
    }

    fn run(mut self) {
        let mut events = Events::new();
        loop {
            if self.rib.has_backlog() {
                self.drain_rib_backlog();
            }
            let mut timeout = self.next_due.saturating_duration_since(Instant::now());
            if self.rib.has_backlog() {
                timeout = timeout.min(RIB_RETRY);
            }
            events.clear();
            if let Err(e) = self.poller.wait(&mut events, Some(timeout)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    warn!(worker = self.cfg.index, "poll failed: {e}");
                }
            }
            // What the RIB sends is queued as it is taken and written after, once per peer
            // (`unflushed`): when the RIB sends faster than we write, the changes that
            // piled up go out in one system call per peer, not one each.
            let now = Instant::now();
            let mut sends = 0;
            while let Ok(msg) = self.inbox.try_recv() {
                let send = matches!(msg, ToWorker::Send { .. });
                if !send {
                    // In order: what was queued for a peer goes out before it is stopped.
                    self.flush_unflushed(now);
                }
                if let ToWorker::Shutdown { message } = msg {
                    self.shutdown(&message);
                    return;
                }
                self.handle_inbox(msg);
                sends += usize::from(send);
                if send && sends % SENDS_PER_FLUSH == 0 {
                    self.flush_unflushed(now);
                }
            }
            self.flush_unflushed(now);
            for ev in events.iter() {
                self.on_event(ev);
            }
            let now = Instant::now();
            if now >= self.next_due {
                self.on_timers(now);
            }
            if self.status_dirty {
                self.publish(now);
            }
        }
    }

    /// One inbox message; a `Send` is only queued (`flush_unflushed` writes it).
    fn handle_inbox(&mut self, msg: ToWorker) {
        let now = Instant::now();
        match msg {
            ToWorker::Send { peers, data } => self.send_shared(&peers, data, now),
            ToWorker::AddPeer { peer, neighbor } => self.add_peer(peer, neighbor, now),
            ToWorker::RemovePeer { peer, subcode } => self.remove_peer(peer, subcode, now),
            ToWorker::Accepted { peer, stream } => self.accepted(peer, stream, now),
            ToWorker::PeerDownAck { peer } => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.awaiting_down_ack = p.awaiting_down_ack.saturating_sub(1);
                }
            }
            ToWorker::StopPeer { peer, notification } => self.stop_peer(peer, notification, now),
            ToWorker::Shutdown { .. } => unreachable!("handled by run"),
        }
    }

    fn conn(&self, key: usize) -> Option<&Conn> {
        self.conns.get(key).and_then(|c| c.as_ref())
    }

    fn conn_mut(&mut self, key: usize) -> Option<&mut Conn> {
        self.conns.get_mut(key).and_then(|c| c.as_mut())
    }

    fn on_event(&mut self, ev: Event) {
        let key = ev.key;
        let now = Instant::now();
        if ev.writable {
            if self.conn(key).is_some_and(|c| c.connecting) {
                self.finish_connect(key, now);
            } else {
                self.write_or_lose(key, now);
            }
        }
        if ev.readable && !self.reads_paused(key) {
            self.on_readable(key, now);
        }
    }

    fn on_timers(&mut self, now: Instant) {
        let mut next = now + PUBLISH_EVERY;
        for key in 0..self.conns.len() {
            let due = self.conn(key).and_then(|c| c.session.next_deadline());
            if due.is_some_and(|d| d <= now) {
                self.with_session(key, now, |s, now, out| s.tick(now, out));
            }
            if let Some(d) = self.conn(key).and_then(|c| c.session.next_deadline()) {
                next = next.min(d);
            }
        }
        let dial: Vec<PeerId> = self
            .peers
            .values()
            .filter(|p| p.dial_due(now))
            .map(|p| p.id)
            .collect();
        for id in dial {
            self.start_connect(id, now);
        }
        for t in self.peers.values().filter_map(Peer::next_dial) {
            next = next.min(t);
        }
        if now >= self.next_publish {
            self.status_dirty = true;
            self.next_publish = now + PUBLISH_EVERY;
        }
        self.next_due = next
            .min(self.next_publish)
            .max(now + Duration::from_millis(1));
    }

    /// The state `p` shows: see `Peer::state`.
    fn peer_state(&self, p: &Peer, now: Instant) -> State {
        let best = p
            .conns
            .iter()
            .filter_map(|k| self.conn(*k))
            .map(|c| c.session.state())
            .max_by_key(|s| s.as_u8());
        p.state(best, now)
    }

    fn publish(&mut self, now: Instant) {
        self.status_dirty = false;
        let mut list: Vec<NeighborStatus> = self
            .peers
            .values()
            .filter(|p| !p.removing)
            .map(|p| {
                let queued = p
                    .conns
                    .iter()
                    .filter_map(|k| self.conn(*k))
                    .map(|c| c.queued_bytes())
                    .sum();
                p.status(self.peer_state(p, now), queued, now)
            })
            .collect();
        list.sort_by_key(|s| s.address);
        self.status.store(Arc::new(list));
        self.cfg.heartbeat.beat(now);
    }

    fn shutdown(&mut self, message: &str) {
        let now = Instant::now();
        let cease = Notification::cease(notif::CEASE_ADMIN_SHUTDOWN, message);
        for key in 0..self.conns.len() {
            let Some(c) = self.conn_mut(key) else {
                continue;
            };
            if c.connecting {
                continue;
            }
            let mut actions = Vec::new();
            c.session.stop(cease.clone(), &mut actions);
            for a in actions {
                if let Action::Send(msg) = a {
                    self.queue_message(key, &msg);
                }
            }
        }
        // Give the NOTIFICATIONs a bounded time to leave.
        self.write_all_until(now + SHUTDOWN_FLUSH);
        for key in 0..self.conns.len() {
            if let Some(c) = self.conns[key].take() {
                let _ = self.poller.delete(&c.stream);
            }
        }
        let empty: Vec<NeighborStatus> = Vec::new();
        self.status.store(Arc::new(empty));
    }
}

#[cfg(test)]
mod tests;
