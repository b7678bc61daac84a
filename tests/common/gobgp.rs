//! GoBGP (Debian `gobgpd`) as a peer of reflectd: gobgpd dials reflectd from its own address
//! and listens for BGP on nothing (port -1); routes go in and come out through the `gobgp`
//! CLI on its gRPC API, bound to the daemon's own address.

use super::daemons::*;
use super::netns::host_port;
use serde_json::Value;

pub struct GoBgp {
    pub proc: Proc,
    pub daemon: Daemon,
    api_port: u16,
}

/// What a GoBGP can be started with beyond every driver's [`Daemon`].
#[derive(Default)]
pub struct GoBgpOpts {
    /// Graceful Restart (RFC 4724) for both families; `Some(true)`: restarting.
    graceful_restart: Option<bool>,
}

impl Driver for GoBgp {
    type Opts = GoBgpOpts;
    const NEEDS: (&'static str, &'static str) = ("gobgpd", "gobgpd");
}

impl Builder<GoBgpOpts> {
    /// Graceful Restart (RFC 4724) for both families; `restarting` starts gobgpd with `-r`,
    /// as after a crash (R bit, and GoBGP then sets the Forwarding State bits).
    pub fn graceful_restart(mut self, restarting: bool) -> Self {
        self.opts.graceful_restart = Some(restarting);
        self
    }

    /// Writes the config, starts gobgpd and waits for its API.
    pub fn start(self) -> GoBgp {
        let (d, gr) = (self.daemon, self.opts.graceful_restart);
        let mut text = format!(
            "[global.config]\n  as = {asn}\n  router-id = \"{router_id}\"\n  port = -1\n\
             [[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{rr}\"\n    peer-as = {asn}\n\
             \x20 [neighbors.transport.config]\n    local-address = \"{addr}\"\n    remote-port = {rr_port}\n\
             \x20 [neighbors.timers.config]\n    connect-retry = 1\n    hold-time = 30\n    keepalive-interval = 10\n",
            asn = d.asn,
            router_id = d.router_id,
            rr = d.rr(),
            addr = d.addr,
            rr_port = d.rr_port,
        );
        if gr.is_some() {
            text.push_str(
                "  [neighbors.graceful-restart.config]\n    enabled = true\n    restart-time = 120\n",
            );
        }
        for f in ["ipv4-unicast", "ipv6-unicast"] {
            text.push_str(&format!(
                "  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"{f}\"\n"
            ));
            if gr.is_some() {
                text.push_str(
                    "    [neighbors.afi-safis.mp-graceful-restart.config]\n      enabled = true\n",
                );
            }
        }
        let conf = d.write(".toml", &text);
        let api_port = super::free_port();
        let mut cmd = d.command("gobgpd");
        if gr == Some(true) {
            cmd.arg("-r");
        }
        let proc = d.spawn(
            cmd.arg("-f")
                .arg(&conf)
                .arg("--api-hosts")
                .arg(host_port(&d.addr, api_port))
                .arg("--log-plain")
                .arg("--disable-stdlog")
                // Its profiler would listen on 127.0.0.1:6060, shared by every gobgpd.
                .arg("--pprof-disable"),
        );
        let g = GoBgp {
            proc,
            daemon: d,
            api_port,
        };
        g.daemon
            .wait_up("gobgpd", || g.cli(&["global"]).contains("AS"));
        g
    }
}

impl GoBgp {
    pub fn cli(&self, args: &[&str]) -> String {
        run(self
            .daemon
            .command("gobgp")
            .arg("-u")
            .arg(&self.daemon.addr)
            .arg("-p")
            .arg(self.api_port.to_string())
            .args(args))
    }

    /// `gobgp global rib add PREFIX ARGS...` (args: `nexthop 100.64.0.1 local-pref 200` ...).
    pub fn announce(&self, prefix: &str, args: &str) {
        let mut a = vec!["global", "rib", "add", prefix];
        a.extend(args.split_whitespace());
        a.extend(["-a", afi(prefix)]);
        let out = self.cli(&a);
        assert!(
            !out.to_lowercase().contains("error"),
            "gobgp add {prefix}: {out}"
        );
    }

