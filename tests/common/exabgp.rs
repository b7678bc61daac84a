//! ExaBGP (Debian `exabgp`) as a peer of reflectd: routes and hand-made attributes go in as
//! API text commands (appended to a file a helper process tails into ExaBGP); everything it
//! receives comes out as JSON lines, from which its RIB is rebuilt. It dials reflectd from
//! its own address and listens on nothing.

use super::daemons::*;
use serde_json::Value;
use std::path::PathBuf;

pub struct ExaBgp {
    pub proc: Proc,
    pub daemon: Daemon,
    cmd: PathBuf,
    recv: PathBuf,
}

/// What an ExaBGP can be started with beyond every driver's [`Daemon`].
pub struct ExaBgpOpts {
    asn4: bool,
    /// Its `family` lines; `None`: IPv4 and IPv6 unicast.
    families: Option<Vec<String>>,
}

impl Default for ExaBgpOpts {
    fn default() -> Self {
        ExaBgpOpts {
            asn4: true,
            families: None,
        }
    }
}

impl Driver for ExaBgp {
    type Opts = ExaBgpOpts;
    const NEEDS: (&'static str, &'static str) = ("exabgp", "exabgp");
}

impl Builder<ExaBgpOpts> {
    /// `false` leaves out the 4-octet AS capability (an old 2-octet speaker).
    pub fn asn4(mut self, asn4: bool) -> Self {
        self.opts.asn4 = asn4;
        self
    }

    /// The families it offers, as ExaBGP's config names them (`ipv4 unicast`,
    /// `ipv4 mpls-vpn`, `ipv6 mpls-vpn`), instead of IPv4 and IPv6 unicast. A VPN route is
    /// then announced as `announce route PREFIX rd RD label L next-hop NH
    /// extended-community [target:ASN:N]`.
    pub fn families(mut self, families: &[&str]) -> Self {
        self.opts.families = Some(families.iter().map(|f| f.to_string()).collect());
        self
    }

    /// Writes its config and helper scripts and starts ExaBGP; does not wait for the
    /// session (see [`ExaBgp::wait_established`]).
    pub fn start(self) -> ExaBgp {
        let (d, asn4) = (self.daemon, self.opts.asn4);
        let families: String = self
            .opts
            .families
            .unwrap_or_else(|| vec!["ipv4 unicast".into(), "ipv6 unicast".into()])
            .iter()
            .map(|f| format!("    {f};\n"))
            .collect();
        let cmd = d.write(".cmd", "");
        let recv = d.path(".recv.json");
        // tail stops with ExaBGP (--pid), whichever way ExaBGP ends.
        let cmd_sh = d.write(
            "-cmd.sh",
            &format!(
                "#!/bin/sh\nexec tail -n +1 -F --pid=$PPID {}\n",
                cmd.display()
            ),
        );
        let recv_sh = d.write(
            "-recv.py",
            // ExaBGP hands its helpers non-blocking pipes, which `cat` gives up on.
            &format!(
                "import os, sys\nos.set_blocking(0, True)\nwith open('{}', 'a', buffering=1) as f:\n    \
                 for line in sys.stdin:\n        f.write(line)\n",
                recv.display()
            ),
        );
        let conf = d.write(
            ".conf",
            &format!(
                "process cmd {{\n  run /bin/sh {cmd_sh};\n  encoder text;\n}}\n\
                 process recv {{\n  run /usr/bin/python3 {recv_sh};\n  encoder json;\n}}\n\
                 neighbor {rr} {{\n  router-id {router_id};\n  local-address {addr};\n  \
                 local-as {asn};\n  peer-as {asn};\n  connect {rr_port};\n  hold-time 30;\n  \
                 capability {{\n    route-refresh;\n    asn4 {asn4};\n    extended-message enable;\n  }}\n  \
                 family {{\n{families}  }}\n  \
                 api {{\n    processes [ cmd ];\n  }}\n  \
                 api {{\n    processes [ recv ];\n    neighbor-changes;\n    \
                 receive {{\n      parsed;\n      {packets}update;\n      notification;\n      refresh;\n    }}\n  }}\n}}\n",
                cmd_sh = cmd_sh.display(),
                recv_sh = recv_sh.display(),
                router_id = d.router_id,
                addr = d.addr,
                asn = d.asn,
                rr_port = d.rr_port,
                asn4 = if asn4 { "enable" } else { "disable" },
                // The 2-octet case also shows the raw bytes (AS_TRANS on the wire).
                packets = if asn4 { "" } else { "packets;\n      " },
                rr = d.rr(),
            ),
        );
        let proc = d.spawn(
            d.command("exabgp")
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
                .current_dir(&d.dir),
        );
        ExaBgp {
            proc,
            daemon: d,
            cmd,
            recv,
        }
    }
}

impl ExaBgp {
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
                        for n in items(fam.1) {
                            if let Some(p) = n["nlri"].as_str() {
                                rib.remove(p);
                            }
                        }
                    }
                    for fam in u["announce"].as_object().into_iter().flatten() {
                        for (nh, nlris) in fam.1.as_object().into_iter().flatten() {
                            for n in items(nlris) {
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
        items(v)
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
        as_path: items(&a["as-path"]).filter_map(u32_of).collect(),
        originator_id: a["originator-id"].as_str().map(str::to_string),
        cluster_list: strings(&a["cluster-list"]),
        communities: comms(&a["community"]),
        ext_communities: items(&a["extended-community"])
            .filter_map(|c| c["string"].as_str())
            .map(|s| s.trim_start_matches("target:").to_string())
            .collect(),
        large_communities: comms(&a["large-community"]),
    }
}

impl Peer for ExaBgp {
    fn name(&self) -> String {
        self.daemon.label("ExaBGP")
    }

    fn route(&self, prefix: &str) -> Option<Seen> {
        self.rib().get(prefix).map(exabgp_seen)
    }

    fn dump(&self) -> String {
        let t = std::fs::read_to_string(&self.recv).unwrap_or_default();
        tail(&t, 8000).to_string()
    }
}
