//! Real BGP daemons as peers of a real `reflectd`: BIRD 2, GoBGP, FRR, OpenBGPD, ExaBGP
//! (Debian packages; `.ci/run` installs them). Each runs as a child of the test on its own
//! 127.0.x.y address, with its config, control socket and logs in the test's temp dir, and is
//! stopped by its PID when its handle drops. Every wait and every CLI call is bounded.
//!
//! This file is what the drivers share: the skip-or-fail check for a missing daemon, the
//! process handle, bounded CLI runs and polling, the [`Daemon`] every driver is started from
//! and the [`Builder`] they are configured through, and the scenarios' vocabulary. Each
//! daemon reads back its *own* RIB into a [`Seen`] so scenarios can be written once and
//! asserted against any of them. The drivers themselves live one per file beside it
//! (`bird.rs`, `gobgp.rs`, `frr.rs`, `openbgpd.rs`, `exabgp.rs`) and are re-exported here.

// A test crate that peers with some of the daemons leaves the others unused.
#[allow(unused_imports)]
pub use super::{
    bird::Bird,
    exabgp::ExaBgp,
    frr::{Frr, FRR_BGPD},
    gobgp::GoBgp,
    openbgpd::{OpenBgpd, OPENBGPD},
};

use super::netns::Net;
use super::Reflector;
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a route may take to cross reflectd and a daemon's own scheduling (FRR and
/// OpenBGPD batch updates for a few seconds).
pub const ROUTE_WAIT: Duration = Duration::from_secs(45);

/// How long a daemon may take to come up (its control socket or API answering).
const UP_WAIT: Duration = Duration::from_secs(15);

/// One daemon as a test places it: its name (its files in the test's temp dir are named
/// after it), its own address, its router id and AS, where it runs, and reflectd's BGP port.
/// Every driver is started from one, through a [`Builder`].
#[derive(Clone, Debug)]
pub struct Daemon {
    pub dir: PathBuf,
    pub name: String,
    pub addr: String,
    pub router_id: String,
    pub asn: u32,
    pub rr_port: u16,
    pub net: Net,
}

impl Daemon {
    /// `name` on `addr` with router id `router_id`, in AS 65000 on the host's loopback,
    /// peering with reflectd `r` (its temp dir holds the daemon's files).
    pub fn new(r: &Reflector, name: &str, addr: &str, router_id: &str) -> Daemon {
        Daemon {
            dir: r.dir.clone(),
            name: name.to_string(),
            addr: addr.to_string(),
            router_id: router_id.to_string(),
            asn: super::ASN,
            rr_port: r.port,
            net: Net::loopback(),
        }
    }

    /// The daemon's file `<name><suffix>` in the temp dir (`.conf`, `.sock`, `-vty`).
    pub fn path(&self, suffix: &str) -> PathBuf {
        self.dir.join(format!("{}{suffix}", self.name))
    }

    /// Writes `text` to the daemon's file `<name><suffix>`; returns its path.
    pub fn write(&self, suffix: &str, text: &str) -> PathBuf {
        let path = self.path(suffix);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// reflectd's address as daemons' configs spell it.
    pub fn rr(&self) -> String {
        self.net.rr()
    }

    /// `program`, run where the daemon runs.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        self.net.command(program)
    }

    /// Starts the daemon's process with its output going to `<name>.log`.
    pub fn spawn(&self, cmd: &mut Command) -> Proc {
        Proc::spawn(&self.name, cmd, self.path(".log"))
    }

    /// Waits (bounded) until `up` holds, failing the test if it never does.
    pub fn wait_up(&self, kind: &str, mut up: impl FnMut() -> bool) {
        let ok = eventually(UP_WAIT, || up().then_some(()));
        assert!(ok.is_some(), "{kind} {} did not come up", self.name);
    }

    /// How a failure message names it: `kind name (address)`.
    pub fn label(&self, kind: &str) -> String {
        format!("{kind} {} ({})", self.name, self.addr)
    }
}

/// A daemon about to start: the [`Daemon`] every driver takes, the whole config a test may
/// write instead of the generated one, and the driver's own options `O`. [`Driver::builder`]
/// makes one, the setters fill it, and the driver's `start` runs it.
pub struct Builder<O> {
    pub daemon: Daemon,
    /// A whole config written by the test ([`WholeConfig::with_config`]).
    pub config: Option<String>,
    pub opts: O,
}

