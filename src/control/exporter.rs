//! The `metrics:` listener: `GET /metrics` (Prometheus text format), `GET /livez` and
//! `GET /readyz` (200 or 503); any other path is 404 and any other method on these 405.
//! Served with tiny_http, like the API.
//!
//! A page is the recorder's process-wide families (counters, which it never forgets: it
//! has no idle timeout) followed by what is written at scrape time from the published
//! snapshots (`gauges`: per-neighbor and RIB series; build information; `process`). The
//! serving thread also drains the recorder's histogram samples between scrapes.
//!
//! Liveness: every worker beats a heartbeat on its publish tick (once a second even when
//! idle); the RIB thread sleeps while it has no work, so it counts as stuck only when its
//! inbox holds messages and its snapshot generation has not moved for `LIVE_WITHIN`.
//! Readiness: the config is loaded and the BGP listeners are bound.

use super::{gauges, process::Process};
use crate::listener::NeighborIndex;
use crate::metrics::{self as m, Page};
use crate::msg::ToRib;
use crate::rib::snapshot::RibSnapshot;
use crate::worker::status::{Heartbeat, NeighborStatus};
use arc_swap::ArcSwap;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::warn;

/// A loop that has not gone round for this long fails `/livez`. Workers go round at least
/// once a second; the margin keeps a burst of work on a loaded machine from restarting a
/// healthy reflector (and every session with it).
const LIVE_WITHIN: Duration = Duration::from_secs(30);
/// How often histogram samples are folded into their buckets when nobody scrapes (they
/// are kept as raw samples until then).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the process-wide recorder. It keeps every series for the life of the process:
/// no idle timeout, so counters never disappear (per-neighbor series are not in it).
pub fn install_recorder() -> Result<PrometheusHandle, String> {
    let buckets = [
        0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0,
    ];
    let handle = recorder_builder(&buckets)?
        .install_recorder()
        .map_err(|e| e.to_string())?;
    m::describe_recorded();
    // Unlabelled series exist from the start, at 0: the first event is then an increase
    // of a known series, which `increase()` and `rate()` see, not a new one.
    metrics::counter!(m::GR_RESTARTS).increment(0);
    metrics::counter!(m::GTSM_SYN_NOT_SAVED).increment(0);
    metrics::gauge!(m::RIB_QUEUE_DEPTH).set(0.0);
    metrics::gauge!(m::RIB_STALE_ROUTES).set(0.0);
    Ok(handle)
}

fn recorder_builder(buckets: &[f64]) -> Result<PrometheusBuilder, String> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(m::RIB_BATCH_SECONDS.to_string()), buckets)
        .map_err(|e| e.to_string())
}

/// What the listener reads to answer.
pub struct ExporterState {
    pub recorder: PrometheusHandle,
    pub statuses: Vec<Arc<ArcSwap<Vec<NeighborStatus>>>>,
    pub rib: Arc<ArcSwap<RibSnapshot>>,
    pub index: Arc<ArcSwap<NeighborIndex>>,
    pub health: Health,
}

/// Liveness and readiness inputs, shared with the control thread.
#[derive(Clone)]
pub struct Health {
    pub ready: Arc<AtomicBool>,
    pub workers: Vec<Heartbeat>,
    pub rib_tx: crossbeam_channel::Sender<ToRib>,
    /// While the RIB thread has work waiting: its snapshot generation when that was first
    /// seen, and when. It publishes a snapshot after every batch.
    rib_progress: Arc<Mutex<Option<(u64, Instant)>>>,
}

impl Health {
    pub fn new(workers: Vec<Heartbeat>, rib_tx: crossbeam_channel::Sender<ToRib>) -> Health {
        Health {
            ready: Arc::new(AtomicBool::new(false)),
            workers,
            rib_tx,
            rib_progress: Arc::default(),
        }
    }

