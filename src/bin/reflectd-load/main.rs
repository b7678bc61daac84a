//! reflectd-load: drives a BGP route reflector with N speakers (non-clients announcing a
//! deterministic synthetic table, UPDATEs encoded before the clock starts, then only bytes
//! written) and K sinks (clients checking every prefix's next hop, ORIGINATOR_ID and
//! CLUSTER_LIST, a few threads polling them all), and reports sessions-up
//! time, convergence time, prefix deliveries per second, and the reflector's CPU seconds and
//! peak RSS (its whole process tree).
//!
//! ```text
//! reflectd-load --reflectd target/release/reflectd --speakers 4 --prefixes 250000 --sinks 4
//! reflectd-load --target 127.0.0.1:1179 --pid 1234 --speakers 4 --prefixes 250000 --sinks 4
//! reflectd-load --floor --speakers 4 --prefixes 250000 --sinks 4
//! reflectd-load compare --reflectd target/release/reflectd     # reflectd vs BIRD, GoBGP, FRR, OpenBGPD
//! ```

mod affinity;
mod compare;
mod daemons;
mod lab;
mod load;
mod procs;
mod sink;
mod table;

use clap::{Args as ClapArgs, Parser, Subcommand};
use daemons::{Daemon, Kind, Peers};
use lab::Scenario;
use load::{Opts, Report};
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Load generator and sink for BGP route reflectors")]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Cmd {
    /// The same scenarios against reflectd, bird2, gobgpd, frr, openbgpd and the floor.
    Compare(compare::CompareArgs),
}

#[derive(ClapArgs)]
struct RunArgs {
    /// Start this reflectd binary (spawn mode).
    #[arg(long, conflicts_with_all = ["target", "floor"])]
    reflectd: Option<std::path::PathBuf>,
    /// Drive an already running reflector at this address instead.
    #[arg(long)]
    target: Option<SocketAddr>,
    /// With --target: the reflector's pid; its process tree's CPU and memory are measured.
    #[arg(long, requires = "target")]
    pid: Option<u32>,
    /// No reflector: speakers' bytes go straight to the sinks (the harness's own ceiling).
    #[arg(long)]
    floor: bool,
    #[command(flatten)]
    sc: ScenarioArgs,
    /// Port for the spawned reflectd.
    #[arg(long, default_value_t = 11790)]
    port: u16,
    #[arg(long, default_value = "2")]
    workers: String,
}

#[derive(ClapArgs, Clone)]
pub struct ScenarioArgs {
    #[arg(long, default_value_t = 4)]
    speakers: u32,
    /// Unique prefixes per speaker (or the shared table's size with --contested).
    #[arg(long, default_value_t = 100_000)]
    prefixes: u32,
    #[arg(long, default_value_t = 2)]
    sinks: u32,
    /// Every speaker announces the same prefixes (speaker 0 with the highest LOCAL_PREF, so
    /// best path is contested); sinks wait until every prefix carries speaker 0's path.
    #[arg(long)]
    contested: bool,
    /// After convergence, withdraw everything and time until every sink is empty.
    #[arg(long)]
    withdraw: bool,
    /// Every session is a client announcing its own --prefixes and sinking everyone
    /// else's (set --speakers equal to --sinks).
    #[arg(long, conflicts_with = "contested")]
    mesh: bool,
    /// After convergence speaker 0 re-announces this many prefixes one by one (new MED
    /// each); sinks time every change (p50/p99 latency).
    #[arg(long, default_value_t = 0)]
    churn: u32,
    /// Churn changes per second.
    #[arg(long, default_value_t = 1000)]
    churn_rate: u32,
    /// Distinct attribute sets per speaker (0: a new one per run of 1-8 prefixes).
    #[arg(long, default_value_t = 0)]
    attr_sets: u32,
    /// Spread session starts over this many milliseconds.
    #[arg(long, default_value_t = 100)]
    stagger_ms: u64,
    /// Wait after all sessions are up before writing (resets in this time are redone).
    #[arg(long, default_value_t = 200)]
    settle_ms: u64,
    /// VPN-IPv4 routes (RD + prefix, label, route target) instead of IPv4 unicast, the
    /// table spread over this many customers (one RD, route target and label each).
    #[arg(long)]
    vpn: Option<u32>,
    /// EVPN routes (RFC 7432 MAC/IP advertisements, a quarter RFC 9136 IP prefix routes)
    /// instead of IPv4 unicast, the table spread over this many customers (EVIs: one RD,
    /// route target and label each).
    #[arg(long, conflicts_with = "vpn")]
    evpn: Option<u32>,
    /// With --vpn: sinks use RT-Constraint (RFC 4684), each announcing membership of this
    /// many of the customers' route targets, and must get exactly those targets' routes.
    #[arg(long, requires = "vpn", conflicts_with = "mesh")]
    member_of: Option<u32>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

impl ScenarioArgs {
    pub fn scenario(&self) -> Scenario {
        Scenario {
            speakers: self.speakers,
            prefixes: self.prefixes,
            sinks: self.sinks,
            contested: self.contested,
            withdraw: self.withdraw,
            attr_sets: self.attr_sets,
            mesh: self.mesh,
            churn: self.churn,
            churn_rate: self.churn_rate,
            vpn: self.vpn,
            evpn: self.evpn,
            member_of: self.member_of,
        }
    }