impl<O> Builder<O> {
    /// Its AS (iBGP: reflectd's too); 65000 unless set.
    pub fn asn(mut self, asn: u32) -> Self {
        self.daemon.asn = asn;
        self
    }

    /// Run where `net` says (a namespace) and find reflectd at `net.rr`.
    pub fn net(mut self, net: &Net) -> Self {
        self.daemon.net = net.clone();
        self
    }

    /// The config to write: the test's whole config with `{log}` made `log` (the daemon's
    /// own log file), else the one `generate` makes from the builder's settings.
    pub fn config_text(&self, log: &str, generate: impl FnOnce(&Daemon, &O) -> String) -> String {
        match &self.config {
            Some(config) => config.replace("{log}", log),
            None => generate(&self.daemon, &self.opts),
        }
    }
}

/// A daemon driver: its handle type names its own options and is started through a
/// [`Builder`] of them.
pub trait Driver {
    type Opts: Default;
    /// What [`have`] looks for: its program (a name on PATH, or a path), and the Debian
    /// package that has it.
    const NEEDS: (&'static str, &'static str);

    /// Whether the daemon is installed: [`have`] (a test without it skips, or fails in CI).
    fn installed() -> bool {
        have(Self::NEEDS.0, Self::NEEDS.1)
    }

    /// The daemon `name` on `addr` with router id `router_id`, peering with reflectd `r`,
    /// its config generated from the builder's settings.
    fn builder(r: &Reflector, name: &str, addr: &str, router_id: &str) -> Builder<Self::Opts> {
        Builder {
            daemon: Daemon::new(r, name, addr, router_id),
            config: None,
            opts: Self::Opts::default(),
        }
    }
}

/// Drivers that can run a whole config written by the test instead of the generated one
/// (each says what it adds to it or replaces in it).
pub trait WholeConfig: Driver {
    fn with_config(r: &Reflector, name: &str, addr: &str, config: &str) -> Builder<Self::Opts> {
        let mut b = Self::builder(r, name, addr, "");
        b.config = Some(config.to_string());
        b
    }
}

/// The address family a prefix belongs to, as the daemons' CLIs name it.
pub fn afi(prefix: &str) -> &'static str {
    if prefix.contains(':') {
        "ipv6"
    } else {
        "ipv4"
    }
}

/// The path marked best in a daemon's JSON list of paths, else the first.
pub fn best_or_first(paths: &[Value], best: impl Fn(&Value) -> bool) -> Option<&Value> {
    paths.iter().find(|p| best(p)).or(paths.first())
}

/// Parses a CLI's JSON output (Null when it printed none).
pub fn json(out: &str) -> Value {
    serde_json::from_str(out.trim()).unwrap_or(Value::Null)
}

/// [`have`] for all five daemons: every one is checked (and reported) before the answer.
pub fn have_every_daemon() -> bool {
    Bird::installed()
        & GoBgp::installed()
        & Frr::installed()
        & OpenBgpd::installed()
        & ExaBgp::installed()
}

/// Locally a missing daemon skips the test with a message; under CI (`CI=true`) it fails.
pub fn have(tool: &str, package: &str) -> bool {
    let found = if tool.contains('/') {
        Path::new(tool).exists()
    } else {
        Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{tool} is not installed: CI must install the Debian package {package} (.ci/run does)"
        );
        eprintln!("SKIPPED: {tool} is not installed (apt-get install {package}, or run .ci/run)");
    }
    found
}

/// A daemon process owned by a test: SIGTERM by PID on drop, SIGKILL if it lingers.
pub struct Proc {
    pub name: String,
    child: Child,
    pub log: PathBuf,
}

impl Proc {
    /// Starts `cmd` with stdout and stderr going to `log`.
    pub fn spawn(name: &str, cmd: &mut Command, log: PathBuf) -> Proc {
        let out = std::fs::File::create(&log).expect("daemon log");
        let err = out.try_clone().expect("daemon log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Proc {
            name: name.to_string(),
            child,
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then SIGKILL after 5 s; waits for the exit either way.
    pub fn stop(&mut self) {
        if !self.running() {
            return;
        }
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if !self.running() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            let log = self.log_text();
            eprintln!(
                "--- {} log ({}):\n{}",
                self.name,
                self.log.display(),
                tail(&log, 6000)
            );
        }
    }
}

/// The last `n` bytes of `text` (from a character boundary), for failure messages.
pub fn tail(text: &str, n: usize) -> &str {
    let start = text.len().saturating_sub(n);
    text.get(start..).unwrap_or("")
}

/// Runs a CLI to completion (bounded: killed after 20 s); returns stdout.
pub fn run(cmd: &mut Command) -> String {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
        }
    }
    reader.join().unwrap_or_default()
}

