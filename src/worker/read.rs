//! Reading a peer: up to `READS_PER_EVENT` reads per readiness event, every whole message
//! framed (`wire::Frames`) and counted, the common UPDATE read in place (`wire::scan`) into
//! the RIB link's batch, anything else decoded and fed to the session, whose actions run
//! after each read. A peer the RIB link paused is not read.

use super::conn::ReadOutcome;
use super::Worker;
use crate::fsm::{Action, State};
use crate::msg;
use crate::wire::{self, Message, MessageType};
use std::time::Instant;
use tracing::debug;

/// Reads per readiness event, so one busy peer cannot starve the rest of the shard.
const READS_PER_EVENT: usize = 8;

/// How far one `Worker::parse_until_open` got through the read buffer.
enum Parsed {
    /// Every whole message was handled.
    All,
    /// It stopped after the message that accepted the peer's OPEN; more may follow.
    OpenAccepted,
    /// The connection was closed.
    Closed,
}

impl Worker {
    pub(super) fn on_readable(&mut self, key: usize, now: Instant) {
        for _ in 0..READS_PER_EVENT {
            if self.rib.batch_is_heavy() {
                self.ship_batch();
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
                    if self.rib.is_behind() {
                        self.ship_batch();
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
        self.ship_batch();
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
            }
        }
    }

    /// `parse`'s step: stops after a message that accepted the peer's OPEN, so that RFC
    /// 4271 §6.8 is applied while this connection is in OpenConfirm, before a KEEPALIVE
    /// behind it in the same read makes it Established (an Established connection always
    /// wins, whatever the BGP Identifiers say).
    fn parse_until_open(&mut self, key: usize, now: Instant) -> Parsed {
        let Some(c) = self.conns.get_mut(key).and_then(|c| c.as_mut()) else {
            return Parsed::Closed;
        };
        let mut actions = std::mem::take(&mut self.actions);
        let peer_id = c.peer;
        let peer = self.peers.get_mut(&c.peer);
        let mut counters = peer.map(|p| &mut p.counters);
        let mut open_accepted = false;
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
                            self.rib.push(peer_id, r);
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
        self.sync_toggled();
        self.run_actions(key, &mut actions, now);
        self.actions = actions;
        match (closed, open_accepted) {
            (true, _) => Parsed::Closed,
            (false, true) => Parsed::OpenAccepted,
            (false, false) => Parsed::All,
        }
    }
}
