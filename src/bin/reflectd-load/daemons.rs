//! The reflectors under comparison, each configured the same way: iBGP AS 65000, listening
//! on 127.0.0.1:<port>, speakers (127.1.x.y) as passive non-client neighbors and sinks
//! (127.2.x.y) as passive route-reflector clients, hold time 90 s, advertisement interval
//! 0, no kernel FIB, no soft-reconfiguration, quiet logging. In the VPN workload every
//! session carries VPN-IPv4 (RFC 4364), in the EVPN workload L2VPN EVPN (RFC 7432; BIRD 2.0.12
//! and OpenBGPD 7.7 have none, and are refused). Each is started in its own
//! process group and stopped by that group's id (the daemon and all its children).

use crate::affinity::Cpus;
use crate::lab::{sink_ip, speaker_ip, Scenario, ROUTER_ID};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Reflectd,
    Bird,
    Gobgp,
    Frr,
    Openbgpd,
    /// No reflector: the load tool wired to itself.
    Floor,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "reflectd" => Kind::Reflectd,
            "bird" | "bird2" => Kind::Bird,
            "gobgp" | "gobgpd" => Kind::Gobgp,
            "frr" => Kind::Frr,
            "openbgpd" | "obgpd" => Kind::Openbgpd,
            "floor" => Kind::Floor,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Reflectd => "reflectd",
            Kind::Bird => "bird2",
            Kind::Gobgp => "gobgpd",
            Kind::Frr => "frr",
            Kind::Openbgpd => "openbgpd",
            Kind::Floor => "floor",
        }
    }

    /// How long to let the daemon finish starting before the first session.
    pub fn settle(self) -> Duration {
        match self {
            Kind::Frr | Kind::Openbgpd => Duration::from_secs(3),
            _ => Duration::from_millis(300),
        }
    }
}

/// Who the reflector's neighbors are.
#[derive(Clone, Copy, Debug)]
pub struct Peers {
    pub speakers: u32,
    pub sinks: u32,
    /// Every session carries VPN-IPv4 instead of IPv4 unicast.
    pub vpn: bool,
    /// Every session carries L2VPN EVPN instead.
    pub evpn: bool,
    /// Sinks also carry RT-Constraint (RFC 4684) and announce their membership.
    pub rtc: bool,
}

impl Peers {
    /// In a mesh every session is a client (a speaker and a sink at once).
    pub fn of(sc: &Scenario) -> Peers {
        Peers {
            speakers: if sc.mesh { 0 } else { sc.speakers },
            sinks: sc.sinks,
            vpn: sc.vpn.is_some(),
            evpn: sc.evpn.is_some(),
            rtc: sc.member_of.is_some(),
        }
    }

    fn each(self) -> impl Iterator<Item = (Ipv4Addr, bool)> {
        (0..self.speakers)
            .map(|i| (speaker_ip(i), false))
            .chain((0..self.sinks).map(|i| (sink_ip(i), true)))
    }
}

pub fn reflectd_config(port: u16, p: Peers, workers: &str) -> String {
    let mut s = format!(
        "asn: 65000\nrouter_id: {ROUTER_ID}\nlisten:\n  - address: 127.0.0.1\n    port: {port}\n\
         workers: {workers}\nlog: warn\nneighbors:\n"
    );
    let family = match (p.vpn, p.evpn) {
        (true, _) => "ipv4-vpn",
        (false, true) => "l2vpn-evpn",
        (false, false) => "ipv4-unicast",
    };
    for (ip, client) in p.each() {
        let rtc = if client && p.rtc {
            ", rt-constraint"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "  - address: {ip}\n    asn: 65000\n    rr_client: {client}\n    passive: true\n    hold_time: 90\n    families: [{family}{rtc}]"
        );
    }
    s
}

