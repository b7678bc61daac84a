//! `reflectd-load compare`: the same scenarios against every reflector and against the
//! floor (the load tool wired to itself), medians of several runs with the daemon order
//! rotated between runs, printed as one Markdown table.

use crate::affinity::Cpus;
use crate::daemons::{Daemon, Kind, Peers};
use crate::lab::Scenario;
use crate::load::{self, Opts, Report};
use clap::Args;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args)]
pub struct CompareArgs {
    /// The reflectd binary.
    #[arg(long, default_value = "target/release/reflectd")]
    reflectd: PathBuf,
    /// Reflectors to compare (the floor is always run too).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "reflectd,bird,gobgp,frr,openbgpd"
    )]
    daemons: Vec<String>,
    /// NAME:SPEAKERSxPREFIXES:SINKS[:contested|:mesh][:churn][:vpnN[:memberM]|:evpnN], repeatable
    /// (`vpnN`: VPN-IPv4 routes of N customers, each its own route target; `memberM`: sinks
    /// use RT-Constraint, each a member of M targets; `evpnN`: EVPN MAC/IP and IP prefix
    /// routes of N customers, each its own RD, route target and label). Default: the small set
    /// A:10x20000:2 B:4x100000:10:contested C:1x100000:20 D:200x100:200:mesh
    /// E:10x20000:2:churn.
    #[arg(long)]
    scenario: Vec<String>,
    /// The full-size set instead: A:10x100000:2 B:4x1000000:50:contested C:1x1000000:200
    /// D:1000x100:1000:mesh E:4x1000000:50:contested:churn (the E: B, then 100k
    /// changes at 10k/s unless --churn / --churn-rate say otherwise).
    #[arg(long)]
    full: bool,
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Per-run limit for every reflector but GoBGP.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Per-run limit for GoBGP (one prefix per UPDATE: far slower; capped so the matrix ends).
    #[arg(long, default_value_t = 60)]
    gobgp_timeout: u64,
    #[arg(long)]
    withdraw: bool,
    /// Changes a `:churn` scenario sends after convergence (one prefix each) [default:
    /// 2000, with --full 100000].
    #[arg(long)]
    churn: Option<u32>,
    /// Churn changes per second [default: 500, with --full 10000].
    #[arg(long)]
    churn_rate: Option<u32>,
    #[arg(long, default_value_t = 0)]
    attr_sets: u32,
    /// reflectd worker threads.
    #[arg(long, default_value = "2")]
    workers: String,
    #[arg(long, default_value_t = 12000)]
    port: u16,
    #[arg(long, default_value_t = 100)]
    stagger_ms: u64,
    /// Wait after all sessions are up (resets in this time are redone).
    #[arg(long, default_value_t = 1000)]
    settle_ms: u64,
    /// Also write the table here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also write one CSV row per scenario and reflector (medians) here, for
    /// `benches/plot.py`.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Client-count sweep: adds scenario `S<N>:1x<sweep-prefixes>:<N>` for each N (fan-out
    /// cost against clients; `benches/plot.py` draws it).
    #[arg(long, value_delimiter = ',')]
    sweep: Vec<u32>,
    #[arg(long, default_value_t = 100_000)]
    sweep_prefixes: u32,
    /// Run the load tool (speakers, sinks and the floor) on these CPUs only, e.g. 0.
    #[arg(long, value_parser = Cpus::parse)]
    harness_cpus: Option<Cpus>,
    /// Run every reflector on these CPUs only, e.g. 1 (reflectd's workers are pinned within
    /// them; with one CPU pass --workers 1).
    #[arg(long, value_parser = Cpus::parse)]
    reflector_cpus: Option<Cpus>,
}

#[derive(Clone)]
struct Named {
    name: String,
    sc: Scenario,
}

/// Per-run options every scenario shares.
#[derive(Clone, Copy)]
struct Common {
    withdraw: bool,
    attr_sets: u32,
    churn: u32,
    churn_rate: u32,
}

