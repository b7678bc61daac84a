//! Accepts BGP connections, matches the source address against the configured neighbors and
//! hands the socket to the worker that owns that neighbor. Connections from any other
//! address are closed at once, before a byte is read, and counted. They are also logged at
//! info, since a router that cannot connect is what an operator looks for, but at most one
//! line per source per minute, and for a bounded number of sources (`RefusedLog`): any
//! address on the internet can connect.
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
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

/// One log line per unconfigured source per window...
const REFUSED_WINDOW: Duration = Duration::from_secs(60);
/// ...for at most this many sources at once; refusals from more are summed in one line.
const REFUSED_SOURCES: usize = 1024;

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
    let mut refused = RefusedLog::default();
    while !stop.load(Ordering::SeqCst) {
        events.clear();
        let now = Instant::now();
        refused.flush(now);
        let timeout = refused.due().map(|t| t.saturating_duration_since(now));
        if let Err(e) = poller.wait(&mut events, timeout) {
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
                                refused.refused(ip, Instant::now());
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

/// Rate limit for the log of connections from unconfigured addresses: the first refusal
/// from a source is logged, later ones within `REFUSED_WINDOW` are counted, and when the
/// window ends one line says how many there were (and starts the next window), so a source
/// that keeps connecting gets one line per window. Sources quiet for a whole window are
/// forgotten. Memory is bounded by `REFUSED_SOURCES`: refusals from sources beyond it are
/// only summed, in one line per window.
#[derive(Default)]
struct RefusedLog {
    sources: HashMap<IpAddr, Window>,
    /// Refusals from sources there was no room to track.
    untracked: Option<Window>,
    /// The earliest end of a window (None: nothing to report).
    due: Option<Instant>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Window {
    since: Instant,
    /// Refusals in this window not logged one by one.
    unlogged: u64,
}

/// A line `RefusedLog` writes.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// The first from this source in its window.
    First(IpAddr),
    /// This many more from this source in the window that just ended.
    Repeated(IpAddr, u64),
    /// This many from sources beyond `REFUSED_SOURCES` in the window that just ended.
    Untracked(u64),
}

impl RefusedLog {
    /// A connection from `ip` was refused; logs it unless a line for it was written less
    /// than a window ago.
    fn refused(&mut self, ip: IpAddr, now: Instant) {
        if let Some(line) = self.note(ip, now) {
            log_refusal(&line);
        }
    }

    /// Logs what the windows ended by `now` held.
    fn flush(&mut self, now: Instant) {
        if self.due.is_some_and(|d| d <= now) {
            for line in self.close_windows(now) {
                log_refusal(&line);
            }
        }
    }

    /// When the next window ends, if any is open.
    fn due(&self) -> Option<Instant> {
        self.due
    }

    fn note(&mut self, ip: IpAddr, now: Instant) -> Option<Refusal> {
        if let Some(w) = self.sources.get_mut(&ip) {
            w.unlogged += 1;
            return None;
        }
        let end = now + REFUSED_WINDOW;
        self.due = Some(self.due.map_or(end, |d| d.min(end)));
        if self.sources.len() >= REFUSED_SOURCES {
            self.untracked
                .get_or_insert(Window {
                    since: now,
                    unlogged: 0,
                })
                .unlogged += 1;
            return None;
        }
        self.sources.insert(
            ip,
            Window {
                since: now,
                unlogged: 0,
            },
        );
        Some(Refusal::First(ip))
    }

    /// Ends every window older than `REFUSED_WINDOW` at `now`: a source with refusals in
    /// it gets its count and a new window, a quiet one is forgotten.
    fn close_windows(&mut self, now: Instant) -> Vec<Refusal> {
        let mut lines = Vec::new();
        let ended = |w: &Window| now.saturating_duration_since(w.since) >= REFUSED_WINDOW;
        self.sources.retain(|ip, w| {
            if !ended(w) {
                return true;
            }
            if w.unlogged == 0 {
                return false;
            }
            lines.push(Refusal::Repeated(*ip, w.unlogged));
            *w = Window {
                since: now,
                unlogged: 0,
            };
            true
        });
        if let Some(w) = self.untracked.filter(|w| ended(w)) {
            lines.push(Refusal::Untracked(w.unlogged));
            self.untracked = None;
        }
        self.due = self
            .sources
            .values()
            .chain(&self.untracked)
            .map(|w| w.since + REFUSED_WINDOW)
            .min();
        lines
    }
}

fn log_refusal(line: &Refusal) {
    let secs = REFUSED_WINDOW.as_secs();
    match line {
        Refusal::First(ip) => info!(
            source = %ip,
            "connection from an unconfigured address refused (not a neighbor; repeats are counted, one line per {secs} s)"
        ),
        Refusal::Repeated(ip, n) => info!(
            source = %ip,
            refused = n,
            "connections from an unconfigured address refused in the last {secs} s"
        ),
        Refusal::Untracked(n) => info!(
            refused = n,
            "connections refused in the last {secs} s from unconfigured addresses beyond the {REFUSED_SOURCES} logged by name"
        ),
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

    fn at(base: Instant, secs: u64) -> Instant {
        base + Duration::from_secs(secs)
    }

    #[test]
    fn an_unknown_source_is_logged_once_per_window_with_the_count_of_the_rest() {
        let (mut log, t) = (RefusedLog::default(), Instant::now());
        let (a, b): (IpAddr, IpAddr) =
            ("192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap());
        assert_eq!(log.note(a, t), Some(Refusal::First(a)));
        assert_eq!(log.note(a, at(t, 1)), None);
        assert_eq!(log.note(a, at(t, 59)), None);
        assert_eq!(
            log.note(b, at(t, 30)),
            Some(Refusal::First(b)),
            "per source"
        );
        assert_eq!(log.due(), Some(at(t, 60)));
        assert_eq!(log.close_windows(at(t, 59)), vec![]);
        // a's window ends: its two unlogged refusals in one line, and a new window.
        assert_eq!(log.close_windows(at(t, 60)), vec![Refusal::Repeated(a, 2)]);
        assert_eq!(log.due(), Some(at(t, 90)));
        assert_eq!(
            log.note(a, at(t, 61)),
            None,
            "still within a minute of a line"
        );
        // b was quiet after its first line: forgotten, so its next refusal is logged again.
        assert_eq!(log.close_windows(at(t, 90)), vec![]);
        assert_eq!(log.note(b, at(t, 91)), Some(Refusal::First(b)));
        assert_eq!(log.close_windows(at(t, 120)), vec![Refusal::Repeated(a, 1)]);
        assert_eq!(log.close_windows(at(t, 180)), vec![]);
        assert_eq!(log.sources.len(), 0, "a quiet for a window: forgotten");
        assert_eq!(log.due(), None);
    }

    #[test]
    fn sources_beyond_the_cap_are_summed_in_one_line_and_memory_stays_bounded() {
        let (mut log, t) = (RefusedLog::default(), Instant::now());
        let source = |i: usize| IpAddr::from(std::net::Ipv6Addr::from(i as u128 + 1));
        for i in 0..REFUSED_SOURCES {
            assert_eq!(log.note(source(i), t), Some(Refusal::First(source(i))));
        }
        for i in REFUSED_SOURCES..REFUSED_SOURCES * 3 {
            assert_eq!(log.note(source(i), at(t, 1)), None);
        }
        assert_eq!(log.sources.len(), REFUSED_SOURCES);
        assert_eq!(
            log.close_windows(at(t, 61)),
            vec![Refusal::Untracked(2 * REFUSED_SOURCES as u64)]
        );
        assert!(log.sources.is_empty() && log.untracked.is_none());
        assert_eq!(
            log.note(source(REFUSED_SOURCES * 2), at(t, 62)),
            Some(Refusal::First(source(REFUSED_SOURCES * 2))),
            "room again"
        );
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
