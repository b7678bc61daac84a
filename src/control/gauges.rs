//! Turns the published snapshots into Prometheus gauges once a second, so neither the RIB
//! thread nor the workers do metrics work per route.

use crate::metrics as m;
use crate::rib::snapshot::RibSnapshot;
use crate::worker::status::NeighborStatus;
use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub struct Gauges {
    stop: Arc<AtomicBool>,
    join: std::thread::JoinHandle<()>,
}

impl Gauges {
    pub fn shutdown(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.join.thread().unpark();
        let _ = self.join.join();
    }
}

pub fn spawn(
    rib: Arc<ArcSwap<RibSnapshot>>,
    statuses: Vec<Arc<ArcSwap<Vec<NeighborStatus>>>>,
) -> std::io::Result<Gauges> {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let join = std::thread::Builder::new()
        .name("gauges".into())
        .spawn(move || {
            while !s.load(Ordering::Relaxed) {
                publish(&rib.load(), &statuses);
                std::thread::park_timeout(Duration::from_secs(1));
            }
        })?;
    Ok(Gauges { stop, join })
}

fn publish(rib: &RibSnapshot, statuses: &[Arc<ArcSwap<Vec<NeighborStatus>>>]) {
    for f in &rib.families {
        metrics::gauge!(m::RIB_PREFIXES, "family" => f.family.name()).set(f.prefixes as f64);
        metrics::gauge!(m::RIB_PATHS, "family" => f.family.name()).set(f.paths as f64);
    }
    metrics::gauge!(m::RIB_QUEUE_DEPTH).set(rib.queue_depth as f64);
    for list in statuses {
        for n in list.load().iter() {
            let Some(pc) = rib.peers.iter().find(|p| p.peer == n.peer) else {
                continue;
            };
            let addr = n.address.to_string();
            for &(fam, received, accepted, advertised) in &pc.per_family {
                let labels = [
                    ("neighbor", addr.clone()),
                    ("family", fam.name().to_string()),
                ];
                metrics::gauge!(m::NEIGHBOR_PREFIXES_RECEIVED, &labels).set(received as f64);
                metrics::gauge!(m::NEIGHBOR_PREFIXES_ACCEPTED, &labels).set(accepted as f64);
                metrics::gauge!(m::NEIGHBOR_PREFIXES_ADVERTISED, &labels).set(advertised as f64);
            }
        }
    }
}