/// BIRD 2: no kernel protocol (nothing reaches the FIB); `next hop keep` on the channel;
/// the synthetic next hops resolve through a blackhole static in a separate IGP table that
/// nothing exports. VPN: a `vpn4 mpls` channel on a `vpn4` table (BIRD 2.0.12 keeps and
/// passes on the labels it receives; it allocates none, which a reflector need not).
pub fn bird_config(port: u16, p: Peers, log: &Path) -> String {
    let (table, channel) = if p.vpn {
        ("vpn4 table vpntab4;\n", "vpn4 mpls { table vpntab4;")
    } else {
        ("", "ipv4 {")
    };
    let mut s = format!(
        "router id {ROUTER_ID};\nlog \"{}\" {{ warning, error, fatal, bug }};\n\
         ipv4 table igp4;\n{table}\
         protocol device {{ }}\n\
         protocol static nexthops {{ ipv4 {{ table igp4; }}; route 100.64.0.0/10 blackhole; }}\n\
         template bgp peer {{\n  local 127.0.0.1 port {port} as 65000;\n  passive;\n  \
         hold time 90;\n  rr cluster id {ROUTER_ID};\n  \
         {channel} import all; export all; next hop keep; igp table igp4; }};\n}}\n",
        log.display()
    );
    for (i, (ip, client)) in p.each().enumerate() {
        let rr = if client { " rr client;" } else { "" };
        let _ = writeln!(
            s,
            "protocol bgp n{i} from peer {{ neighbor {ip} as 65000;{rr} }}"
        );
    }
    s
}

pub fn gobgp_config(port: u16, p: Peers) -> String {
    let family = match (p.vpn, p.evpn) {
        (true, _) => "l3vpn-ipv4-unicast",
        (false, true) => "l2vpn-evpn",
        (false, false) => "ipv4-unicast",
    };
    let mut s = format!(
        "[global.config]\n  as = 65000\n  router-id = \"{ROUTER_ID}\"\n  port = {port}\n  \
         local-address-list = [\"127.0.0.1\"]\n"
    );
    for (ip, client) in p.each() {
        let _ = write!(
            s,
            "\n[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{ip}\"\n    peer-as = 65000\n  \
             [neighbors.timers.config]\n    hold-time = 90\n    keepalive-interval = 30\n    \
             minimum-advertisement-interval = 0\n  \
             [neighbors.transport.config]\n    passive-mode = true\n  \
             [neighbors.route-reflector.config]\n    route-reflector-client = {client}\n    \
             route-reflector-cluster-id = \"{ROUTER_ID}\"\n  \
             [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"{family}\"\n"
        );
        if client && p.rtc {
            s.push_str(
                "  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"rtc\"\n",
            );
        }
    }
    s
}

/// FRR bgpd, started with `-Z` (no zebra) and `-n` (no kernel); logging at `critical`
/// (per-prefix error logging otherwise costs FRR 25-40%).
pub fn frr_config(p: Peers) -> String {
    let mut s = format!(
        "hostname rr\nlog stdout critical\n!\nrouter bgp 65000\n bgp router-id {ROUTER_ID}\n \
         bgp cluster-id {ROUTER_ID}\n no bgp default ipv4-unicast\n no bgp network import-check\n \
         neighbor SPK peer-group\n neighbor SPK remote-as 65000\n neighbor SPK passive\n \
         neighbor SPK timers 30 90\n neighbor SPK advertisement-interval 0\n \
         neighbor CLI peer-group\n neighbor CLI remote-as 65000\n neighbor CLI passive\n \
         neighbor CLI timers 30 90\n neighbor CLI advertisement-interval 0\n"
    );
    for (ip, client) in p.each() {
        let g = if client { "CLI" } else { "SPK" };
        let _ = writeln!(s, " neighbor {ip} peer-group {g}");
    }
    let family = match (p.vpn, p.evpn) {
        (true, _) => "ipv4 vpn",
        (false, true) => "l2vpn evpn",
        (false, false) => "ipv4 unicast",
    };
    let _ = write!(
        s,
        " address-family {family}\n  neighbor SPK activate\n  neighbor CLI activate\n  \
         neighbor CLI route-reflector-client\n exit-address-family\n!\n",
    );
    s
}

/// OpenBGPD: `fib-update no`, its own control socket, default-deny filters opened.
pub fn openbgpd_config(port: u16, p: Peers, sock: &Path) -> String {
    let mut s = format!(
        "AS 65000\nrouter-id {ROUTER_ID}\nlisten on 127.0.0.1 port {port}\nfib-update no\n\
         socket \"{}\"\nholdtime 90\nnexthop qualify via default\n\n",
        sock.display()
    );
    for (name, want_client) in [("speakers", false), ("clients", true)] {
        let rr = if want_client {
            format!("  route-reflector {ROUTER_ID}\n")
        } else {
            String::new()
        };
        let vpn = if p.vpn { "  announce IPv4 vpn\n" } else { "" };
        let _ = writeln!(
            s,
            "group \"{name}\" {{\n  remote-as 65000\n  passive\n{rr}{vpn}"
        );
        for (ip, client) in p.each().filter(|&(_, c)| c == want_client) {
            let _ = writeln!(s, "  neighbor {ip}");
            debug_assert_eq!(client, want_client);
        }
        s.push_str("}\n\n");
    }
    s.push_str("allow from any\nallow to any\n");
    s
}

