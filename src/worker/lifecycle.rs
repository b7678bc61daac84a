//! Neighbors and connections coming and going: a neighbor added, removed or stopped on the
//! word of the control or RIB thread, a connection the listener accepted for one, and every
//! new connection registered with the poller. What is decided about the neighbor is the
//! `Peer`'s; this carries it out.

use super::conn::Conn;
use super::graceful;
use super::peer::Peer;
use super::{PeerId, Worker};
use crate::config::Neighbor;
use crate::fsm::{collision, Session, SessionConfig, State};
use crate::msg::ToRib;
use crate::wire::{notif, Notification};
use polling::{Event, PollMode};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;
use tracing::{debug, info, warn};

impl Worker {
    pub(super) fn add_peer(&mut self, id: PeerId, neighbor: Arc<Neighbor>, now: Instant) {
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

    pub(super) fn remove_peer(&mut self, id: PeerId, subcode: u8, now: Instant) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let lost_earlier = peer.remove();
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
    pub(super) fn stop_peer(&mut self, id: PeerId, n: Notification, now: Instant) {
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
        self.stop_conn(key, n, now);
        if let Some(p) = self.peers.get_mut(&id).filter(|_| max_prefixes) {
            if let Some(until) = p.hold_down_after_max_prefixes(now) {
                self.next_due = self.next_due.min(until);
            }
        }
        self.status_dirty = true;
    }

    /// Forgets a removed peer once its connections are gone.
    pub(super) fn reap_peer(&mut self, id: PeerId) {
        if self
            .peers
            .get(&id)
            .is_some_and(|p| p.removing && p.conns.is_empty())
        {
            self.peers.remove(&id);
        }
    }

    pub(super) fn accepted(&mut self, id: PeerId, stream: TcpStream, now: Instant) {
        let Some(peer) = self.peers.get(&id) else {
            return;
        };
        if !peer.accepts_connection(now) {
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

    pub(super) fn register(&mut self, conn: Conn) -> Option<usize> {
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
}
