//! The load tool (`reflectd-load`, issue #4's harness) end to end, at smoke size: its sinks
//! must accept what reflectd really sends (every prefix, next hop, ORIGINATOR_ID and
//! CLUSTER_LIST checked) in each workload shape, and its floor must pass the same checks.
//! No timing is asserted; the tool's exit status says whether every sink converged and
//! every later phase (churn, withdraw-all) completed.

mod common;

use std::process::{Command, Output};

fn load(args: &[&str]) -> Output {
    let port = common::free_port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_reflectd-load"))
        .args(args)
        .args(["--port", &port, "--timeout", "60", "--settle-ms", "100"])
        .output()
        .expect("run reflectd-load");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "reflectd-load {args:?} failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn through_reflectd(args: &[&str]) -> String {
    let bin = env!("CARGO_BIN_EXE_reflectd");
    let out = load(&[&["--reflectd", bin], args].concat());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn unique_routes_converge_churn_and_withdraw_through_reflectd() {
    let text = through_reflectd(&[
        "--speakers",
        "3",
        "--prefixes",
        "3000",
        "--sinks",
        "3",
        "--churn",
        "200",
        "--churn-rate",
        "2000",
        "--withdraw",
    ]);
    assert!(text.contains("convergence:"), "{text}");
    assert!(text.contains("churn latency:"), "{text}");
    assert!(text.contains("withdraw-all:"), "{text}");
}

/// 3 speakers × 3000 routes of 20 customers (`workload`: `--vpn` or `--evpn`) → 2 sinks,
/// with churn and a withdrawal of everything; each sink checks every route.
fn customers_through_reflectd(workload: &str) {
    let text = through_reflectd(&[
        "--speakers",
        "3",
        "--prefixes",
        "3000",
        "--sinks",
        "2",
        workload,
        "20",
        "--churn",
        "100",
        "--churn-rate",
        "2000",
        "--withdraw",
    ]);
    assert!(text.contains("convergence:"), "{text}");
    assert!(text.contains("withdraw-all:"), "{text}");
}

#[test]
fn vpn_routes_converge_churn_and_withdraw_through_reflectd_with_their_rd_and_label() {
    customers_through_reflectd("--vpn");
}

#[test]
fn evpn_routes_converge_churn_and_withdraw_through_reflectd_with_their_rd_mac_and_label() {
    // MAC/IP advertisement and IP prefix routes of 20 customers: each sink checks every
    // route's RD, MAC or prefix, label and route target.
    customers_through_reflectd("--evpn");
}

#[test]
fn contested_routes_converge_on_the_best_path_through_reflectd() {
    through_reflectd(&[
        "--speakers",
        "3",
        "--prefixes",
        "3000",
        "--sinks",
        "4",
        "--contested",
    ]);
}

#[test]
fn a_mesh_of_clients_converges_through_reflectd() {
    through_reflectd(&[
        "--speakers",
        "20",
        "--prefixes",
        "50",
        "--sinks",
        "20",
        "--mesh",
        "--churn",
        "50",
        "--churn-rate",
        "1000",
    ]);
}

#[test]
fn the_floor_passes_the_same_checks() {
    load(&[
        "--floor",
        "--speakers",
        "2",
        "--prefixes",
        "3000",
        "--sinks",
        "3",
        "--churn",
        "100",
        "--churn-rate",
        "2000",
        "--withdraw",
    ]);
}

#[test]
fn one_speaker_in_a_hundred_route_targets_reaches_every_client_through_reflectd() {
    // Issue #16's shape (b) at smoke size, without RT-Constraint: every client gets every
    // route of every target.
    through_reflectd(&[
        "--speakers",
        "1",
        "--prefixes",
        "5000",
        "--sinks",
        "50",
        "--vpn",
        "100",
    ]);
}

/// The shape (b) arguments with RT-Constraint: each of 30 sinks a member of 10 of the 100
/// targets, then everything withdrawn.
const MEMBERS: [&str; 11] = [
    "--speakers",
    "1",
    "--prefixes",
    "5000",
    "--sinks",
    "30",
    "--vpn",
    "100",
    "--member-of",
    "10",
    "--withdraw",
];

#[test]
fn the_floor_sends_each_rt_constraint_member_only_its_targets_routes() {
    load(&[&["--floor"], &MEMBERS[..]].concat());
}

/// Whether this reflectd takes RT-Constraint for a neighbor (`reflectd --check`).
fn reflectd_has_rt_constraint() -> bool {
    let dir = std::env::temp_dir().join(format!("load-tool-rtc-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let conf = dir.join("rtc.yaml");
    let yaml = "asn: 65000\nrouter_id: 10.255.0.1\nneighbors:\n  - address: 127.2.0.1\n    \
                asn: 65000\n    rr_client: true\n    families: [ipv4-vpn, rt-constraint]\n";
    let ok = std::fs::write(&conf, yaml).is_ok()
        && Command::new(env!("CARGO_BIN_EXE_reflectd"))
            .arg("--check")
            .arg("--config")
            .arg(&conf)
            .output()
            .is_ok_and(|o| o.status.success());
    let _ = std::fs::remove_dir_all(&dir);
    ok
}

#[test]
fn rt_constraint_members_get_exactly_their_targets_routes_through_reflectd() {
    // A sink fails the run on any route of a target it is not a member of.
    if !reflectd_has_rt_constraint() {
        eprintln!("SKIPPED: this reflectd does not take rt-constraint for a neighbor yet");
        return;
    }
    through_reflectd(&MEMBERS);
}
