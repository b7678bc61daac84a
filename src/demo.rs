//! The built-in demo: one simulated router per neighbor of the demo config, on loopback,
//! announcing a few prefixes and flapping one now and then, so a newcomer sees sessions come
//! up and routes reflected without any other software.
//!
//! Its config is built in (from `config/demo.yaml`), so `reflectd demo` runs from any
//! directory; `reflectd demo --config FILE` runs another one.

use crate::config::{self, Config, ConfigError};
use crate::speaker::{Speaker, SpeakerConfig};
use crate::wire::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// The demo's config, `config/demo.yaml` as it was when reflectd was built.
pub const CONFIG_TEXT: &str = include_str!("../config/demo.yaml");

/// What messages call the built-in config (its `Config::path`): it names the file it came
/// from, and says there is no file to read.
pub const CONFIG_NAME: &str = "config/demo.yaml (built in)";

/// The built-in demo config, parsed.
pub fn config() -> Result<Config, ConfigError> {
    config::parse(CONFIG_TEXT, std::path::Path::new(CONFIG_NAME))
}

/// Whether `cfg` is the built-in demo config (there is no file behind it to re-read).
pub fn is_built_in(cfg: &Config) -> bool {
    cfg.path == std::path::Path::new(CONFIG_NAME)
}

/// Starts the simulated routers; they stop when `stop` is set.
pub fn start(cfg: &Config, stop: Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<()>> {
    let Some(target) = cfg.listen.first().map(|l| {
        let ip = if l.ip().is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            l.ip()
        };
        SocketAddr::new(ip, l.port())
    }) else {
        return Vec::new();
    };
    cfg.neighbors
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let idx = i as u8 + 1;
            let mut sc = SpeakerConfig::new(n.address, n.asn, Ipv4Addr::new(10, 255, 1, idx));
            sc.families = n.families.iter().copied().collect();
            sc.hold_time = 30;
            let name = n
                .description
                .clone()
                .unwrap_or_else(|| n.address.to_string());
            let client = n.rr_client;
            let stop = stop.clone();
            std::thread::spawn(move || simulate(sc, target, idx, &name, client, &stop))
        })
        .collect()
}

fn simulate(
    sc: SpeakerConfig,
    target: SocketAddr,
    idx: u8,
    name: &str,
    client: bool,
    stop: &AtomicBool,
) {
    while !stop.load(Ordering::Relaxed) {
        match Speaker::connect(&sc, target, Duration::from_secs(3)) {
            Ok(mut sp) => {
                info!(router = name, "demo router connected");
                match run_router(&mut sp, &sc, idx, client, stop) {
                    Err(e) => warn!(router = name, "demo router session ended: {e}"),
                    Ok(()) => match &sp.notification {
                        Some(n) => info!(
                            router = name,
                            "reflector closed the session: {}",
                            shutdown_text(n)
                        ),
                        None => info!(router = name, "demo router stopped"),
                    },
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

fn run_router(
    sp: &mut Speaker,
    sc: &SpeakerConfig,
    idx: u8,
    client: bool,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    // Clients announce 10.<idx>.x.0/24; the non-client announces 198.18.x.0/24.
    let v4: Vec<Prefix4> = (0..20u8)
        .filter_map(|x| {
            let a = if client {
                Ipv4Addr::new(10, idx, x, 0)
            } else {
                Ipv4Addr::new(198, 18, x, 0)
            };
            Prefix4::new(a, 24)
        })
        .collect();
    let mut attrs = PathAttrs {
        as_path: AsPath {
            segments: vec![AsSegment {
                kind: SegmentKind::Sequence,
                asns: vec![64_500 + u32::from(idx)],
            }],
        },
        next_hop: NextHop::V4(Ipv4Addr::new(100, 64, 0, idx)),
        local_pref: Some(100),
        med: Some(u32::from(idx) * 10),
        communities: vec![(65000 << 16) | u32::from(idx)],
        large_communities: vec![[65000, 1, u32::from(idx)]],
        ..PathAttrs::default()
    };
    sp.announce(&v4, &attrs)?;
    sp.end_of_rib(Family::Ipv4Unicast)?;
    if sc.families.contains(Family::Ipv6Unicast) {
        let v6: Vec<Prefix6> = (0..10u16)
            .filter_map(|x| {
                Prefix6::new(
                    Ipv6Addr::new(0x2001, 0xdb8, u16::from(idx), x, 0, 0, 0, 0),
                    64,
                )
            })
            .collect();
        attrs.next_hop = NextHop::V6 {
            global: Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, u16::from(idx)),
            link_local: None,
        };
        sp.announce(&v6, &attrs)?;
        sp.end_of_rib(Family::Ipv6Unicast)?;
        attrs.next_hop = NextHop::V4(Ipv4Addr::new(100, 64, 0, idx));
    }
    // One prefix flaps every 15 s so the churn shows in the counters.
    let flap = Prefix4::new(Ipv4Addr::new(203, 0, 113, idx), 32);
    let mut up = false;
    let mut next = Instant::now() + Duration::from_secs(15);
    while !stop.load(Ordering::Relaxed) {
        if !sp.poll(Duration::from_millis(200))? {
            // The reflector ended the session; `simulate` logs why.
            return Ok(());
        }
        if Instant::now() >= next {
            if let Some(p) = flap {
                if up {
                    sp.withdraw(&[p])?
                } else {
                    sp.announce(&[p], &attrs)?
                }
                up = !up;
            }
            next = Instant::now() + Duration::from_secs(15);
        }
    }
    Ok(())
}

/// "Cease 6/2: <RFC 8203 message>" for the log.
fn shutdown_text(n: &Notification) -> String {
    let msg = n
        .data
        .split_first()
        .and_then(|(len, rest)| rest.get(..usize::from(*len)))
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    format!("NOTIFICATION {}/{} {msg}", n.code, n.subcode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_config_is_the_demo_yaml_in_the_repo() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo.yaml");
        let file = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let built_in = config().unwrap_or_else(|e| panic!("{e}"));
        assert!(is_built_in(&built_in) && !is_built_in(&file));
        assert_eq!(
            Config {
                path: file.path.clone(),
                ..built_in
            },
            file
        );
    }
}