    /// Announces `prefix` (ORIGIN IGP) with the next hop, LOCAL_PREF, MED and communities of
    /// `route`: what a receiver must then hold, reflected.
    pub fn announce_seen(&self, prefix: &str, route: &Seen) {
        let mut args = format!("origin igp nexthop {}", route.next_hop);
        if let Some(lp) = route.local_pref {
            args.push_str(&format!(" local-pref {lp}"));
        }
        if let Some(med) = route.med {
            args.push_str(&format!(" med {med}"));
        }
        for (key, list) in [
            ("community", &route.communities),
            ("rt", &route.ext_communities),
            ("large-community", &route.large_communities),
        ] {
            if !list.is_empty() {
                args.push_str(&format!(" {key} {}", list.join(",")));
            }
        }
        self.announce(prefix, &args);
    }

    pub fn withdraw(&self, prefix: &str) {
        self.cli(&["global", "rib", "del", prefix, "-a", afi(prefix)]);
    }

    /// Whether the session with reflectd is Established.
    pub fn established(&self) -> bool {
        self.cli(&["neighbor", "-j"])
            .contains("\"session_state\":6")
    }

    /// Every path GoBGP holds for `prefix`, as its JSON lists them.
    fn rib_paths(&self, prefix: &str) -> Vec<Value> {
        let v = json(&self.cli(&["global", "rib", "-a", afi(prefix), prefix, "-j"]));
        v.get(prefix)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }
}

fn gobgp_seen(path: &Value) -> Seen {
    let mut s = Seen::default();
    for a in items(&path["attrs"]) {
        match a["type"].as_u64() {
            Some(2) => {
                for seg in items(&a["as_paths"]) {
                    s.as_path.extend(items(&seg["asns"]).filter_map(u32_of));
                }
            }
            Some(3) => s.next_hop = a["nexthop"].as_str().unwrap_or("").to_string(),
            Some(4) => s.med = u32_of(&a["metric"]),
            Some(5) => s.local_pref = u32_of(&a["value"]),
            Some(8) => {
                s.communities = items(&a["communities"])
                    .filter_map(|c| c.as_u64())
                    .map(|c| format!("{}:{}", c >> 16, c & 0xffff))
                    .collect()
            }
            Some(9) => s.originator_id = a["value"].as_str().map(str::to_string),
            Some(10) => s.cluster_list = strings(&a["value"]),
            Some(14) => s.next_hop = a["nexthop"].as_str().unwrap_or("").to_string(),
            Some(16) => {
                s.ext_communities = items(&a["value"])
                    .filter_map(|c| c["value"].as_str().map(str::to_string))
                    .collect()
            }
            Some(32) => {
                s.large_communities = items(&a["value"])
                    .map(|c| format!("{}:{}:{}", c["ASN"], c["LocalData1"], c["LocalData2"]))
                    .collect()
            }
            _ => {}
        }
    }
    s
}

fn gobgp_best(p: &Value) -> bool {
    p["best"].as_bool() == Some(true)
}

impl Peer for GoBgp {
    fn name(&self) -> String {
        self.daemon.label("gobgpd")
    }

    fn route(&self, prefix: &str) -> Option<Seen> {
        best_or_first(&self.rib_paths(prefix), gobgp_best).map(gobgp_seen)
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
        self.rib_paths(prefix)
            .iter()
            .map(|p| HeldPath {
                // A path of its own (`global rib add`) names no neighbor.
                from_reflector: p["neighbor-ip"]
                    .as_str()
                    .is_some_and(|n| n.parse::<std::net::IpAddr>().is_ok()),
                best: gobgp_best(p),
                seen: gobgp_seen(p),
            })
            .collect()
    }
}
