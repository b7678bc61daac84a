//! OpenBGPD (Debian `openbgpd`) as a peer of reflectd. OpenBGPD 7.x cannot dial a remote
//! port other than 179, so reflectd dials it: OpenBGPD listens on its own address and a free
//! port, passive toward reflectd, and is driven with `bgpctl` on its own control socket.

use super::daemons::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// OpenBGPD's daemon (FRR's is also called `bgpd`, elsewhere).
pub const OPENBGPD: &str = "/usr/sbin/bgpd";

pub struct OpenBgpd {
    pub proc: Proc,
    pub daemon: Daemon,
    /// The port OpenBGPD listens on (reflectd's neighbor `port`).
    pub port: u16,
    sock: PathBuf,
}

/// What an OpenBGPD can be started with beyond every driver's [`Daemon`].
#[derive(Default)]
pub struct OpenBgpdOpts {
    listen: Option<u16>,
    body: String,
}

/// The generated config has reflectd as a passive neighbor and [`Builder::body`] as global
/// lines. Every OpenBGPD needs [`Builder::listen`].
impl Driver for OpenBgpd {
    type Opts = OpenBgpdOpts;
    const NEEDS: (&'static str, &'static str) = (OPENBGPD, "openbgpd");
}

/// A whole config: the listen line and the control socket are added in front of it.
impl WholeConfig for OpenBgpd {}

impl Builder<OpenBgpdOpts> {
    /// The port it listens on: from [`super::free_port`], given to reflectd's neighbor
    /// config before reflectd starts.
    pub fn listen(mut self, port: u16) -> Self {
        self.opts.listen = Some(port);
        self
    }

    /// Global config lines (`network ...`).
    pub fn body(mut self, body: &str) -> Self {
        self.opts.body = body.to_string();
        self
    }

    /// Writes the config (private: bgpd refuses a readable one), runs bgpd in the
    /// foreground and waits until `bgpctl` answers.
    pub fn start(self) -> OpenBgpd {
        use std::os::unix::fs::PermissionsExt;
        let (d, o) = (self.daemon, self.opts);
        let port = o
            .listen
            .expect("OpenBGPD listens: reflectd dials it (Builder::listen)");
        // bgpd chroots its engines to the _openbgpd home, which only the (unused) packaged
        // service would create.
        let _ = std::fs::create_dir_all("/run/openbgpd");
        let sock = d.path(".sock");
        let listen = format!(
            "listen on {addr} port {port}\nsocket \"{sock}\"\n",
            addr = d.addr,
            sock = sock.display()
        );
        // Up once bgpctl lists its neighbors: reflectd by the `descr` of the generated
        // config, or the summary's header for a whole config.
        let (text, ready_cmd, ready): (_, &[&str], _) = match &self.config {
            Some(config) => (
                format!("{listen}{config}\n"),
                &["show", "summary"],
                "Neighbor",
            ),
            None => (
                format!(
                    "AS {asn}\nrouter-id {router_id}\n{listen}\
                     fib-update no\nnexthop qualify via default\n{body}\n\
                     neighbor {rr} {{\n  remote-as {asn}\n  passive\n  local-address {addr}\n  \
                     announce IPv4 unicast\n  announce IPv6 unicast\n  descr \"reflectd\"\n}}\n\
                     allow from any\nallow to any\n",
                    asn = d.asn,
                    router_id = d.router_id,
                    body = o.body,
                    rr = d.rr(),
                    addr = d.addr,
                ),
                &["show", "neighbor"],
                "reflectd",
            ),
        };
        let conf = d.write(".conf", &text);
        let _ = std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600));
        let proc = d.spawn(d.command(OPENBGPD).arg("-d").arg("-f").arg(&conf));
        let b = OpenBgpd {
            proc,
            daemon: d,
            port,
            sock,
        };
        b.daemon
            .wait_up("OpenBGPD", || b.bgpctl(ready_cmd).contains(ready));
        b
    }
}

impl OpenBgpd {
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
    let first = |k: &str| items(&p["attributes"]).find_map(|a| a.get(k)).cloned();
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
        self.daemon.label("OpenBGPD")
    }

    fn route(&self, prefix: &str) -> Option<Seen> {
        let v = json(&self.bgpctl(&["-j", "show", "rib", "detail", prefix]));
        let paths = v["rib"].as_array()?;
        best_or_first(paths, |p| p["best"].as_bool() == Some(true)).map(openbgpd_seen)
    }

    fn dump(&self) -> String {
        format!(
            "{}\n{}",
            self.bgpctl(&["show", "neighbor"]),
            self.bgpctl(&["-j", "show", "rib", "detail"])
        )
    }
}