    pub fn opts(&self) -> Opts {
        Opts {
            stagger: Duration::from_millis(self.stagger_ms),
            settle: Duration::from_millis(self.settle_ms),
            hold_time: 90,
            timeout: Duration::from_secs(self.timeout),
        }
    }
}

fn print(sc: &Scenario, r: &Report) {
    let mode = match (sc.contested, sc.mesh) {
        (true, _) => "contested",
        (_, true) => "mesh",
        _ => "unique",
    };
    println!(
        "speakers={} prefixes/speaker={} ({mode}) sinks={}",
        sc.speakers, sc.prefixes, sc.sinks
    );
    println!(
        "sessions up:        {:.3} s (retries {})",
        r.sessions_up, r.retries
    );
    match r.convergence {
        Some(c) => {
            println!("convergence:        {c:.3} s");
            println!("deliveries/s:       {:.0}", r.deliveries as f64 / c);
        }
        None => println!(
            "convergence:        FAILED, slowest sink at {:.1}%: {}",
            r.progress * 100.0,
            r.errors.join("; ")
        ),
    }
    if let (Some(p50), Some(p99), Some(max)) = (r.churn_p50, r.churn_p99, r.churn_max) {
        println!(
            "churn latency:      p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            p50 * 1e3,
            p99 * 1e3,
            max * 1e3
        );
    }
    if let Some(w) = r.withdraw {
        println!("withdraw-all:       {w:.3} s");
    }
    if r.convergence.is_some() && !r.errors.is_empty() {
        println!("errors after convergence: {}", r.errors.join("; "));
    }
    if let Some(cpu) = r.cpu {
        println!(
            "reflector CPU:      {cpu:.2} s ({:.2} s per million input paths; {} processes)",
            cpu / (r.input_paths as f64 / 1e6),
            r.procs
        );
    }
    if let (Some(peak), Some(bpp)) = (r.peak_rss, r.bytes_per_path()) {
        println!(
            "reflector peak RSS: {:.1} MiB ({bpp:.0} bytes per stored path above the idle RSS)",
            peak as f64 / 1048576.0
        );
    }
}

fn main() {
    let cli = Cli::parse();
    if let Some(Cmd::Compare(c)) = cli.cmd {
        std::process::exit(compare::main(c));
    }
    let a = cli.run;
    let sc = a.sc.scenario();
    let opts = a.sc.opts();
    let result = if a.floor {
        load::run(&sc, None, None, &opts)
    } else if let Some(t) = a.target {
        load::run(&sc, Some(t), a.pid, &opts)
    } else if let Some(bin) = &a.reflectd {
        let dir = std::env::temp_dir().join(format!("reflectd-load-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let peers = Peers::of(&sc);
        let r = Daemon::start(Kind::Reflectd, bin, &a.workers, a.port, peers, &dir, None).and_then(
            |d| {
                let target = SocketAddr::from(([127, 0, 0, 1], a.port));
                load::run(&sc, Some(target), Some(d.pid), &opts)
            },
        );
        let _ = std::fs::remove_dir_all(&dir);
        r
    } else {
        Err("give --reflectd BIN, --target ADDR [--pid PID], or --floor".into())
    };
    match result {
        Ok(r) => {
            print(&sc, &r);
            // A later phase (churn, withdraw) that failed fails the run too.
            if r.convergence.is_none() || !r.errors.is_empty() {
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("reflectd-load: {e}");
            std::process::exit(1);
        }
    }
}