    /// Ok, or which loop is stuck.
    fn live(&self, rib: &RibSnapshot, now: Instant) -> Result<(), String> {
        for (i, hb) in self.workers.iter().enumerate() {
            // A worker that has not published yet is starting, not stuck.
            if let Some(age) = hb.age(now) {
                if age > LIVE_WITHIN {
                    return Err(format!("worker {i} has not run for {} s", age.as_secs()));
                }
            }
        }
        let waiting = self.rib_tx.len();
        let mut progress = self.rib_progress.lock().unwrap_or_else(|e| e.into_inner());
        if waiting == 0 {
            // Idle: asleep until work comes.
            *progress = None;
            return Ok(());
        }
        match *progress {
            Some((generation, since)) if generation == rib.generation => {
                let stuck = now.saturating_duration_since(since);
                if stuck > LIVE_WITHIN {
                    return Err(format!(
                        "the RIB thread has not taken its {waiting} waiting messages for {} s",
                        stuck.as_secs()
                    ));
                }
            }
            // Work waiting, first seen now or since it last published: timed from now.
            _ => *progress = Some((rib.generation, now)),
        }
        Ok(())
    }
}

pub struct Exporter {
    server: Arc<tiny_http::Server>,
    stop: Arc<AtomicBool>,
    join: Option<std::thread::JoinHandle<()>>,
}

impl Exporter {
    /// Binds the listener; requests wait in its backlog until [`Exporter::serve`].
    pub fn bind(addr: SocketAddr) -> std::io::Result<Exporter> {
        let server = tiny_http::Server::http(addr)
            .map_err(|e| std::io::Error::other(format!("cannot serve /metrics on {addr}: {e}")))?;
        Ok(Exporter {
            server: Arc::new(server),
            stop: Arc::default(),
            join: None,
        })
    }

