//! One measured run: N speakers (non-clients) announce the synthetic table through a
//! reflector to K sinks (clients, `sink`) that check every prefix's next hop, ORIGINATOR_ID
//! and CLUSTER_LIST; or, as the floor, what a reflector would send written straight to the
//! sinks with no reflector in between.
//!
//! ```text
//!  speaker threads ──pre-encoded UPDATEs──▶ reflector ──▶ sink pollers (exact check)
//!        ▲ "withdraw now" (mpsc)                               │ converged / withdrawn
//!        └──────────────────── main thread ◀───────────────────┘ (mpsc)
//! ```

use crate::lab::{sink_ip, speaker_ip, Scenario, ASN, MAX_SESSIONS, ROUTER_ID};
use crate::procs;
use crate::sink::{self, Expect, Phases, Sink, SinkEvent, CHURN_MED, KEEPALIVE};
use crate::table::{self, evpn, vpn, Table};
use reflectd::speaker::{Speaker, SpeakerConfig};
use reflectd::wire::{self, *};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct Opts {
    /// Session starts are spread over this long.
    pub stagger: Duration,
    /// Wait after every session is up, then check none was reset (and redo those).
    pub settle: Duration,
    pub hold_time: u16,
    pub timeout: Duration,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub sessions_up: f64,
    /// Seconds from the first UPDATE written to the last sink complete (None: timed out).
    pub convergence: Option<f64>,
    /// Fraction of the expected prefixes the slowest sink had when time ran out.
    pub progress: f64,
    pub withdraw: Option<f64>,
    /// Churn: per-change latency (sent -> seen by a sink) over every sink, seconds.
    pub churn_p50: Option<f64>,
    pub churn_p99: Option<f64>,
    pub churn_max: Option<f64>,
    pub input_paths: u64,
    pub deliveries: u64,
    /// Reflector process tree (None when no pid is known); for the floor, its writers
    /// while they write the table.
    pub cpu: Option<f64>,
    /// The kernel's share of `cpu`.
    pub cpu_sys: Option<f64>,
    pub cpu_withdraw: Option<f64>,
    /// Reflector CPU seconds over the churn phase (scenario E).
    pub cpu_churn: Option<f64>,
    pub peak_rss: Option<u64>,
    pub base_rss: Option<u64>,
    pub procs: usize,
    /// Sessions that had to be redone after a reset, and how sinks failed.
    pub retries: u32,
    pub errors: Vec<String>,
}

impl Report {
    pub fn deliveries_per_s(&self) -> Option<f64> {
        self.convergence.map(|c| self.deliveries as f64 / c)
    }

    pub fn bytes_per_path(&self) -> Option<f64> {
        let (peak, base) = (self.peak_rss?, self.base_rss?);
        Some(peak.saturating_sub(base) as f64 / self.input_paths as f64)
    }
}

