//! Accepts BGP connections, matches the source address against the configured neighbors and
//! hands the socket to the worker that owns that neighbor. Connections from any other
//! address are closed at once, before a byte is read, and counted.

use crate::msg::{PeerId, ToWorker, WorkerHandle};
use arc_swap::ArcSwap;
use hashbrown::HashMap;
use polling::{Event, Events, Poller};
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tracing::{debug, warn};

/// Neighbor address -> (peer, owning worker). Replaced whole by control on reload.
pub type NeighborIndex = HashMap<IpAddr, (PeerId, usize)>;

pub struct Listener {
    pub poller: Arc<Poller>,
    pub stop: Arc<AtomicBool>,
    pub join: std::thread::JoinHandle<()>,
    pub bound: Vec<SocketAddr>,
}

impl Listener {
    pub fn shutdown(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.poller.notify();
        let _ = self.join.join();
    }
}

fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    if addr.is_ipv6() {
        // `[::]` and `0.0.0.0` are listed separately: keep them from claiming each other.
        sock.set_only_v6(true)?;
    }
    sock.bind(&addr.into())?;
    sock.listen(1024)?;
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}

/// Binds every address (an unavailable IPv6 wildcard is skipped with a warning) and starts
/// the accept thread.
pub fn spawn(
    addrs: &[SocketAddr],
    index: Arc<ArcSwap<NeighborIndex>>,
    workers: Vec<WorkerHandle>,
) -> io::Result<Listener> {
    let mut listeners = Vec::new();
    for &addr in addrs {
        match bind(addr) {
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
                            Some(&(peer, w)) => {
                                if let Some(worker) = workers.get(w) {
                                    worker.send(ToWorker::Accepted { peer, stream });
                                }
                            }
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
