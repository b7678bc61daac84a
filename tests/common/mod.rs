//! Test harness: runs the real `reflectd` binary on loopback with a generated config and
//! drives it with the project's BGP speaker. Every wait is bounded; every process started is
//! stopped by its PID when the handle drops.
#![allow(dead_code)]

pub mod bird;
pub mod daemons;
pub mod exabgp;
pub mod frr;
pub mod gobgp;
pub mod netns;
pub mod openbgpd;
pub mod vpn;

use reflectd::speaker::{Speaker, SpeakerConfig};
use reflectd::wire::*;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ASN: u32 = 65000;
pub const ROUTER_ID: Ipv4Addr = Ipv4Addr::new(10, 255, 0, 1);
pub const CLUSTER_ID: Ipv4Addr = Ipv4Addr::new(10, 255, 0, 99);
pub const WAIT: Duration = Duration::from_secs(15);

/// A port nobody uses right now, for a test's listener.
pub fn free_port() -> u16 {
    free_ports::<1>()[0]
}

/// N distinct ports nobody uses right now. They come from below Linux's ephemeral range
/// (32768 and up): a port the kernel hands out as free is also what it gives the next
/// outgoing connection as its source port, and a parallel test's client connection on
/// 127.0.0.1 then takes it before our daemon binds it (seen as EADDRINUSE in CI). Each test
/// process walks its own slice of 10000..32000 (by PID) and checks every port is bindable.
pub fn free_ports<const N: usize>() -> [u16; N] {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 10_000;
    const SPAN: u32 = 22_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(2654435761) % SPAN,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    let mut out = [0u16; N];
    let mut found = 0;
    for _ in 0..SPAN {
        let port = (LOW + NEXT.fetch_add(1, Ordering::Relaxed) % SPAN) as u16;
        // In use on any loopback or wildcard address is in use (a machine without IPv6
        // cannot bind [::1] at all, which is not "in use").
        let free = ["127.0.0.1", "0.0.0.0", "[::1]"].iter().all(|a| {
            match TcpListener::bind(format!("{a}:{port}")) {
                Ok(_) => true,
                Err(e) => e.kind() != std::io::ErrorKind::AddrInUse,
            }
        });
        if free {
            out[found] = port;
            found += 1;
            if found == N {
                return out;
            }
        }
    }
    panic!("no free port in {LOW}..{}", LOW + SPAN);
}

/// A computed address as the `&'static str` a [`NeighborSpec`] holds (leaked: a test
/// process is short-lived).
pub fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

pub struct NeighborSpec {
    pub address: &'static str,
    pub rr_client: bool,
    pub passive: bool,
    pub port: u16,
    pub families: &'static str,
    pub hold_time: u16,
    /// More neighbor keys, YAML lines indented by four spaces (e.g. "    max_prefixes: 3\n").
    pub extra: &'static str,
}

impl NeighborSpec {
    pub fn client(address: &'static str) -> NeighborSpec {
        NeighborSpec {
            address,
            rr_client: true,
            passive: true,
            port: 179,
            families: "[ipv4-unicast, ipv6-unicast]",
            hold_time: 90,
            extra: "",
        }
    }
    pub fn non_client(address: &'static str) -> NeighborSpec {
        NeighborSpec {
            rr_client: false,
            ..NeighborSpec::client(address)
        }
    }

    /// A client reflectd dials, at `address`:`port` (a peer that listens, as OpenBGPD does).
    pub fn dialed(address: &'static str, port: u16) -> NeighborSpec {
        NeighborSpec {
            passive: false,
            port,
            ..NeighborSpec::client(address)
        }
    }
}

pub fn config_text(port: u16, api: u16, metrics: u16, neighbors: &[NeighborSpec]) -> String {
    config_text_at("127.0.0.1", port, api, metrics, neighbors)
}

/// As [`config_text`], listening for BGP on `listen` (API and metrics stay on 127.0.0.1).
pub fn config_text_at(
    listen: &str,
    port: u16,
    api: u16,
    metrics: u16,
    neighbors: &[NeighborSpec],
) -> String {
    let mut s = format!(
        "asn: {ASN}\nrouter_id: {ROUTER_ID}\ncluster_id: {CLUSTER_ID}\nlisten:\n  - address: {listen}\n    port: {port}\n\
         workers: 2\napi: 127.0.0.1:{api}\nmetrics: 127.0.0.1:{metrics}\nlog: debug\nneighbors:\n"
    );
    for n in neighbors {
        s.push_str(&format!(
            "  - address: {}\n    asn: {ASN}\n    rr_client: {}\n    passive: {}\n    port: {}\n    hold_time: {}\n    connect_retry: 1\n    families: {}\n",
            n.address, n.rr_client, n.passive, n.port, n.hold_time, n.families
        ));
        s.push_str(n.extra);
    }
    s
}

pub struct Reflector {
    pub child: Child,
    pub port: u16,
    pub api: u16,
    pub metrics: u16,
    pub dir: PathBuf,
    pub config: PathBuf,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_reflectd")
}

impl Reflector {
    pub fn start(neighbors: &[NeighborSpec]) -> Reflector {
        Reflector::start_as(ASN, neighbors)
    }

    /// As [`Reflector::start`], in AS `asn` (every neighbor too: iBGP).
    pub fn start_as(asn: u32, neighbors: &[NeighborSpec]) -> Reflector {
        Reflector::start_edited(neighbors, |text| {
            text.replace(&format!("asn: {ASN}\n"), &format!("asn: {asn}\n"))
        })
    }

