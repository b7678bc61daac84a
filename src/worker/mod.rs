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
//! Back-pressure: a peer whose write queue passes `HIGH_WATER` gets `ToRib::Xoff`; the RIB
//! then keeps what that peer is owed as RIB state, and `ToRib::Xon` (below `LOW_WATER`)
//! makes it send the difference. The queue itself therefore stays bounded.
//!
//! Inbound, the other way round: while the decoded UPDATEs in flight to the RIB thread
//! (all workers together, `msg::InboxWeight`) weigh more than `msg::INBOX_BUDGET`, or its
//! inbox is full, a peer's next batch waits in the worker's backlog and that peer is not
//! read (TCP pushes back on it) until the batch is taken. Peers that send nothing for the
//! RIB (KEEPALIVEs only) are still read, so their hold timers never lapse because of it.

mod conn;
mod graceful;
mod peer;
pub mod status;

use crate::config::Neighbor;
use crate::fsm::{collision, Action, CloseReason, Session, SessionConfig, State};
use crate::msg::{self, InboxWeight, PeerId, PeerUp, ToRib, ToWorker, WorkerHandle};
use crate::sockopt;
use crate::wire::{self, notif, Message, MessageType, Notification};
use arc_swap::ArcSwap;
use bytes::Bytes;
use conn::{Conn, ReadOutcome};
use crossbeam_channel::{Receiver, Sender};
use hashbrown::HashMap;
use peer::{HoldDown, MessageCounts, Peer};
use polling::{Event, Events, PollMode, Poller};
use socket2::{Domain, Protocol, Socket, Type};
use status::NeighborStatus;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

