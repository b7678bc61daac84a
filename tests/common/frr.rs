//! FRR's bgpd (Debian `frr`) as a peer of reflectd, run without zebra (`-Z`): it dials
//! reflectd from its own address and listens for BGP only when a test asks; config goes in
//! as a file and through `vtysh` on its own vty socket in the test's temp dir.

use super::daemons::*;
use super::vpn::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

pub const FRR_BGPD: &str = "/usr/lib/frr/bgpd";

pub struct Frr {
    pub proc: Proc,
    pub daemon: Daemon,
    vty: PathBuf,
}

/// What an FRR can be started with beyond every driver's [`Daemon`].
#[derive(Default)]
pub struct FrrOpts {
    body: String,
    tail: String,
    listen: Option<u16>,
}

impl Driver for Frr {
    type Opts = FrrOpts;
    const NEEDS: (&'static str, &'static str) = (FRR_BGPD, "frr");
}

/// A whole config: `{log}` in it becomes bgpd's log file.
impl WholeConfig for Frr {}

impl Builder<FrrOpts> {
    /// Extra config inside `router bgp` (address families, networks).
    pub fn body(mut self, body: &str) -> Self {
        self.opts.body = body.to_string();
        self
    }

    /// Config after `router bgp` (route-maps).
    pub fn tail(mut self, tail: &str) -> Self {
        self.opts.tail = tail.to_string();
        self
    }

    /// Also accept BGP on its address and `port` (else it listens on nothing).
    pub fn listen(mut self, port: u16) -> Self {
        self.opts.listen = Some(port);
        self
    }

    /// Writes the config, runs bgpd without zebra and waits for its vty.
    pub fn start(self) -> Frr {
        let log = self.daemon.path(".frrlog").display().to_string();
        let text = self.config_text(&log, |d, o| {
            format!(
                "hostname {name}\nlog file {log}\n!\nrouter bgp {asn}\n bgp router-id {router_id}\n \
                 no bgp network import-check\n no bgp default ipv4-unicast\n \
                 neighbor {rr} remote-as {asn}\n neighbor {rr} port {rr_port}\n \
                 neighbor {rr} update-source {addr}\n neighbor {rr} timers connect 1\n \
                 neighbor {rr} advertisement-interval 0\n{body}\n!\n{tail}\n",
                name = d.name,
                asn = d.asn,
                router_id = d.router_id,
                rr = d.rr(),
                rr_port = d.rr_port,
                addr = d.addr,
                body = o.body,
                tail = o.tail,
            )
        });
        let (d, o) = (self.daemon, self.opts);
        let vty = d.path("-vty");
        std::fs::create_dir_all(&vty).expect("frr vty dir");
        let conf = d.write(".conf", &text);
        let port = o.listen.map_or("0".to_string(), |p| p.to_string());
        let mut cmd = d.command(FRR_BGPD);
        cmd.arg("-f")
            .arg(conf)
            .arg("-i")
            .arg(d.path(".pid"))
            .arg("--vty_socket")
            .arg(&vty)
            .args(["-P", "0", "-Z", "-n", "-S", "-p", &port]);
        if o.listen.is_some() {
            cmd.args(["-l", &d.addr]);
        }
        let proc = d.spawn(&mut cmd);
        let f = Frr {
            proc,
            daemon: d,
            vty,
        };
        f.daemon.wait_up("FRR", || {
            f.vtysh(&["show bgp summary"]).contains("router identifier")
        });
        f
    }
}

impl Frr {
    pub fn vtysh(&self, cmds: &[&str]) -> String {
        let mut c = Command::new("vtysh");
        c.arg("--vty_socket").arg(&self.vty).args(["-d", "bgpd"]);
        for cmd in cmds {
            c.arg("-c").arg(cmd);
        }
        run(&mut c)
    }

    /// Runs configuration commands inside `router bgp ASN`, `address-family AF unicast`.
    pub fn configure(&self, af: &str, lines: &[&str]) {
        self.configure_family(&format!("{af} unicast"), lines);
    }

    /// Runs configuration commands inside `router bgp ASN`, `address-family FAMILY`
    /// (`ipv4 vpn`, `ipv6 unicast`, ...); returns what vtysh said (nothing when all went
    /// well).
    pub fn configure_family(&self, family: &str, lines: &[&str]) -> String {
        let mut cmds = vec![
            "configure terminal".to_string(),
            format!("router bgp {}", self.daemon.asn),
            format!("address-family {family}"),
        ];
        cmds.extend(lines.iter().map(|l| l.to_string()));
        let refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
        self.vtysh(&refs)
    }

    pub fn established(&self) -> bool {
        self.vtysh(&[&format!("show bgp neighbors {} json", self.daemon.rr())])
            .contains("\"bgpState\":\"Established\"")
    }

    /// The prefixes of family `af` (`ipv4`, `ipv6`) in FRR's Adj-RIB-In from reflectd as
    /// received, before its own checks (it keeps it with `soft-reconfiguration inbound`).
    pub fn received_routes(&self, af: &str) -> Vec<String> {
        let out = self.vtysh(&[&format!(
            "show bgp {af} unicast neighbors {} received-routes json",
            self.daemon.rr()
        )]);
        json(&out)["receivedRoutes"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Every path FRR holds for `prefix`, as its JSON lists them.
    fn rib_paths(&self, prefix: &str) -> Vec<Value> {
        let out = self.vtysh(&[&format!("show bgp {} unicast {prefix} json", afi(prefix))]);
        json(&out)["paths"].as_array().cloned().unwrap_or_default()
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

fn frr_best(p: &Value) -> bool {
    p["bestpath"]["overall"].as_bool() == Some(true)
}

impl Peer for Frr {
    fn name(&self) -> String {
        self.daemon.label("FRR")
    }

    fn route(&self, prefix: &str) -> Option<Seen> {
        best_or_first(&self.rib_paths(prefix), frr_best).map(frr_seen)
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
        let rr = self.daemon.rr();
        self.rib_paths(prefix)
            .iter()
            .map(|p| HeldPath {
                from_reflector: p["peer"]["peerId"].as_str() == Some(&rr),
                best: frr_best(p),
                seen: frr_seen(p),
            })
            .collect()
    }
}

impl VpnPeer for Frr {
    // {"65000:1":{"prefix":"10.10.1.0/24","paths":[{"locPrf":200,"bestpath":{"overall":true},
    //   "extendedCommunity":{"string":"RT:65000:1"},"originatorId":"10.0.16.1",
    //   "remoteLabel":100,"nexthops":[{"ip":"100.64.16.1",...}],"peer":{"peerId":"127.0.0.1",...}}]}}
    fn vpn_paths(&self, rd: &str, prefix: &str) -> Vec<VpnPath> {
        let rr = self.daemon.rr();
        let out = self.vtysh(&[&format!(
            "show bgp {} vpn rd {rd} {prefix} json",
            afi(prefix)
        )]);
        json(&out)[rd]["paths"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| VpnPath {
                from_reflector: p["peer"]["peerId"].as_str() == Some(&rr),
                best: frr_best(p),
                labels: u32_of(&p["remoteLabel"]).into_iter().collect(),
                seen: frr_seen(p),
            })
            .collect()
    }

    fn vpn_dump(&self) -> String {
        self.vtysh(&["show bgp summary", "show bgp ipv4 vpn", "show bgp ipv6 vpn"])
    }
}