    /// `start` with the generated config text passed through `edit` first (e.g. to add a
    /// listen address).
    pub fn start_edited(
        neighbors: &[NeighborSpec],
        edit: impl FnOnce(String) -> String,
    ) -> Reflector {
        let [port, api, metrics] = free_ports::<3>();
        let text = edit(config_text(port, api, metrics, neighbors));
        let tag = std::process::id().to_string();
        let r = Reflector::spawn(Command::new(bin()), &tag, [port, api, metrics], &text);
        r.wait_api();
        r
    }

    /// Writes `text` as the config in a fresh temp dir (named by `tag` and the BGP port) and
    /// runs `cmd`, reflectd or a wrapper of it, on it with stderr to `reflectd.log`. Does not
    /// wait for it to come up.
    pub fn spawn(
        mut cmd: Command,
        tag: &str,
        [port, api, metrics]: [u16; 3],
        text: &str,
    ) -> Reflector {
        let dir = std::env::temp_dir().join(format!("reflectd-test-{tag}-{port}"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let config = dir.join("reflectd.yaml");
        std::fs::write(&config, text).expect("write config");
        let log = std::fs::File::create(dir.join("reflectd.log")).expect("log file");
        let child = cmd
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start reflectd");
        Reflector {
            child,
            port,
            api,
            metrics,
            dir,
            config,
        }
    }

    fn wait_api(&self) {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.api)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("reflectd API did not come up; log:\n{}", self.log());
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(ip("127.0.0.1"), self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("reflectd.log")).unwrap_or_default()
    }

    /// Connects a speaker from `local` with router id `id`.
    pub fn speaker(&self, local: &str, id: [u8; 4]) -> Speaker {
        let cfg = SpeakerConfig::new(ip(local), ASN, Ipv4Addr::from(id));
        self.speaker_with(&cfg)
    }

    pub fn speaker_with(&self, cfg: &SpeakerConfig) -> Speaker {
        let deadline = Instant::now() + WAIT;
        loop {
            match Speaker::connect(cfg, self.addr(), Duration::from_secs(5)) {
                Ok(s) => return s,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!(
                    "speaker {} could not establish: {e}; log:\n{}",
                    cfg.local,
                    self.log()
                ),
            }
        }
    }

    /// `reflectd ARGS... --api` this instance (bounded); returns stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        daemons::run(
            Command::new(bin())
                .args(args)
                .arg("--api")
                .arg(format!("127.0.0.1:{}", self.api)),
        )
    }

    pub fn http(&self, port: u16, path: &str) -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect http");
        s.set_read_timeout(Some(WAIT)).unwrap();
        use std::io::Write;
        write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
        let mut body = String::new();
        let _ = s.read_to_string(&mut body);
        body.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or(body)
    }

    /// The value of one sample on `/metrics`: `name{labels}` exactly as exposed.
    pub fn metric(&self, sample: &str) -> Option<f64> {
        self.http(self.metrics, "/metrics").lines().find_map(|l| {
            l.strip_prefix(sample)
                .and_then(|v| v.strip_prefix(' '))
                .and_then(|v| v.trim().parse().ok())
        })
    }

    /// Waits until reflectd no longer holds an Established session with `neighbor`: a
    /// speaker that dropped its session and dials again at once would otherwise race the
    /// close, and while the old session stands RFC 4271 §6.8 closes the newcomer.
    pub fn wait_session_gone(&self, neighbor: &str) {
        let sample = format!("reflectd_neighbor_session_state{{neighbor=\"{neighbor}\"}}");
        let gone = daemons::eventually(WAIT, || (self.metric(&sample) != Some(6.0)).then_some(()));
        assert!(
            gone.is_some(),
            "{neighbor}: the old session still stands after {WAIT:?}; log:\n{}",
            self.log()
        );
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// A `kB` field of the process's /proc status (`VmRSS`, `VmHWM`), in KiB.
    pub fn vm_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("reflectd /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }

    /// SIGTERM and wait (bounded) for exit; returns the exit status.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        self.signal("TERM");
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Reflector {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("reflectd log ({}):\n{}", self.dir.display(), self.log());
        }
    }
}

/// reflectd with two clients, A (127.0.0.11, router id 1.1.1.1) and B (127.0.0.12,
/// 2.2.2.2), each connected as a speaker.
pub fn two_clients() -> (Reflector, Speaker, Speaker) {
    let r = Reflector::start(&[
        NeighborSpec::client("127.0.0.11"),
        NeighborSpec::client("127.0.0.12"),
    ]);
    let a = r.speaker("127.0.0.11", [1, 1, 1, 1]);
    let b = r.speaker("127.0.0.12", [2, 2, 2, 2]);
    (r, a, b)
}

/// `from` announces `prefix` with next hop `next_hop` ([`attrs`]); waits (bounded) until
/// `to` holds it.
pub fn announce_until_held(from: &mut Speaker, to: &mut Speaker, prefix: &str, next_hop: [u8; 4]) {
    from.announce(&[p4(prefix)], &attrs(next_hop)).unwrap();
    assert!(to.wait_until(WAIT, |s| s.route(prefix).is_some()).unwrap());
}

/// One read; a read with a timeout fails with EINTR when the process is stopped and
/// continued (signal(7)), which says nothing about the connection, so it is retried.
pub fn read_retrying(s: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match s.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// splitmix64: a seeded, dependency-free generator; a run is the same every time.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in 0..n.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// An index into a collection of `n`.
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }
}

pub fn p4(s: &str) -> Prefix4 {
    s.parse().expect("prefix")
}

pub fn p6(s: &str) -> Prefix6 {
    s.parse().expect("prefix")
}

pub fn attrs(next_hop: [u8; 4]) -> PathAttrs {
    PathAttrs {
        origin: Origin::Igp,
        as_path: AsPath::default(),
        next_hop: NextHop::V4(Ipv4Addr::from(next_hop)),
        local_pref: Some(100),
        ..PathAttrs::default()
    }
}
