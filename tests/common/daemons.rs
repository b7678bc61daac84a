//! Real BGP daemons as peers of a real `reflectd`: BIRD 2, GoBGP, FRR, OpenBGPD, ExaBGP
//! (Debian packages; `.ci/run` installs them). Each runs as a child of the test on its own
//! 127.0.x.y address, with its config, control socket and logs in the test's temp dir, and is
//! stopped by its PID when its handle drops. Every wait and every CLI call is bounded.
//!
//! Each daemon reads back its *own* RIB into a [`Seen`] so scenarios can be written once and
//! asserted against any of them.

use super::netns::{host_port, Net};
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a route may take to cross reflectd and a daemon's own scheduling (FRR and
/// OpenBGPD batch updates for a few seconds).
pub const ROUTE_WAIT: Duration = Duration::from_secs(45);

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
            eprintln!("--- {} log ({}):\n{}", self.name, self.log.display(), {
                let t = self.log_text();
                let start = t.len().saturating_sub(6000);
                t.get(start..).unwrap_or("").to_string()
            });
        }
    }
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

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().map(str::to_string).unwrap_or(x.to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn words(v: &Value) -> Vec<String> {
    v.as_str()
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

fn u32_of(v: &Value) -> Option<u32> {
    v.as_u64().and_then(|n| u32::try_from(n).ok())
}

// ---------------------------------------------------------------------------------- GoBGP

pub struct GoBgp {
    pub proc: Proc,
    pub addr: String,
    api_port: u16,
    net: Net,
}

/// One neighbor in a GoBGP config: reflectd on 127.0.0.1:`port` (GoBGP dials it).
pub struct GoBgpNeighbor {
    pub address: String,
    pub port: u16,
}

impl GoBgp {
    /// Starts gobgpd with router id `router_id`, dialing reflectd at 127.0.0.1:`rr_port`
    /// from `addr`; it does not listen for BGP (port = -1).
    pub fn start(dir: &Path, name: &str, addr: &str, router_id: &str, rr_port: u16) -> GoBgp {
        GoBgp::start_with(dir, name, addr, router_id, 65000, rr_port)
    }

    pub fn start_with(
        dir: &Path,
        name: &str,
        addr: &str,
        router_id: &str,
        asn: u32,
        rr_port: u16,
    ) -> GoBgp {
        GoBgp::start_full(
            &Net::loopback(),
            dir,
            name,
            addr,
            router_id,
            asn,
            rr_port,
            None,
        )
    }

    /// As [`GoBgp::start_with`], run where `net` says and dialing reflectd at `net.rr`.
    pub fn start_in(
        net: &Net,
        dir: &Path,
        name: &str,
        addr: &str,
        router_id: &str,
        asn: u32,
        rr_port: u16,
    ) -> GoBgp {
        GoBgp::start_full(net, dir, name, addr, router_id, asn, rr_port, None)
    }

    /// `start_with`, plus Graceful Restart (RFC 4724) for both families when
    /// `graceful_restart` is Some(restarting): `restarting` starts gobgpd with `-r`, as after
    /// a crash (R bit, and GoBGP then sets the Forwarding State bits).
    pub fn start_gr(
        dir: &Path,
        name: &str,
        addr: &str,
        router_id: &str,
        asn: u32,
        rr_port: u16,
        graceful_restart: Option<bool>,
    ) -> GoBgp {
        let net = Net::loopback();
        GoBgp::start_full(
            &net,
            dir,
            name,
            addr,
            router_id,
            asn,
            rr_port,
            graceful_restart,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn start_full(
        net: &Net,
        dir: &Path,
        name: &str,
        addr: &str,
        router_id: &str,
        asn: u32,
        rr_port: u16,
        graceful_restart: Option<bool>,
    ) -> GoBgp {
        let conf = dir.join(format!("{name}.toml"));
        let mut text = format!(
            "[global.config]\n  as = {asn}\n  router-id = \"{router_id}\"\n  port = -1\n\
             [[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{rr}\"\n    peer-as = {asn}\n\
             \x20 [neighbors.transport.config]\n    local-address = \"{addr}\"\n    remote-port = {rr_port}\n\
             \x20 [neighbors.timers.config]\n    connect-retry = 1\n    hold-time = 30\n    keepalive-interval = 10\n",
            rr = net.rr()
        );
        if graceful_restart.is_some() {
            text.push_str(
                "  [neighbors.graceful-restart.config]\n    enabled = true\n    restart-time = 120\n",
            );
        }
        for f in ["ipv4-unicast", "ipv6-unicast"] {
            text.push_str(&format!(
                "  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"{f}\"\n"
            ));
            if graceful_restart.is_some() {
                text.push_str(
                    "    [neighbors.afi-safis.mp-graceful-restart.config]\n      enabled = true\n",
                );
            }
        }
        std::fs::write(&conf, text).expect("gobgp config");
        let api_port = super::free_port();
        let mut cmd = net.command("gobgpd");
        if graceful_restart == Some(true) {
            cmd.arg("-r");
        }
        let proc = Proc::spawn(
            name,
            cmd.arg("-f")
                .arg(&conf)
                .arg("--api-hosts")
                .arg(host_port(addr, api_port))
                .arg("--log-plain")
                .arg("--disable-stdlog")
                // Its profiler would listen on 127.0.0.1:6060, shared by every gobgpd.
                .arg("--pprof-disable"),
            dir.join(format!("{name}.log")),
        );
        let g = GoBgp {
            proc,
            addr: addr.to_string(),
            api_port,
            net: net.clone(),
        };
        let up = eventually(Duration::from_secs(15), || {
            g.cli(&["global"]).contains("AS").then_some(())
        });
        assert!(up.is_some(), "gobgpd {name} API did not come up");
        g
    }

    pub fn cli(&self, args: &[&str]) -> String {
        run(self
            .net
            .command("gobgp")
            .arg("-u")
            .arg(&self.addr)
            .arg("-p")
            .arg(self.api_port.to_string())
            .args(args))
    }

    fn family(prefix: &str) -> &'static str {
        if prefix.contains(':') {
            "ipv6"
        } else {
            "ipv4"
        }
    }

    /// `gobgp global rib add PREFIX ARGS...` (args: `nexthop 100.64.0.1 local-pref 200` ...).
    pub fn announce(&self, prefix: &str, args: &str) {
        let mut a = vec!["global", "rib", "add", prefix];
        a.extend(args.split_whitespace());
        a.extend(["-a", GoBgp::family(prefix)]);
        let out = self.cli(&a);
        assert!(
            !out.to_lowercase().contains("error"),
            "gobgp add {prefix}: {out}"
        );
    }

    pub fn withdraw(&self, prefix: &str) {
        self.cli(&["global", "rib", "del", prefix, "-a", GoBgp::family(prefix)]);
    }

    /// Whether the session with reflectd is Established.
    pub fn established(&self) -> bool {
        self.cli(&["neighbor", "-j"])
            .contains("\"session_state\":6")
    }
}

fn gobgp_seen(path: &Value) -> Seen {
    let mut s = Seen::default();
    for a in path["attrs"].as_array().into_iter().flatten() {
        match a["type"].as_u64() {
            Some(2) => {
                for seg in a["as_paths"].as_array().into_iter().flatten() {
                    s.as_path.extend(
                        seg["asns"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(u32_of),
                    );
                }
            }
            Some(3) => s.next_hop = a["nexthop"].as_str().unwrap_or("").to_string(),
            Some(4) => s.med = u32_of(&a["metric"]),
            Some(5) => s.local_pref = u32_of(&a["value"]),
            Some(8) => {
                s.communities = a["communities"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.as_u64())
                    .map(|c| format!("{}:{}", c >> 16, c & 0xffff))
                    .collect()
            }
            Some(9) => s.originator_id = a["value"].as_str().map(str::to_string),
            Some(10) => s.cluster_list = strings(&a["value"]),
            Some(14) => s.next_hop = a["nexthop"].as_str().unwrap_or("").to_string(),
            Some(16) => {
                s.ext_communities = a["value"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["value"].as_str().map(str::to_string))
                    .collect()
            }
            Some(32) => {
                s.large_communities = a["value"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| format!("{}:{}:{}", c["ASN"], c["LocalData1"], c["LocalData2"]))
                    .collect()
            }
            _ => {}
        }
    }
    s
}

impl Peer for GoBgp {
    fn name(&self) -> String {
        format!("gobgpd {} ({})", self.proc.name, self.addr)
    }

    fn route(&self, prefix: &str) -> Option<Seen> {
        let out = self.cli(&["global", "rib", "-a", GoBgp::family(prefix), prefix, "-j"]);
        let v: Value = serde_json::from_str(out.trim()).ok()?;
        let paths = v.get(prefix)?.as_array()?;
        let best = paths
            .iter()
            .find(|p| p["best"].as_bool() == Some(true))
            .or(paths.first())?;
        Some(gobgp_seen(best))
    }

    fn dump(&self) -> String {
        format!(
            "{}\n{}\n{}",
            self.cli(&["neighbor"]),
            self.cli(&["global", "rib", "-a", "ipv4"]),
            self.cli(&["global", "rib", "-a", "ipv6"])
        )
    }
}

impl AllPaths for GoBgp {
    fn paths(&self, prefix: &str) -> Vec<HeldPath> {
        let out = self.cli(&["global", "rib", "-a", GoBgp::family(prefix), prefix, "-j"]);
        let Ok(v) = serde_json::from_str::<Value>(out.trim()) else {
            return Vec::new();
        };
        v.get(prefix)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|p| HeldPath {
                // A path of its own (`global rib add`) names no neighbor.
                from_reflector: p["neighbor-ip"]
                    .as_str()
                    .is_some_and(|n| n.parse::<std::net::IpAddr>().is_ok()),
                best: p["best"].as_bool() == Some(true),
                seen: gobgp_seen(p),
            })
            .collect()
    }
}

// ------------------------------------------------------------------------------------ FRR

pub const FRR_BGPD: &str = "/usr/lib/frr/bgpd";

pub struct Frr {
    pub proc: Proc,
    pub addr: String,
    vty: PathBuf,
    net: Net,
}

impl Frr {
    /// Starts FRR's bgpd without zebra (`-Z`), not listening for BGP (`-p 0`), dialing
    /// reflectd at 127.0.0.1:`rr_port` from `addr`. `body` is extra config inside
    /// `router bgp` (address families, networks) and `tail` goes after it (route-maps).
    pub fn start(
        dir: &Path,
        name: &str,
        addr: &str,
        router_id: &str,
        rr_port: u16,
        body: &str,
        tail: &str,
    ) -> Frr {
        Frr::start_with(dir, name, addr, router_id, rr_port, body, tail, None)
    }

    /// As [`Frr::start`]; with `listen` set, bgpd also accepts BGP on `addr`:`listen`.
    #[allow(clippy::too_many_arguments)]
    pub fn start_with(
        dir: &Path,
        name: &str,
        addr: &str,
        router_id: &str,
        rr_port: u16,
        body: &str,
        tail: &str,
        listen: Option<u16>,
    ) -> Frr {
        let net = Net::loopback();
        Frr::start_in(
            &net, dir, name, addr, router_id, rr_port, body, tail, listen,
        )
    }

    /// As [`Frr::start_with`], run where `net` says and dialing reflectd at `net.rr`
    /// (`body` names it as the neighbor: `net.rr()`).
    #[allow(clippy::too_many_arguments)]
    pub fn start_in(
        net: &Net,
        dir: &Path,
        name: &str,
        addr: &str,
        router_id: &str,
        rr_port: u16,
        body: &str,
        tail: &str,
        listen: Option<u16>,
    ) -> Frr {
        let vty = dir.join(format!("{name}-vty"));
        std::fs::create_dir_all(&vty).expect("frr vty dir");
        let conf = dir.join(format!("{name}.conf"));
        std::fs::write(
            &conf,
            format!(
                "hostname {name}\nlog file {log}\n!\nrouter bgp 65000\n bgp router-id {router_id}\n \
                 no bgp network import-check\n no bgp default ipv4-unicast\n \
                 neighbor {rr} remote-as 65000\n neighbor {rr} port {rr_port}\n \
                 neighbor {rr} update-source {addr}\n neighbor {rr} timers connect 1\n \
                 neighbor {rr} advertisement-interval 0\n{body}\n!\n{tail}\n",
                log = dir.join(format!("{name}.frrlog")).display(),
                rr = net.rr()
            ),
        )
        .expect("frr config");
        Frr::launch(net, dir, name, addr, &conf, vty, listen)
    }

    /// Starts FRR's bgpd (no zebra) with a whole config written by the test: `{log}` in it
    /// becomes the log file. With `listen`, bgpd accepts BGP on `addr`:`listen`; else on nothing.
    pub fn start_conf(
        dir: &Path,
        name: &str,
        addr: &str,
        config: &str,
        listen: Option<u16>,
    ) -> Frr {
        let vty = dir.join(format!("{name}-vty"));
        std::fs::create_dir_all(&vty).expect("frr vty dir");
        let conf = dir.join(format!("{name}.conf"));
        let log = dir.join(format!("{name}.frrlog"));
        std::fs::write(&conf, config.replace("{log}", &log.display().to_string()))
            .expect("frr config");
        Frr::launch(&Net::loopback(), dir, name, addr, &conf, vty, listen)
    }

    /// Runs bgpd without zebra on `conf` and waits for its vty. With `listen`, it accepts
    /// BGP on `addr`:`listen`; else on nothing.
    fn launch(
        net: &Net,
        dir: &Path,
        name: &str,
        addr: &str,
        conf: &Path,
        vty: PathBuf,
        listen: Option<u16>,
    ) -> Frr {
        let port = listen.map_or("0".to_string(), |p| p.to_string());
        let mut cmd = net.command(FRR_BGPD);
        cmd.arg("-f")
            .arg(conf)
            .arg("-i")
            .arg(dir.join(format!("{name}.pid")))
            .arg("--vty_socket")
            .arg(&vty)
            .args(["-P", "0", "-Z", "-n", "-S", "-p", &port]);
        if listen.is_some() {
            cmd.args(["-l", addr]);
        }
        let proc = Proc::spawn(name, &mut cmd, dir.join(format!("{name}.log")));
        let f = Frr {
            proc,
            addr: addr.to_string(),
            vty,
            net: net.clone(),
        };
        let up = eventually(Duration::from_secs(15), || {
            f.vtysh(&["show bgp summary"])
                .contains("router identifier")
                .then_some(())
        });
        assert!(up.is_some(), "FRR {name} vty did not come up");
        f
    }

    pub fn vtysh(&self, cmds: &[&str]) -> String {
        let mut c = Command::new("vtysh");
        c.arg("--vty_socket").arg(&self.vty).args(["-d", "bgpd"]);
        for cmd in cmds {
            c.arg("-c").arg(cmd);
        }
        run(&mut c)
    }

    /// Runs configuration commands inside `router bgp 65000`, `address-family AF unicast`.
    pub fn configure(&self, af: &str, lines: &[&str]) {
        let mut cmds = vec![
            "configure terminal".to_string(),
            "router bgp 65000".to_string(),
            format!("address-family {af} unicast"),
        ];
        cmds.extend(lines.iter().map(|l| l.to_string()));
        let refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
        self.vtysh(&refs);
    }

    pub fn established(&self) -> bool {
        self.vtysh(&[&format!("show bgp neighbors {} json", self.net.rr())])
            .contains("\"bgpState\":\"Established\"")
    }
}

/// FRR names the RFC 1997 well-known communities (NO_EXPORT_SUBCONFED as `local-AS`);
/// the other daemons print them as numbers.
fn frr_well_known(c: &str) -> Option<&'static str> {
    match c {
        "no-export" => Some("65535:65281"),
        "no-advertise" => Some("65535:65282"),
        "local-AS" => Some("65535:65283"),
        _ => None,
    }
}

fn frr_seen(p: &Value) -> Seen {
    let next_hop = p["nexthops"]
        .as_array()
        .and_then(|n| n.first())
        .and_then(|n| n["ip"].as_str())
        .unwrap_or("")
        .to_string();
    let ext = words(&p["extendedCommunity"]["string"])
        .into_iter()
        .map(|c| c.trim_start_matches("RT:").to_string())
        .collect();
    Seen {
        next_hop,
        local_pref: u32_of(&p["locPrf"]),
        med: u32_of(&p["metric"]),
        as_path: words(&p["aspath"]["string"])
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect(),
        originator_id: p["originatorId"].as_str().map(str::to_string),
        cluster_list: strings(&p["clusterList"]["list"]),
        communities: words(&p["community"]["string"])
            .into_iter()
            .map(|c| frr_well_known(&c).map_or(c, str::to_string))
            .collect(),
        ext_communities: ext,
        large_communities: words(&p["largeCommunity"]["string"]),
    }
}

impl Peer for Frr {
    fn name(&self) -> String {
        format!("FRR {} ({})", self.proc.name, self.addr)
    }

    fn route(&self, prefix: &str) -> Option<Seen> {
        let af = if prefix.contains(':') { "ipv6" } else { "ipv4" };
        let out = self.vtysh(&[&format!("show bgp {af} unicast {prefix} json")]);
        let v: Value = serde_json::from_str(out.trim()).ok()?;
        let paths = v["paths"].as_array()?;
        let best = paths
            .iter()
            .find(|p| p["bestpath"]["overall"].as_bool() == Some(true))
            .or(paths.first())?;
        Some(frr_seen(best))
    }

    fn dump(&self) -> String {
        self.vtysh(&[
            "show bgp summary",
            "show bgp ipv4 unicast",
            "show bgp ipv6 unicast",
        ])
    }
}

impl AllPaths for Frr {
    fn paths(&self, prefix: &str) -> Vec<HeldPath> {
        let af = if prefix.contains(':') { "ipv6" } else { "ipv4" };
        let out = self.vtysh(&[&format!("show bgp {af} unicast {prefix} json")]);
        let Ok(v) = serde_json::from_str::<Value>(out.trim()) else {
            return Vec::new();
        };
        v["paths"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| HeldPath {
                from_reflector: p["peer"]["peerId"].as_str() == Some(&self.net.rr()),
                best: p["bestpath"]["overall"].as_bool() == Some(true),
                seen: frr_seen(p),
            })
            .collect()
    }
}

impl Frr {
    /// The prefixes of family `af` (`ipv4`, `ipv6`) in FRR's Adj-RIB-In from reflectd as
    /// received, before its own checks (it keeps it with `soft-reconfiguration inbound`).
    pub fn received_routes(&self, af: &str) -> Vec<String> {
        let out = self.vtysh(&[&format!(
            "show bgp {af} unicast neighbors {} received-routes json",
            self.net.rr()
        )]);
        let v: Value = serde_json::from_str(out.trim()).unwrap_or_default();
        v["receivedRoutes"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }
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

// --------------------------------------------------------------------------------- ExaBGP

/// ExaBGP: routes and hand-made attributes go in as API text commands (appended to a file a
/// helper process tails into ExaBGP); everything it receives comes out as JSON lines.
pub struct ExaBgp {
    pub proc: Proc,
    pub addr: String,
    cmd: PathBuf,
    recv: PathBuf,
}

impl ExaBgp {
    /// Starts ExaBGP dialing reflectd at 127.0.0.1:`rr_port` from `addr`; it listens on
    /// nothing. `asn4: false` leaves out the 4-octet AS capability (an old 2-octet speaker).
    pub fn start(
        dir: &Path,
        name: &str,
        addr: &str,
        router_id: &str,
        asn: u32,
        rr_port: u16,
        asn4: bool,
    ) -> ExaBgp {
        let net = Net::loopback();
        ExaBgp::start_in(&net, dir, name, addr, router_id, asn, rr_port, asn4)
    }

    /// As [`ExaBgp::start`], run where `net` says and dialing reflectd at `net.rr`.
    #[allow(clippy::too_many_arguments)]
    pub fn start_in(
        net: &Net,
        dir: &Path,
        name: &str,
        addr: &str,
        router_id: &str,
        asn: u32,
        rr_port: u16,
        asn4: bool,
    ) -> ExaBgp {
        let cmd = dir.join(format!("{name}.cmd"));
        let recv = dir.join(format!("{name}.recv.json"));
        std::fs::write(&cmd, "").expect("exabgp command file");
        let cmd_sh = dir.join(format!("{name}-cmd.sh"));
        let recv_sh = dir.join(format!("{name}-recv.py"));
        // tail stops with ExaBGP (--pid), whichever way ExaBGP ends.
        std::fs::write(
            &cmd_sh,
            format!(
                "#!/bin/sh\nexec tail -n +1 -F --pid=$PPID {}\n",
                cmd.display()
            ),
        )
        .unwrap();
        std::fs::write(
            &recv_sh,
            // ExaBGP hands its helpers non-blocking pipes, which `cat` gives up on.
            format!(
                "import os, sys\nos.set_blocking(0, True)\nwith open('{}', 'a', buffering=1) as f:\n    \
                 for line in sys.stdin:\n        f.write(line)\n",
                recv.display()
            ),
        )
        .unwrap();
        let conf = dir.join(format!("{name}.conf"));
        std::fs::write(
            &conf,
            format!(
                "process cmd {{\n  run /bin/sh {cmd_sh};\n  encoder text;\n}}\n\
                 process recv {{\n  run /usr/bin/python3 {recv_sh};\n  encoder json;\n}}\n\
                 neighbor {rr} {{\n  router-id {router_id};\n  local-address {addr};\n  \
                 local-as {asn};\n  peer-as {asn};\n  connect {rr_port};\n  hold-time 30;\n  \
                 capability {{\n    route-refresh;\n    asn4 {asn4};\n    extended-message enable;\n  }}\n  \
                 family {{\n    ipv4 unicast;\n    ipv6 unicast;\n  }}\n  \
                 api {{\n    processes [ cmd ];\n  }}\n  \
                 api {{\n    processes [ recv ];\n    neighbor-changes;\n    \
                 receive {{\n      parsed;\n      {packets}update;\n      notification;\n      refresh;\n    }}\n  }}\n}}\n",
                cmd_sh = cmd_sh.display(),
                recv_sh = recv_sh.display(),
                asn4 = if asn4 { "enable" } else { "disable" },
                // The 2-octet case also shows the raw bytes (AS_TRANS on the wire).
                packets = if asn4 { "" } else { "packets;\n      " },
                rr = net.rr(),
            ),
        )
        .expect("exabgp config");
        let proc = Proc::spawn(
            name,
            net.command("exabgp")
                .arg(&conf)
                .env("exabgp.daemon.user", "root")
                .env("exabgp.daemon.drop", "false")
                .env("exabgp.daemon.daemonize", "false")
                .env("exabgp.tcp.bind", "")
                .env("exabgp.api.cli", "false")
                .env("exabgp.log.destination", "stdout")
                .env("exabgp.log.level", "INFO")
                .env("exabgp.tcp.delay", "0")
                .env("exabgp.cache.attributes", "false")
                .env("exabgp.api.ack", "false")
                .current_dir(dir),
            dir.join(format!("{name}.log")),
        );
        ExaBgp {
            proc,
            addr: addr.to_string(),
            cmd,
            recv,
        }
    }

    /// Sends one API command (`announce route ...`, `withdraw route ...`).
    pub fn send(&self, line: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.cmd)
            .expect("exabgp command file");
        writeln!(f, "{line}").expect("write exabgp command");
    }

    /// Every JSON message ExaBGP reported, in order.
    pub fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.recv)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Events of one `type` (`update`, `notification`, `state`, `refresh`).
    pub fn events_of(&self, kind: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["type"].as_str() == Some(kind))
            .collect()
    }

    /// Whether the last reported state change is "up".
    pub fn established(&self) -> bool {
        self.events_of("state")
            .last()
            .is_some_and(|e| e["neighbor"]["state"].as_str() == Some("up"))
    }

    pub fn wait_established(&self) {
        let up = eventually(ROUTE_WAIT, || self.established().then_some(()));
        assert!(
            up.is_some(),
            "{} never came up; events: {:?}\n{}",
            self.name(),
            self.events(),
            self.proc.log_text()
        );
    }

    /// (code, subcode) of each NOTIFICATION ExaBGP received.
    pub fn notifications(&self) -> Vec<(u64, u64)> {
        self.events_of("notification")
            .iter()
            .map(|e| {
                let n = &e["neighbor"]["notification"];
                (
                    n["code"].as_u64().unwrap_or(0),
                    n["subcode"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    }

    /// The RIB ExaBGP was sent, rebuilt from its received updates (in order); a session
    /// going down empties it.
    pub fn rib(&self) -> std::collections::HashMap<String, Value> {
        let mut rib = std::collections::HashMap::new();
        for e in self.events() {
            match e["type"].as_str() {
                Some("state") if e["neighbor"]["state"].as_str() == Some("down") => rib.clear(),
                Some("update") => {
                    let u = &e["neighbor"]["message"]["update"];
                    for fam in u["withdraw"].as_object().into_iter().flatten() {
                        for n in fam.1.as_array().into_iter().flatten() {
                            if let Some(p) = n["nlri"].as_str() {
                                rib.remove(p);
                            }
                        }
                    }
                    for fam in u["announce"].as_object().into_iter().flatten() {
                        for (nh, nlris) in fam.1.as_object().into_iter().flatten() {
                            for n in nlris.as_array().into_iter().flatten() {
                                if let Some(p) = n["nlri"].as_str() {
                                    let mut attrs = u["attribute"].clone();
                                    attrs["next-hop"] = Value::String(nh.clone());
                                    rib.insert(p.to_string(), attrs);
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        rib
    }
}

fn exabgp_seen(a: &Value) -> Seen {
    let comms = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                c.as_array()
                    .map(|parts| {
                        parts
                            .iter()
                            .map(|x| x.to_string())
                            .collect::<Vec<_>>()
                            .join(":")
                    })
                    .unwrap_or_else(|| c.to_string())
            })
            .collect()
    };
    Seen {
        next_hop: a["next-hop"].as_str().unwrap_or("").to_string(),
        local_pref: u32_of(&a["local-preference"]),
        med: u32_of(&a["med"]),
        as_path: a["as-path"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(u32_of)
            .collect(),
        originator_id: a["originator-id"].as_str().map(str::to_string),
        cluster_list: strings(&a["cluster-list"]),
        communities: comms(&a["community"]),
        ext_communities: a["extended-community"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["string"].as_str())
            .map(|s| s.trim_start_matches("target:").to_string())
            .collect(),
        large_communities: comms(&a["large-community"]),
    }
}

impl Peer for ExaBgp {
    fn name(&self) -> String {
        format!("ExaBGP {} ({})", self.proc.name, self.addr)
    }

    fn route(&self, prefix: &str) -> Option<Seen> {
        self.rib().get(prefix).map(exabgp_seen)
    }

    fn dump(&self) -> String {
        let t = std::fs::read_to_string(&self.recv).unwrap_or_default();
        let start = t.len().saturating_sub(8000);
        t.get(start..).unwrap_or("").to_string()
    }
}

// ------------------------------------------------------------------------------- OpenBGPD

/// OpenBGPD's daemon (FRR's is also called `bgpd`, elsewhere).
pub const OPENBGPD: &str = "/usr/sbin/bgpd";

/// OpenBGPD 7.x cannot dial a remote port other than 179, so reflectd dials it: OpenBGPD
/// listens on its own address and a free port, passive toward reflectd.
pub struct OpenBgpd {
    pub proc: Proc,
    pub addr: String,
    /// The port OpenBGPD listens on (reflectd's neighbor `port`).
    pub port: u16,
    sock: PathBuf,
}

impl OpenBgpd {
    /// `port` from [`super::free_port`], given to reflectd's neighbor config before start.
    /// `body` adds global config lines (`network ...`).
    pub fn start(
        dir: &Path,
        name: &str,
        addr: &str,
        router_id: &str,
        port: u16,
        body: &str,
    ) -> OpenBgpd {
        OpenBgpd::start_in(&Net::loopback(), dir, name, addr, router_id, port, body)
    }

    /// As [`OpenBgpd::start`], run where `net` says, with reflectd at `net.rr`.
    pub fn start_in(
        net: &Net,
        dir: &Path,
        name: &str,
        addr: &str,
        router_id: &str,
        port: u16,
        body: &str,
    ) -> OpenBgpd {
        // bgpd chroots its engines to the _openbgpd home, which only the (unused) packaged
        // service would create.
        let _ = std::fs::create_dir_all("/run/openbgpd");
        let sock = dir.join(format!("{name}.sock"));
        let conf = dir.join(format!("{name}.conf"));
        std::fs::write(
            &conf,
            format!(
                "AS 65000\nrouter-id {router_id}\nlisten on {addr} port {port}\nsocket \"{sock}\"\n\
                 fib-update no\nnexthop qualify via default\n{body}\n\
                 neighbor {rr} {{\n  remote-as 65000\n  passive\n  local-address {addr}\n  \
                 announce IPv4 unicast\n  announce IPv6 unicast\n  descr \"reflectd\"\n}}\n\
                 allow from any\nallow to any\n",
                sock = sock.display(),
                rr = net.rr()
            ),
        )
        .expect("openbgpd config");
        OpenBgpd::launch(
            net,
            dir,
            name,
            addr,
            port,
            &conf,
            sock,
            &["show", "neighbor"],
            "reflectd",
        )
    }

    /// Starts OpenBGPD with a whole config written by the test (listening on `addr`:`port`,
    /// which this adds, as it adds the control socket).
    pub fn start_conf(dir: &Path, name: &str, addr: &str, port: u16, config: &str) -> OpenBgpd {
        let _ = std::fs::create_dir_all("/run/openbgpd");
        let sock = dir.join(format!("{name}.sock"));
        let conf = dir.join(format!("{name}.conf"));
        std::fs::write(
            &conf,
            format!(
                "listen on {addr} port {port}\nsocket \"{}\"\n{config}\n",
                sock.display()
            ),
        )
        .expect("openbgpd config");
        let net = Net::loopback();
        OpenBgpd::launch(
            &net,
            dir,
            name,
            addr,
            port,
            &conf,
            sock,
            &["show", "summary"],
            "Neighbor",
        )
    }

    /// Runs bgpd in the foreground on `conf` (made private first: bgpd refuses a readable
    /// one) and waits until `bgpctl ready_cmd` prints `ready`.
    #[allow(clippy::too_many_arguments)]
    fn launch(
        net: &Net,
        dir: &Path,
        name: &str,
        addr: &str,
        port: u16,
        conf: &Path,
        sock: PathBuf,
        ready_cmd: &[&str],
        ready: &str,
    ) -> OpenBgpd {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(conf, std::fs::Permissions::from_mode(0o600));
        let proc = Proc::spawn(
            name,
            net.command(OPENBGPD).arg("-d").arg("-f").arg(conf),
            dir.join(format!("{name}.log")),
        );
        let o = OpenBgpd {
            proc,
            addr: addr.to_string(),
            port,
            sock,
        };
        let up = eventually(Duration::from_secs(15), || {
            o.bgpctl(ready_cmd).contains(ready).then_some(())
        });
        assert!(up.is_some(), "OpenBGPD {name} did not come up");
        o
    }

    pub fn bgpctl(&self, args: &[&str]) -> String {
        run(Command::new("bgpctl").arg("-s").arg(&self.sock).args(args))
    }

    /// `bgpctl network add PREFIX [nexthop X localpref N ...]`.
    pub fn announce(&self, prefix: &str, set: &str) {
        let mut a = vec!["network", "add", prefix];
        a.extend(set.split_whitespace());
        let out = self.bgpctl(&a);
        assert!(
            out.contains("request sent"),
            "bgpctl network add {prefix}: {out}"
        );
    }

    pub fn withdraw(&self, prefix: &str) {
        self.bgpctl(&["network", "delete", prefix]);
    }

    pub fn established(&self) -> bool {
        self.bgpctl(&["-j", "show", "neighbor"])
            .contains("\"state\": \"Established\"")
    }
}

fn openbgpd_seen(p: &Value) -> Seen {
    // ORIGINATOR_ID and CLUSTER_LIST come as entries of an "attributes" list.
    let first = |k: &str| {
        p["attributes"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|a| a.get(k))
            .cloned()
    };
    Seen {
        next_hop: p["exit_nexthop"].as_str().unwrap_or("").to_string(),
        local_pref: u32_of(&p["localpref"]),
        med: u32_of(&p["metric"]),
        as_path: words(&p["aspath"])
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect(),
        originator_id: first("originator").and_then(|v| v.as_str().map(str::to_string)),
        cluster_list: first("cluster_list")
            .map(|v| strings(&v))
            .unwrap_or_default(),
        communities: strings(&p["communities"]),
        ext_communities: strings(&p["extended_communities"])
            .into_iter()
            .map(|c| c.trim_start_matches("rt ").to_string())
            .collect(),
        large_communities: strings(&p["large_communities"]),
    }
}

impl Peer for OpenBgpd {
    fn name(&self) -> String {
        format!("OpenBGPD {} ({})", self.proc.name, self.addr)
    }

    fn route(&self, prefix: &str) -> Option<Seen> {
        let out = self.bgpctl(&["-j", "show", "rib", "detail", prefix]);
        let v: Value = serde_json::from_str(out.trim()).ok()?;
        let paths = v["rib"].as_array()?;
        let best = paths
            .iter()
            .find(|p| p["best"].as_bool() == Some(true))
            .or(paths.first())?;
        Some(openbgpd_seen(best))
    }

    fn dump(&self) -> String {
        format!(
            "{}\n{}",
            self.bgpctl(&["show", "neighbor"]),
            self.bgpctl(&["-j", "show", "rib", "detail"])
        )
    }
}

// ----------------------------------------------------------------------------------- BIRD

/// BIRD 2 dialing reflectd from its own address; `statics` are BIRD `route` lines (with
/// per-route attribute blocks) exported to reflectd with next hop `next_hop4`/`next_hop6`.
pub struct Bird {
    pub proc: Proc,
    pub addr: String,
    sock: PathBuf,
}

impl Bird {
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        dir: &Path,
        name: &str,
        addr: &str,
        router_id: &str,
        rr_port: u16,
        statics4: &str,
        statics6: &str,
        next_hops: (&str, &str),
    ) -> Bird {
        Bird::start_with(
            dir, name, addr, router_id, rr_port, statics4, statics6, next_hops, "",
        )
    }

    /// `start` with `extra` lines in the `protocol bgp` block (e.g. `password "k";`).
    #[allow(clippy::too_many_arguments)]
    pub fn start_with(
        dir: &Path,
        name: &str,
        addr: &str,
        router_id: &str,
        rr_port: u16,
        statics4: &str,
        statics6: &str,
        next_hops: (&str, &str),
        extra: &str,
    ) -> Bird {
        let net = Net::loopback();
        Bird::start_in(
            &net, dir, name, addr, router_id, rr_port, statics4, statics6, next_hops, extra,
        )
    }

    /// As [`Bird::start_with`], run where `net` says and dialing reflectd at `net.rr`.
    #[allow(clippy::too_many_arguments)]
    pub fn start_in(
        net: &Net,
        dir: &Path,
        name: &str,
        addr: &str,
        router_id: &str,
        rr_port: u16,
        statics4: &str,
        statics6: &str,
        next_hops: (&str, &str),
        extra: &str,
    ) -> Bird {
        let conf = dir.join(format!("{name}.conf"));
        let sock = dir.join(format!("{name}.ctl"));
        std::fs::write(
            &conf,
            format!(
                r#"router id {router_id};
log "{log}" all;
protocol device {{ }}
# Next hops of received routes resolve through these (nothing is forwarded).
protocol static nh4 {{ ipv4; route 100.64.0.0/10 blackhole; }}
protocol static nh6 {{ ipv6; route 2001:db8:ffff::/48 blackhole; }}
protocol static s4 {{ ipv4; {statics4} }}
protocol static s6 {{ ipv6; {statics6} }}
protocol bgp reflector {{
  # BIRD always listens: on its own address and a free port, never *:179.
  local {addr} port {listen} as 65000;
  strict bind yes;
  neighbor {rr} port {rr_port} as 65000;
  connect retry time 1;
  {extra}
  ipv4 {{ import all; export where proto = "s4"; next hop address {nh4}; }};
  ipv6 {{ import all; export where proto = "s6"; next hop address {nh6}; }};
}}
"#,
                log = dir.join(format!("{name}.birdlog")).display(),
                nh4 = next_hops.0,
                nh6 = next_hops.1,
                listen = super::free_port(),
                rr = net.rr(),
            ),
        )
        .expect("bird config");
        Bird::launch(net, dir, name, addr, &conf, sock)
    }

    /// Starts BIRD with a whole config written by the test: `{log}` in it becomes BIRD's
    /// log file (see [`Bird::log_text`]).
    pub fn start_conf(dir: &Path, name: &str, addr: &str, config: &str) -> Bird {
        let conf = dir.join(format!("{name}.conf"));
        let sock = dir.join(format!("{name}.ctl"));
        let log = dir.join(format!("{name}.birdlog"));
        std::fs::write(&conf, config.replace("{log}", &log.display().to_string()))
            .expect("bird config");
        Bird::launch(&Net::loopback(), dir, name, addr, &conf, sock)
    }

    /// Runs BIRD in the foreground on `conf` with control socket `sock` and waits for it.
    fn launch(net: &Net, dir: &Path, name: &str, addr: &str, conf: &Path, sock: PathBuf) -> Bird {
        let proc = Proc::spawn(
            name,
            net.command("bird")
                .arg("-f")
                .arg("-c")
                .arg(conf)
                .arg("-s")
                .arg(&sock),
            dir.join(format!("{name}.log")),
        );
        let b = Bird {
            proc,
            addr: addr.to_string(),
            sock,
        };
        let up = eventually(Duration::from_secs(15), || {
            b.birdc("show status")
                .contains("Daemon is up")
                .then_some(())
        });
        assert!(up.is_some(), "BIRD {name} did not come up");
        b
    }

    /// BIRD's own log (`log "..." all` in its config): with `debug { packets; }` it records
    /// every message it received.
    pub fn log_text(&self) -> String {
        let conf = self.proc.log.with_extension("birdlog");
        std::fs::read_to_string(conf).unwrap_or_default()
    }

    pub fn birdc(&self, cmd: &str) -> String {
        run(Command::new("birdc")
            .arg("-s")
            .arg(&self.sock)
            .args(cmd.split(' ')))
    }
}

/// `(65000,91) (65000,92)` or `(rt, 65000, 91)` -> `65000:91`, ...
fn bird_tuples(s: &str) -> Vec<String> {
    s.split(')')
        .filter_map(|t| {
            let inner = t.trim().trim_start_matches('(');
            let parts: Vec<&str> = inner
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty() && *p != "rt")
                .collect();
            (!parts.is_empty()).then(|| parts.join(":"))
        })
        .collect()
}

/// Every route block of `birdc show route PREFIX all`: (header line, its attribute lines).
/// A block's header starts with the prefix (the first) or with spaces (the next paths of
/// the same prefix); its attributes are tab-indented.
fn bird_blocks<'a>(out: &'a str, prefix: &str) -> Vec<(&'a str, Vec<&'a str>)> {
    let mut blocks: Vec<(&str, Vec<&str>)> = Vec::new();
    let mut inside = false;
    for line in out.lines() {
        if line.starts_with('\t') {
            if let Some(b) = blocks.last_mut().filter(|_| inside) {
                b.1.push(line);
            }
        } else if line.starts_with(prefix) || (inside && line.starts_with(' ')) {
            inside = true;
            blocks.push((line, Vec::new()));
        } else {
            inside = false;
        }
    }
    blocks
}

fn bird_seen<'a>(attrs: impl IntoIterator<Item = &'a str>) -> Seen {
    let mut s = Seen::default();
    for line in attrs {
        let Some((k, v)) = line.trim().split_once(": ") else {
            continue;
        };
        let v = v.trim();
        match k {
            "BGP.next_hop" => s.next_hop = v.split_whitespace().next().unwrap_or("").into(),
            "BGP.local_pref" => s.local_pref = v.parse().ok(),
            "BGP.med" => s.med = v.parse().ok(),
            "BGP.as_path" => {
                s.as_path = v
                    .split_whitespace()
                    .filter_map(|a| a.parse().ok())
                    .collect()
            }
            "BGP.originator_id" => s.originator_id = Some(v.to_string()),
            "BGP.cluster_list" => {
                s.cluster_list = v.split_whitespace().map(str::to_string).collect()
            }
            "BGP.community" => s.communities = bird_tuples(v),
            "BGP.ext_community" => s.ext_communities = bird_tuples(v),
            "BGP.large_community" => s.large_communities = bird_tuples(v),
            _ => {}
        }
    }
    s
}

impl AllPaths for Bird {
    fn paths(&self, prefix: &str) -> Vec<HeldPath> {
        let out = self.birdc(&format!("show route {prefix} all"));
        bird_blocks(&out, prefix)
            .into_iter()
            .map(|(header, attrs)| HeldPath {
                // `unicast [reflector 12:00:00.000 from 127.0.0.1] * (100) [i]`
                from_reflector: header.contains("[reflector "),
                best: header.contains("] * "),
                seen: bird_seen(attrs),
            })
            .collect()
    }
}

impl Peer for Bird {
    fn name(&self) -> String {
        format!("BIRD {} ({})", self.proc.name, self.addr)
    }

    fn route(&self, prefix: &str) -> Option<Seen> {
        let out = self.birdc(&format!("show route {prefix} all"));
        if !out.lines().any(|l| l.starts_with(prefix)) {
            return None;
        }
        // The first (best) route's block.
        let blocks = bird_blocks(&out, prefix);
        Some(bird_seen(
            blocks.first().map(|b| b.1.clone()).unwrap_or_default(),
        ))
    }

    fn dump(&self) -> String {
        format!(
            "{}\n{}",
            self.birdc("show protocols all reflector"),
            self.birdc("show route all")
        )
    }
}
