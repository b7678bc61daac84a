//! Dialling a neighbor: the non-blocking TCP connect (socket2), with TCP MD5 and GTSM set
//! before the SYN, and what follows it — the session starts once the connect completes, and
//! a failure schedules the next try (`Peer::connect_failed`). When to dial is the `Peer`'s
//! decision; this only carries it out.

use super::conn::Conn;
use super::{PeerId, Worker};
use crate::config::Neighbor;
use crate::fsm::Session;
use crate::sockopt;
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;
use tracing::debug;

impl Worker {
    pub(super) fn start_connect(&mut self, id: PeerId, now: Instant) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        peer.next_connect = None;
        let n = peer.neighbor.clone();
        let cfg = peer.session_cfg.clone();
        match dial(&n) {
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

    /// The socket of a dial in progress became writable: connected, or refused.
    pub(super) fn finish_connect(&mut self, key: usize, now: Instant) {
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

    fn connect_failed(&mut self, id: PeerId, why: &str, now: Instant) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        debug!(neighbor = %peer.neighbor.address, "connect failed: {why}");
        // close_conn may already have scheduled the retry: one failure, one back-off step.
        if let Some(at) = peer.connect_failed(why, now) {
            self.next_due = self.next_due.min(at);
        }
    }
}

/// Starts a non-blocking connect to `n`; true if it is still in progress.
fn dial(n: &Neighbor) -> io::Result<(TcpStream, bool)> {
    let remote = SocketAddr::new(n.address, n.port);
    let sock = Socket::new(
        Domain::for_address(remote),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    sock.set_nonblocking(true)?;
    sock.set_tcp_nodelay(true)?;
    // Both protections before the SYN: the handshake itself is signed, and a reply from
    // further than one hop is dropped by the kernel before we read a byte.
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
}
