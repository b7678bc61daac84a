//! Lifecycle: start the threads in dependency order, add and remove neighbors at runtime,
//! reload on SIGHUP, shut down cleanly on SIGTERM/SIGINT.
//!
//! ```text
//!  control ──AddPeer/RemovePeer──▶ workers ──ToRib──▶ RIB thread ──Send──▶ workers
//!     │                              ▲
//!     └── NeighborIndex (arc-swap) ──┴── listener hands accepted sockets to the owner
//! ```

pub mod api;
mod evpn_view;
mod exporter;
mod gauges;
mod process;
pub mod table;
pub mod view;

use crate::config::{self, Config, LogLevel, Neighbor};
use crate::listener::{self, Admit, Listener, NeighborIndex};
use crate::msg::{PeerId, ToRib, ToWorker, WorkerHandle};
use crate::rib::{self, snapshot::RibSnapshot};
use crate::wire::notif;
use crate::worker::{self, status::NeighborStatus, WorkerConfig};
use arc_swap::ArcSwap;
use hashbrown::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use tracing::{error, info, warn};

/// Bound on the workers -> RIB queue: when the RIB thread falls behind, workers pause their
/// reads and TCP pushes back on the peers, instead of memory growing. A message carries at
/// most 256 decoded UPDATEs, so the queue holds a few MiB of input however many peers send.
const RIB_QUEUE: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("metrics: {0}")]
    Metrics(String),
}

/// Applies a new log level to the running subscriber.
pub type LogControl = Box<dyn Fn(LogLevel) + Send>;

pub struct Reflector {
    cfg: Config,
    rib_tx: crossbeam_channel::Sender<ToRib>,
    workers: Vec<WorkerHandle>,
    worker_joins: Vec<std::thread::JoinHandle<()>>,
    rib_join: Option<std::thread::JoinHandle<()>>,
    index: Arc<ArcSwap<NeighborIndex>>,
    /// Configured neighbors: address -> peer id, worker, protections.
    peers: HashMap<IpAddr, Admit>,
    load: Vec<usize>,
    next_peer: PeerId,
    listener: Option<Listener>,
    api: Option<api::ApiServer>,
    exporter: Option<exporter::Exporter>,
    /// `/readyz`: set once the listeners are bound.
    ready: Option<Arc<std::sync::atomic::AtomicBool>>,
    pub statuses: Vec<Arc<ArcSwap<Vec<NeighborStatus>>>>,
    pub rib_snapshot: Arc<ArcSwap<RibSnapshot>>,
    log: Option<LogControl>,
}