fn parse_scenario(s: &str, c: Common) -> Result<Named, String> {
    let bad = || {
        format!(
            "bad scenario {s:?}: want NAME:SPEAKERSxPREFIXES:SINKS[:contested|:mesh][:churn][:vpnN[:memberM]|:evpnN]"
        )
    };
    let f: Vec<&str> = s.split(':').collect();
    if f.len() < 3 {
        return Err(bad());
    }
    let (sp, pf) = f[1].split_once('x').ok_or_else(bad)?;
    let (mut contested, mut mesh, mut churn, mut vpn, mut evpn) = (false, false, false, None, None);
    let mut member_of = None;
    for o in &f[3..] {
        match *o {
            "contested" => contested = true,
            "mesh" => mesh = true,
            "churn" => churn = true,
            o => {
                let number = |p: &str| o.strip_prefix(p).map(|n| n.parse().map_err(|_| bad()));
                match (number("vpn"), number("evpn"), number("member")) {
                    (Some(n), _, _) => vpn = Some(n?),
                    (_, Some(n), _) => evpn = Some(n?),
                    (_, _, Some(n)) => member_of = Some(n?),
                    _ => return Err(bad()),
                }
            }
        }
    }
    // Membership is of the VPN customers' route targets, and sinks only (a mesh has none).
    if (contested && mesh)
        || (member_of.is_some() && (vpn.is_none() || mesh))
        || (vpn.is_some() && evpn.is_some())
    {
        return Err(bad());
    }
    Ok(Named {
        name: f[0].to_owned(),
        sc: Scenario {
            speakers: sp.parse().map_err(|_| bad())?,
            prefixes: pf.parse().map_err(|_| bad())?,
            sinks: f[2].parse().map_err(|_| bad())?,
            contested,
            withdraw: c.withdraw,
            attr_sets: c.attr_sets,
            mesh,
            churn: if churn { c.churn } else { 0 },
            churn_rate: c.churn_rate,
            vpn,
            evpn,
            member_of,
        },
    })
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn med_of(rs: &[Report], f: impl Fn(&Report) -> Option<f64>) -> Option<f64> {
    median(
        rs.iter()
            .filter(|r| r.convergence.is_some())
            .filter_map(f)
            .collect(),
    )
}

fn fmt(v: Option<f64>, prec: usize) -> String {
    v.map_or("–".into(), |x| format!("{x:.prec$}"))
}

fn timeout_of(a: &CompareArgs, kind: Kind) -> u64 {
    if kind == Kind::Gobgp {
        a.gobgp_timeout
    } else {
        a.timeout
    }
}

/// FRR's update-group coalesce time for `peers` peers: min(10 s, 1 s + 50 ms × peers).
fn frr_coalesce(peers: u32) -> f64 {
    (1.0 + 0.05 * f64::from(peers)).min(10.0)
}

pub fn main(a: CompareArgs) -> i32 {
    let sweep = a
        .sweep
        .iter()
        .map(|n| format!("S{n}:1x{}:{n}", a.sweep_prefixes));
    let specs: Vec<String> = if !a.scenario.is_empty() || !a.sweep.is_empty() {
        a.scenario.iter().cloned().chain(sweep).collect()
    } else if a.full {
        vec![
            "A:10x100000:2".into(),
            "B:4x1000000:50:contested".into(),
            "C:1x1000000:200".into(),
            "D:1000x100:1000:mesh".into(),
            "E:4x1000000:50:contested:churn".into(),
        ]
    } else {
        vec![
            "A:10x20000:2".into(),
            "B:4x100000:10:contested".into(),
            "C:1x100000:20".into(),
            "D:200x100:200:mesh".into(),
            "E:10x20000:2:churn".into(),
        ]
    };
    let scenarios: Vec<Named> = match specs
        .iter()
        .map(|s| {
            parse_scenario(
                s,
                Common {
                    withdraw: a.withdraw,
                    attr_sets: a.attr_sets,
                    churn: a.churn.unwrap_or(if a.full { 100_000 } else { 2000 }),
                    churn_rate: a.churn_rate.unwrap_or(if a.full { 10_000 } else { 500 }),
                },
            )
        })
        .collect()
    {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let mut kinds = Vec::new();
    for d in &a.daemons {
        match Kind::parse(d) {
            Some(Kind::Floor) => {}
            Some(k) => kinds.push(k),
            None => {
                eprintln!("unknown daemon {d:?}: reflectd, bird, gobgp, frr, openbgpd");
                return 2;
            }
        }
    }
    kinds.push(Kind::Floor);
    // Before any thread starts: they all inherit it.
    if let Err(e) = a.harness_cpus.as_ref().map_or(Ok(()), Cpus::apply_here) {
        eprintln!("{e}");
        return 2;
    }
    let root = std::env::temp_dir().join(format!("reflectd-compare-{}", std::process::id()));
    let mut port = a.port;
    let mut next_dir = 0;
    // results[scenario][kind] = one entry per run.
    let mut results: Vec<Vec<Vec<Result<Report, String>>>> =
        vec![vec![Vec::new(); kinds.len()]; scenarios.len()];
    for (si, n) in scenarios.iter().enumerate() {
        for run in 0..a.runs {
            for step in 0..kinds.len() {
                let ki = (step + run) % kinds.len();
                let kind = kinds[ki];
                let timeout = timeout_of(&a, kind);
                let opts = Opts {
                    stagger: Duration::from_millis(a.stagger_ms),
                    settle: Duration::from_millis(a.settle_ms),
                    hold_time: 90,
                    timeout: Duration::from_secs(timeout),
                };
                let r = if kind == Kind::Floor {
                    load::run(&n.sc, None, None, &opts)
                } else {
                    next_dir += 1;
                    let dir = root.join(format!("{next_dir}-{}", kind.name()));
                    port = port.wrapping_add(10).max(1024);
                    let peers = Peers::of(&n.sc);
                    let r = std::fs::create_dir_all(&dir)
                        .map_err(|e| e.to_string())
                        .and_then(|()| {
                            Daemon::start(
                                kind,
                                &a.reflectd,
                                &a.workers,
                                port,
                                peers,
                                &dir,
                                a.reflector_cpus.as_ref(),
                            )
                        })
                        .and_then(|d| {
                            let target = SocketAddr::from(([127, 0, 0, 1], port));
                            let r = load::run(&n.sc, Some(target), Some(d.pid), &opts);
                            match r {
                                Ok(mut r) if r.convergence.is_none() => {
                                    r.errors.dedup();
                                    if r.errors.iter().any(|e| !e.starts_with("timed out")) {
                                        r.errors.push(format!("daemon log: {}", d.log_tail()));
                                    }
                                    Ok(r)
                                }
                                Err(e) => Err(format!("{e}; daemon log: {}", d.log_tail())),
                                ok => ok,
                            }
                        });
                    let _ = std::fs::remove_dir_all(&dir);
                    r
                };
                match &r {
                    Ok(r) => eprintln!(
                        "{} run {} {:>9}: up {:.2} s, conv {} s, cpu {} s (sys {}), rss {} MiB ({} procs){}{}",
                        n.name,
                        run + 1,
                        kind.name(),
                        r.sessions_up,
                        fmt(r.convergence, 3),
                        fmt(r.cpu, 2),
                        fmt(r.cpu_sys, 2),
                        fmt(r.peak_rss.map(|b| b as f64 / 1048576.0), 1),
                        r.procs,
                        // Per run too: on a shared machine the tail varies run to run.
                        match (r.churn_p50, r.churn_p99) {
                            (Some(p50), Some(p99)) => format!(
                                ", churn p50/p99 {:.2}/{:.2} ms",
                                p50 * 1e3,
                                p99 * 1e3
                            ),
                            _ => String::new(),
                        },
                        if r.errors.is_empty() {
                            String::new()
                        } else {
                            // A thousand sinks may each say what they lack: the first few tell.
                            let n = r.errors.len();
                            let first: Vec<_> = r.errors.iter().take(3).cloned().collect();
                            let more = if n > 3 { format!(" ({n} errors)") } else { String::new() };
                            format!(" [{:.1}%: {}{more}]", r.progress * 100.0, first.join(" | "))
                        }
                    ),
                    Err(e) => eprintln!("{} run {} {:>9}: ERROR {e}", n.name, run + 1, kind.name()),
                }
                results[si][ki].push(r);
            }
        }
        // The files hold every scenario done so far: a long matrix stopped early keeps them.
        write_files(&a, &scenarios[..=si], &kinds, &results[..=si]);
    }
    let _ = std::fs::remove_dir_all(&root);
    println!("{}", render(&a, &scenarios, &kinds, &results));
    0
}

/// `--out` (the table) and `--csv`, for `scenarios` and their results.
fn write_files(
    a: &CompareArgs,
    scenarios: &[Named],
    kinds: &[Kind],
    results: &[Vec<Vec<Result<Report, String>>>],
) {
    // Each text is made only when its file was asked for.
    let write = |path: &Option<PathBuf>, text: &dyn Fn() -> String| {
        if let Some(path) = path {
            if let Err(e) = std::fs::write(path, text()) {
                eprintln!("{}: {e}", path.display());
            }
        }
    };
    write(&a.out, &|| render(a, scenarios, kinds, results));
    write(&a.csv, &|| csv(scenarios, kinds, results));
}

/// Medians per (scenario, reflector), one row each; empty fields where nothing was measured.
fn csv(
    scenarios: &[Named],
    kinds: &[Kind],
    results: &[Vec<Vec<Result<Report, String>>>],
) -> String {
    let mut t = String::from(
        "scenario,speakers,prefixes,sinks,shape,reflector,runs,runs_ok,sessions_up_s,\
         convergence_s,cpu_s,peak_rss_mib,bytes_per_path,deliveries_per_s,withdraw_s,\
         churn_p50_ms,churn_p99_ms,churn_cpu_s\n",
    );
    let f = |v: Option<f64>| v.map(|x| format!("{x:.6}")).unwrap_or_default();
    for (si, n) in scenarios.iter().enumerate() {
        let sc = &n.sc;
        let shape = match (sc.contested, sc.mesh) {
            (true, _) => "contested",
            (_, true) => "mesh",
            _ => "unique",
        };
        for (ki, kind) in kinds.iter().enumerate() {
            let rs: Vec<Report> = results[si][ki]
                .iter()
                .filter_map(|r| r.as_ref().ok().cloned())
                .collect();
            let ok = rs.iter().filter(|r| r.convergence.is_some()).count();
            let _ = writeln!(
                t,
                "{},{},{},{},{shape},{},{},{ok},{},{},{},{},{},{},{},{},{},{}",
                n.name,
                sc.speakers,
                sc.prefixes,
                sc.sinks,
                kind.name(),
                results[si][ki].len(),
                f(med_of(&rs, |r| Some(r.sessions_up))),
                f(med_of(&rs, |r| r.convergence)),
                f(med_of(&rs, |r| r.cpu)),
                f(med_of(&rs, |r| r.peak_rss.map(|b| b as f64 / 1048576.0))),
                f(med_of(&rs, Report::bytes_per_path)),
                f(med_of(&rs, Report::deliveries_per_s)),
                f(med_of(&rs, |r| r.withdraw)),
                f(med_of(&rs, |r| r.churn_p50.map(|x| x * 1e3))),
                f(med_of(&rs, |r| r.churn_p99.map(|x| x * 1e3))),
                f(med_of(&rs, |r| r.cpu_churn)),
            );
        }
    }
    t
}

fn render(
    a: &CompareArgs,
    scenarios: &[Named],
    kinds: &[Kind],
    results: &[Vec<Vec<Result<Report, String>>>],
) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "Medians of {} runs (daemon order rotated each run); a run counts only if every sink saw \
         every prefix with the expected next hop.\n",
        a.runs
    );
    if a.harness_cpus.is_some() || a.reflector_cpus.is_some() {
        let show = |c: &Option<Cpus>| c.as_ref().map_or("any".to_string(), Cpus::to_string);
        let _ = writeln!(
            t,
            "CPUs: the load tool on {}, each reflector on {}.\n",
            show(&a.harness_cpus),
            show(&a.reflector_cpus)
        );
    }
    let churn = scenarios.iter().any(|n| n.sc.churn > 0);
    let _ = writeln!(
        t,
        "| scenario | reflector | runs ok | sessions up s | convergence s | CPU s | peak RSS MiB | bytes/path | deliveries/s |{}{} notes |",
        if a.withdraw { " withdraw-all s |" } else { "" },
        if churn { " churn p50 / p99 ms | churn CPU s |" } else { "" }
    );
    let _ = writeln!(
        t,
        "|---|---|---|---|---|---|---|---|---|{}{}---|",
        if a.withdraw { "---|" } else { "" },
        if churn { "---|---|" } else { "" }
    );
    for (si, n) in scenarios.iter().enumerate() {
        let floor_i = kinds.iter().position(|&k| k == Kind::Floor);
        let ok_reports = |ki: usize| -> Vec<Report> {
            results[si][ki]
                .iter()
                .filter_map(|r| r.as_ref().ok().cloned())
                .collect()
        };
        let floor_conv = floor_i.and_then(|fi| med_of(&ok_reports(fi), |r| r.convergence));
        let sc = &n.sc;
        let desc = format!(
            "{}: {}×{}{} → {}{}",
            n.name,
            sc.speakers,
            sc.prefixes,
            if sc.contested {
                " contested"
            } else if sc.mesh {
                " mesh"
            } else {
                ""
            },
            sc.sinks,
            if sc.churn > 0 {
                format!(", churn {} @ {}/s", sc.churn, sc.churn_rate)
            } else {
                String::new()
            }
        );
        let desc = match (sc.vpn, sc.evpn, sc.member_of) {
            (Some(n), _, Some(m)) => format!("{desc}, VPN-IPv4 ×{n} customers, members of {m}"),
            (Some(n), _, None) => format!("{desc}, VPN-IPv4 ×{n} customers"),
            (None, Some(n), _) => format!("{desc}, EVPN ×{n} customers"),
            (None, None, _) => desc,
        };
        for (ki, &kind) in kinds.iter().enumerate() {
            let rs = ok_reports(ki);
            let ok = rs.iter().filter(|r| r.convergence.is_some()).count();
            let conv = med_of(&rs, |r| r.convergence);
            let mut notes = Vec::new();
            if kind != Kind::Floor {
                if let (Some(c), Some(f)) = (conv, floor_conv) {
                    if c <= 1.2 * f {
                        notes.push("harness-bound (≤1.2× floor)".to_string());
                    }
                }
            }
            if kind == Kind::Floor {
                notes.push("CPU: its writers, the kernel's cost of the delivery".to_string());
            }
            if kind == Kind::Frr {
                notes.push(format!(
                    "update-group coalesce timer up to {:.1} s: compare CPU",
                    frr_coalesce(sc.speakers + sc.sinks)
                ));
            }
            if kind == Kind::Gobgp {
                notes.push(format!("capped at {} s", a.gobgp_timeout));
            }
            let retries: u32 = rs.iter().map(|r| r.retries).sum();
            if retries > 0 {
                notes.push(format!("{retries} session retries"));
            }
            let failed: Vec<String> = results[si][ki]
                .iter()
                .filter_map(|r| match r {
                    Err(e) => Some(e.clone()),
                    Ok(r) if r.convergence.is_none() => Some(format!(
                        "slowest sink {:.0}% done (≥{:.0} deliveries/s): {}",
                        r.progress * 100.0,
                        r.progress * r.deliveries as f64 / timeout_of(a, kind) as f64,
                        r.errors.first().cloned().unwrap_or_default()
                    )),
                    Ok(_) => None,
                })
                .collect();
            if let Some(f) = failed.first() {
                let f: String = f.chars().take(120).collect();
                notes.push(format!("{} failed: {f}", failed.len()));
            }
            let _ = writeln!(
                t,
                "| {desc} | {} | {ok}/{} | {} | {} | {} | {} | {} | {} |{}{} {} |",
                kind.name(),
                results[si][ki].len(),
                fmt(med_of(&rs, |r| Some(r.sessions_up)), 2),
                fmt(conv, 3),
                fmt(med_of(&rs, |r| r.cpu), 2),
                fmt(med_of(&rs, |r| r.peak_rss.map(|b| b as f64 / 1048576.0)), 1),
                fmt(med_of(&rs, Report::bytes_per_path), 0),
                fmt(med_of(&rs, Report::deliveries_per_s), 0),
                if a.withdraw {
                    format!(" {} |", fmt(med_of(&rs, |r| r.withdraw), 3))
                } else {
                    String::new()
                },
                if churn {
                    format!(
                        " {} / {} | {} |",
                        fmt(med_of(&rs, |r| r.churn_p50.map(|x| x * 1e3)), 2),
                        fmt(med_of(&rs, |r| r.churn_p99.map(|x| x * 1e3)), 2),
                        fmt(med_of(&rs, |r| r.cpu_churn), 3)
                    )
                } else {
                    String::new()
                },
                notes.join("; ").replace('|', "/")
            );
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_parse_from_flags() {
        let c = Common {
            withdraw: false,
            attr_sets: 0,
            churn: 10,
            churn_rate: 100,
        };
        let n = parse_scenario("B:4x100000:10:contested", c).unwrap();
        assert_eq!((n.sc.speakers, n.sc.prefixes, n.sc.sinks), (4, 100_000, 10));
        assert!(n.sc.contested);
        assert!(parse_scenario("B:4:10", c).is_err());
        assert_eq!(parse_scenario("E:1x10:2:churn", c).unwrap().sc.churn, 10);
        assert!(parse_scenario("D:1000x100:1000:mesh", c).unwrap().sc.mesh);
        let b = parse_scenario("R:1x100000:1000:vpn100:member10", c).unwrap();
        assert_eq!((b.sc.vpn, b.sc.member_of), (Some(100), Some(10)));
        assert!(parse_scenario("R:1x100:10:member10", c).is_err());
        let e = parse_scenario("E2:10x100000:2:evpn100", c).unwrap();
        assert_eq!((e.sc.vpn, e.sc.evpn), (None, Some(100)));
        assert_eq!(e.sc.family(), reflectd::wire::Family::L2vpnEvpn);
        assert!(parse_scenario("E2:1x100:2:evpn10:vpn10", c).is_err());
        assert!(parse_scenario("E2:1x100:2:evpn10:member5", c).is_err());
        assert!(parse_scenario("E2:1x100:2:evpnX", c).is_err());
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert!((frr_coalesce(500) - 10.0).abs() < 1e-9);
    }
}
