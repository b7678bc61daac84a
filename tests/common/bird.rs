//! BIRD 2 (Debian `bird2`) as a peer of reflectd: it dials reflectd from its own address
//! (and, as BIRD always does, listens on that address and a free port, never *:179). Its
//! static routes are exported to reflectd; it is read back with `birdc` on its own control
//! socket.

use super::daemons::*;
use super::vpn::*;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Bird {
    pub proc: Proc,
    pub daemon: Daemon,
    sock: PathBuf,
}

/// What a BIRD can be started with beyond every driver's [`Daemon`].
#[derive(Default)]
pub struct BirdOpts {
    statics: (String, String),
    /// `extended next hop on` in the IPv4 channel (RFC 8950).
    extended_next_hop: bool,
    next_hops: Option<(String, String)>,
    bgp: String,
    vpn: bool,
}

/// The generated config exports [`Builder::statics`] to reflectd and needs
/// [`Builder::next_hops`].
impl Driver for Bird {
    type Opts = BirdOpts;
    const NEEDS: (&'static str, &'static str) = ("bird", "bird2");
}

/// A whole config: `{log}` in it becomes BIRD's log file (see [`Bird::log_text`]).
impl WholeConfig for Bird {}

impl Builder<BirdOpts> {
    /// BIRD `route` lines (with per-route attribute blocks) of its IPv4 and IPv6 static
    /// protocols `s4` and `s6`, exported to reflectd.
    pub fn statics(mut self, v4: &str, v6: &str) -> Self {
        self.opts.statics = (v4.to_string(), v6.to_string());
        self
    }

    /// The next hops it exports its static routes with.
    pub fn next_hops(mut self, v4: &str, v6: &str) -> Self {
        self.opts.next_hops = Some((v4.to_string(), v6.to_string()));
        self
    }

    /// Extra lines in the `protocol bgp` block (e.g. `password "k";`).
    pub fn bgp(mut self, lines: &str) -> Self {
        self.opts.bgp = lines.to_string();
        self
    }

    /// VPNv4 and VPNv6 (`vpn4 mpls` and `vpn6 mpls` channels on tables `vpntab4` and
    /// `vpntab6`) instead of IPv4 and IPv6 unicast: its statics are then VPN routes
    /// (`route 65000:1 10.1.0.0/24 blackhole;`), and received routes are read back with
    /// [`VpnPeer`].
    pub fn vpn(mut self) -> Self {
        self.opts.vpn = true;
        self
    }

    /// Offers RFC 8950 in the IPv4 channel: IPv4 routes with IPv6 next hops.
    pub fn extended_next_hop(mut self) -> Self {
        self.opts.extended_next_hop = true;
        self
    }

    /// Writes the config, runs BIRD in the foreground and waits for its control socket.
    pub fn start(self) -> Bird {
        let log = self.daemon.path(".birdlog").display().to_string();
        let text = self.config_text(&log, |d, o| {
            let (nh4, nh6) = o
                .next_hops
                .as_ref()
                .expect("BIRD's next hops (Builder::next_hops)");
            // Before BIRD 2.14 an MPLS channel needs no `mpls domain`: labels received
            // are kept and shown, none are allocated.
            let (tables, s4, s6, c4, c6) = if o.vpn {
                (
                    "vpn4 table vpntab4;\nvpn6 table vpntab6;\n",
                    "vpn4 { table vpntab4; };",
                    "vpn6 { table vpntab6; };",
                    "vpn4 mpls { table vpntab4;",
                    "vpn6 mpls { table vpntab6;",
                )
            } else if o.extended_next_hop {
                (
                    "",
                    "ipv4;",
                    "ipv6;",
                    "ipv4 { extended next hop on;",
                    "ipv6 {",
                )
            } else {
                ("", "ipv4;", "ipv6;", "ipv4 {", "ipv6 {")
            };
            format!(
                r#"router id {router_id};
log "{log}" all;
{tables}protocol device {{ }}
# Next hops of received routes resolve through these (nothing is forwarded).
protocol static nh4 {{ ipv4; route 100.64.0.0/10 blackhole; }}
protocol static nh6 {{ ipv6; route 2001:db8:ffff::/48 blackhole; }}
protocol static s4 {{ {s4} {statics4} }}
protocol static s6 {{ {s6} {statics6} }}
protocol bgp reflector {{
  # BIRD always listens: on its own address and a free port, never *:179.
  local {addr} port {listen} as {asn};
  strict bind yes;
  neighbor {rr} port {rr_port} as {asn};
  connect retry time 1;
  {extra}
  {c4} import all; export where proto = "s4"; next hop address {nh4}; }};
  {c6} import all; export where proto = "s6"; next hop address {nh6}; }};
}}
"#,
                router_id = d.router_id,
                statics4 = o.statics.0,
                statics6 = o.statics.1,
                addr = d.addr,
                listen = super::free_port(),
                asn = d.asn,
                rr = d.rr(),
                rr_port = d.rr_port,
                extra = o.bgp,
            )
        });
        let d = self.daemon;
        let conf = d.write(".conf", &text);
        let sock = d.path(".ctl");
        let proc = d.spawn(
            d.command("bird")
                .arg("-f")
                .arg("-c")
                .arg(&conf)
                .arg("-s")
                .arg(&sock),
        );
        let b = Bird {
            proc,
            daemon: d,
            sock,
        };
        b.daemon
            .wait_up("BIRD", || b.birdc("show status").contains("Daemon is up"));
        b
    }
}

