//! reflectd-load: drives a reflector with N speakers (non-clients announcing unique /24s,
//! UPDATEs encoded before the clock starts, then only bytes written) and K sinks (clients
//! counting what is reflected to them), and reports sessions-up time, convergence time,
//! prefix deliveries per second, and the reflector's CPU seconds and peak RSS.
//!
//! `reflectd-load --reflectd target/release/reflectd --speakers 4 --prefixes 250000 --sinks 4`
//! writes a config, starts the reflector, runs once and stops it by PID.

use clap::Parser;
use reflectd::speaker::{Speaker, SpeakerConfig};
use reflectd::wire::{self, *};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Load generator and sink for reflectd")]
struct Args {
    /// The reflectd binary to start.
    #[arg(long)]
    reflectd: std::path::PathBuf,
    #[arg(long, default_value_t = 4)]
    speakers: u32,
    /// Unique prefixes per speaker.
    #[arg(long, default_value_t = 100_000)]
    prefixes: u32,
    #[arg(long, default_value_t = 2)]
    sinks: u32,
    #[arg(long, default_value_t = 11790)]
    port: u16,
    #[arg(long, default_value_t = 2)]
    workers: u32,
    /// Every speaker announces the same prefixes (speaker 0 with the highest LOCAL_PREF, so
    /// best path is contested); sinks wait until every prefix carries speaker 0's path.
    #[arg(long)]
    contested: bool,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

fn speaker_ip(i: u32) -> Ipv4Addr {
    Ipv4Addr::new(127, 1, (i >> 8) as u8, (i & 0xff) as u8 + 1)
}

fn sink_ip(i: u32) -> Ipv4Addr {
    Ipv4Addr::new(127, 2, (i >> 8) as u8, (i & 0xff) as u8 + 1)
}

fn config(a: &Args) -> String {
    let mut s = format!(
        "asn: 65000\nrouter_id: 10.255.0.1\nlisten:\n  - address: 127.0.0.1\n    port: {}\nworkers: {}\nlog: warn\nneighbors:\n",
        a.port, a.workers
    );
    let mut add = |ip: Ipv4Addr, client: bool| {
        s.push_str(&format!("  - address: {ip}\n    asn: 65000\n    rr_client: {client}\n    passive: true\n    hold_time: 0\n"));
    };
    (0..a.speakers).for_each(|i| add(speaker_ip(i), false));
    (0..a.sinks).for_each(|i| add(sink_ip(i), true));
    s
}

/// VmRSS bytes of a process now.
fn rss_now(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

/// utime+stime seconds and VmHWM bytes of a process.
fn proc_usage(pid: u32) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: f64 = fields
        .get(11)
        .and_then(|u| u.parse::<f64>().ok())
        .unwrap_or(0.0)
        + fields
            .get(12)
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    (ticks / 100.0, hwm * 1024)
}

fn session(local: Ipv4Addr, target: SocketAddr) -> Speaker {
    let mut cfg = SpeakerConfig::new(IpAddr::V4(local), 65000, local);
    cfg.hold_time = 0;
    cfg.families = FamilySet::EMPTY.with(Family::Ipv4Unicast);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match Speaker::connect(&cfg, target, Duration::from_secs(5)) {
            Ok(s) => return s,
            Err(e) if Instant::now() > deadline => panic!("{local}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// What a sink must end up with: `prefixes` /24s from `BASE`, each with next hop `want`
/// (None: any next hop will do, as with unique prefixes per speaker).
#[derive(Clone, Copy)]
struct Expect {
    prefixes: u32,
    want: Option<NextHop>,
}

const BASE: u32 = 1 << 24;

/// Index of a /24 in the generated table, if it is one of ours.
fn index(p: &Prefix4, total: u32) -> Option<usize> {
    let a = u32::from(p.addr());
    let i = a.checked_sub(BASE)? >> 8;
    (p.len() == 24 && i < total).then_some(i as usize)
}

/// Tracks every prefix's state until all are as expected; returns when they are.
fn sink(mut s: Speaker, exp: Expect, deadline: Instant) -> Option<Instant> {
    let ctx = s.ctx;
    let mut stream = s.take_stream();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .ok()?;
    let mut buf = vec![0u8; 1 << 20];
    let mut ok = vec![false; exp.prefixes as usize];
    let (mut have, mut good) = (0usize, 0u32);
    while Instant::now() < deadline {
        let n = match stream.read(&mut buf[have..]) {
            Ok(0) => return None,
            Ok(n) => n,
            Err(_) => continue,
        };
        have += n;
        let mut pos = 0;
        while let Ok(Some(len)) = wire::frame(&buf[pos..have], MAX_EXTENDED_MESSAGE_LEN) {
            if let Ok(Message::Update(u)) = wire::decode(&buf[pos..pos + len], &ctx) {
                let right = match (exp.want, &u.attrs) {
                    (None, _) => true,
                    (Some(w), Some(a)) => a.next_hop == w,
                    (Some(_), None) => false,
                };
                let mut set = |p: &Prefix4, v: bool| {
                    if let Some(i) = index(p, exp.prefixes) {
                        match (ok[i], v) {
                            (false, true) => good += 1,
                            (true, false) => good -= 1,
                            _ => {}
                        }
                        ok[i] = v;
                    }
                };
                u.withdrawn.iter().for_each(|p| set(p, false));
                u.nlri.iter().for_each(|p| set(p, right));
            }
            pos += len;
        }
        buf.copy_within(pos..have, 0);
        have -= pos;
        if good == exp.prefixes {
            return Some(Instant::now());
        }
    }
    None
}

fn main() {
    let a = Args::parse();
    let dir = std::env::temp_dir().join(format!("reflectd-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cfg_path = dir.join("reflectd.yaml");
    std::fs::write(&cfg_path, config(&a)).expect("config");
    let mut child = Command::new(&a.reflectd)
        .arg("--config")
        .arg(&cfg_path)
        .stdin(Stdio::null())
        .spawn()
        .expect("start reflectd");
    let pid = child.id();
    let target = SocketAddr::from(([127, 0, 0, 1], a.port));
    std::thread::sleep(Duration::from_millis(300));

    let t0 = Instant::now();
    let sinks: Vec<Speaker> = (0..a.sinks).map(|i| session(sink_ip(i), target)).collect();
    let speakers: Vec<Speaker> = (0..a.speakers)
        .map(|i| session(speaker_ip(i), target))
        .collect();
    let sessions_up = t0.elapsed();

    // Encode before the clock starts.
    let next_hop =
        |i: u32| NextHop::V4(Ipv4Addr::new(100, 64, (i >> 8) as u8, 1 + (i & 0xff) as u8));
    let attrs = |i: u32| PathAttrs {
        as_path: AsPath {
            segments: vec![AsSegment {
                kind: SegmentKind::Sequence,
                asns: vec![64512 + i, 174, 3356],
            }],
        },
        next_hop: next_hop(i),
        local_pref: Some(if a.contested && i == 0 { 200 } else { 100 }),
        communities: vec![(65000 << 16) | i],
        ..PathAttrs::default()
    };
    let payloads: Vec<Vec<u8>> = (0..a.speakers)
        .map(|i| {
            let first = if a.contested { 0 } else { i * a.prefixes };
            let p: Vec<Prefix4> = (first..first + a.prefixes)
                .filter_map(|j| Prefix4::new(Ipv4Addr::from(BASE + (j << 8)), 24))
                .collect();
            let mut out = Vec::new();
            wire::encode_announce(&speakers[i as usize].ctx, &attrs(i), &p, &mut out);
            wire::encode_end_of_rib(Family::Ipv4Unicast, &mut out);
            out
        })
        .collect();
    let paths = u64::from(a.speakers) * u64::from(a.prefixes);
    let exp = if a.contested {
        Expect {
            prefixes: a.prefixes,
            want: Some(next_hop(0)),
        }
    } else {
        Expect {
            prefixes: a.speakers * a.prefixes,
            want: None,
        }
    };
    let (cpu0, _) = proc_usage(pid);
    let deadline = Instant::now() + Duration::from_secs(a.timeout);
    let start = Arc::new(Barrier::new((a.sinks + a.speakers + 1) as usize));
    let sink_threads: Vec<_> = sinks
        .into_iter()
        .map(|s| {
            let b = start.clone();
            std::thread::spawn(move || {
                b.wait();
                sink(s, exp, deadline)
            })
        })
        .collect();
    let speaker_threads: Vec<_> = speakers
        .into_iter()
        .zip(payloads)
        .map(|(mut s, bytes)| {
            let b = start.clone();
            std::thread::spawn(move || {
                let mut stream = s.take_stream();
                b.wait();
                stream.write_all(&bytes).expect("speaker write");
                stream // keep the session open until the end
            })
        })
        .collect();
    start.wait();
    let clock = Instant::now();
    let done: Vec<Option<Instant>> = sink_threads
        .into_iter()
        .map(|t| t.join().unwrap_or(None))
        .collect();
    let (cpu1, rss) = proc_usage(pid);
    std::thread::sleep(Duration::from_millis(500));
    let settled = rss_now(pid);
    let _open: Vec<_> = speaker_threads
        .into_iter()
        .filter_map(|t| t.join().ok())
        .collect();
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);

    if done.iter().any(Option::is_none) {
        eprintln!("not every sink converged within {} s", a.timeout);
        std::process::exit(1);
    }
    let last = done.iter().flatten().max().copied().unwrap_or(clock);
    let conv = last.duration_since(clock).as_secs_f64();
    let deliveries = u64::from(exp.prefixes) * u64::from(a.sinks);
    let mode = if a.contested { "contested" } else { "unique" };
    println!(
        "speakers={} prefixes/speaker={} ({mode}) sinks={} workers={}",
        a.speakers, a.prefixes, a.sinks, a.workers
    );
    println!("sessions up:        {:.3} s", sessions_up.as_secs_f64());
    println!("convergence:        {conv:.3} s");
    println!("deliveries/s:       {:.0}", deliveries as f64 / conv);
    println!(
        "reflector CPU:      {:.2} s ({:.2} s per million input paths)",
        cpu1 - cpu0,
        (cpu1 - cpu0) / (paths as f64 / 1e6)
    );
    println!(
        "reflector peak RSS: {:.1} MiB ({:.0} bytes per stored path)",
        rss as f64 / 1048576.0,
        rss as f64 / paths as f64
    );
    println!(
        "reflector RSS 0.5 s after convergence: {:.1} MiB ({:.0} bytes per stored path)",
        settled as f64 / 1048576.0,
        settled as f64 / paths as f64
    );
}
