//! A network namespace per test, for BGP over IPv6 transport: the host has one IPv6 loopback
//! address (::1) and reflectd tells neighbors apart by address, so each test gets its own
//! namespace with its own `lo` holding fd00::1 (reflectd), fd00::2, ... (one per daemon).
//! Processes run in it through `ip netns exec`, which execs the command, so the PID a test
//! holds is the daemon's own and stopping by PID still works. The namespace is deleted when
//! its handle drops; declare it before anything that runs inside it so it drops last.

use super::{bin, config_text_at, NeighborSpec, Reflector, WAIT};
use std::ffi::OsStr;
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Where a daemon runs (the host, or a namespace) and the address it finds reflectd at.
#[derive(Clone, Debug)]
pub struct Net {
    pub netns: Option<String>,
    pub rr: IpAddr,
}

impl Net {
    /// The host's loopback with reflectd on 127.0.0.1: what every IPv4 test uses.
    pub fn loopback() -> Net {
        Net {
            netns: None,
            rr: IpAddr::from([127, 0, 0, 1]),
        }
    }

    /// `program`, run inside the namespace if there is one.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec"]).arg(ns).arg(program);
                c
            }
            None => Command::new(program),
        }
    }

    /// reflectd's address as daemons' configs spell it.
    pub fn rr(&self) -> String {
        self.rr.to_string()
    }
}

/// `host:port`, with brackets for IPv6.
pub fn host_port(addr: &str, port: u16) -> String {
    match addr.parse::<IpAddr>() {
        Ok(ip) => std::net::SocketAddr::new(ip, port).to_string(),
        Err(_) => format!("{addr}:{port}"),
    }
}

/// The command name of process `pid`: a process started through `ip netns exec` must be the
/// daemon itself (ip execs it), or stopping "it" by PID would stop only `ip`.
pub fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A namespace owned by a test: `lo` up with 127.0.0.1 and the given IPv6 addresses.
pub struct Netns {
    pub name: String,
}

fn ip_cmd(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ip {args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Netns {
    /// Creates `reflectd-t-<pid>-<n>` with `addrs` on its loopback (`nodad`: usable at once).
    /// Err when namespaces cannot be made here (not root, no `ip`).
    pub fn create(addrs: &[&str]) -> Result<Netns, String> {
        let name = format!(
            "reflectd-t-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        ip_cmd(&["netns", "add", &name])?;
        // From here the handle owns it: an error below still deletes it.
        let ns = Netns { name };
        ip_cmd(&["-n", &ns.name, "link", "set", "lo", "up"])?;
        for a in addrs {
            let plen = if a.contains(':') { "128" } else { "32" };
            ip_cmd(&[
                "-n",
                &ns.name,
                "addr",
                "add",
                &format!("{a}/{plen}"),
                "dev",
                "lo",
                "nodad",
            ])?;
        }
        Ok(ns)
    }

    /// Daemons in this namespace finding reflectd at `rr`.
    pub fn net(&self, rr: &str) -> Net {
        Net {
            netns: Some(self.name.clone()),
            rr: rr.parse().expect("reflectd address"),
        }
    }

    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        self.net("::1").command(program)
    }

    /// Starts reflectd inside the namespace, listening for BGP on `listen` (its API and
    /// metrics on the namespace's 127.0.0.1), and waits for its API.
    pub fn reflector(&self, listen: &str, neighbors: &[NeighborSpec]) -> Reflector {
        let [port, api, metrics] = super::free_ports::<3>();
        let text = config_text_at(listen, port, api, metrics, neighbors);
        let r = Reflector::spawn(self.command(bin()), &self.name, [port, api, metrics], &text);
        let deadline = Instant::now() + WAIT;
        while self.neighbors_json(&r).is_none() {
            assert!(
                Instant::now() < deadline,
                "reflectd API did not come up in {}; log:\n{}",
                self.name,
                r.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        r
    }

    /// `reflectd neighbors --api ... [--json]` run inside the namespace.
    pub fn neighbors(&self, r: &Reflector, json: bool) -> String {
        let mut c = self.command(bin());
        c.arg("neighbors")
            .arg("--api")
            .arg(format!("127.0.0.1:{}", r.api));
        if json {
            c.arg("--json");
        }
        super::daemons::run(&mut c)
    }

    /// The neighbors as JSON, or None while the API is not up.
    pub fn neighbors_json(&self, r: &Reflector) -> Option<serde_json::Value> {
        serde_json::from_str(self.neighbors(r, true).trim()).ok()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = ip_cmd(&["netns", "del", &self.name]) {
            eprintln!("could not delete network namespace: {e}");
        }
    }
}
