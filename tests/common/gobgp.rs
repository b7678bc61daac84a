//! GoBGP (Debian `gobgpd`) as a peer of reflectd: gobgpd dials reflectd from its own address
//! and listens for BGP on nothing (port -1); routes go in and come out through the `gobgp`
//! CLI on its gRPC API, bound to the daemon's own address.

use super::daemons::*;
use super::netns::host_port;
use super::vpn::*;
use serde_json::Value;

pub struct GoBgp {
    pub proc: Proc,
    pub daemon: Daemon,
    api_port: u16,
}

/// What a GoBGP can be started with beyond every driver's [`Daemon`].
#[derive(Default)]
pub struct GoBgpOpts {
    /// Graceful Restart (RFC 4724) for every family; `Some(true)`: restarting.
    graceful_restart: Option<bool>,
    /// Its `afi-safi-name`s; `None`: IPv4 and IPv6 unicast.
    families: Option<Vec<String>>,
}

impl Driver for GoBgp {
    type Opts = GoBgpOpts;
    const NEEDS: (&'static str, &'static str) = ("gobgpd", "gobgpd");
}

impl Builder<GoBgpOpts> {
    /// Graceful Restart (RFC 4724) for every family; `restarting` starts gobgpd with `-r`,
    /// as after a crash (R bit, and GoBGP then sets the Forwarding State bits).
    pub fn graceful_restart(mut self, restarting: bool) -> Self {
        self.opts.graceful_restart = Some(restarting);
        self
    }

    /// The families it offers, as GoBGP's config names them (`ipv4-unicast`,
    /// `l3vpn-ipv4-unicast`, `l3vpn-ipv6-unicast`, `l2vpn-evpn`, `rtc`), instead of IPv4 and
    /// IPv6 unicast.
    pub fn families(mut self, families: &[&str]) -> Self {
        self.opts.families = Some(families.iter().map(|f| f.to_string()).collect());
        self
    }

    /// Writes the config, starts gobgpd and waits for its API.
    pub fn start(self) -> GoBgp {
        let (d, gr) = (self.daemon, self.opts.graceful_restart);
        let families = self
            .opts
            .families
            .unwrap_or_else(|| vec!["ipv4-unicast".into(), "ipv6-unicast".into()]);
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
        for f in &families {
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
        self.announce(prefix, &seen_args(route));
    }

    /// Announces the VPN route `prefix` (IPv4: VPNv4, IPv6: VPNv6) under route distinguisher
    /// `rd` with `label` and the attributes of `route` (its extended communities are route
    /// targets).
    pub fn announce_vpn(&self, rd: &str, prefix: &str, label: u32, route: &Seen) {
        let args = format!("label {label} rd {rd} {}", seen_args(route));
        let mut a = vec!["global", "rib", "-a", vpn_family(prefix), "add", prefix];
        a.extend(args.split_whitespace());
        let out = self.cli(&a);
        assert!(
            !out.to_lowercase().contains("error"),
            "gobgp add {rd} {prefix}: {out}"
        );
    }

    /// Withdraws its VPN route `prefix` under `rd` (GoBGP's parser wants the label too).
    pub fn withdraw_vpn(&self, rd: &str, prefix: &str, label: u32) {
        let label = label.to_string();
        let a = ["global", "rib", "-a", vpn_family(prefix), "del", prefix];
        let out = self.cli(&[&a[..], &["label", &label, "rd", rd]].concat());
        assert!(
            !out.to_lowercase().contains("error"),
            "gobgp del {rd} {prefix}: {out}"
        );
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

    /// Every path GoBGP holds for `prefix` under `rd`: its VPN table is keyed
    /// `65000:1:10.10.1.0/24`.
    fn vpn_rib_paths(&self, rd: &str, prefix: &str) -> Vec<Value> {
        let v = json(&self.cli(&["global", "rib", "-a", vpn_family(prefix), "-j"]));
        v.get(format!("{rd}:{prefix}").as_str())
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }
}

/// GoBGP's name for the VPN family of `prefix`.
fn vpn_family(prefix: &str) -> &'static str {
    match afi(prefix) {
        "ipv6" => "vpnv6",
        _ => "vpnv4",
    }
}

/// The `gobgp global rib add` arguments (ORIGIN IGP) for the next hop, LOCAL_PREF, MED and
/// communities of `route`.
fn seen_args(route: &Seen) -> String {
    let mut args = format!("origin igp nexthop {}", route.next_hop);
    if let Some(lp) = route.local_pref {
        args.push_str(&format!(" local-pref {lp}"));
    }
    if let Some(med) = route.med {
        args.push_str(&format!(" med {med}"));
    }
    if !route.as_path.is_empty() {
        let path: Vec<String> = route.as_path.iter().map(u32::to_string).collect();
        args.push_str(&format!(" aspath {}", path.join(",")));
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
    args
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

/// Whether GoBGP learned the path from a neighbor: a path of its own (`global rib add`)
/// names none.
fn gobgp_learned(p: &Value) -> bool {
    p["neighbor-ip"]
        .as_str()
        .is_some_and(|n| n.parse::<std::net::IpAddr>().is_ok())
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
                from_reflector: gobgp_learned(p),
                best: gobgp_best(p),
                seen: gobgp_seen(p),
            })
            .collect()
    }
}

impl VpnPeer for GoBgp {
    // {"65000:1:10.10.1.0/24":[{"nlri":{"prefix":"10.10.1.0/24","labels":[100],
    //   "rd":{"type":0,"admin":65000,"assigned":1}},"best":true,"attrs":[...,
    //   {"type":14,"nexthop":"100.64.16.1","afi":1,"safi":128,...}],"neighbor-ip":"127.0.0.1"}]}
    fn vpn_paths(&self, rd: &str, prefix: &str) -> Vec<VpnPath> {
        self.vpn_rib_paths(rd, prefix)
            .iter()
            .map(|p| VpnPath {
                from_reflector: gobgp_learned(p),
                best: gobgp_best(p),
                labels: items(&p["nlri"]["labels"]).filter_map(u32_of).collect(),
                seen: gobgp_seen(p),
            })
            .collect()
    }

    fn vpn_dump(&self) -> String {
        format!(
            "{}\n{}\n{}",
            self.cli(&["neighbor"]),
            self.cli(&["global", "rib", "-a", "vpnv4"]),
            self.cli(&["global", "rib", "-a", "vpnv6"])
        )
    }
}