/// Above this many queued bytes the RIB is asked to hold back (Xoff)...
const HIGH_WATER: usize = 4 << 20;
/// ...and below this it is asked to catch the peer up (Xon).
const LOW_WATER: usize = 1 << 20;
/// Reads per readiness event, so one busy peer cannot starve the rest of the shard.
const READS_PER_EVENT: usize = 8;
/// Decoded UPDATEs per message to the RIB. A decoded UPDATE is several times its wire size,
/// so this (with the RIB queue's length) bounds the memory of input waiting for the RIB.
const UPDATES_PER_BATCH: usize = 256;
/// RIB messages queued before the worker writes them out even if more are waiting, so one
/// long burst is not all held back until the inbox is empty.
const SENDS_PER_FLUSH: usize = 64;
/// How often counters go to metrics and status to readers when nothing else happens.
const PUBLISH_EVERY: Duration = Duration::from_secs(1);
/// How often a worker retries handing the RIB thread what its full inbox refused.
const RIB_RETRY: Duration = Duration::from_millis(5);
/// A batch is handed over once its decoded UPDATEs weigh this much, even mid-event, so
/// that one worker overshoots `msg::INBOX_BUDGET` by at most about one batch.
const BATCH_WEIGHT: usize = 1 << 20;
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
    rib: Sender<ToRib>,
    status: Arc<ArcSwap<Vec<NeighborStatus>>>,
    peers: HashMap<PeerId, Peer>,
    /// Connections by poll key (the index); freed keys are reused.
    conns: Vec<Option<Conn>>,
    /// Connections with bytes queued by `send_shared` and not yet written.
    unflushed: Vec<usize>,
    free_keys: Vec<usize>,
    /// Scratch buffers reused across calls (no allocation per message).
    actions: Vec<Action>,
    batch: Batch,
    next_due: Instant,
    next_publish: Instant,
    status_dirty: bool,
    /// Messages the RIB thread's (bounded) inbox had no room for, in order. While any wait
    /// here every new message queues behind them, so none of a peer's messages overtakes
    /// an earlier one (a PeerDown its UPDATEs, say).
    rib_backlog: std::collections::VecDeque<ToRib>,
    /// Peers with messages in `rib_backlog`, and how many. Their sockets are not read (TCP
    /// pushes back on them) until the last one is delivered: OpenBGPD's XOFF, per peer. A
    /// peer is paused after one read burst at most, so the backlog stays bounded. Peers
    /// not in here are still read: their KEEPALIVEs reach no RIB, and keep the hold timer
    /// going however long the RIB thread is busy; timers and writes go on for everyone.
    backlogged: HashMap<PeerId, usize>,
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
            cfg,
            poller,
            inbox,
            rib,
            status,
            peers: HashMap::new(),
            conns: Vec::new(),
            unflushed: Vec::new(),
            free_keys: Vec::new(),
            actions: Vec::new(),
            batch: Batch::default(),
            next_due: now,
            next_publish: now,
            status_dirty: true,
            rib_backlog: std::collections::VecDeque::new(),
            backlogged: HashMap::new(),
        }
    }

    /// Hands a message to the RIB thread without ever blocking this thread.
    fn tell_rib(&mut self, msg: ToRib) {
        if self.rib_backlog.is_empty() {
            if let Err(msg) = self.deliver(msg) {
                self.hold_back(msg);
            }
        } else {
            self.hold_back(msg);
        }
    }

    /// One try to put `msg` in the RIB's inbox. UPDATEs also wait while the decoded input
    /// already in the inbox (all workers together) weighs more than `msg::INBOX_BUDGET`;
    /// their weight is counted from the moment they are in the inbox, so what waits in a
    /// backlog can always go once the RIB thread has caught up.
    fn deliver(&mut self, msg: ToRib) -> Result<(), ToRib> {
        let weight = match &msg {
            ToRib::Updates { weight, .. } => {
                if self.inbox_over_budget() {
                    return Err(msg);
                }
                *weight
            }
            _ => 0,
        };
        let inbox = &self.cfg.inbox_weight;
        inbox.fetch_add(weight, std::sync::atomic::Ordering::Relaxed);
        match self.rib.try_send(msg) {
            Ok(()) | Err(crossbeam_channel::TrySendError::Disconnected(_)) => Ok(()),
            Err(crossbeam_channel::TrySendError::Full(msg)) => {
                inbox.fetch_sub(weight, std::sync::atomic::Ordering::Relaxed);
                Err(msg)
            }
        }
    }

    /// Queues a message behind the backlog and stops reading its peer.
    fn hold_back(&mut self, msg: ToRib) {
        if let Some(peer) = rib_peer(&msg) {
            let waiting = self.backlogged.entry(peer).or_default();
            *waiting += 1;
            if *waiting == 1 {
                self.sync_peer_interest(peer);
            }
        }
        self.rib_backlog.push_back(msg);
    }

    /// Retries the backlog, in order; a peer is read again once its last message is out.
    fn drain_rib_backlog(&mut self) {
        while let Some(msg) = self.rib_backlog.pop_front() {
            let peer = rib_peer(&msg);
            if let Err(msg) = self.deliver(msg) {
                self.rib_backlog.push_front(msg);
                return;
            }
            let Some(peer) = peer else { continue };
            if let Some(waiting) = self.backlogged.get_mut(&peer) {
                *waiting -= 1;
                if *waiting == 0 {
                    self.backlogged.remove(&peer);
                    self.sync_peer_interest(peer);
                }
            }
        }
    }

    fn inbox_over_budget(&self) -> bool {
        self.cfg
            .inbox_weight
            .load(std::sync::atomic::Ordering::Relaxed)
            > msg::INBOX_BUDGET
    }

    /// True while the connection's peer has messages waiting in the backlog.
    fn reads_paused(&self, key: usize) -> bool {
        self.conn(key)
            .is_some_and(|c| self.backlogged.contains_key(&c.peer))
    }

    fn sync_peer_interest(&mut self, peer: PeerId) {
        let keys = self.peers.get(&peer).map(|p| p.conns.clone());
        for key in keys.into_iter().flatten() {
            self.sync_interest(key);
        }
    }

    fn run(mut self) {
        let mut events = Events::new();
        loop {
            if !self.rib_backlog.is_empty() {
                self.drain_rib_backlog();
            }
            let mut timeout = self.next_due.saturating_duration_since(Instant::now());
            if !self.rib_backlog.is_empty() {
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

    fn add_peer(&mut self, id: PeerId, neighbor: Arc<Neighbor>, now: Instant) {
        let session_cfg = Arc::new(SessionConfig {
            local_asn: self.cfg.local_asn,
            local_id: self.cfg.local_id,
            remote_asn: neighbor.asn,
            hold_time: neighbor.hold_time,
            families: neighbor.families.iter().copied().collect(),
            connect_retry: neighbor.connect_retry,
            graceful_restart: graceful::our_capability(&neighbor),
        });
        info!(neighbor = %neighbor.address, passive = neighbor.passive, "neighbor added");
        let peer = Peer::new(id, neighbor, session_cfg, now);
        self.peers.insert(id, peer);
        self.next_due = now;
        self.status_dirty = true;
    }

    fn remove_peer(&mut self, id: PeerId, subcode: u8, now: Instant) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        peer.removing = true;
        peer.next_connect = None;
        // A session lost with Graceful Restart left stale routes in the RIB that only the
        // peer's return would clear: a removed neighbor will not return. (A PeerDown for a
        // peer the RIB does not hold is a no-op; its ack finds the peer gone.)
        let lost_earlier = peer.established.is_none();
        info!(neighbor = %peer.neighbor.address, "neighbor removed");
        for key in peer.conns.clone() {
            self.stop_conn(key, Notification::cease(subcode, ""), now);
        }
        if lost_earlier {
            self.tell_rib(ToRib::PeerDown { peer: id });
        }
        self.reap_peer(id);
        self.status_dirty = true;
    }

    /// Ends the peer's established session on the RIB's request, keeping the neighbor.
    fn stop_peer(&mut self, id: PeerId, n: Notification, now: Instant) {
        let Some(p) = self.peers.get(&id) else {
            return;
        };
        // Sent before the RIB saw the PeerDown of the session it was meant for: that
        // session is gone, and the one now up (if any) has not been judged.
        if p.awaiting_down_ack > 0 {
            return;
        }
        let Some(key) = p.established else { return };
        let max_prefixes = n.code == notif::CEASE && n.subcode == notif::CEASE_MAX_PREFIXES;
        let restart = p.neighbor.max_prefixes_restart;
        self.stop_conn(key, n, now);
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        if max_prefixes {
            p.last_error = Some("max_prefixes exceeded".into());
            // RFC 4486 §4 leaves when to reconnect to configuration.
            match restart {
                None => {}
                Some(0) => {
                    p.held_down = Some(HoldDown::UntilReload);
                    p.next_connect = None;
                }
                Some(secs) => {
                    let until = now + Duration::from_secs(secs.into());
                    p.held_down = Some(HoldDown::Until(until));
                    if !p.neighbor.passive {
                        p.next_connect = Some(until);
                    }
                    self.next_due = self.next_due.min(until);
                }
            }
            if let Some(h) = p.held_down {
                info!(neighbor = %p.neighbor.address, "held down after max_prefixes: {h}");
            }
        }
        self.status_dirty = true;
    }

    /// Forgets a removed peer once its connections are gone.
    fn reap_peer(&mut self, id: PeerId) {
        if self
            .peers
            .get(&id)
            .is_some_and(|p| p.removing && p.conns.is_empty())
        {
            self.peers.remove(&id);
        }
    }

    fn accepted(&mut self, id: PeerId, stream: TcpStream, now: Instant) {
        let Some(peer) = self.peers.get(&id) else {
            return;
        };
        if peer.removing || peer.is_held_down(now) {
            return;
        }
        // A peer dialling again has given up on its previous inbound connection: the newer
        // one wins (fsm::collision, same direction). An Established one stays, and the RFC
        // 4271 §6.8 check closes the newcomer once its OPEN arrives.
        let stale: Vec<usize> = peer
            .conns
            .iter()
            .copied()
            .filter(|k| {
                self.conn(*k)
                    .is_some_and(|c| !c.outbound && c.session.state() != State::Established)
            })
            .collect();
        let address = peer.neighbor.address;
        for key in stale {
            debug!(neighbor = %address, "older inbound connection replaced");
            self.stop_conn(key, collision::collision_notification(), now);
        }
        let Some(peer) = self.peers.get(&id) else {
            return;
        };
        let cfg = peer.session_cfg.clone();
        if stream.set_nonblocking(true).is_err() || stream.set_nodelay(true).is_err() {
            return;
        }
        let conn = Conn::new(id, stream, false, false, Session::new(cfg));
        let Some(key) = self.register(conn) else {
            return;
        };
        self.with_session(key, now, |s, now, out| s.connected(now, out));
    }

    fn start_connect(&mut self, id: PeerId, now: Instant) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        peer.next_connect = None;
        let n = peer.neighbor.clone();
        let cfg = peer.session_cfg.clone();
        let remote = SocketAddr::new(n.address, n.port);
        let dial = || -> io::Result<(TcpStream, bool)> {
            let sock = Socket::new(
                Domain::for_address(remote),
                Type::STREAM,
                Some(Protocol::TCP),
            )?;
            sock.set_nonblocking(true)?;
            sock.set_tcp_nodelay(true)?;
            // Both protections before the SYN: the handshake itself is signed, and a reply
            // from further than one hop is dropped by the kernel before we read a byte.
            if let Some(p) = &n.md5_password {
                sockopt::set_md5_key(&sock, n.address, p.0.as_bytes())
                    .map_err(|e| io::Error::new(e.kind(), format!("TCP MD5 key: {e}")))?;
            }
            if n.ttl_security {
                sockopt::set_gtsm(&sock, n.address)
                    .map_err(|e| io::Error::new(e.kind(), format!("GTSM: {e}")))?;
            }
            if let Some(local) = n.local_address {
                sock.bind(&SocketAddr::new(local, 0).into())?;
            }
            match sock.connect(&remote.into()) {
                Ok(()) => Ok((sock.into(), false)),
                Err(e)
                    if e.raw_os_error() == Some(libc::EINPROGRESS)
                        || e.kind() == io::ErrorKind::WouldBlock =>
                {
                    Ok((sock.into(), true))
                }
                Err(e) => Err(e),
            }
        };
        match dial() {
            Ok((stream, pending)) => {
                debug!(neighbor = %n.address, "connecting");
                let conn = Conn::new(id, stream, true, pending, Session::new(cfg));
                match self.register(conn) {
                    Some(key) if !pending => {
                        self.with_session(key, now, |s, now, out| s.connected(now, out))
                    }
                    Some(_) => {}
                    None => self.connect_failed(id, "cannot poll the socket", now),
                }
            }
            Err(e) => self.connect_failed(id, &e.to_string(), now),
        }
        self.status_dirty = true;
    }

    fn connect_failed(&mut self, id: PeerId, why: &str, now: Instant) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        debug!(neighbor = %peer.neighbor.address, "connect failed: {why}");
        peer.last_error = Some(format!("connect: {why}"));
        // close_conn may already have scheduled the retry: one failure, one back-off step.
        if peer.conns.is_empty()
            && !peer.neighbor.passive
            && !peer.removing
            && peer.next_connect.is_none()
        {
            let at = now + peer.backoff.next_delay();
            peer.next_connect = Some(at);
            self.next_due = self.next_due.min(at);
        }
    }

    fn register(&mut self, conn: Conn) -> Option<usize> {
        let key = self.free_keys.pop().unwrap_or(self.conns.len());
        let interest = if conn.connecting {
            Event::writable(key)
        } else {
            Event::readable(key)
        };
        // SAFETY: the stream stays owned by `self.conns[key]` and is removed from the poller
        // in `close_conn` before it is dropped, as `Poller::add` requires.
        #[allow(unsafe_code)]
        let added = unsafe {
            self.poller
                .add_with_mode(&conn.stream, interest, PollMode::Level)
        };
        if let Err(e) = added {
            warn!("cannot poll socket: {e}");
            self.free_keys.push(key);
            return None;
        }
        let peer = conn.peer;
        if key == self.conns.len() {
            self.conns.push(Some(conn));
        } else {
            self.conns[key] = Some(conn);
        }
        if let Some(p) = self.peers.get_mut(&peer) {
            p.conns.push(key);
        }
        // Registered with reads on; a paused worker turns them off here.
        self.sync_interest(key);
        self.status_dirty = true;
        Some(key)
    }

    fn conn(&self, key: usize) -> Option<&Conn> {
        self.conns.get(key).and_then(|c| c.as_ref())
    }

    fn conn_mut(&mut self, key: usize) -> Option<&mut Conn> {
        self.conns.get_mut(key).and_then(|c| c.as_mut())
    }

    /// Runs one session call and then the actions it produced.
    fn with_session(
        &mut self,
        key: usize,
        now: Instant,
        f: impl FnOnce(&mut Session, Instant, &mut Vec<Action>),
    ) {
        let mut actions = std::mem::take(&mut self.actions);
        if let Some(c) = self.conn_mut(key) {
            f(&mut c.session, now, &mut actions);
        }
        self.run_actions(key, &mut actions, now);
        self.actions = actions;
    }

    fn on_event(&mut self, ev: Event) {
        let key = ev.key;
        let now = Instant::now();
        if ev.writable {
            if self.conn(key).is_some_and(|c| c.connecting) {
                self.finish_connect(key, now);
            } else {
                self.flush(key, now);
            }
        }
        if ev.readable && !self.reads_paused(key) {
            self.on_readable(key, now);
        }
    }

    fn finish_connect(&mut self, key: usize, now: Instant) {
        let Some(c) = self.conn_mut(key) else { return };
        let err = match c.stream.take_error() {
            Ok(None) => c.stream.peer_addr().err(),
            Ok(Some(e)) | Err(e) => Some(e),
        };
        match err {
            None => {
                c.connecting = false;
                self.sync_interest(key);
                self.with_session(key, now, |s, now, out| s.connected(now, out));
            }
            Some(e) => {
                let peer = c.peer;
                self.close_conn(key, None, now);
                self.connect_failed(peer, &e.to_string(), now);
            }
        }
    }

    fn on_readable(&mut self, key: usize, now: Instant) {
        for _ in 0..READS_PER_EVENT {
            if self.batch.weight > BATCH_WEIGHT {
                self.send_batch(key);
            }
            // Paused by this very event, once what it read found the RIB's inbox full.
            if self.reads_paused(key) {
                break;
            }
            let Some(c) = self.conn_mut(key) else { return };
            let peer = c.peer;
            match c.read_some() {
                Ok(ReadOutcome::Data(n)) => {
                    if let Some(p) = self.peers.get_mut(&peer) {
                        p.counters.bytes_in += n as u64;
                    }
                    if !self.parse(key, now) {
                        break;
                    }
                    // With the RIB behind, this read's UPDATEs go now (or join the backlog,
                    // which pauses the peer) instead of after READS_PER_EVENT reads.
                    if !self.rib_backlog.is_empty() || self.rib.is_full() {
                        self.send_batch(key);
                    }
                }
                Ok(ReadOutcome::WouldBlock) => break,
                Ok(ReadOutcome::Closed) => {
                    self.with_session(key, now, |s, _, out| s.connection_lost(out));
                    break;
                }
                Err(e) => {
                    debug!("read failed: {e}");
                    self.with_session(key, now, |s, _, out| s.connection_lost(out));
                    break;
                }
            }
        }
        self.send_batch(key);
    }

    /// Decodes every whole message in the read buffer and feeds the session.
    /// Returns false once the connection is closed.
    fn parse(&mut self, key: usize, now: Instant) -> bool {
        loop {
            match self.parse_until_open(key, now) {
                Parsed::Closed => return false,
                Parsed::All => return true,
                // `run_actions` has judged the collision; the loser is closed by now.
                Parsed::OpenAccepted if self.conn(key).is_none() => return false,
                Parsed::OpenAccepted => {}
                Parsed::BatchFull => self.send_batch(key),
            }
        }
    }

    /// `parse`'s step: stops after a message that accepted the peer's OPEN, so that RFC
    /// 4271 §6.8 is applied while this connection is in OpenConfirm, before a KEEPALIVE
    /// behind it in the same read makes it Established (an Established connection always
    /// wins, whatever the BGP Identifiers say).
    fn parse_until_open(&mut self, key: usize, now: Instant) -> Parsed {
        let mut actions = std::mem::take(&mut self.actions);
        let Some(c) = self.conns.get_mut(key).and_then(|c| c.as_mut()) else {
            return Parsed::Closed;
        };
        let peer = self.peers.get_mut(&c.peer);
        let mut counters = peer.map(|p| &mut p.counters);
        let (mut open_accepted, mut batch_full) = (false, false);
        // Fixed for the whole call: only an accepted OPEN changes it, and that ends the call.
        let ctx = c.session.codec();
        let (rbuf, session) = c.read_parts();
        let mut frames = wire::Frames::new(rbuf, ctx.max_message_len());
        for frame in frames.by_ref() {
            match frame {
                Ok(f) => {
                    if let Some(cn) = counters.as_deref_mut() {
                        cn.msgs_in[f.kind()] += 1;
                    }
                    // The common UPDATE skips the decoder (`wire::scan`). Only while no
                    // action waits: the batch must keep the peer's order.
                    if f.kind() == MessageType::Update
                        && actions.is_empty()
                        && session.state() == State::Established
                    {
                        if let Some(r) = msg::Received::scanned(f.body(), &ctx) {
                            session.update_read_in_place(now);
                            if self.batch.push(r) {
                                batch_full = true;
                                break;
                            }
                            continue;
                        }
                    }
                    match wire::decode(f.bytes(), &ctx) {
                        Ok(msg) => {
                            if let (Message::Notification(nt), Some(cn)) =
                                (&msg, counters.as_deref_mut())
                            {
                                *cn.notif_in.entry((nt.code, nt.subcode)).or_default() += 1;
                            }
                            let before = session.state();
                            session.receive(msg, now, &mut actions);
                            open_accepted = before != State::OpenConfirm
                                && session.state() == State::OpenConfirm;
                        }
                        Err(e) => session.decode_error(&e, &mut actions),
                    }
                }
                Err(e) => session.decode_error(&e, &mut actions),
            }
            if open_accepted || matches!(actions.last(), Some(Action::Close(_))) {
                break;
            }
        }
        let pos = frames.consumed();
        c.consume(pos);
        let closed = actions.iter().any(|a| matches!(a, Action::Close(_)));
        self.run_actions(key, &mut actions, now);
        self.actions = actions;
        match (closed, open_accepted, batch_full) {
            (true, _, _) => Parsed::Closed,
            (false, true, _) => Parsed::OpenAccepted,
            (false, false, true) => Parsed::BatchFull,
            (false, false, false) => Parsed::All,
        }
    }

    fn run_actions(&mut self, key: usize, actions: &mut Vec<Action>, now: Instant) {
        for action in actions.drain(..) {
            let Some(c) = self.conns.get_mut(key).and_then(|c| c.as_mut()) else {
                return;
            };
            let peer_id = c.peer;
            match action {
                Action::Send(msg) => {
                    let mut out = Vec::with_capacity(64);
                    wire::encode(&msg, &c.session.codec(), &mut out);
                    if let Some(p) = self.peers.get_mut(&peer_id) {
                        p.counters.msgs_out[msg.message_type()] += 1;
                        if let Message::Notification(n) = &msg {
                            *p.counters.notif_out.entry((n.code, n.subcode)).or_default() += 1;
                        }
                    }
                    c.queue(Bytes::from(out));
                    self.flush(key, now);
                }
                Action::Established(neg) => self.established(key, neg, now),
                Action::Update(u) => {
                    if let Some(p) = self.peers.get_mut(&peer_id) {
                        for e in &u.attr_errors {
                            match e.action {
                                wire::AttrAction::TreatAsWithdraw => {
                                    p.counters.treat_as_withdraw += 1
                                }
                                wire::AttrAction::Discard => p.counters.attr_discard += 1,
                            }
                            warn!(neighbor = %p.neighbor.address, attribute = e.code, action = ?e.action, "malformed attribute: {}", e.reason);
                        }
                    }
                    let was_withdraw = u.treat_as_withdraw;
                    let r = msg::Received::of(u);
                    if r.treat_as_withdraw && !was_withdraw {
                        if let Some(p) = self.peers.get_mut(&peer_id) {
                            p.counters.treat_as_withdraw += 1;
                            warn!(neighbor = %p.neighbor.address, action = ?wire::AttrAction::TreatAsWithdraw, "malformed attribute: AS_PATH (4-octet) or CLUSTER_LIST (with ours) over 65535 bytes");
                        }
                    }
                    if self.batch.push(r) {
                        self.send_batch(key);
                    }
                }
                Action::RouteRefresh(family) => {
                    self.send_batch(key);
                    self.tell_rib(ToRib::RouteRefresh {
                        peer: peer_id,
                        family,
                    });
                }
                Action::Close(reason) => {
                    // Deliver what was read before the close, then tear down.
                    self.send_batch(key);
                    if reason == CloseReason::ConnectionLost {
                        if let Some(c) = self.conn_mut(key) {
                            c.lost = true;
                        }
                    }
                    let _ = self.conn_mut(key).map(|c| c.flush());
                    self.close_conn(key, Some(reason.to_string()), now);
                    return;
                }
            }
        }
        self.next_due = self.next_due.min(
            self.conn(key)
                .and_then(|c| c.session.next_deadline())
                .unwrap_or(self.next_due),
        );
        self.check_collision(key, now);
    }

    fn established(&mut self, key: usize, neg: crate::fsm::Negotiated, now: Instant) {
        let Some(c) = self.conn(key) else { return };
        let peer_id = c.peer;
        // `check_collision` judged this connection in OpenConfirm (`parse` stops after an
        // accepted OPEN); this only backs it up should an Established one be left over.
        let old = self.peers.get(&peer_id).and_then(|p| p.established);
        if let Some(old) = old.filter(|&k| k != key) {
            if self.is_restart(key, old) {
                self.take_over(old, now);
            } else {
                self.stop_conn(key, collision::collision_notification(), now);
                return;
            }
        }
        let Some(p) = self.peers.get_mut(&peer_id) else {
            return;
        };
        info!(neighbor = %p.neighbor.address, remote_id = %neg.remote_id, hold = neg.hold_time, "session established");
        p.established = Some(key);
        p.next_connect = None;
        p.since = now;
        p.counters.established += 1;
        p.backoff.reset();
        p.last_error = None;
        let up = PeerUp {
            peer: peer_id,
            worker: self.cfg.index,
            address: p.neighbor.address,
            remote_asn: neg.remote_asn,
            remote_id: neg.remote_id,
            rr_client: p.neighbor.rr_client,
            families: neg.families,
            codec: neg.codec,
            route_refresh: neg.route_refresh,
            max_prefixes: p.neighbor.max_prefixes,
            graceful_restart: graceful::peer_capability(&p.neighbor, &neg),
        };
        p.negotiated = Some(neg);
        let others: Vec<usize> = p.conns.iter().copied().filter(|k| *k != key).collect();
        for other in others {
            let n = Notification::cease(notif::CEASE_COLLISION_RESOLUTION, "");
            self.stop_conn(other, n, now);
        }
        self.tell_rib(ToRib::PeerUp(up));
        self.status_dirty = true;
    }

    /// RFC 4724 §4.2: an OPEN with Graceful Restart on `new` from a peer that advertised it
    /// on `old`, which we still think Established, means the peer restarted and `old` is
    /// half dead. Then `old` ends as if lost and `new` goes on, instead of the RFC 4271 §6.8
    /// rule that keeps the Established one.
    fn is_restart(&self, new: usize, old: usize) -> bool {
        let has_gr = |k: usize| {
            self.conn(k).is_some_and(|c| {
                c.session
                    .negotiated()
                    .is_some_and(|n| n.graceful_restart.is_some())
            })
        };
        let Some(c) = self.conn(new) else {
            return false;
        };
        self.peers
            .get(&c.peer)
            .is_some_and(|p| p.neighbor.graceful_restart && p.established == Some(old))
            && has_gr(new)
            && has_gr(old)
    }

    /// Ends the half-dead `old` session of a restarted peer without a NOTIFICATION, so the
    /// RIB keeps its routes stale (`ToRib::PeerLost`).
    fn take_over(&mut self, old: usize, now: Instant) {
        let Some(o) = self.conn_mut(old) else { return };
        o.lost = true;
        let peer = o.peer;
        if let Some(p) = self.peers.get(&peer) {
            info!(neighbor = %p.neighbor.address, "peer restarted: its new connection replaces the Established session (graceful restart)");
        }
        self.close_conn(old, Some("peer restarted (new connection)".into()), now);
    }

    /// RFC 4271 §6.8: once a connection has accepted the peer's OPEN, at most one of the
    /// peer's two connections may go on (see `fsm::collision` for the rule).
    fn check_collision(&mut self, key: usize, now: Instant) {
        let Some(c) = self.conn(key) else { return };
        let (peer_id, new_local) = (c.peer, c.outbound);
        let Some(remote_id) = c.session.remote_id() else {
            return;
        };
        if c.session.state() != State::OpenConfirm {
            return;
        }
        let Some(p) = self.peers.get(&peer_id) else {
            return;
        };
        let Some(&other) = p.conns.iter().find(|k| **k != key) else {
            return;
        };
        let Some(o) = self.conn(other) else { return };
        let other_state = o.session.state();
        if !matches!(other_state, State::OpenConfirm | State::Established) {
            return;
        }
        if other_state == State::Established && self.is_restart(key, other) {
            self.take_over(other, now);
            return;
        }
        let survivor = collision::resolve_collision(
            &p.session_cfg,
            remote_id,
            other_state,
            o.outbound,
            new_local,
        );
        let loser = if survivor == collision::Survivor::Existing {
            key
        } else {
            other
        };
        debug!(neighbor = %p.neighbor.address, "connection collision resolved");
        self.stop_conn(loser, collision::collision_notification(), now);
    }

    /// Sends a NOTIFICATION (if the session got that far) and closes.
    fn stop_conn(&mut self, key: usize, n: Notification, now: Instant) {
        if self.conn(key).is_some_and(|c| c.connecting) {
            self.close_conn(key, Some("stopped".into()), now);
            return;
        }
        self.with_session(key, now, |s, _, out| s.stop(n, out));
        if self.conn(key).is_some() {
            self.close_conn(key, Some("stopped".into()), now);
        }
    }

    fn close_conn(&mut self, key: usize, reason: Option<String>, now: Instant) {
        let Some(c) = self.conns.get_mut(key).and_then(|c| c.take()) else {
            return;
        };
        let _ = self.poller.delete(&c.stream);
        self.free_keys.push(key);
        let _ = c.stream.shutdown(std::net::Shutdown::Both);
        let Some(p) = self.peers.get_mut(&c.peer) else {
            return;
        };
        p.conns.retain(|k| *k != key);
        if let Some(r) = &reason {
            p.last_error = Some(r.clone());
        }
        let was_established = p.established == Some(key);
        if was_established {
            let uptime = now.duration_since(p.since);
            p.established = None;
            p.negotiated = None;
            p.since = now;
            p.awaiting_down_ack += 1;
            info!(neighbor = %p.neighbor.address, reason = reason.as_deref().unwrap_or(""), "session down");
            // A session that failed waits before dialling again, longer the more it flaps
            // (RFC 4271 §8.1.1, DampPeerOscillations in spirit).
            if !p.neighbor.passive && !p.removing {
                let at = now + p.backoff.idle_hold(uptime);
                p.next_connect = Some(at);
                self.next_due = self.next_due.min(at);
            }
        }
        if p.conns.is_empty() && !p.neighbor.passive && !p.removing && p.next_connect.is_none() {
            let at = now + p.backoff.next_delay();
            p.next_connect = Some(at);
            self.next_due = self.next_due.min(at);
        }
        if was_established && c.lost {
            self.tell_rib(ToRib::PeerLost { peer: c.peer });
        } else if was_established {
            self.tell_rib(ToRib::PeerDown { peer: c.peer });
        }
        let id = c.peer;
        self.reap_peer(id);
        self.status_dirty = true;
    }

    fn send_batch(&mut self, key: usize) {
        if self.batch.updates.is_empty() {
            return;
        }
        let weight = std::mem::take(&mut self.batch.weight);
        let Some(peer) = self.conn(key).map(|c| c.peer) else {
            self.batch.updates.clear();
            return;
        };
        // The next batch is likely as long as this one (a table transfer: full batches;
        // churn: single UPDATEs): sized so, it is not regrown and copied as it fills.
        let next = Vec::with_capacity(self.batch.updates.len());
        let updates = std::mem::replace(&mut self.batch.updates, next);
        self.tell_rib(ToRib::Updates {
            peer,
            updates,
            weight,
        });
    }

    /// Queues bytes the RIB encoded once for several peers of this worker;
    /// `flush_unflushed` writes them.
    fn send_shared(&mut self, peers: &[PeerId], data: Bytes, now: Instant) {
        let sent = count_messages(&data);
        for id in peers {
            let Some(p) = self.peers.get_mut(id) else {
                continue;
            };
            // Bytes the RIB produced for a session that has since gone down are stale.
            let Some(key) = p.established.filter(|_| p.awaiting_down_ack == 0) else {
                continue;
            };
            for (t, n) in sent.iter() {
                p.counters.msgs_out[t] += n;
            }
            if let Some(c) = self.conn_mut(key) {
                c.queue(data.clone());
                c.session.update_sent(now);
                self.unflushed.push(key);
            }
        }
    }

    fn flush_unflushed(&mut self, now: Instant) {
        let mut keys = std::mem::take(&mut self.unflushed);
        keys.sort_unstable();
        keys.dedup();
        for &key in &keys {
            self.flush(key, now);
        }
        keys.clear();
        self.unflushed = keys;
    }

    fn flush(&mut self, key: usize, now: Instant) {
        let Some(c) = self.conn_mut(key) else { return };
        match c.flush() {
            Ok(n) => {
                let (peer, queued, xoff) = (c.peer, c.queued_bytes(), c.xoff);
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.counters.bytes_out += n as u64;
                }
                let established = self
                    .peers
                    .get(&peer)
                    .is_some_and(|p| p.established == Some(key));
                if established && !xoff && queued > HIGH_WATER {
                    if let Some(c) = self.conn_mut(key) {
                        c.xoff = true;
                    }
                    if let Some(p) = self.peers.get(&peer) {
                        debug!(neighbor = %p.neighbor.address, queued, "output throttled (Xoff)");
                    }
                    self.tell_rib(ToRib::Xoff { peer });
                } else if established && xoff && queued < LOW_WATER {
                    if let Some(c) = self.conn_mut(key) {
                        c.xoff = false;
                    }
                    if let Some(p) = self.peers.get(&peer) {
                        debug!(neighbor = %p.neighbor.address, queued, "output resumed (Xon)");
                    }
                    self.tell_rib(ToRib::Xon { peer });
                }
                self.sync_interest(key);
            }
            Err(e) => {
                debug!("write failed: {e}");
                self.with_session(key, now, |s, _, out| s.connection_lost(out));
            }
        }
    }

    fn sync_interest(&mut self, key: usize) {
        let paused = self.reads_paused(key);
        let Some(c) = self.conns.get_mut(key).and_then(|c| c.as_mut()) else {
            return;
        };
        let want_write = c.connecting || c.queued_bytes() > 0;
        let want_read = !c.connecting && !paused;
        if want_write != c.write_interest || want_read != c.read_interest {
            c.write_interest = want_write;
            c.read_interest = want_read;
            let ev = match (want_read, want_write) {
                (true, true) => Event::all(key),
                (true, false) => Event::readable(key),
                (false, true) => Event::writable(key),
                (false, false) => Event::none(key),
            };
            let _ = self.poller.modify_with_mode(&c.stream, ev, PollMode::Level);
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
            .filter(|p| {
                p.conns.is_empty()
                    && !p.removing
                    && !p.is_held_down(now)
                    && p.next_connect.is_some_and(|t| t <= now)
            })
            .map(|p| p.id)
            .collect();
        for id in dial {
            self.start_connect(id, now);
        }
        // A dial time only matters while there is no connection (a stale one in the past
        // would otherwise make the loop spin).
        for p in self.peers.values().filter(|p| p.conns.is_empty()) {
            if let Some(t) = p.next_connect {
                next = next.min(t);
            }
        }
        if now >= self.next_publish {
            self.status_dirty = true;
            self.next_publish = now + PUBLISH_EVERY;
        }
        self.next_due = next
            .min(self.next_publish)
            .max(now + Duration::from_millis(1));
    }

    /// The RFC 4271 §8.2.2 state shown for `p`: its most advanced connection's (a dial in
    /// progress is Connect). With none, it is Active, as BIRD and GoBGP show it: RFC 4271
    /// Active listens for the peer's connection, and a neighbor that dials goes back to
    /// Active after a failed attempt, until its ConnectRetryTimer sends it to Connect again;
    /// a passive neighbor waits in Active. Idle refuses the peer's connections, which only
    /// a neighbor held down after `max_prefixes` (or being removed) does.
    fn peer_state(&self, p: &Peer, now: Instant) -> State {
        if p.established.is_some() {
            return State::Established;
        }
        let best = p
            .conns
            .iter()
            .filter_map(|k| self.conn(*k))
            .map(|c| c.session.state())
            .max_by_key(|s| s.as_u8());
        match best {
            Some(s) => s,
            None if p.removing || p.is_held_down(now) => State::Idle,
            None => State::Active,
        }
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
                    let mut out = Vec::new();
                    wire::encode(&msg, &c.session.codec(), &mut out);
                    c.queue(Bytes::from(out));
                }
            }
        }
        // Give the NOTIFICATIONs a bounded time to leave.
        let deadline = now + SHUTDOWN_FLUSH;
        while Instant::now() < deadline {
            let mut pending = false;
            for c in self.conns.iter_mut().flatten() {
                if c.queued_bytes() > 0 && c.flush().is_ok() && c.queued_bytes() > 0 {
                    pending = true;
                }
            }
            if !pending {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        for key in 0..self.conns.len() {
            if let Some(c) = self.conns[key].take() {
                let _ = self.poller.delete(&c.stream);
            }
        }
        let empty: Vec<NeighborStatus> = Vec::new();
        self.status.store(Arc::new(empty));
    }
}

