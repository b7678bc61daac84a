//! Accepts BGP connections, matches the source address against the configured neighbors and
//! hands the socket to the worker that owns that neighbor. Connections from any other
//! address are closed at once, before a byte is read, and counted.
//!
//! Session protection on the accepting side:
//! - TCP MD5 (RFC 2385): every neighbor's key sits on every listening socket of its family
//!   (set before `listen`, so no unsigned connection can queue up first), the kernel drops
//!   unsigned or badly signed segments, and accepted sockets inherit the key. The key is set
//!   once more on the accepted socket, so a connection that raced a reload which added the
//!   key still has to sign from then on.
//! - GTSM (RFC 5082) is per neighbor, but IP_MINTTL on a listening socket would apply to
//!   every neighbor's SYNs. So, like BIRD (`bgp_incoming_connection`) and FRR (`bgp_accept`),
//!   the minimum goes on the accepted socket before anything reads from it. Unlike them we
//!   also check the SYN itself (TCP_SAVE_SYN): a connection opened from further away than
//!   one hop is closed at once, so nothing it queued before the minimum applied is ever read.
//!   A connection whose SYN was not saved (the kernel answered with a SYN cookie, i.e. a SYN
//!   flood is on) is accepted on the minimum alone: refusing it would let a spoofed flood
//!   lock every GTSM neighbor out, the very attack GTSM is meant to blunt. A blind attacker
//!   cannot complete a cookie handshake, and a far peer that can has every segment after
//!   the minimum dropped, so it cannot keep a session up (only bytes it queued before the
//!   `setsockopt` are read, the same window BIRD and FRR always have). Counted apart.
//!   Every accepted connection's saved SYN is read, GTSM or not, because reading is what
//!   frees the kernel's copy.
//!   Listening sockets send with TTL 255 so that a GTSM peer that set its own minimum before
//!   connecting accepts our SYN-ACK.

use crate::msg::{PeerId, ToWorker, WorkerHandle};
use crate::sockopt;
use arc_swap::ArcSwap;
use hashbrown::HashMap;
use polling::{Event, Events, Poller};
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tracing::{debug, warn};

/// Neighbor address -> who owns it and how to protect its connections. Replaced whole by
/// control on reload.
pub type NeighborIndex = HashMap<IpAddr, Admit>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admit {
    pub peer: PeerId,
    /// Index of the owning worker.
    pub worker: usize,
    /// GTSM: the connection must come from one hop away (TTL 255).
    pub gtsm: bool,
    /// TCP MD5 key.
    pub md5: Option<Arc<[u8]>>,
}

pub struct Listener {
    pub poller: Arc<Poller>,
    pub stop: Arc<AtomicBool>,
    pub join: std::thread::JoinHandle<()>,
    pub bound: Vec<SocketAddr>,
    /// The listening sockets (duplicated descriptors) for key changes on reload.
    sockets: Vec<TcpListener>,
}

impl Listener {
    pub fn shutdown(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.poller.notify();
        let _ = self.join.join();
    }

    /// Sets (`Some`) or removes (`None`) `peer`'s MD5 key on every listening socket that
    /// can receive its connections.
    pub fn set_md5(&self, peer: IpAddr, key: Option<&[u8]>) -> io::Result<()> {
        for l in &self.sockets {
            set_md5_on(l, peer, key)?;
        }
        Ok(())
    }
}

fn set_md5_on(l: &TcpListener, peer: IpAddr, key: Option<&[u8]>) -> io::Result<()> {
    let sock = socket2::SockRef::from(l);
    let v6_socket = sock.domain()? == Domain::IPV6;
    let reaches = match peer.to_canonical() {
        IpAddr::V4(_) => !v6_socket || !sock.only_v6()?,
        IpAddr::V6(_) => v6_socket,
    };
    if !reaches {
        return Ok(());
    }
    match key {
        Some(k) => sockopt::set_md5_key(l, peer, k),
        None => sockopt::clear_md5_key(l, peer),
    }
}

fn bind(addr: SocketAddr, keys: &[(IpAddr, Arc<[u8]>)]) -> io::Result<TcpListener> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    if addr.is_ipv6() {
        // `[::]` and `0.0.0.0` are listed separately: keep them from claiming each other.
        sock.set_only_v6(true)?;
    }
    sock.bind(&addr.into())?;
    // SYN-ACKs go out with the listening socket's TTL (see the module comment).
    if addr.is_ipv6() {
        sock.set_unicast_hops_v6(sockopt::GTSM_TTL.into())?;
    } else {
        sock.set_ttl_v4(sockopt::GTSM_TTL.into())?;
    }
    sockopt::save_syn(&sock)?;
    let l: TcpListener = sock.into();
    for (peer, key) in keys {
        set_md5_on(&l, *peer, Some(key)).map_err(|e| {
            io::Error::new(e.kind(), format!("TCP MD5 key for neighbor {peer}: {e}"))
        })?;
    }
    let sock = Socket::from(l);
    sock.listen(1024)?;
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}