impl Reflector {
    /// Starts every thread and the configured neighbors. Returns once listening.
    pub fn start(cfg: Config, log: Option<LogControl>) -> Result<Reflector, StartError> {
        // Bound first, so a taken port fails the start before any session does.
        let exporter = match cfg.metrics {
            Some(addr) => {
                let recorder = exporter::install_recorder().map_err(StartError::Metrics)?;
                Some((exporter::Exporter::bind(addr)?, recorder))
            }
            None => None,
        };
        let (rib_tx, rib_rx) = crossbeam_channel::bounded(RIB_QUEUE);
        let rib_snapshot = Arc::new(ArcSwap::from_pointee(RibSnapshot::default()));
        let cores = core_affinity::get_core_ids().unwrap_or_default();
        let mut workers = Vec::new();
        let mut worker_joins = Vec::new();
        let mut statuses = Vec::new();
        let inbox_weight = crate::msg::InboxWeight::default();
        let mut heartbeats = Vec::new();
        for index in 0..cfg.workers {
            let status = Arc::new(ArcSwap::from_pointee(Vec::new()));
            let wcfg = WorkerConfig {
                index,
                local_asn: cfg.asn,
                local_id: cfg.router_id,
                inbox_weight: inbox_weight.clone(),
                heartbeat: Default::default(),
            };
            heartbeats.push(wcfg.heartbeat.clone());
            let core = (!cores.is_empty()).then(|| cores[index % cores.len()]);
            let (handle, join) = worker::spawn(wcfg, rib_tx.clone(), status.clone(), core)?;
            workers.push(handle);
            worker_joins.push(join);
            statuses.push(status);
        }
        let rcfg = rib::RibConfig {
            asn: cfg.asn,
            router_id: cfg.router_id,
            cluster_id: cfg.cluster_id,
        };
        let (w, snap) = (workers.clone(), rib_snapshot.clone());
        let rib_join = std::thread::Builder::new()
            .name("rib".into())
            .spawn(move || rib::run_weighted(rcfg, rib_rx, w, snap, inbox_weight))?;
        let index = Arc::new(ArcSwap::from_pointee(NeighborIndex::new()));
        let mut r = Reflector {
            load: vec![0; workers.len()],
            cfg: cfg.clone(),
            rib_tx,
            workers,
            worker_joins,
            rib_join: Some(rib_join),
            index,
            peers: HashMap::new(),
            next_peer: 1,
            listener: None,
            api: None,
            exporter: None,
            ready: None,
            statuses,
            rib_snapshot,
            log,
        };
        for n in &cfg.neighbors {
            r.add_neighbor(n.clone());
        }
        r.publish_index();
        if let Some((mut e, recorder)) = exporter {
            let health = exporter::Health::new(heartbeats, r.rib_tx.clone());
            r.ready = Some(health.ready.clone());
            e.serve(exporter::ExporterState {
                recorder,
                statuses: r.statuses.clone(),
                rib: r.rib_snapshot.clone(),
                index: r.index.clone(),
                health,
            })?;
            r.exporter = Some(e);
        }
        reload_gauges(true);
        let l = listener::spawn(&cfg.listen, r.index.clone(), r.workers.clone())?;
        info!(listen = ?l.bound, workers = cfg.workers, neighbors = cfg.neighbors.len(), "reflectd running");
        r.listener = Some(l);
        r.set_ready(true);
        if let Some(addr) = cfg.api {
            let state = api::ApiState {
                statuses: r.statuses.clone(),
                rib: r.rib_snapshot.clone(),
                rib_tx: r.rib_tx.clone(),
                last_routes: Default::default(),
            };
            r.api = Some(api::spawn(addr, state)?);
        }
        Ok(r)
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    fn set_ready(&self, ready: bool) {
        if let Some(r) = &self.ready {
            r.store(ready, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn add_neighbor(&mut self, n: Neighbor) {
        // Least-loaded worker keeps shards even as neighbors come and go.
        let w = (0..self.load.len())
            .min_by_key(|i| self.load[*i])
            .unwrap_or(0);
        let id = self.next_peer;
        self.next_peer += 1;
        self.load[w] += 1;
        self.peers.insert(
            n.address,
            Admit {
                peer: id,
                worker: w,
                gtsm: n.ttl_security,
                md5: n.md5_password.as_ref().map(|p| Arc::from(p.0.as_bytes())),
            },
        );
        self.workers[w].send(ToWorker::AddPeer {
            peer: id,
            neighbor: Arc::new(n),
        });
    }

    fn remove_neighbor(&mut self, addr: IpAddr, subcode: u8) {
        if let Some(a) = self.peers.remove(&addr) {
            self.load[a.worker] = self.load[a.worker].saturating_sub(1);
            self.workers[a.worker].send(ToWorker::RemovePeer {
                peer: a.peer,
                subcode,
            });
        }
    }

    fn publish_index(&self) {
        let idx: NeighborIndex = self.peers.iter().map(|(a, v)| (*a, v.clone())).collect();
        self.index.store(Arc::new(idx));
    }

    /// SIGHUP: re-read the config file; on error keep running the old one.
    pub fn reload(&mut self) {
        if crate::demo::is_built_in(&self.cfg) {
            info!("SIGHUP: the demo runs its built-in config, there is no file to re-read (`reflectd demo --config FILE` runs one that can be)");
            return;
        }
        let mut new = match config::load(&self.cfg.path) {
            Ok(c) => c,
            Err(e) => {
                error!("reload failed, keeping the running config: {e}");
                reload_done(false);
                return;
            }
        };
        let mut d = config::diff(&self.cfg, &new);
        let (stale_keys, unkeyed) = self.rekey_listeners(&d);
        if !unkeyed.is_empty() {
            // Fail closed: a neighbor whose key could not be installed must not run unsigned.
            // Dropped from the running config, it counts as added on the next reload.
            d.added.retain(|n| !unkeyed.contains(&n.address));
            let changed: Vec<IpAddr> = d
                .changed
                .iter()
                .filter(|n| unkeyed.contains(&n.address))
                .map(|n| n.address)
                .collect();
            d.changed.retain(|n| !unkeyed.contains(&n.address));
            d.removed.extend(changed);
            new.neighbors.retain(|n| !unkeyed.contains(&n.address));
        }
        for key in &d.needs_restart {
            warn!(
                key,
                "changed in the config file; takes effect after a restart"
            );
        }
        for addr in &d.removed {
            info!(neighbor = %addr, "reload: removing neighbor");
            self.remove_neighbor(*addr, notif::CEASE_PEER_DECONFIGURED);
        }
        for n in &d.changed {
            info!(neighbor = %n.address, "reload: neighbor changed, restarting its session");
            self.remove_neighbor(n.address, notif::CEASE_OTHER_CONFIG_CHANGE);
            self.add_neighbor(n.clone());
        }
        for n in &d.added {
            info!(neighbor = %n.address, "reload: adding neighbor");
            self.add_neighbor(n.clone());
        }
        self.publish_index();
        // Keys go only after the index stopped admitting their neighbors.
        self.clear_listener_keys(&stale_keys);
        if d.log_changed {
            if let Some(set) = &self.log {
                set(new.log);
            }
        }
        // Global keys that need a restart keep their running values.
        self.cfg.neighbors = new.neighbors;
        self.cfg.log = new.log;
        info!(
            added = d.added.len(),
            removed = d.removed.len(),
            changed = d.changed.len(),
            "config reloaded"
        );
        // A neighbor left out for want of its MD5 key means the file is not what runs.
        let whole = unkeyed.is_empty();
        reload_done(whole);
    }

    /// Before a reload publishes its index: installs the MD5 keys of added and changed
    /// neighbors on the listening sockets. Returns the addresses whose key must go once the
    /// index is published (removed neighbors, and changed ones that no longer use MD5), and
    /// those whose key could not be installed.
    fn rekey_listeners(&self, d: &config::ConfigDiff) -> (Vec<IpAddr>, Vec<IpAddr>) {
        let mut stale: Vec<IpAddr> = d.removed.clone();
        let mut failed = Vec::new();
        let Some(l) = &self.listener else {
            return (stale, failed);
        };
        for n in d.added.iter().chain(&d.changed) {
            match &n.md5_password {
                Some(p) => {
                    if let Err(e) = l.set_md5(n.address, Some(p.0.as_bytes())) {
                        error!(neighbor = %n.address, "reload: cannot set the TCP MD5 key, neighbor not started: {e}");
                        failed.push(n.address);
                        stale.push(n.address);
                    }
                }
                None => stale.push(n.address),
            }
        }
        (stale, failed)
    }

    fn clear_listener_keys(&self, addrs: &[IpAddr]) {
        let Some(l) = &self.listener else {
            return;
        };
        for a in addrs {
            if let Err(e) = l.set_md5(*a, None) {
                warn!(neighbor = %a, "reload: cannot remove the TCP MD5 key: {e}");
            }
        }
    }

    /// Cease (RFC 8203 message) to every peer, then stop every thread.
    pub fn shutdown(mut self, message: &str) {
        info!("shutting down: {message}");
        self.set_ready(false);
        if let Some(l) = self.listener.take() {
            l.shutdown();
        }
        if let Some(a) = self.api.take() {
            a.shutdown();
        }
        if let Some(e) = self.exporter.take() {
            e.shutdown();
        }
        for w in &self.workers {
            w.send(ToWorker::Shutdown {
                message: message.to_string(),
            });
        }
        for j in self.worker_joins.drain(..) {
            let _ = j.join();
        }
        let _ = self.rib_tx.send(ToRib::Shutdown);
        if let Some(j) = self.rib_join.take() {
            let _ = j.join();
        }
    }

    /// Blocks until SIGTERM or SIGINT, reloading on SIGHUP.
    pub fn run_until_signalled(mut self) -> std::io::Result<()> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGHUP, SIGINT, SIGTERM])?;
        for sig in signals.forever() {
            match sig {
                SIGHUP => self.reload(),
                _ => break,
            }
        }
        self.shutdown("reflectd is shutting down");
        Ok(())
    }
}

/// `reflectd_config_last_reload_success` and, on success, its timestamp (set at start
/// too, as Prometheus does for its own config).
fn reload_gauges(success: bool) {
    use crate::metrics as m;
    metrics::gauge!(m::CONFIG_RELOAD_SUCCESS).set(if success { 1.0 } else { 0.0 });
    if success {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        metrics::gauge!(m::CONFIG_RELOAD_SUCCESS_TIME).set(now);
    }
}

/// A reload's gauges, then its count: a scrape that sees the reload counted also sees
/// the gauges it set.
fn reload_done(success: bool) {
    reload_gauges(success);
    let result = if success { "success" } else { "failure" };
    metrics::counter!(crate::metrics::CONFIG_RELOADS, "result" => result).increment(1);
}