/// A running reflector, stopped (with all its children) on drop.
pub struct Daemon {
    pub pid: u32,
    child: Child,
    pub dir: PathBuf,
}

fn is_listening(port: u16) -> bool {
    let want = format!("0100007F:{port:04X}");
    let any = format!("00000000:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && (f[1] == want || f[1] == any) && f[3] == "0A"
        })
}

impl Daemon {
    /// Writes the config into `dir`, starts the daemon and waits (bounded) until it
    /// listens on `port`, then for its settle time.
    pub fn start(
        kind: Kind,
        reflectd: &Path,
        workers: &str,
        port: u16,
        p: Peers,
        dir: &Path,
        cpus: Option<&Cpus>,
    ) -> Result<Daemon, String> {
        let w = |name: &str, text: String| -> Result<PathBuf, String> {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(path)
        };
        if p.rtc && !matches!(kind, Kind::Reflectd | Kind::Gobgp) {
            // BIRD 2.0.12, FRR 8.4 and OpenBGPD 7.7 have no RT-Constraint.
            return Err(format!(
                "{} does not do RT-Constraint (RFC 4684)",
                kind.name()
            ));
        }
        if p.evpn && matches!(kind, Kind::Bird | Kind::Openbgpd) {
            // BIRD 2.0.12 has no EVPN channel; OpenBGPD 7.7 announces IPv4/IPv6 unicast and
            // VPN only (`announce`, bgpd.conf(5)).
            return Err(format!(
                "{} does not carry L2VPN EVPN (RFC 7432)",
                kind.name()
            ));
        }
        let mut cmd = match kind {
            Kind::Reflectd => {
                let c = w("reflectd.yaml", reflectd_config(port, p, workers))?;
                // The daemon runs in `dir`: a relative binary path must not depend on that.
                let bin = std::fs::canonicalize(reflectd)
                    .map_err(|e| format!("{}: {e}", reflectd.display()))?;
                let mut cmd = Command::new(bin);
                cmd.arg("--config").arg(c);
                cmd
            }
            Kind::Bird => {
                let c = w("bird.conf", bird_config(port, p, &dir.join("bird.log")))?;
                let mut cmd = Command::new("bird");
                cmd.arg("-f")
                    .arg("-c")
                    .arg(c)
                    .arg("-s")
                    .arg(dir.join("bird.ctl"));
                cmd
            }
            Kind::Gobgp => {
                let c = w("gobgpd.toml", gobgp_config(port, p))?;
                let mut cmd = Command::new("gobgpd");
                cmd.arg("-f")
                    .arg(c)
                    .arg("-t")
                    .arg("toml")
                    .arg("-l")
                    .arg("error")
                    .arg("--pprof-disable")
                    .arg(format!("--api-hosts=127.0.0.1:{}", port + 1));
                cmd
            }
            Kind::Frr => {
                let c = w("bgpd.conf", frr_config(p))?;
                let mut cmd = Command::new("/usr/lib/frr/bgpd");
                cmd.arg("-Z")
                    .arg("-n")
                    .arg("-S")
                    .arg("-f")
                    .arg(c)
                    .arg("-i")
                    .arg(dir.join("bgpd.pid"))
                    .arg("--vty_socket")
                    .arg(dir)
                    .arg("-P")
                    .arg("0")
                    .arg("-p")
                    .arg(port.to_string())
                    .arg("-l")
                    .arg("127.0.0.1")
                    .arg("--log-level")
                    .arg("critical");
                cmd
            }
            Kind::Openbgpd => {
                let c = w(
                    "bgpd.conf",
                    openbgpd_config(port, p, &dir.join("bgpd.sock")),
                )?;
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&c, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| e.to_string())?;
                let mut cmd = Command::new("bgpd");
                cmd.arg("-d").arg("-f").arg(c);
                cmd
            }
            Kind::Floor => return Err("the floor has no daemon".into()),
        };
        use std::os::unix::process::CommandExt;
        if let Some(c) = cpus {
            c.apply_to(&mut cmd);
        }
        let log = std::fs::File::create(dir.join("stderr.log")).map_err(|e| e.to_string())?;
        let child = cmd
            .current_dir(dir)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("start {}: {e}", kind.name()))?;
        let mut d = Daemon {
            pid: child.id(),
            child,
            dir: dir.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !is_listening(port) {
            if let Ok(Some(st)) = d.child.try_wait() {
                return Err(format!("{} exited ({st}): {}", kind.name(), d.log_tail()));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} not listening on {port} after 20 s: {}",
                    kind.name(),
                    d.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(kind.settle());
        Ok(d)
    }

    pub fn log_tail(&self) -> String {
        let s = std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(5)..].join(" | ")
    }

    fn signal_group(&self, sig: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg("--")
            .arg(format!("-{}", self.pid))
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // The daemon leads its own process group: TERM it all, then KILL what is left.
        self.signal_group("TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.signal_group("KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Peers = Peers {
        speakers: 2,
        sinks: 3,
        vpn: false,
        evpn: false,
        rtc: false,
    };

    #[test]
    fn every_generator_names_each_speaker_and_sink() {
        let all = [
            reflectd_config(1179, P, "2"),
            bird_config(1179, P, Path::new("/tmp/b.log")),
            gobgp_config(1179, P),
            frr_config(P),
            openbgpd_config(1179, P, Path::new("/tmp/s.sock")),
        ];
        for c in &all {
            for ip in ["127.1.0.1", "127.1.0.2", "127.2.0.1", "127.2.0.3"] {
                assert!(c.contains(ip), "{ip} missing from\n{c}");
            }
        }
        assert_eq!(all[1].matches("rr client").count(), 3);
        assert_eq!(all[2].matches("route-reflector-client = true").count(), 3);
        assert!(all[3].contains("neighbor 127.2.0.3 peer-group CLI"));
        assert!(all[4].contains("route-reflector"));
    }

    #[test]
    fn every_generator_carries_vpn_ipv4_in_the_vpn_workload() {
        let p = Peers { vpn: true, ..P };
        let bird = bird_config(1179, p, Path::new("/tmp/b.log"));
        assert!(bird.contains("vpn4 table vpntab4;"), "{bird}");
        assert!(bird.contains("vpn4 mpls { table vpntab4;"), "{bird}");
        assert!(!bird.contains("  ipv4 {"), "{bird}");
        let obgpd = openbgpd_config(1179, p, Path::new("/tmp/s.sock"));
        assert_eq!(obgpd.matches("announce IPv4 vpn").count(), 2, "{obgpd}");
        assert!(reflectd_config(1179, p, "2").contains("families: [ipv4-vpn]"));
        assert!(gobgp_config(1179, p).contains("l3vpn-ipv4-unicast"));
        assert!(frr_config(p).contains("address-family ipv4 vpn"));
    }

    #[test]
    fn reflectd_gobgp_and_frr_carry_l2vpn_evpn_in_the_evpn_workload() {
        let p = Peers { evpn: true, ..P };
        let r = reflectd_config(1179, p, "2");
        assert_eq!(r.matches("families: [l2vpn-evpn]").count(), 5, "{r}");
        let g = gobgp_config(1179, p);
        assert_eq!(
            g.matches("afi-safi-name = \"l2vpn-evpn\"").count(),
            5,
            "{g}"
        );
        let f = frr_config(p);
        assert!(f.contains("address-family l2vpn evpn\n"), "{f}");
        assert!(f.contains("neighbor CLI route-reflector-client"), "{f}");
    }

    #[test]
    fn with_rt_constraint_only_the_sinks_carry_it() {
        let p = Peers {
            vpn: true,
            rtc: true,
            ..P
        };
        let r = reflectd_config(1179, p, "2");
        assert_eq!(r.matches("families: [ipv4-vpn, rt-constraint]").count(), 3);
        assert_eq!(r.matches("families: [ipv4-vpn]").count(), 2);
        assert_eq!(gobgp_config(1179, p).matches("\"rtc\"").count(), 3);
    }
}
