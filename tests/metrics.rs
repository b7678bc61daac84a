//! The metrics listener of the real binary: every page passes `promtool check metrics`
//! (Debian's `prometheus` package), a neighbor removed by SIGHUP has no series at the next
//! scrape, a neighbor that withdrew everything or went down shows current gauges, counters
//! stay, and only GET /metrics, /livez and /readyz answer.

mod common;
use common::daemons::{eventually, have};
use common::*;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const A: &str = "127.0.30.1";
const B: &str = "127.0.30.2";
const C: &str = "127.0.30.3";
/// Not configured: its connections are rejected.
const STRANGER: &str = "127.0.30.99";
/// Longer than the exporter's upkeep period and several worker publish ticks.
const SEVERAL_TICKS: Duration = Duration::from_secs(7);

/// One sample: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// The samples of a page in the text format (comments skipped). Enough for our own label
/// values (no escaped quotes or commas); promtool checks the syntax itself.
fn samples(page: &str) -> Vec<Sample> {
    page.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("sample line has a value");
            let value = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap_or(f64::NAN),
            };
            let (name, labels) = match series.split_once('{') {
                None => (series, BTreeMap::new()),
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}').expect("labels end with }");
                    let labels = body
                        .split("\",")
                        .filter(|kv| !kv.is_empty())
                        .map(|kv| {
                            let (k, v) = kv.split_once("=\"").expect("label=\"value\"");
                            (k.to_string(), v.trim_end_matches('"').to_string())
                        })
                        .collect();
                    (name, labels)
                }
            };
            (name.to_string(), labels, value)
        })
        .collect()
}

/// The value of the sample of `name` whose labels are exactly `labels`.
fn value(page: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples(page)
        .into_iter()
        .find(|(n, l, _)| n == name && *l == want)
        .map(|(_, _, v)| v)
}

fn series_of(page: &str, neighbor: &str) -> Vec<String> {
    samples(page)
        .into_iter()
        .filter(|(_, l, _)| l.get("neighbor").map(String::as_str) == Some(neighbor))
        .map(|(n, _, _)| n)
        .collect()
}

/// Runs `promtool check metrics` on the page: it parses the whole page and lints it.
fn promtool_check(page: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(page.as_bytes())
        .expect("write page to promtool");
    let out = child.wait_with_output().expect("promtool output");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics: {report}\npage:\n{page}"
    );
}

/// The HTTP status of `method path` on the metrics listener.
fn status(r: &Reflector, method: &str, path: &str) -> u16 {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", r.metrics)).expect("connect");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n"
    )
    .expect("request");
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    resp.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {resp:?}"))
}

/// (state, prefixes received over all families) of a neighbor as the API (and the CLI)
/// shows it.
fn api_neighbor(r: &Reflector, address: &str) -> Option<(String, u64)> {
    let v: serde_json::Value =
        serde_json::from_str(&r.http(r.api, "/neighbors")).expect("neighbors JSON");
    let n = v.as_array()?.iter().find(|n| n["address"] == address)?;
    let received = n["prefixes"]
        .as_array()?
        .iter()
        .filter_map(|f| f["received"].as_u64())
        .sum();
    Some((n["state"].as_str()?.to_string(), received))
}

fn scrape(r: &Reflector) -> String {
    r.http(r.metrics, "/metrics")
}

fn received(page: &str, neighbor: &str) -> Option<f64> {
    value(
        page,
        "reflectd_neighbor_prefixes_received",
        &[("neighbor", neighbor), ("family", "ipv4-unicast")],
    )
}

fn rejected(page: &str) -> Option<f64> {
    value(
        page,
        "reflectd_connections_rejected_total",
        &[("reason", "unknown_source")],
    )
}

fn reloads(page: &str, result: &str) -> Option<f64> {
    value(page, "reflectd_config_reloads_total", &[("result", result)])
}