/// Binds every address (an unavailable IPv6 wildcard is skipped with a warning), keyed for
/// the neighbors in `index` that use MD5, and starts the accept thread.
pub fn spawn(
    addrs: &[SocketAddr],
    index: Arc<ArcSwap<NeighborIndex>>,
    workers: Vec<WorkerHandle>,
) -> io::Result<Listener> {
    let keys: Vec<(IpAddr, Arc<[u8]>)> = index
        .load()
        .iter()
        .filter_map(|(a, e)| Some((*a, e.md5.clone()?)))
        .collect();
    let mut listeners = Vec::new();
    for &addr in addrs {
        match bind(addr, &keys) {
            Ok(l) => listeners.push(l),
            Err(e) if addr.ip().is_unspecified() && addr.is_ipv6() && addrs.len() > 1 => {
                warn!("not listening on {addr}: {e} (IPv6 unavailable?)");
            }
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot listen on {addr}: {e}"),
                ))
            }
        }
    }
    let poller = Arc::new(Poller::new()?);
    for (key, l) in listeners.iter().enumerate() {
        // SAFETY: the listeners live in this function's vector moved into the thread below,
        // which deletes them from the poller before they are dropped.
        #[allow(unsafe_code)]
        unsafe {
            poller.add(l, Event::readable(key))?;
        }
    }
    let bound = listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect();
    let sockets = listeners
        .iter()
        .map(TcpListener::try_clone)
        .collect::<io::Result<Vec<_>>>()?;
    let stop = Arc::new(AtomicBool::new(false));
    let (p, s) = (poller.clone(), stop.clone());
    let join = std::thread::Builder::new()
        .name("listener".into())
        .spawn(move || accept_loop(&p, &s, &listeners, &index, &workers))?;
    Ok(Listener {
        poller,
        stop,
        join,
        bound,
        sockets,
    })
}

fn accept_loop(
    poller: &Poller,
    stop: &AtomicBool,
    listeners: &[TcpListener],
    index: &ArcSwap<NeighborIndex>,
    workers: &[WorkerHandle],
) {
    let mut events = Events::new();
    while !stop.load(Ordering::SeqCst) {
        events.clear();
        if let Err(e) = poller.wait(&mut events, None) {
            if e.kind() != io::ErrorKind::Interrupted {
                warn!("listener poll failed: {e}");
            }
            continue;
        }
        for ev in events.iter() {
            let Some(l) = listeners.get(ev.key) else {
                continue;
            };
            loop {
                match l.accept() {
                    Ok((stream, from)) => {
                        let ip = from.ip().to_canonical();
                        match index.load().get(&ip) {
                            Some(admit) => match protect(&stream, ip, admit) {
                                Ok(()) => {
                                    if let Some(worker) = workers.get(admit.worker) {
                                        worker.send(ToWorker::Accepted {
                                            peer: admit.peer,
                                            stream,
                                        });
                                    }
                                }
                                Err(reason) => {
                                    debug!(source = %ip, reason, "connection from a neighbor refused");
                                    metrics::counter!(crate::metrics::CONNECTIONS_REJECTED, "reason" => reason).increment(1);
                                    drop(stream);
                                }
                            },
                            None => {
                                debug!(source = %ip, "connection from unconfigured address refused");
                                metrics::counter!(crate::metrics::CONNECTIONS_REJECTED, "reason" => "unknown_source").increment(1);
                                drop(stream);
                            }
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        // EMFILE and friends: the pending connection stays queued, so pause
                        // instead of spinning on it and flooding the log.
                        warn!("accept failed: {e}");
                        std::thread::sleep(std::time::Duration::from_millis(100));
                        break;
                    }
                }
            }
            let _ = poller.modify(l, Event::readable(ev.key));
        }
    }
    for l in listeners {
        let _ = poller.delete(l);
    }
}

/// Applies the neighbor's protections to a freshly accepted connection, before any byte is
/// read. Err is the metrics reason for closing it.
fn protect(stream: &TcpStream, ip: IpAddr, admit: &Admit) -> Result<(), &'static str> {
    if let Some(key) = &admit.md5 {
        if let Err(e) = sockopt::set_md5_key(stream, ip, key) {
            warn!(neighbor = %ip, "cannot set the TCP MD5 key on an accepted connection: {e}");
            return Err("md5_setup");
        }
    }
    if admit.gtsm {
        if let Err(e) = sockopt::set_gtsm(stream, ip) {
            warn!(neighbor = %ip, "cannot set GTSM on an accepted connection: {e}");
            return Err("ttl_security");
        }
    }
    // Read for every neighbor: the kernel keeps the copy for the session's life otherwise.
    let syn = sockopt::saved_syn_ttl(stream);
    if !admit.gtsm {
        return Ok(());
    }
    match gtsm_verdict(&syn) {
        Gtsm::OneHop => Ok(()),
        Gtsm::SynNotSaved => {
            debug!(neighbor = %ip, "GTSM: no SYN saved (SYN cookies?): relying on the minimum TTL");
            metrics::counter!(crate::metrics::GTSM_SYN_NOT_SAVED).increment(1);
            Ok(())
        }
        Gtsm::Refuse => {
            match &syn {
                Ok(ttl) => {
                    debug!(neighbor = %ip, ttl, "GTSM: connection opened from more than one hop away");
                }
                Err(e) => debug!(neighbor = %ip, "GTSM: cannot read the saved SYN: {e}"),
            }
            Err("ttl_security")
        }
    }
}

