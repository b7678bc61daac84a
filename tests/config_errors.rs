//! Invalid configs through the real binary (CONFIG.md: "exit status 2 on a bad config, with
//! the file, line and key named in the message"): `--check` and a normal start both refuse
//! them, and a normal start binds nothing. `src/config/validate.rs` unit-tests the messages;
//! this checks what an operator sees. A bad config on SIGHUP leaves the running one in force.

mod common;
use common::*;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The invalid configs this test runs, under `tests/config/invalid/` (where
/// `tests/check_golden.rs` also pins their whole message). Each has one listener on
/// 127.0.0.1, port 1179, which the test replaces by a free port.
const INVALID: &str = "tests/config/invalid";
const LISTEN_PORT: &str = "port: 1179";

struct Case {
    /// `INVALID/NAME.yaml`
    name: &'static str,
    /// Line of the file the message must name (1-based).
    line: usize,
    key: &'static str,
    /// Something of the explanation that must be in the message.
    says: &'static str,
}

impl Case {
    /// The config text, listening on `port`.
    fn config(&self, port: u16) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(INVALID)
            .join(format!("{}.yaml", self.name));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        text.replace(LISTEN_PORT, &format!("port: {port}"))
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "neighbor-address-not-an-ip",
            line: 7,
            key: "neighbors[0].address",
            says: "is not an IP address",
        },
        Case {
            name: "neighbor-duplicate",
            line: 9,
            key: "neighbors[1].address",
            says: "already defined at line 7",
        },
        Case {
            name: "unknown-top-level-key",
            line: 6,
            key: "bogus",
            says: "unknown key `bogus`",
        },
        Case {
            name: "unknown-neighbor-key",
            line: 9,
            key: "neighbors[0].holdtime",
            says: "did you mean `hold_time`",
        },
        Case {
            name: "unknown-family",
            line: 9,
            key: "neighbors[0].families[0]",
            says: "unknown family `ipv4-multicast`",
        },
        Case {
            name: "hold-time-1",
            line: 9,
            key: "neighbors[0].hold_time",
            says: "out of range",
        },
        Case {
            name: "hold-time-2",
            line: 9,
            key: "neighbors[0].hold_time",
            says: "out of range",
        },
        Case {
            name: "hold-time-65536",
            line: 9,
            key: "neighbors[0].hold_time",
            says: "out of range",
        },
        Case {
            name: "asn-0",
            line: 1,
            key: "asn",
            says: "AS 0 is reserved",
        },
        Case {
            name: "asn-above-32-bits",
            line: 1,
            key: "asn",
            says: "out of range",
        },
        Case {
            name: "asn-not-a-number",
            line: 1,
            key: "asn",
            says: "expected an AS number",
        },
        Case {
            name: "router-id-0.0.0.0",
            line: 2,
            key: "router_id",
            says: "must not be 0.0.0.0",
        },
        Case {
            name: "router-id-not-an-address",
            line: 2,
            key: "router_id",
            says: "is not an IPv4 address",
        },
        Case {
            name: "listen-port-70000",
            line: 5,
            key: "listen[0].port",
            says: "port 70000 is out of range",
        },
        Case {
            name: "neighbor-port-0",
            line: 9,
            key: "neighbors[0].port",
            says: "port 0 is out of range",
        },
        Case {
            name: "neighbor-port-70000",
            line: 9,
            key: "neighbors[0].port",
            says: "out of range",
        },
    ]
}

/// Runs the binary to completion (bounded); kills it and fails if it is still running.
fn run(args: &[&str], config: &Path) -> (Option<i32>, String) {
    let mut child = Command::new(bin())
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start reflectd");
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("reflectd {args:?} with {} kept running", config.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("reflectd output");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), all)
}

#[test]
fn every_invalid_config_exits_2_naming_file_line_and_key_and_binds_nothing() {
    let dir = std::env::temp_dir().join(format!("reflectd-cfgerr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = cases();
    for (i, c) in cases.iter().enumerate() {
        let port = free_port();
        let file = dir.join(format!("case{i}.yaml"));
        std::fs::write(&file, c.config(port)).unwrap();
        let want = format!("{}:{}: {}: ", file.display(), c.line, c.key);
        for args in [&["--check"][..], &[][..]] {
            let (code, out) = run(args, &file);
            let what = format!("{} ({args:?})", c.name);
            assert_eq!(code, Some(2), "{what}: exit status; output:\n{out}");
            assert!(out.contains(&want), "{what}: wants `{want}` in:\n{out}");
            assert!(
                out.contains(c.says),
                "{what}: wants `{}` in:\n{out}",
                c.says
            );
            assert!(
                !out.contains("reflectd running") && !out.contains("listening"),
                "{what}: something started:\n{out}"
            );
            // Nothing was left bound: the port is ours to take.
            let l = TcpListener::bind(("127.0.0.1", port));
            assert!(l.is_ok(), "{what}: port {port} still bound: {l:?}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_semantically_bad_config_on_sighup_is_logged_with_file_line_key_and_the_old_one_stays() {
    let r = Reflector::start(&[NeighborSpec::client("127.0.0.11")]);
    let mut a = r.speaker("127.0.0.11", [1, 1, 1, 1]);
    // Valid YAML, invalid config: a second neighbor (which must not start) with hold_time 1.
    let mut bad = config_text(
        r.port,
        r.api,
        r.metrics,
        &[
            NeighborSpec::client("127.0.0.11"),
            NeighborSpec::client("127.0.0.12"),
        ],
    );
    let lines_before = bad.lines().count();
    bad.push_str("    hold_time: 1\n");
    std::fs::write(&r.config, &bad).unwrap();
    r.signal("HUP");
    let want = format!(
        "{}:{}: neighbors[1].hold_time",
        r.config.display(),
        lines_before + 1
    );
    let deadline = Instant::now() + WAIT;
    while !r.log().contains("reload failed") && Instant::now() < deadline {
        assert!(
            a.poll(Duration::from_millis(100)).unwrap(),
            "session kept through a bad reload"
        );
    }
    let log = r.log();
    assert!(log.contains("reload failed"), "{log}");
    assert!(log.contains(&want), "wants `{want}` in:\n{log}");
    // The running config stays: the session is up and the new neighbor was never added,
    // so a connection from it is refused before the OPEN exchange.
    assert!(a.poll(Duration::from_millis(200)).unwrap());
    assert!(a.notification.is_none());
    let cfg = reflectd::speaker::SpeakerConfig::new(ip("127.0.0.12"), ASN, [2, 2, 2, 2].into());
    let res = reflectd::speaker::Speaker::connect(&cfg, r.addr(), Duration::from_secs(2));
    assert!(res.is_err(), "a neighbor from the refused config came up");
    let neighbors = r.http(r.api, "/neighbors");
    assert!(!neighbors.contains("127.0.0.12"), "{neighbors}");
}

#[test]
fn a_missing_config_file_is_named_with_the_reason() {
    let missing = std::env::temp_dir()
        .join(format!("reflectd-missing-{}", std::process::id()))
        .join("reflectd.yaml");
    for check in [true, false] {
        let mut cmd = Command::new(bin());
        cmd.arg("--config").arg(&missing);
        if check {
            cmd.arg("--check");
        }
        let out = cmd.stdin(Stdio::null()).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "--check: {check}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).trim(),
            format!(
                "{}: cannot read: No such file or directory (os error 2)",
                missing.display()
            ),
            "--check: {check}"
        );
    }
}
