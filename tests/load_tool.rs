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

#[test]
fn vpn_routes_converge_churn_and_withdraw_through_reflectd_with_their_rd_and_label() {
    let text = through_reflectd(&[
        "--speakers",
        "3",
        "--prefixes",
        "3000",
        "--sinks",
        "2",
        "--vpn",
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