impl Bird {
    /// BIRD's own log (`log "..." all` in its config): with `debug { packets; }` it records
    /// every message it received.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.daemon.path(".birdlog")).unwrap_or_default()
    }

    pub fn birdc(&self, cmd: &str) -> String {
        run(Command::new("birdc")
            .arg("-s")
            .arg(&self.sock)
            .args(cmd.split(' ')))
    }

    /// Polls `birdc cmd` until `done` holds on its output (bounded); returns the last output.
    pub fn wait_for(&self, cmd: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self.birdc(cmd);
            if done(&out) || Instant::now() >= deadline {
                return out;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
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
        self.daemon.label("BIRD")
    }

    fn route(&self, prefix: &str) -> Option<Seen> {
        // The first (best) route's block: there is one for each line starting with the
        // prefix, so none when BIRD has no route for it.
        self.paths(prefix).into_iter().next().map(|p| p.seen)
    }

    fn dump(&self) -> String {
        format!(
            "{}\n{}",
            self.birdc("show protocols all reflector"),
            self.birdc("show route all")
        )
    }
}

/// `BGP.mpls_label_stack: 100` (a deeper stack: `100/200`) -> [100].
fn bird_labels<'a>(attrs: impl IntoIterator<Item = &'a str>) -> Vec<u32> {
    attrs
        .into_iter()
        .find_map(|l| l.trim().strip_prefix("BGP.mpls_label_stack:"))
        .map(|v| {
            v.split(|c: char| c == '/' || c.is_whitespace())
                .filter_map(|l| l.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

impl VpnPeer for Bird {
    // Table vpntab4:
    // 65000:1 10.10.1.0/24 blackhole [reflector 21:20:00.830 from 127.0.0.1] * (100/?) [?]
    // 	Type: BGP univ
    // 	BGP.next_hop: 100.64.16.1
    // 	BGP.ext_community: (rt, 65000, 1)
    // 	BGP.mpls_label_stack: 100
    fn vpn_paths(&self, rd: &str, prefix: &str) -> Vec<VpnPath> {
        let table = match afi(prefix) {
            "ipv6" => "vpntab6",
            _ => "vpntab4",
        };
        let out = self.birdc(&format!("show route table {table} {rd} {prefix} all"));
        bird_blocks(&out, &format!("{rd} {prefix} "))
            .into_iter()
            .map(|(header, attrs)| VpnPath {
                from_reflector: header.contains("[reflector "),
                best: header.contains("] * "),
                labels: bird_labels(attrs.iter().copied()),
                seen: bird_seen(attrs),
            })
            .collect()
    }

    fn vpn_dump(&self) -> String {
        format!(
            "{}\n{}\n{}",
            self.birdc("show protocols all reflector"),
            self.birdc("show route table vpntab4 all"),
            self.birdc("show route table vpntab6 all")
        )
    }
}