/// Polls `f` until it returns `Some` or `timeout` passes.
pub fn eventually<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A route as a peer holds it in its own RIB, in one vocabulary for every daemon.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Seen {
    pub next_hop: String,
    pub local_pref: Option<u32>,
    pub med: Option<u32>,
    pub as_path: Vec<u32>,
    pub originator_id: Option<String>,
    pub cluster_list: Vec<String>,
    /// `65000:31`
    pub communities: Vec<String>,
    /// Route targets as `65000:31`
    pub ext_communities: Vec<String>,
    /// `65000:31:1`
    pub large_communities: Vec<String>,
}

impl Seen {
    /// A route as the scenarios announce it: `next_hop`, `local_pref`, `med`, and one
    /// standard, extended (route target) and large community each, tagged `tag`.
    pub fn tagged(next_hop: &str, local_pref: u32, med: u32, tag: u32) -> Seen {
        Seen {
            next_hop: next_hop.to_string(),
            local_pref: Some(local_pref),
            med: Some(med),
            communities: vec![format!("65000:{tag}")],
            ext_communities: vec![format!("65000:{tag}")],
            large_communities: vec![format!("65000:{tag}:1")],
            ..Seen::default()
        }
    }
}

/// What every BGP daemon handle offers the scenarios.
pub trait Peer {
    fn name(&self) -> String;
    /// The best path for `prefix` in the daemon's own RIB, if it has one.
    fn route(&self, prefix: &str) -> Option<Seen>;
    /// The daemon's view of its sessions and RIB, for failure messages.
    fn dump(&self) -> String;
}

/// One path for a prefix in a daemon's own RIB, best or not.
#[derive(Clone, Debug, PartialEq)]
pub struct HeldPath {
    /// Learned over the session with reflectd; false: the daemon's own route (static,
    /// `network`, `rib add`).
    pub from_reflector: bool,
    pub best: bool,
    pub seen: Seen,
}

/// Daemons whose every path for a prefix can be read back, not only the best: what a
/// client still holds from reflectd next to its own route for the same prefix.
pub trait AllPaths: Peer {
    fn paths(&self, prefix: &str) -> Vec<HeldPath>;

    /// The paths for `prefix` it holds from reflectd.
    fn held_from_reflector(&self, prefix: &str) -> Vec<Seen> {
        self.paths(prefix)
            .into_iter()
            .filter(|p| p.from_reflector)
            .map(|p| p.seen)
            .collect()
    }

    /// Whether its own route for `prefix` is there and is its best path.
    fn own_is_best(&self, prefix: &str) -> bool {
        self.paths(prefix)
            .iter()
            .any(|p| !p.from_reflector && p.best)
    }
}

/// Waits (bounded) until `peer` holds `prefix` and `ok` accepts it; returns the last view.
pub fn wait_route(peer: &dyn Peer, prefix: &str, ok: impl Fn(&Seen) -> bool) -> Seen {
    let mut last = None;
    let got = eventually(ROUTE_WAIT, || {
        last = peer.route(prefix);
        last.clone().filter(|s| ok(s))
    });
    got.unwrap_or_else(|| {
        panic!(
            "{} never held an acceptable {prefix}; last seen {last:?}\n{}",
            peer.name(),
            peer.dump()
        )
    })
}

/// Waits (bounded) until `peer` no longer holds `prefix`.
pub fn wait_gone(peer: &dyn Peer, prefix: &str) {
    let gone = eventually(ROUTE_WAIT, || peer.route(prefix).is_none().then_some(()));
    assert!(
        gone.is_some(),
        "{} still holds {prefix}: {:?}\n{}",
        peer.name(),
        peer.route(prefix),
        peer.dump()
    );
}