/// What a GTSM neighbor's saved SYN says about its connection.
#[derive(Debug, PartialEq, Eq)]
enum Gtsm {
    /// Opened from one hop away.
    OneHop,
    /// No SYN kept (SYN cookies): the minimum TTL on the socket is the only check, which
    /// still stops a blind attacker (see the module comment).
    SynNotSaved,
    /// Opened from further away, or the SYN could not be read (e.g. headers too long for
    /// the buffer, which a one-hop BGP peer never sends).
    Refuse,
}

fn gtsm_verdict(saved_syn_ttl: &io::Result<Option<u8>>) -> Gtsm {
    match saved_syn_ttl {
        Ok(Some(ttl)) if *ttl == sockopt::GTSM_TTL => Gtsm::OneHop,
        Ok(None) => Gtsm::SynNotSaved,
        Ok(Some(_)) | Err(_) => Gtsm::Refuse,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::time::Duration;

    fn admit(gtsm: bool) -> Admit {
        Admit {
            peer: 1,
            worker: 0,
            gtsm,
            md5: None,
        }
    }

    /// A connection to `l` sent with `ttl`, and its accepted end.
    fn connect(l: &TcpListener, ttl: u32) -> (TcpStream, TcpStream) {
        let to = l.local_addr().unwrap();
        let s = Socket::new(Domain::for_address(to), Type::STREAM, None).unwrap();
        sockopt::set_send_ttl(&s, to.ip(), ttl).unwrap();
        s.connect_timeout(&to.into(), Duration::from_secs(5))
            .unwrap();
        let (a, _) = l.accept().unwrap();
        (s.into(), a)
    }

    #[test]
    fn the_saved_syn_decides_a_gtsm_connection() {
        assert_eq!(gtsm_verdict(&Ok(Some(255))), Gtsm::OneHop);
        assert_eq!(gtsm_verdict(&Ok(Some(254))), Gtsm::Refuse);
        assert_eq!(gtsm_verdict(&Ok(Some(64))), Gtsm::Refuse);
        assert_eq!(
            gtsm_verdict(&Err(io::Error::from_raw_os_error(libc::EINVAL))),
            Gtsm::Refuse
        );
        // SYN cookies during a flood: refusing would lock every GTSM neighbor out.
        assert_eq!(gtsm_verdict(&Ok(None)), Gtsm::SynNotSaved);
    }

    #[test]
    fn a_gtsm_connection_without_a_saved_syn_is_admitted_behind_the_minimum_ttl() {
        // A listener without TCP_SAVE_SYN stands in for a SYN-cookie handshake: no SYN kept.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for (ttl, arrives) in [(255u32, true), (64, false)] {
            let (mut c, mut a) = connect(&l, ttl);
            assert_eq!(protect(&a, ip, &admit(true)), Ok(()), "TTL {ttl}");
            c.write_all(b"x").unwrap();
            a.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
            let mut buf = [0u8; 1];
            // At TTL 64 the kernel drops the segment (and its retransmissions): never read.
            assert_eq!(a.read(&mut buf).is_ok(), arrives, "TTL {ttl}");
        }
    }

    #[test]
    fn a_gtsm_connection_opened_from_far_away_is_refused() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        sockopt::save_syn(&l).unwrap();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let (_c, a) = connect(&l, 64);
        assert_eq!(protect(&a, ip, &admit(true)), Err("ttl_security"));
        let (_c, a) = connect(&l, 255);
        assert_eq!(protect(&a, ip, &admit(true)), Ok(()));
    }

    #[test]
    fn the_saved_syn_is_freed_for_neighbors_without_gtsm_too() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        sockopt::save_syn(&l).unwrap();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let (_c, a) = connect(&l, 64);
        assert_eq!(protect(&a, ip, &admit(false)), Ok(()));
        // Reading the saved SYN frees it, so nothing is left to read.
        assert_eq!(sockopt::saved_syn_ttl(&a).unwrap(), None);
    }
}
