//! The command line as an operator uses it.

mod common;
use common::*;
use std::process::Command;

#[test]
fn check_accepts_the_shipped_configs() {
    for f in ["config/reflectd.example.yaml", "config/demo.yaml"] {
        let out = Command::new(bin())
            .args(["--config", f, "--check"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{f}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn check_names_file_line_and_key_and_exits_2() {
    let dir = std::env::temp_dir().join(format!("reflectd-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.yaml");
    std::fs::write(
        &f,
        "asn: 65000\nrouter_id: 10.0.0.1\nneighbors:\n  - address: 10.0.0.300\n    asn: 65000\n",
    )
    .unwrap();
    let out = Command::new(bin())
        .arg("--config")
        .arg(&f)
        .arg("--check")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml:4"), "{err}");
    assert!(err.contains("neighbors[0].address"), "{err}");
    // And nothing starts with it either.
    let out = Command::new(bin())
        .arg("--config")
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn version_prints_name_and_version() {
    let out = Command::new(bin()).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("reflectd {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn neighbors_and_routes_commands_show_the_running_state() {
    let (r, mut a, mut b) = two_clients();
    announce_until_held(&mut a, &mut b, "10.80.0.0/24", [100, 64, 0, 1]);
    let api = format!("127.0.0.1:{}", r.api);
    let out = Command::new(bin())
        .args(["neighbors", "--api", &api])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("127.0.0.11") && text.contains("Established"),
        "{text}"
    );
    let out = Command::new(bin())
        .args(["routes", "10.80.0.0/24", "--api", &api])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("10.80.0.0/24") && text.contains("100.64.0.1") && text.contains("127.0.0.11"),
        "{text}"
    );
    let out = Command::new(bin())
        .args(["routes", "--json", "--api", &api])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["prefix"], "10.80.0.0/24");
    assert_eq!(v[0]["paths"][0]["best"], true);
    let out = Command::new(bin())
        .args(["neighbors", "--json", "--api", &api])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    let deadline = std::time::Instant::now() + WAIT;
    let mut m = r.http(r.metrics, "/metrics");
    while !m.contains("reflectd_neighbor_prefixes_advertised")
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(200));
        m = r.http(r.metrics, "/metrics");
    }
    for name in [
        "reflectd_neighbor_session_state",
        "reflectd_neighbor_messages_received_total",
        "reflectd_rib_prefixes",
        "reflectd_rib_batch_duration_seconds_bucket",
        "reflectd_neighbor_prefixes_advertised",
    ] {
        assert!(m.contains(name), "metric {name} missing:\n{m}");
    }
}

#[test]
fn a_bad_route_argument_shows_what_the_api_said() {
    let r = Reflector::start(&[NeighborSpec::client("127.0.0.11")]);
    let api = format!("127.0.0.1:{}", r.api);
    let out = Command::new(bin())
        .args(["routes", "garbage", "--api", &api])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("the reflectd API at {api} answered"))
            && err.contains("\"garbage\" is neither a prefix nor an address"),
        "{err}"
    );
    assert!(!err.contains("cannot reach"), "{err}");
    // An unknown family: the CLI names the valid ones, and so does the API.
    let out = Command::new(bin())
        .args(["routes", "--family", "ipv4-vnp", "--api", &api])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown family \"ipv4-vnp\"") && err.contains("ipv4-vpn"),
        "{err}"
    );
    let body = r.http(r.api, "/routes?family=ipv4-vnp");
    assert!(
        body.contains("unknown family") && body.contains("ipv4-vpn"),
        "{body}"
    );
    // A known one filters: no VPN routes here.
    let out = Command::new(bin())
        .args(["routes", "--family", "ipv4-vpn", "--api", &api, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
}

#[test]
fn the_demo_runs_from_any_directory_with_its_built_in_config() {
    use common::daemons::{eventually, run, Proc};
    // The built-in config has fixed ports: say so if something else holds them.
    for port in [1179, 8179, 9179] {
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "127.0.0.1:{port} is in use (another reflectd demo?): this test runs the demo on it"
        );
    }
    let dir = std::env::temp_dir().join(format!("reflectd-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut demo = Proc::spawn(
        "reflectd demo",
        Command::new(bin()).arg("demo").current_dir(&dir),
        dir.join("demo.log"),
    );
    // The demo's own API address (config/demo.yaml); every simulated router comes up.
    let established = eventually(WAIT, || {
        let out = run(Command::new(bin())
            .args(["neighbors", "--json", "--api", "127.0.0.1:8179"])
            .current_dir(&dir));
        let v: serde_json::Value = serde_json::from_str(&out).ok()?;
        let list = v.as_array()?;
        (list.len() == 4 && list.iter().all(|n| n["state"] == "Established")).then_some(())
    });
    assert!(
        established.is_some(),
        "demo did not come up from {}:\n{}",
        dir.display(),
        demo.log_text()
    );
    assert!(!demo.log_text().contains("cannot read"));
    let pid = demo.pid().to_string();
    // SIGHUP has no file to re-read, and says so instead of failing to read one.
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let said = eventually(WAIT, || {
        demo.log_text()
            .contains("the demo runs its built-in config")
            .then_some(())
    });
    assert!(said.is_some(), "{}", demo.log_text());
    assert!(Command::new("kill").arg(&pid).status().unwrap().success());
    let stopped = eventually(WAIT, || (!demo.running()).then_some(()));
    assert!(stopped.is_some(), "demo did not stop on SIGTERM");
    assert!(
        demo.log_text().contains("shutting down"),
        "{}",
        demo.log_text()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_neighbor_that_keeps_retrying_shows_active_or_connect_never_idle() {
    use common::daemons::eventually;
    // reflectd dials it, on a port nobody listens on: every attempt is refused.
    let r = Reflector::start(&[NeighborSpec::dialed("127.0.0.15", free_port())]);
    let api = format!("127.0.0.1:{}", r.api);
    let neighbors = |json: bool| {
        let mut cmd = Command::new(bin());
        cmd.args(["neighbors", "--api", &api]);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let failed = eventually(WAIT, || {
        let v: serde_json::Value = serde_json::from_str(&neighbors(true)).ok()?;
        let n = v.get(0)?.clone();
        n["last_error"].as_str()?.contains("refused").then_some(n)
    });
    let n = failed.unwrap_or_else(|| panic!("no failed attempt seen:\n{}", neighbors(true)));
    assert!(
        ["Active", "Connect"].contains(&n["state"].as_str().unwrap_or("")),
        "{n}"
    );
    // Across retries (back-off from 1 s), the table never says Idle.
    for _ in 0..10 {
        let text = neighbors(false);
        let state = text
            .lines()
            .find(|l| l.starts_with("127.0.0.15 "))
            .and_then(|l| l.split_whitespace().nth(3))
            .unwrap_or_default()
            .to_string();
        assert!(["Active", "Connect"].contains(&state.as_str()), "{text}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(neighbors(false).contains("last error: connect:"));
}
