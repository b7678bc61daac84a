//! Everything a worker writes to its peers goes through here: a session's own messages
//! (`queue_message`), the bytes the RIB encoded once for several peers (`send_shared`,
//! written per peer by `flush_unflushed`), the last words before a close or at shutdown,
//! the output watermarks that turn a growing write queue into `ToRib::Xoff` and a drained
//! one into `ToRib::Xon`, and the poll interest that follows from what is queued and
//! whether the peer is being read.
//!
//! Must not call into the FSM: a failed write is returned, and the caller ends the session.

use super::{PeerId, Worker};
use crate::msg::ToRib;
use crate::wire::{self, Message};
use bytes::Bytes;
use polling::{Event, PollMode};
use std::io;
use std::time::{Duration, Instant};
use tracing::debug;

/// Above this many queued bytes the RIB is asked to hold back (Xoff)...
const HIGH_WATER: usize = 4 << 20;
/// ...and below this it is asked to catch the peer up (Xon).
const LOW_WATER: usize = 1 << 20;

impl Worker {
    /// Encodes a message of connection `key`'s session, counts it and queues it; `write`
    /// sends it.
    pub(super) fn queue_message(&mut self, key: usize, msg: &Message) {
        let Some(c) = self.conns.get_mut(key).and_then(|c| c.as_mut()) else {
            return;
        };
        let mut out = Vec::with_capacity(64);
        wire::encode(msg, &c.session.codec(), &mut out);
        if let Some(p) = self.peers.get_mut(&c.peer) {
            p.counters.msgs_out[msg.message_type()] += 1;
            if let Message::Notification(n) = msg {
                *p.counters.notif_out.entry((n.code, n.subcode)).or_default() += 1;
            }
        }
        c.queue(Bytes::from(out));
    }

    /// Queues bytes the RIB encoded once for several peers of this worker;
    /// `flush_unflushed` writes them.
    pub(super) fn send_shared(&mut self, peers: &[PeerId], data: Bytes, now: Instant) {
        let sent = count_messages(&data);
        for id in peers {
            let Some(p) = self.peers.get_mut(id) else {
                continue;
            };
            let Some(key) = p.group_conn() else {
                continue;
            };
            for (t, n) in sent.iter() {
                p.counters.msgs_out[t] += n;
            }
            if let Some(c) = self.conns.get_mut(key).and_then(|c| c.as_mut()) {
                c.queue(data.clone());
                c.session.update_sent(now);
                self.unflushed.push(key);
            }
        }
    }

    /// Writes what `send_shared` queued, once per connection.
    pub(super) fn flush_unflushed(&mut self, now: Instant) {
        let mut keys = std::mem::take(&mut self.unflushed);
        keys.sort_unstable();
        keys.dedup();
        for &key in &keys {
            self.write_or_lose(key, now);
        }
        keys.clear();
        self.unflushed = keys;
    }

    /// `write`, ending the session if it fails.
    pub(super) fn write_or_lose(&mut self, key: usize, now: Instant) {
        if self.write(key).is_err() {
            self.with_session(key, now, |s, _, out| s.connection_lost(out));
        }
    }

    /// Writes as much of connection `key`'s queue as the socket takes, then tells the RIB
    /// to hold back or catch up if the queue crossed a watermark.
    pub(super) fn write(&mut self, key: usize) -> io::Result<()> {
        let Some(c) = self.conns.get_mut(key).and_then(|c| c.as_mut()) else {
            return Ok(());
        };
        let n = c.flush().inspect_err(|e| debug!("write failed: {e}"))?;
        let (peer, queued, xoff) = (c.peer, c.queued_bytes(), c.xoff);
        let Some(p) = self.peers.get_mut(&peer) else {
            self.sync_interest(key);
            return Ok(());
        };
        p.counters.bytes_out += n as u64;
        let established = p.established == Some(key);
        let turn = if established && !xoff && queued > HIGH_WATER {
            debug!(neighbor = %p.neighbor.address, queued, "output throttled (Xoff)");
            Some(ToRib::Xoff { peer })
        } else if established && xoff && queued < LOW_WATER {
            debug!(neighbor = %p.neighbor.address, queued, "output resumed (Xon)");
            Some(ToRib::Xon { peer })
        } else {
            None
        };
        if let Some(msg) = turn {
            if let Some(c) = self.conn_mut(key) {
                c.xoff = !xoff;
            }
            self.tell_rib(msg);
        }
        self.sync_interest(key);
        Ok(())
    }

    /// One last write before connection `key` closes (a NOTIFICATION, usually): what the
    /// socket takes now goes, the rest is dropped with the connection.
    pub(super) fn write_last(&mut self, key: usize) {
        if let Some(c) = self.conns.get_mut(key).and_then(|c| c.as_mut()) {
            let _ = c.flush();
        }
    }

    /// At shutdown: writes every queue until all are empty, a write fails, or `deadline`.
    pub(super) fn write_all_until(&mut self, deadline: Instant) {
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
    }

    /// Polls connection `key` for what it needs: writability while bytes are queued (or a
    /// dial is in progress), readability unless its peer is paused.
    pub(super) fn sync_interest(&mut self, key: usize) {
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

    /// Follows the RIB link: peers it paused or resumed are polled accordingly.
    pub(super) fn sync_toggled(&mut self) {
        while let Some(peer) = self.rib.take_toggled() {
            let keys = self.peers.get(&peer).map(|p| p.conns.clone());
            for key in keys.into_iter().flatten() {
                self.sync_interest(key);
            }
        }
    }
}

/// The messages in a buffer of whole encoded messages, by type.
pub(super) fn count_messages(data: &[u8]) -> super::status::MessageCounts {
    let mut counts = super::status::MessageCounts::default();
    for f in wire::Frames::new(data, wire::MAX_EXTENDED_MESSAGE_LEN).flatten() {
        counts[f.kind()] += 1;
    }
    counts
}