/// The peer a message to the RIB concerns, if any.
fn rib_peer(msg: &ToRib) -> Option<PeerId> {
    match msg {
        ToRib::PeerUp(up) => Some(up.peer),
        ToRib::PeerDown { peer }
        | ToRib::PeerLost { peer }
        | ToRib::Updates { peer, .. }
        | ToRib::RouteRefresh { peer, .. }
        | ToRib::Xoff { peer }
        | ToRib::Xon { peer } => Some(*peer),
        ToRib::PublishRoutes | ToRib::Shutdown => None,
    }
}

/// UPDATEs read from the peer being parsed, not yet handed to the RIB thread.
#[derive(Default)]
struct Batch {
    updates: Vec<msg::Received>,
    /// `msg::Received::weight` of `updates`.
    weight: usize,
}

impl Batch {
    /// Adds `r`; true once the batch is full and is to be sent.
    fn push(&mut self, r: msg::Received) -> bool {
        self.weight += r.weight();
        self.updates.push(r);
        self.updates.len() >= UPDATES_PER_BATCH
    }
}

/// How far one `Worker::parse_until_open` got through the read buffer.
enum Parsed {
    /// Every whole message was handled.
    All,
    /// It stopped after the message that accepted the peer's OPEN; more may follow.
    OpenAccepted,
    /// It stopped with a full batch of UPDATEs read in place; more may follow.
    BatchFull,
    /// The connection was closed.
    Closed,
}

/// The messages in a buffer of whole encoded messages, by type.
fn count_messages(data: &[u8]) -> MessageCounts {
    let mut counts = MessageCounts::default();
    for f in wire::Frames::new(data, wire::MAX_EXTENDED_MESSAGE_LEN).flatten() {
        counts[f.kind()] += 1;
    }
    counts
}

#[cfg(test)]
mod tests;