    pub fn serve(&mut self, state: ExporterState) -> std::io::Result<()> {
        let (server, stop) = (self.server.clone(), self.stop.clone());
        let join = std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || {
                let mut next_upkeep = Instant::now() + UPKEEP_EVERY;
                while !stop.load(Ordering::Relaxed) {
                    match server.recv_timeout(UPKEEP_EVERY) {
                        Ok(Some(req)) => answer(&state, req),
                        // Timed out, or unblocked to stop.
                        Ok(None) => {}
                        Err(e) => warn!("metrics listener: {e}"),
                    }
                    let now = Instant::now();
                    if now >= next_upkeep {
                        state.recorder.run_upkeep();
                        next_upkeep = now + UPKEEP_EVERY;
                    }
                }
            })?;
        self.join = Some(join);
        Ok(())
    }

    pub fn shutdown(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.server.unblock();
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

fn answer(state: &ExporterState, req: tiny_http::Request) {
    let (code, content_type, body) = route(state, req.method(), req.url(), Instant::now());
    let mut resp = tiny_http::Response::from_string(body).with_status_code(code);
    if let Ok(h) = tiny_http::Header::from_bytes("Content-Type", content_type) {
        resp.add_header(h);
    }
    if code == 405 {
        if let Ok(h) = tiny_http::Header::from_bytes("Allow", "GET, HEAD") {
            resp.add_header(h);
        }
    }
    if let Err(e) = req.respond(resp) {
        warn!("metrics response failed: {e}");
    }
}

const TEXT: &str = "text/plain; charset=utf-8";
/// The Prometheus text exposition format.
const EXPOSITION: &str = "text/plain; version=0.0.4; charset=utf-8";

fn route(
    state: &ExporterState,
    method: &tiny_http::Method,
    url: &str,
    now: Instant,
) -> (u16, &'static str, String) {
    let path = url.split_once('?').map_or(url, |(p, _)| p);
    if !matches!(path, "/metrics" | "/livez" | "/readyz") {
        return (
            404,
            TEXT,
            "not found; try /metrics, /livez or /readyz\n".into(),
        );
    }
    // tiny_http leaves the body out of a HEAD response itself.
    if !matches!(method, tiny_http::Method::Get | tiny_http::Method::Head) {
        return (405, TEXT, "only GET is supported\n".into());
    }
    match path {
        "/metrics" => (200, EXPOSITION, page(state, now)),
        "/livez" => match state.health.live(&state.rib.load(), now) {
            Ok(()) => (200, TEXT, "ok\n".into()),
            Err(why) => (503, TEXT, format!("{why}\n")),
        },
        _ => {
            if state.health.ready.load(Ordering::Relaxed) {
                (200, TEXT, "ok\n".into())
            } else {
                (503, TEXT, "starting: BGP listeners not bound yet\n".into())
            }
        }
    }
}

/// The whole /metrics page.
pub fn page(state: &ExporterState, now: Instant) -> String {
    let lists: Vec<_> = state.statuses.iter().map(|s| s.load_full()).collect();
    let lists: Vec<&[NeighborStatus]> = lists.iter().map(|l| l.as_slice()).collect();
    let neighbors = gauges::configured(&lists, &state.index.load());
    let mut page = Page::default();
    page.text = state.recorder.render();
    if !page.text.is_empty() && !page.text.ends_with('\n') {
        page.text.push('\n');
    }
    gauges::render(&mut page, &neighbors, &state.rib.load(), now);
    build_info(&mut page);
    Process::read().render(&mut page);
    page.text
}

fn build_info(page: &mut Page) {
    page.sample(
        m::BUILD_INFO,
        &[
            ("version", env!("CARGO_PKG_VERSION")),
            ("rustc", env!("REFLECTD_RUSTC_VERSION")),
        ],
        1u64,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorder() -> metrics_exporter_prometheus::PrometheusRecorder {
        recorder_builder(&[0.1, 1.0])
            .expect("buckets")
            .build_recorder()
    }

    #[test]
    fn a_recorded_counter_is_still_rendered_after_many_upkeeps() {
        let rec = recorder();
        let handle = rec.handle();
        metrics::with_local_recorder(&rec, || {
            metrics::counter!(m::CONNECTIONS_REJECTED, "reason" => "unknown_source").increment(1);
        });
        for _ in 0..100 {
            handle.run_upkeep();
        }
        let text = handle.render();
        assert!(
            text.contains("reflectd_connections_rejected_total{reason=\"unknown_source\"} 1"),
            "{text}"
        );
    }

    fn state(ready: bool) -> (ExporterState, crossbeam_channel::Receiver<ToRib>) {
        let (rib_tx, rx) = crossbeam_channel::bounded(1);
        let health = Health::new(vec![Heartbeat::default()], rib_tx);
        health.ready.store(ready, Ordering::Relaxed);
        let state = ExporterState {
            recorder: recorder().handle(),
            statuses: vec![Arc::new(ArcSwap::from_pointee(Vec::new()))],
            rib: Arc::default(),
            index: Arc::default(),
            health,
        };
        (state, rx)
    }

    #[test]
    fn only_get_on_the_three_paths_answers_and_readyz_follows_the_ready_flag() {
        use tiny_http::Method::*;
        let now = Instant::now();
        let (s, _rx) = state(false);
        let code = |m: &tiny_http::Method, u: &str| route(&s, m, u, now).0;
        assert_eq!(code(&Get, "/metrics"), 200);
        assert_eq!(code(&Get, "/metrics?x=1"), 200);
        assert_eq!(code(&Get, "/livez"), 200);
        assert_eq!(code(&Get, "/readyz"), 503);
        s.health.ready.store(true, Ordering::Relaxed);
        assert_eq!(code(&Get, "/readyz"), 200);
        assert_eq!(code(&Post, "/metrics"), 405);
        assert_eq!(code(&Get, "/"), 404);
        assert_eq!(code(&Get, "/neighbors"), 404);
        assert_eq!(code(&Post, "/nope"), 404);
    }

    #[test]
    fn livez_fails_for_a_worker_silent_too_long_and_a_rib_thread_sitting_on_work() {
        let t0 = Instant::now();
        let (s, _rx) = state(true);
        s.health.workers[0].beat(t0);
        let rib = RibSnapshot::default();
        assert!(s.health.live(&rib, t0).is_ok());
        let late = t0 + LIVE_WITHIN + Duration::from_secs(1);
        assert!(s
            .health
            .live(&rib, late)
            .is_err_and(|e| e.contains("worker 0")));
        s.health.workers[0].beat(late);
        // Nothing waiting: an unchanged generation is an idle RIB thread.
        assert!(s.health.live(&rib, late).is_ok());
        // Work waiting is timed from when a probe first sees it, however long the thread
        // slept before.
        s.health
            .rib_tx
            .send(ToRib::Shutdown)
            .expect("queue has room");
        assert!(s.health.live(&rib, late).is_ok());
        let later = late + LIVE_WITHIN + Duration::from_secs(1);
        s.health.workers[0].beat(later);
        assert!(s.health.live(&rib, later).is_err_and(|e| e.contains("RIB")));
        let moved = RibSnapshot {
            generation: 1,
            ..RibSnapshot::default()
        };
        assert!(s.health.live(&moved, later).is_ok());
    }
}