fn assert_established(page: &str, neighbor: &str, established: bool) {
    let states = [
        "idle",
        "connect",
        "active",
        "opensent",
        "openconfirm",
        "established",
    ];
    let set: Vec<f64> = states
        .iter()
        .map(|s| {
            value(
                page,
                "reflectd_neighbor_state",
                &[("neighbor", neighbor), ("state", s)],
            )
            .unwrap_or_else(|| panic!("no state {s} of {neighbor} in\n{page}"))
        })
        .collect();
    assert_eq!(set.iter().sum::<f64>(), 1.0, "one state at a time: {set:?}");
    assert_eq!(set[5] == 1.0, established, "{neighbor}: {set:?}");
    let code = value(
        page,
        "reflectd_neighbor_session_state",
        &[("neighbor", neighbor)],
    );
    let current = set.iter().position(|v| *v == 1.0).map(|i| i as f64 + 1.0);
    assert_eq!(code, current, "the numbered state agrees with the stateset");
}

#[test]
fn metrics_follow_reloads_and_session_changes_and_every_page_passes_promtool() {
    if !have("promtool", "prometheus") {
        return;
    }
    let specs = |with_c: bool| {
        let mut v = vec![NeighborSpec::client(A), NeighborSpec::client(B)];
        if with_c {
            v.push(NeighborSpec::client(C));
        }
        v
    };
    let r = Reflector::start(&specs(true));
    let mut a = r.speaker(A, [30, 0, 0, 1]);
    let mut b = r.speaker(B, [30, 0, 0, 2]);
    let mut c = r.speaker(C, [30, 0, 0, 3]);
    for (s, prefix) in [
        (&mut a, "10.30.1.0/24"),
        (&mut b, "10.30.2.0/24"),
        (&mut c, "10.30.3.0/24"),
    ] {
        s.announce(&[p4(prefix)], &attrs([10, 30, 0, 9]))
            .expect("announce");
    }
    let page = eventually(WAIT, || {
        let p = scrape(&r);
        [A, B, C]
            .iter()
            .all(|n| received(&p, n) == Some(1.0))
            .then_some(p)
    })
    .unwrap_or_else(|| panic!("prefix gauges never reached 1:\n{}", scrape(&r)));
    promtool_check(&page);
    for n in [A, B, C] {
        assert_established(&page, n, true);
    }
    let build: Vec<Sample> = samples(&page)
        .into_iter()
        .filter(|(n, _, _)| n == "reflectd_build_info")
        .collect();
    assert_eq!(build.len(), 1, "{page}");
    let (_, labels, v) = &build[0];
    assert_eq!(v, &1.0);
    assert_eq!(labels["version"], env!("CARGO_PKG_VERSION"));
    assert!(!labels["rustc"].is_empty());
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
    ] {
        let v = value(&page, name, &[]).unwrap_or_else(|| panic!("no {name} in\n{page}"));
        assert!(v >= 0.0, "{name} {v}");
    }
    assert!(value(&page, "process_resident_memory_bytes", &[]).is_some_and(|v| v > 0.0));
    assert_eq!(
        value(
            &page,
            "reflectd_neighbor_output_queue_bytes",
            &[("neighbor", A)]
        ),
        Some(0.0),
        "nothing is left queued for an idle peer"
    );

    // A connection from an address that is not a neighbor is counted.
    let stranger =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    stranger
        .bind(&std::net::SocketAddr::new(ip(STRANGER), 0).into())
        .expect("bind");
    let _ = stranger.connect_timeout(&r.addr().into(), WAIT);
    let counted = eventually(WAIT, || (rejected(&scrape(&r)) == Some(1.0)).then_some(()));
    assert!(counted.is_some(), "rejection not counted:\n{}", scrape(&r));
    let rejected_at = Instant::now();

    // B withdraws everything: once the API (and the CLI) shows 0, so does the next scrape.
    b.withdraw(&[p4("10.30.2.0/24")]).expect("withdraw");
    let api = eventually(WAIT, || {
        api_neighbor(&r, B).filter(|(st, rx)| st == "Established" && *rx == 0)
    });
    assert!(api.is_some(), "the API never showed B's withdrawal");
    let page = scrape(&r);
    assert_eq!(received(&page, B), Some(0.0), "{page}");
    assert_established(&page, B, true);

    // C is removed by SIGHUP: the page that shows the reload done has none of its series.
    std::fs::write(
        &r.config,
        config_text(r.port, r.api, r.metrics, &specs(false)),
    )
    .expect("write config");
    r.signal("HUP");
    let page = eventually(WAIT, || {
        let p = scrape(&r);
        (reloads(&p, "success") == Some(1.0)).then_some(p)
    })
    .unwrap_or_else(|| panic!("reload not counted:\n{}", r.log()));
    assert_eq!(series_of(&page, C), Vec::<String>::new(), "{page}");
    assert!(!page.contains(C), "{page}");
    assert_eq!(
        value(&page, "reflectd_config_last_reload_success", &[]),
        Some(1.0)
    );
    let reloaded_at = value(
        &page,
        "reflectd_config_last_reload_success_timestamp_seconds",
        &[],
    )
    .expect("reload timestamp");
    promtool_check(&page);
    // Still none once C's worker has published its list without it.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!scrape(&r).contains(C));

    // A goes down: once the API shows it, the next scrape has its state and zero prefixes.
    drop(a);
    let api = eventually(WAIT, || {
        api_neighbor(&r, A).filter(|(st, rx)| st != "Established" && *rx == 0)
    });
    assert!(api.is_some(), "the API never showed A down");
    let page = scrape(&r);
    assert_established(&page, A, false);
    assert_eq!(received(&page, A), Some(0.0), "{page}");
    assert_eq!(
        value(
            &page,
            "reflectd_neighbor_uptime_seconds",
            &[("neighbor", A)]
        ),
        Some(0.0)
    );
    assert_eq!(
        value(
            &page,
            "reflectd_neighbor_established_transitions_total",
            &[("neighbor", A)]
        ),
        Some(1.0),
        "a down neighbor keeps its counters"
    );
    promtool_check(&page);

    // The counter is still there after the upkeep and the workers' ticks have run several
    // times (the recorder has no idle timeout at all).
    let left = SEVERAL_TICKS.saturating_sub(rejected_at.elapsed());
    std::thread::sleep(left);
    for _ in 0..3 {
        assert_eq!(rejected(&scrape(&r)), Some(1.0));
    }

    // Only GET on the three paths answers.
    assert_eq!(status(&r, "GET", "/livez"), 200);
    assert_eq!(status(&r, "GET", "/readyz"), 200);
    assert_eq!(status(&r, "GET", "/metrics"), 200);
    assert_eq!(status(&r, "GET", "/"), 404);
    assert_eq!(status(&r, "GET", "/neighbors"), 404);
    assert_ne!(status(&r, "POST", "/metrics"), 200);
    assert_ne!(status(&r, "DELETE", "/readyz"), 200);

    // A reload that fails says so and keeps the last success's time.
    std::fs::write(&r.config, "asn: [not a number\n").expect("write config");
    r.signal("HUP");
    let page = eventually(WAIT, || {
        let p = scrape(&r);
        (reloads(&p, "failure") == Some(1.0)).then_some(p)
    })
    .unwrap_or_else(|| panic!("failed reload not counted:\n{}", r.log()));
    assert_eq!(
        value(&page, "reflectd_config_last_reload_success", &[]),
        Some(0.0)
    );
    assert_eq!(
        value(
            &page,
            "reflectd_config_last_reload_success_timestamp_seconds",
            &[]
        ),
        Some(reloaded_at)
    );
    assert_eq!(rejected(&page), Some(1.0));
    assert!(series_of(&page, B).contains(&"reflectd_neighbor_info".to_string()));
    promtool_check(&page);
}