/// The elements of a JSON array (none when `v` is not one).
pub(super) fn items(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

pub(super) fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().map(str::to_string).unwrap_or(x.to_string()))
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn words(v: &Value) -> Vec<String> {
    v.as_str()
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

pub(super) fn u32_of(v: &Value) -> Option<u32> {
    v.as_u64().and_then(|n| u32::try_from(n).ok())
}

/// Scenario 1's check: a reflected route keeps every attribute the announcer set, and gains
/// ORIGINATOR_ID = the announcer's router id and CLUSTER_LIST = [our cluster id].
pub fn assert_reflected(receiver: &dyn Peer, prefix: &str, sent: &Seen, originator: &str) {
    let got = wait_route(receiver, prefix, |s| s.originator_id.is_some());
    let want = Seen {
        originator_id: Some(originator.to_string()),
        cluster_list: vec![super::CLUSTER_ID.to_string()],
        ..sent.clone()
    };
    assert_eq!(got, want, "{} holds {prefix} changed", receiver.name());
}

/// [`assert_reflected`] at each of `receivers` (in turn), for every (prefix, what was sent)
/// of one announcer, router id `originator`.
pub fn assert_reflected_to(receivers: &[&dyn Peer], routes: &[(&str, &Seen)], originator: &str) {
    for receiver in receivers {
        for (prefix, sent) in routes {
            assert_reflected(*receiver, prefix, sent, originator);
        }
    }
}

/// [`wait_gone`] at each of `peers` (in turn), for every one of `prefixes`.
pub fn wait_gone_from(peers: &[&dyn Peer], prefixes: &[&str]) {
    for peer in peers {
        for prefix in prefixes {
            wait_gone(*peer, prefix);
        }
    }
}

/// [`assert_reflected`] over every pair: `peers[i]` (numbered i + 1) announced, per
/// family in `families` (true: IPv6), `route(i + 1, v6)` = (prefix, what it sent, its
/// router id), and every other peer must hold that route reflected.
pub fn assert_all_reflected(
    peers: &[&dyn Peer],
    families: [bool; 2],
    route: impl Fn(u32, bool) -> (String, Seen, String),
) {
    for (i, announcer) in peers.iter().enumerate() {
        let n = i as u32 + 1;
        for (j, receiver) in peers.iter().enumerate() {
            if i == j {
                continue;
            }
            for v6 in families {
                let (prefix, sent, originator) = route(n, v6);
                eprintln!("{} -> {}: {prefix}", announcer.name(), receiver.name());
                assert_reflected(*receiver, &prefix, &sent, &originator);
            }
        }
    }
}

/// Scenario 3: two GoBGP clients, `a1` (router id 10.0.N.11) and `a2` (10.0.N.12), announce
/// the same prefixes 10.N.21-24.0/24 with different LOCAL_PREF, AS_PATH length and MED;
/// every receiver ends with the path RFC 4271 §9.1.2.2 selects. The loser each time has the
/// lower router id, so a wrong decision would fall through to the router-id tie-break and
/// pick it.
pub fn assert_best_paths(n: u8, a1: &GoBgp, a2: &GoBgp, receivers: &[&dyn Peer]) {
    let (id1, id2) = (format!("10.0.{n}.11"), format!("10.0.{n}.12"));
    // (prefix, a1's attributes, a2's attributes, winner's router id)
    let cases = [
        (
            format!("10.{n}.21.0/24"),
            "local-pref 100 med 0",
            "local-pref 200 med 50 aspath 65010,65020",
            &id2,
        ),
        (
            format!("10.{n}.22.0/24"),
            "aspath 65010,65020 med 0",
            "aspath 65010 med 50",
            &id2,
        ),
        (
            format!("10.{n}.23.0/24"),
            "aspath 65010 med 20",
            "aspath 65010 med 10",
            &id2,
        ),
        (
            format!("10.{n}.24.0/24"),
            "local-pref 300 aspath 65010,65020,65030",
            "local-pref 100 aspath 65010",
            &id1,
        ),
    ];
    for (prefix, x1, x2, _) in &cases {
        a1.announce(prefix, &format!("origin igp nexthop 100.64.{n}.11 {x1}"));
        a2.announce(prefix, &format!("origin igp nexthop 100.64.{n}.12 {x2}"));
    }
    for (prefix, _, _, winner) in &cases {
        for p in receivers {
            wait_route(*p, prefix, |s| {
                s.originator_id.as_deref() == Some(winner.as_str())
            });
        }
    }
    // Still the winners once everything has settled.
    for (prefix, _, _, winner) in &cases {
        for p in receivers {
            let got = p.route(prefix).and_then(|s| s.originator_id);
            assert_eq!(
                got.as_deref(),
                Some(winner.as_str()),
                "{} {prefix}",
                p.name()
            );
        }
    }
}