/// Establishes one session from `local`, retrying with bounded exponential back-off.
fn session(
    local: Ipv4Addr,
    target: SocketAddr,
    hold: u16,
    families: FamilySet,
    give_up: Instant,
) -> Result<(Speaker, u32), String> {
    let mut cfg = SpeakerConfig::new(IpAddr::V4(local), ASN, local);
    cfg.hold_time = hold;
    cfg.families = families;
    let mut backoff = Duration::from_millis(100);
    let mut tries = 0;
    loop {
        match Speaker::connect(&cfg, target, Duration::from_secs(10)) {
            Ok(s) => return Ok((s, tries)),
            Err(e) if Instant::now() + backoff > give_up => {
                return Err(format!(
                    "{local}: no session after {} tries: {e}",
                    tries + 1
                ))
            }
            Err(_) => {
                tries += 1;
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// Opens every session, starts spread over `stagger`, each in its own thread.
fn sessions(
    ips: &[Ipv4Addr],
    target: SocketAddr,
    families: FamilySet,
    o: &Opts,
) -> Result<(Vec<Speaker>, u32), String> {
    let give_up = Instant::now() + Duration::from_secs(60);
    let n = ips.len().max(1) as u32;
    let threads: Vec<_> = ips
        .iter()
        .enumerate()
        .map(|(i, &ip)| {
            let delay = o.stagger * i as u32 / n;
            let hold = o.hold_time;
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                session(ip, target, hold, families, give_up)
            })
        })
        .collect();
    let mut out = Vec::new();
    let mut retries = 0;
    for t in threads {
        let (s, r) = t.join().map_err(|_| "session thread panicked")??;
        out.push(s);
        retries += r;
    }
    Ok((out, retries))
}

/// Redoes sessions the reflector reset during the settle time (bounded: three rounds).
fn check_alive(
    ss: &mut [Speaker],
    ips: &[Ipv4Addr],
    target: SocketAddr,
    families: FamilySet,
    o: &Opts,
) -> Result<u32, String> {
    let mut redone = 0;
    for _round in 0..3 {
        let mut bad = Vec::new();
        for (i, s) in ss.iter_mut().enumerate() {
            // Reads what is pending (KEEPALIVE, End-of-RIB, or a NOTIFICATION).
            let _ = s.poll(Duration::from_millis(1));
            if s.closed || s.notification.is_some() {
                bad.push(i);
            }
        }
        if bad.is_empty() {
            return Ok(redone);
        }
        for i in bad {
            std::thread::sleep(Duration::from_millis(200));
            let give_up = Instant::now() + Duration::from_secs(30);
            ss[i] = session(ips[i], target, o.hold_time, families, give_up)?.0;
            redone += 1;
        }
        std::thread::sleep(o.settle);
    }
    Err("sessions kept being reset after three rounds".into())
}

/// A speaker's attributes as a reflector passes them on (for the floor, which has none).
#[derive(Clone, Copy)]
struct Reflected {
    originator: Ipv4Addr,
    cluster: Ipv4Addr,
}

impl Reflected {
    fn apply(r: Option<Reflected>, a: &mut PathAttrs) {
        if let Some(r) = r {
            a.originator_id = Some(r.originator);
            a.cluster_list = vec![r.cluster];
        }
    }
}

/// The VPN keys of table entries `range`, each with its customer's RD.
fn vpn_keys(t: &Table, customers: &[u32], range: std::ops::Range<usize>) -> Vec<Vpn4> {
    range
        .map(|j| Vpn4::new(vpn::rd(customers[j]), t.prefixes[j]))
        .collect()
}

/// Encoded announcements (and withdrawals) of speaker `s`; `refl` makes them look reflected.
/// `customers`: each entry's, in the VPN and EVPN workloads (`Table::customers`); `member`:
/// only the routes of these customers (what a sink with this RT-Constraint membership is
/// sent).
fn payloads(
    sc: &Scenario,
    t: &Table,
    customers: Option<&[u32]>,
    member: Option<&[bool]>,
    s: u32,
    ctx: &CodecCtx,
    refl: Option<Reflected>,
) -> (Vec<u8>, Vec<u8>) {
    let admitted = |j: usize| match (customers, member) {
        (Some(cs), Some(m)) => m.get(cs[j] as usize).copied().unwrap_or(false),
        _ => true,
    };
    let (lo, hi) = if sc.contested {
        (0, t.len())
    } else {
        (s * sc.prefixes, (s + 1) * sc.prefixes)
    };
    let lp = if sc.contested && s == 0 { 200 } else { 100 };
    let mut ann = Vec::new();
    let mut order: Vec<(u32, u32)> = t.runs.clone();
    if let Some(cs) = customers {
        // A PE sends its VPN table VRF by VRF (FRR walks it by RD): the runs in customer
        // order (a stable sort: by address within a customer).
        order.sort_by_key(|&(a, _)| cs[a as usize]);
    }
    for (a, b) in order {
        let (a, b) = (a.max(lo), b.min(hi));
        // A run is one customer's: admitted whole or not at all.
        if a < b && admitted(a as usize) {
            let mut attrs = table::attrs(s, a, lp, sc.attr_sets);
            Reflected::apply(refl, &mut attrs);
            let run = a as usize..b as usize;
            match customers {
                None => wire::encode_announce(ctx, &attrs, &t.prefixes[run], &mut ann),
                Some(cs) => {
                    let c = cs[run.start];
                    attrs.ext_communities = vec![vpn::route_target(c)];
                    if sc.evpn.is_some() {
                        let routes = evpn::announced(t, cs, run);
                        wire::encode_announce(ctx, &attrs, &routes, &mut ann);
                    } else {
                        let keys = vpn_keys(t, cs, run);
                        let label = vpn::label(c);
                        wire::encode_announce_labeled(ctx, &attrs, label, &keys, &mut ann);
                    }
                }
            }
        }
    }
    wire::encode_end_of_rib(sc.family(), &mut ann);
    let mut wd = Vec::new();
    let mine = lo as usize..hi as usize;
    match customers {
        None => wire::encode_withdraw(ctx, &t.prefixes[mine], &mut wd),
        // (No RT-Constraint membership in the EVPN workload: every route is withdrawn.)
        Some(cs) if sc.evpn.is_some() => {
            wire::encode_withdraw(ctx, &evpn::keys(t, cs, mine), &mut wd)
        }
        Some(cs) => {
            let mut keys = vpn_keys(t, cs, mine.clone());
            if member.is_some() {
                let mut j = mine.into_iter();
                keys.retain(|_| j.next().is_some_and(admitted));
            }
            wire::encode_withdraw(ctx, &keys, &mut wd)
        }
    }
    (ann, wd)
}

/// Churn change k of speaker 0: one prefix of its own re-announced with MED `CHURN_MED + k`.
fn churn_updates(
    sc: &Scenario,
    t: &Table,
    customers: Option<&[u32]>,
    ctx: &CodecCtx,
    refl: Option<Reflected>,
) -> Vec<Vec<u8>> {
    let own = sc.prefixes.min(t.len()).max(1);
    let lp = if sc.contested { 200 } else { 100 };
    (0..sc.churn)
        .map(|k| {
            let j = (u64::from(k) * 7919 % u64::from(own)) as usize;
            let mut a = table::attrs(0, j as u32, lp, sc.attr_sets);
            a.med = Some(CHURN_MED + k);
            Reflected::apply(refl, &mut a);
            let mut out = Vec::new();
            match customers {
                None => wire::encode_announce(ctx, &a, &t.prefixes[j..j + 1], &mut out),
                Some(cs) => {
                    let c = cs[j];
                    a.ext_communities = vec![vpn::route_target(c)];
                    if sc.evpn.is_some() {
                        let route = evpn::announced(t, cs, j..j + 1);
                        wire::encode_announce(ctx, &a, &route, &mut out);
                    } else {
                        let key = vpn_keys(t, cs, j..j + 1);
                        wire::encode_announce_labeled(ctx, &a, vpn::label(c), &key, &mut out);
                    }
                }
            }
            out
        })
        .collect()
}

enum Cmd {
    Churn,
    Withdraw,
}

/// What one writer sends: the table, churn changes (speaker 0 only), the withdrawals.
struct Out {
    /// Shared: the floor sends the same table to every sink (but in mesh mode).
    ann: Arc<[u8]>,
    churn: Vec<Vec<u8>>,
    /// The floor's churner writes each change to every sink itself, as a reflector would
    /// (one thread, one change at a time); empty: to its own session.
    churn_to: Vec<TcpStream>,
    wd: Arc<[u8]>,
}

/// What a writer did: when it started, when it sent each churn change, and the CPU
/// seconds its announcement took.
struct Wrote {
    first: Instant,
    sent: Vec<Instant>,
    cpu: f64,
}

/// A writer: sends `ann`, then on request the churn changes (paced at `rate` per second;
/// notes when each was sent) or `wd`, keeping the session open (with keepalives) until
/// `stop`.
fn writer(
    mut stream: TcpStream,
    out: Out,
    rate: u32,
    go: Arc<Barrier>,
    cmds: mpsc::Receiver<Cmd>,
    keepalive: Option<Duration>,
    stop: Arc<AtomicBool>,
) -> Result<Wrote, String> {
    go.wait();
    let first = Instant::now();
    let cpu_before = procs::thread_cpu();
    stream
        .write_all(&out.ann)
        .map_err(|e| format!("write: {e}"))?;
    let cpu = procs::thread_cpu() - cpu_before;
    let mut last = Instant::now();
    let mut sent = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        match cmds.recv_timeout(Duration::from_millis(50)) {
            Ok(Cmd::Withdraw) => stream
                .write_all(&out.wd)
                .map_err(|e| format!("write: {e}"))?,
            Ok(Cmd::Churn) => {
                let start = Instant::now();
                let gap = Duration::from_secs(1) / rate.max(1);
                for (k, u) in out.churn.iter().enumerate() {
                    let due = start + gap * k as u32;
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    if out.churn_to.is_empty() {
                        stream.write_all(u).map_err(|e| format!("write: {e}"))?;
                        sent.push(Instant::now());
                    } else {
                        // The floor has no hop to the reflector: the change is sent when
                        // its fan-out starts.
                        sent.push(Instant::now());
                        for mut to in &out.churn_to {
                            to.write_all(u).map_err(|e| format!("write: {e}"))?;
                        }
                    }
                }
                last = Instant::now();
            }
            Err(_) => {}
        }
        if keepalive.is_some_and(|k| last.elapsed() >= k) {
            let _ = stream.write_all(&KEEPALIVE);
            last = Instant::now();
        }
    }
    Ok(Wrote { first, sent, cpu })
}

/// Waits until `want` sinks have reported a later phase's event (`is_event`), `have` of
/// them already; returns how many have. The phase gets the whole `timeout` of its own, so a
/// reflector that converged just in time is still measured on it. A failed sink, another
/// event or the time limit ends the wait; a failure or the time limit with an error in
/// `errors`.
fn await_phase(
    rx: &mpsc::Receiver<SinkEvent>,
    want: u32,
    have: u32,
    timeout: Duration,
    phase: &str,
    errors: &mut Vec<String>,
    mut is_event: impl FnMut(&SinkEvent) -> bool,
) -> u32 {
    let limit = Instant::now() + timeout;
    let mut n = have;
    while n < want {
        match rx.recv_timeout(limit.saturating_duration_since(Instant::now())) {
            Ok(SinkEvent::Failed(why, _)) => {
                errors.push(format!("{phase} phase: {why}"));
                break;
            }
            Ok(ev) if is_event(&ev) => n += 1,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let short = want - n;
                errors.push(format!("{phase} phase: timed out ({short} sinks short)"));
                break;
            }
            Ok(_) | Err(_) => break,
        }
    }
    n
}

