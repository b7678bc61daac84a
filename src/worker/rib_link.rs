//! A worker's link to the RIB thread: the batch of UPDATEs being read, the backlog of
//! messages the RIB's bounded inbox had no room for, and the weight of decoded input in
//! flight (`msg::InboxWeight`, shared by all workers and the RIB thread).
//!
//! Owns the order of everything a worker tells the RIB: `send` hands over the UPDATEs read
//! before a message ahead of it, and nothing overtakes what waits in the backlog, so none of
//! a peer's messages overtakes an earlier one (a PeerDown its UPDATEs, say). Never blocks
//! the worker. Must not touch sockets or the poller: it says which peers to stop or resume
//! reading (`take_toggled`), the worker changes their poll interest.

use crate::msg::{self, InboxWeight, PeerId, ToRib};
use crossbeam_channel::{Sender, TrySendError};
use hashbrown::HashMap;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;

/// Decoded UPDATEs per message to the RIB. A decoded UPDATE is several times its wire size,
/// so this (with the RIB queue's length) bounds the memory of input waiting for the RIB.
const UPDATES_PER_BATCH: usize = 256;
/// A batch is handed over once its decoded UPDATEs weigh this much, even mid-event, so
/// that one worker overshoots `msg::INBOX_BUDGET` by at most about one batch.
const BATCH_WEIGHT: usize = 1 << 20;

pub struct RibLink {
    tx: Sender<ToRib>,
    inbox_weight: InboxWeight,
    batch: Batch,
    /// Messages the RIB thread's (bounded) inbox had no room for, in order. While any wait
    /// here every new message queues behind them.
    pub(super) backlog: VecDeque<ToRib>,
    /// Peers with messages in `backlog`, and how many. Their sockets are not read (TCP
    /// pushes back on them) until the last one is delivered: OpenBGPD's XOFF, per peer. A
    /// peer is paused after one read burst at most, so the backlog stays bounded. Peers
    /// not in here are still read: their KEEPALIVEs reach no RIB, and keep the hold timer
    /// going however long the RIB thread is busy; timers and writes go on for everyone.
    pub(super) backlogged: HashMap<PeerId, usize>,
    /// Peers paused or resumed since the worker last looked (`take_toggled`).
    toggled: Vec<PeerId>,
}

/// UPDATEs read from one peer, not yet handed to the RIB thread.
#[derive(Default)]
struct Batch {
    peer: PeerId,
    updates: Vec<msg::Received>,
    /// `msg::Received::weight` of `updates`.
    weight: usize,
}

impl RibLink {
    pub fn new(tx: Sender<ToRib>, inbox_weight: InboxWeight) -> RibLink {
        RibLink {
            tx,
            inbox_weight,
            batch: Batch::default(),
            backlog: VecDeque::new(),
            backlogged: HashMap::new(),
            toggled: Vec::new(),
        }
    }

    /// Hands `msg` to the RIB thread behind the UPDATEs read before it.
    pub fn send(&mut self, msg: ToRib) {
        self.ship();
        self.tell(msg);
    }

    /// Adds an UPDATE read from `peer`; a full batch goes at once.
    pub fn push(&mut self, peer: PeerId, r: msg::Received) {
        if peer != self.batch.peer {
            self.ship();
            self.batch.peer = peer;
        }
        self.batch.weight += r.weight();
        self.batch.updates.push(r);
        if self.batch.updates.len() >= UPDATES_PER_BATCH {
            self.ship();
        }
    }

    /// Hands over the UPDATEs read so far, if any.
    pub fn ship(&mut self) {
        if self.batch.updates.is_empty() {
            return;
        }
        let weight = std::mem::take(&mut self.batch.weight);
        // The next batch is likely as long as this one (a table transfer: full batches;
        // churn: single UPDATEs): sized so, it is not regrown and copied as it fills.
        let next = Vec::with_capacity(self.batch.updates.len());
        let updates = std::mem::replace(&mut self.batch.updates, next);
        self.tell(ToRib::Updates {
            peer: self.batch.peer,
            updates,
            weight,
        });
    }

    /// The batch weighs enough to go now, mid-event.
    pub fn batch_is_heavy(&self) -> bool {
        self.batch.weight > BATCH_WEIGHT
    }

    /// The RIB thread is not keeping up: what was read is better handed over (or joins the
    /// backlog, which pauses its peer) at once.
    pub fn is_behind(&self) -> bool {
        !self.backlog.is_empty() || self.tx.is_full()
    }

    pub fn has_backlog(&self) -> bool {
        !self.backlog.is_empty()
    }

    /// True while `peer` has messages waiting in the backlog: it is not to be read.
    pub fn is_paused(&self, peer: PeerId) -> bool {
        self.backlogged.contains_key(&peer)
    }

    /// A peer paused or resumed since the last call.
    pub fn take_toggled(&mut self) -> Option<PeerId> {
        self.toggled.pop()
    }

    /// Retries the backlog, in order; a peer is read again once its last message is out.
    pub fn drain_backlog(&mut self) {
        while let Some(msg) = self.backlog.pop_front() {
            let peer = rib_peer(&msg);
            if let Err(msg) = self.deliver(msg) {
                self.backlog.push_front(msg);
                return;
            }
            let Some(peer) = peer else { continue };
            if let Some(waiting) = self.backlogged.get_mut(&peer) {
                *waiting -= 1;
                if *waiting == 0 {
                    self.backlogged.remove(&peer);
                    self.toggled.push(peer);
                }
            }
        }
    }

    /// Hands a message to the RIB thread without ever blocking this thread.
    fn tell(&mut self, msg: ToRib) {
        if self.backlog.is_empty() {
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
                if self.inbox_weight.load(Ordering::Relaxed) > msg::INBOX_BUDGET {
                    return Err(msg);
                }
                *weight
            }
            _ => 0,
        };
        self.inbox_weight.fetch_add(weight, Ordering::Relaxed);
        match self.tx.try_send(msg) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => Ok(()),
            Err(TrySendError::Full(msg)) => {
                self.inbox_weight.fetch_sub(weight, Ordering::Relaxed);
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
                self.toggled.push(peer);
            }
        }
        self.backlog.push_back(msg);
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