/// What the floor writes one sink: its announcements and its withdrawals.
type Payload = (Arc<[u8]>, Arc<[u8]>);

/// Sinks one sink thread polls.
const SINKS_PER_THREAD: usize = 8;

/// Runs the scenario against the reflector at `target` (measuring `pid`'s process tree if
/// given), or with `target` None as the floor: each sink fed directly what a reflector
/// would send it.
pub fn run(
    sc: &Scenario,
    target: Option<SocketAddr>,
    pid: Option<u32>,
    o: &Opts,
) -> Result<Report, String> {
    if sc.mesh && (sc.contested || sc.speakers != sc.sinks) {
        return Err(
            "mesh: every session is a speaker and a sink (speakers = sinks, unique)".into(),
        );
    }
    if sc.speakers > MAX_SESSIONS || sc.sinks > MAX_SESSIONS {
        return Err(format!(
            "at most {MAX_SESSIONS} speakers and {MAX_SESSIONS} sinks"
        ));
    }
    let per_speaker = (!sc.contested).then_some(sc.prefixes);
    let table_len = if sc.contested {
        sc.prefixes
    } else {
        sc.speakers
            .checked_mul(sc.prefixes)
            .ok_or("table too large")?
    };
    let t = Arc::new(Table::new(table_len)?);
    let mut rep = Report {
        input_paths: u64::from(sc.speakers) * u64::from(sc.prefixes),
        deliveries: u64::from(table_len - if sc.mesh { sc.prefixes } else { 0 })
            * u64::from(sc.sinks),
        ..Report::default()
    };
    // Speakers identify themselves by their session's address (mesh: the sinks are the
    // speakers); every reflector is configured with ROUTER_ID as its cluster id.
    let speaker_id: fn(u32) -> Ipv4Addr = if sc.mesh { sink_ip } else { speaker_ip };
    let cluster: Ipv4Addr = ROUTER_ID
        .parse()
        .map_err(|_| "ROUTER_ID is not an address")?;
    // One copy for every sink: a thousand sinks must not cost a thousand tables.
    let customers: Option<Arc<[u32]>> = sc.customers().map(|n| t.customers(n).into());
    // RT-Constraint: sink k's membership, per customer; sinks with the same targets share
    // one.
    let mut memberships: std::collections::HashMap<Vec<u32>, Arc<[bool]>> = Default::default();
    let mut member_of = |k: u32| -> Option<Arc<[bool]>> {
        let targets = sc.targets_of(k)?;
        let n = sc.vpn.unwrap_or(0) as usize;
        let m = memberships.entry(targets).or_insert_with_key(|ts| {
            let mut m = vec![false; n];
            ts.iter().for_each(|&c| m[c as usize] = true);
            m.into()
        });
        Some(m.clone())
    };
    let exp = |exclude: Option<u32>, member: Option<Arc<[bool]>>| {
        Arc::new(Expect {
            customers: customers.clone(),
            member,
            table: t.clone(),
            per_speaker,
            exclude,
            speaker_id,
            speakers: sc.speakers,
            cluster,
        })
    };
    let one = |f: Family| FamilySet::EMPTY.with(f);
    let keepalive = Some(Duration::from_secs(u64::from(o.hold_time / 3).max(1)));
    // (sink streams and their ctx), (writer streams with their payloads).
    let mut sink_streams: Vec<(TcpStream, CodecCtx, Arc<Expect>)> = Vec::new();
    let mut writers: Vec<(TcpStream, Out)> = Vec::new();
    let churn_of = |ctx: &CodecCtx, yes: bool, refl: Option<Reflected>| {
        if yes {
            churn_updates(sc, &t, customers.as_deref(), ctx, refl)
        } else {
            Vec::new()
        }
    };
    let t0 = Instant::now();
    match target {
        Some(addr) if sc.mesh => {
            let ips: Vec<_> = (0..sc.sinks).map(sink_ip).collect();
            let (mut ss, r) = sessions(&ips, addr, one(sc.family()), o)?;
            rep.sessions_up = t0.elapsed().as_secs_f64();
            std::thread::sleep(o.settle);
            rep.retries = r + check_alive(&mut ss, &ips, addr, one(sc.family()), o)?;
            for (i, mut s) in ss.into_iter().enumerate() {
                let ctx = s.ctx;
                let stream = s.take_stream();
                let w = stream.try_clone().map_err(|e| e.to_string())?;
                let cs = customers.as_deref();
                let (ann, wd) = payloads(sc, &t, cs, None, i as u32, &ctx, None);
                let (ann, wd) = (ann.into(), wd.into());
                sink_streams.push((stream, ctx, exp(Some(i as u32), None)));
                let churn = churn_of(&ctx, i == 0, None);
                let churn_to = Vec::new();
                writers.push((
                    w,
                    Out {
                        ann,
                        churn,
                        churn_to,
                        wd,
                    },
                ));
            }
        }
        Some(addr) => {
            let sink_ips: Vec<_> = (0..sc.sinks).map(sink_ip).collect();
            let spk_ips: Vec<_> = (0..sc.speakers).map(speaker_ip).collect();
            let (mut sinks, r1) = sessions(&sink_ips, addr, sc.sink_families(), o)?;
            let (mut spks, r2) = sessions(&spk_ips, addr, one(sc.family()), o)?;
            rep.sessions_up = t0.elapsed().as_secs_f64();
            std::thread::sleep(o.settle);
            rep.retries = r1 + r2;
            rep.retries += check_alive(&mut sinks, &sink_ips, addr, sc.sink_families(), o)?;
            rep.retries += check_alive(&mut spks, &spk_ips, addr, one(sc.family()), o)?;
            if sc.member_of.is_some() {
                // Memberships are learned before the clock starts: the run times the VPN
                // routes' distribution, not the sinks' joining.
                for (k, s) in (0..).zip(sinks.iter_mut()) {
                    let targets = sc.targets_of(k).unwrap_or_default();
                    let m = vpn::membership(ASN, sink_ip(k), &targets);
                    s.send_raw(&m)
                        .map_err(|e| format!("{}: membership: {e}", sink_ip(k)))?;
                }
                std::thread::sleep(o.settle);
            }
            for (k, mut s) in (0..).zip(sinks) {
                let ctx = s.ctx;
                sink_streams.push((s.take_stream(), ctx, exp(None, member_of(k))));
            }
            for (i, mut s) in spks.into_iter().enumerate() {
                let cs = customers.as_deref();
                let (ann, wd) = payloads(sc, &t, cs, None, i as u32, &s.ctx, None);
                let (ann, wd) = (ann.into(), wd.into());
                let churn = churn_of(&s.ctx, i == 0, None);
                let churn_to = Vec::new();
                writers.push((
                    s.take_stream(),
                    Out {
                        ann,
                        churn,
                        churn_to,
                        wd,
                    },
                ));
            }
        }
        None => {
            let ctx = CodecCtx {
                four_octet_as: true,
                ..CodecCtx::default()
            };
            let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            let addr = l.local_addr().map_err(|e| e.to_string())?;
            let enc_for = |member: Option<&[bool]>| -> Vec<_> {
                (0..sc.speakers)
                    .map(|s| {
                        let refl = Reflected {
                            originator: speaker_id(s),
                            cluster,
                        };
                        let cs = customers.as_deref();
                        payloads(sc, &t, cs, member, s, &ctx, Some(refl))
                    })
                    .collect()
            };
            let enc = enc_for(None);
            // What a reflector would send sink k: the best path only, speaker 0's
            // (contested), everyone's (unique), or everyone's but the sink's own (mesh).
            let join = |from: &mut dyn Iterator<Item = &(Vec<u8>, Vec<u8>)>| -> Payload {
                let (mut ann, mut wd) = (Vec::new(), Vec::new());
                for (a, w) in from {
                    ann.extend_from_slice(a);
                    wd.extend_from_slice(w);
                }
                (Arc::<[u8]>::from(ann), Arc::<[u8]>::from(wd))
            };
            // Mesh (never contested): each sink's own, below; RT-Constraint: its targets'.
            let same = match (sc.contested, sc.mesh) {
                _ if sc.member_of.is_some() => None,
                (true, _) => Some(join(&mut enc[..1].iter())),
                (false, false) => Some(join(&mut enc.iter())),
                (false, true) => None,
            };
            // Per membership (sinks with the same targets share one payload).
            let mut by_member: Vec<(Arc<[bool]>, Payload)> = Vec::new();
            for k in 0..sc.sinks {
                let w = TcpStream::connect(addr).map_err(|e| e.to_string())?;
                let (r, _) = l.accept().map_err(|e| e.to_string())?;
                let _ = w.set_nodelay(true);
                let member = member_of(k);
                let (ann, wd) = match (&same, &member) {
                    (Some(same), _) => same.clone(),
                    (None, Some(m)) => match by_member.iter().find(|(b, _)| Arc::ptr_eq(b, m)) {
                        Some((_, p)) => p.clone(),
                        None => {
                            let p = join(&mut enc_for(Some(m)).iter());
                            by_member.push((m.clone(), p.clone()));
                            p
                        }
                    },
                    (None, None) => {
                        let others = enc.iter().enumerate().filter(|&(s, _)| s != k as usize);
                        join(&mut others.map(|(_, e)| e))
                    }
                };
                let excl = sc.mesh.then_some(k);
                sink_streams.push((r, ctx, exp(excl, member)));
                writers.push((
                    w,
                    Out {
                        ann,
                        churn: Vec::new(),
                        churn_to: Vec::new(),
                        wd,
                    },
                ));
            }
            // One churner (the first writer) sends each change to every sink.
            if sc.churn > 0 {
                let churn_to = (writers.iter().map(|(w, _)| w.try_clone()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| e.to_string())?;
                let refl = Reflected {
                    originator: speaker_id(0),
                    cluster,
                };
                if let Some((_, out)) = writers.first_mut() {
                    out.churn = churn_of(&ctx, true, Some(refl));
                    out.churn_to = churn_to;
                }
            }
            rep.sessions_up = t0.elapsed().as_secs_f64();
        }
    }

    if sc.member_of.is_some() {
        rep.deliveries = (sink_streams.iter())
            .map(|(_, _, e)| e.total() as u64)
            .sum();
    }

    let before = pid.map(procs::usage);
    let deadline = Instant::now() + o.timeout;
    let go = Arc::new(Barrier::new(writers.len() + 1));
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let ph = Phases {
        churn: sc.churn,
        withdraw: sc.withdraw,
        deadline,
        // In mesh mode the writer owns keepalives on the shared socket.
        keepalive: if sc.mesh { None } else { keepalive },
    };
    // Sink threads each poll up to SINKS_PER_THREAD sinks. Fewer threads would cost less
    // switching, but the scheduler shares the cores per thread: two sink threads against
    // the reflector's three drained scenario C's 200 sinks so slowly that the reflector
    // throttled them (its CPU rose from 1.5 s to 7.6 s).
    let threads = (sc.sinks as usize).div_ceil(SINKS_PER_THREAD).max(1);
    let mut shards: Vec<Vec<Sink>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, (s, ctx, exp)) in sink_streams.into_iter().enumerate() {
        shards[i % threads].push(Sink::new(s, ctx, exp, sc.churn));
    }
    let sink_threads: Vec<_> = (shards.into_iter().filter(|s| !s.is_empty()))
        .map(|shard| {
            let (tx, stop) = (tx.clone(), stop.clone());
            std::thread::spawn(move || sink::serve(shard, ph, tx, stop))
        })
        .collect();
    drop(tx);
    let mut cmd_tx = Vec::new();
    let writer_threads: Vec<_> = writers
        .into_iter()
        .map(|(s, out)| {
            let (go, stop) = (go.clone(), stop.clone());
            let (wtx, wrx) = mpsc::channel();
            cmd_tx.push(wtx);
            let rate = sc.churn_rate;
            std::thread::spawn(move || writer(s, out, rate, go, wrx, keepalive, stop))
        })
        .collect();
    go.wait();
    // Provisional: the writers' own start times replace it once they are joined (this
    // thread may be scheduled out after the barrier on a loaded machine).
    let clock = Instant::now();

    let mut last = clock;
    let mut converged = 0;
    let mut worst = 1.0f64;
    // A sink with no churn to wait for (mesh: the churner's own) reports it at once.
    let mut churned = 0;
    while converged < sc.sinks {
        match rx.recv() {
            Ok(SinkEvent::Converged(at)) => {
                converged += 1;
                last = last.max(at);
            }
            Ok(SinkEvent::Failed(why, p)) => {
                worst = worst.min(p);
                rep.errors.push(why);
                converged += 1; // counted, so the loop ends; the run is marked failed
            }
            Ok(SinkEvent::Churned) => churned += 1,
            Ok(SinkEvent::Withdrawn(_)) | Err(_) => break,
        }
    }
    let after = pid.map(procs::usage);
    if rep.errors.is_empty() {
        rep.progress = 1.0;
    } else {
        rep.progress = worst;
    }
    if let (Some(b), Some(a)) = (before, after) {
        rep.cpu = Some(a.cpu - b.cpu);
        rep.cpu_sys = Some(a.sys - b.sys);
        rep.peak_rss = Some(a.peak_rss);
        rep.base_rss = Some(b.rss);
        rep.procs = a.procs;
    }
    if sc.churn > 0 && rep.errors.is_empty() {
        let cpu_before = pid.map(procs::usage);
        cmd_tx.iter().for_each(|w| {
            let _ = w.send(Cmd::Churn);
        });
        let is_churned = |ev: &SinkEvent| matches!(ev, SinkEvent::Churned);
        let (want, errors) = (sc.sinks, &mut rep.errors);
        churned = await_phase(&rx, want, churned, o.timeout, "churn", errors, is_churned);
        if churned == sc.sinks {
            if let (Some(b), Some(pid)) = (cpu_before, pid) {
                rep.cpu_churn = Some(procs::usage(pid).cpu - b.cpu);
            }
        }
    }
    if sc.withdraw && rep.errors.is_empty() {
        let wclock = Instant::now();
        cmd_tx.iter().for_each(|w| {
            let _ = w.send(Cmd::Withdraw);
        });
        let mut wlast = wclock;
        let is_withdrawn = |ev: &SinkEvent| match ev {
            SinkEvent::Withdrawn(at) => {
                wlast = wlast.max(*at);
                true
            }
            _ => false,
        };
        let (want, errors) = (sc.sinks, &mut rep.errors);
        let done = await_phase(&rx, want, 0, o.timeout, "withdraw", errors, is_withdrawn);
        if done == sc.sinks {
            rep.withdraw = Some(wlast.duration_since(wclock).as_secs_f64());
            if let (Some(a), Some(pid)) = (after, pid) {
                rep.cpu_withdraw = Some(procs::usage(pid).cpu - a.cpu);
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let sunk: Vec<_> = sink_threads
        .into_iter()
        .filter_map(|t| t.join().ok())
        .flatten()
        .collect();
    let mut sent = Vec::new();
    let mut first = clock;
    let mut writers_cpu = 0.0;
    for t in writer_threads {
        match t.join() {
            Ok(Ok(w)) => {
                first = first.min(w.first);
                sent.push(w.sent);
                writers_cpu += w.cpu;
            }
            Ok(Err(e)) => {
                rep.errors.push(e);
                sent.push(Vec::new());
            }
            Err(_) => sent.push(Vec::new()),
        }
    }
    if target.is_none() && rep.progress == 1.0 {
        // The floor's CPU: its writers delivering the table, the kernel's whole cost of it
        // (the receivers' TCP processing runs in the sender's softirq on loopback). Its
        // split into user and system is left out: the kernel apportions a thread's time
        // by timer ticks, and each writer runs for a few milliseconds in short bursts.
        rep.cpu = Some(writers_cpu);
    }
    if rep.progress == 1.0 {
        // From the first byte any writer wrote to the last sink complete.
        rep.convergence = Some(last.saturating_duration_since(first).as_secs_f64());
    }
    if sc.churn > 0 && rep.errors.is_empty() {
        // Every change comes from writer 0 (the floor's churner writes to every sink).
        let mut lat: Vec<f64> = Vec::new();
        for (_, seen) in &sunk {
            for (k, at) in seen.iter().enumerate() {
                if let (Some(at), Some(s)) = (at, sent.first().and_then(|v| v.get(k))) {
                    lat.push(at.saturating_duration_since(*s).as_secs_f64());
                }
            }
        }
        lat.sort_by(f64::total_cmp);
        let q = |f: f64| {
            lat.get(((lat.len() as f64 - 1.0) * f).round() as usize)
                .copied()
        };
        rep.churn_p50 = q(0.5);
        rep.churn_p99 = q(0.99);
        rep.churn_max = lat.last().copied();
    }
    drop(sunk);
    Ok(rep)
}
