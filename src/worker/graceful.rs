//! Graceful Restart (RFC 4724) as the worker sees it: the capability we advertise for a
//! neighbor, and what the RIB is told of the peer's. Pure functions; the RIB keeps the stale
//! routes and runs the timers (`rib::graceful`).

use crate::config::Neighbor;
use crate::fsm::Negotiated;
use crate::msg::GracefulRestartPeer;
use crate::wire::{Family, FamilySet, GracefulRestart};
use std::time::Duration;

/// Our capability for `n`: the receiving-speaker ("helper") procedures only. RFC 4724 §3:
/// a speaker that cannot preserve its state across its own restart lists no <AFI, SAFI>.
/// We cannot: nothing defers our decisions after a restart of our own, so the End-of-RIB
/// we send then would follow a partial table, and a helper would keep a dead reflector's
/// paths (perhaps still selected over a fresh one from its redundant twin) for our Restart
/// Time. With no family listed, a peer drops our routes as soon as the session is lost.
/// The Restart Time is still sent, as BIRD (`graceful restart aware`) and FRR (helper
/// mode) send theirs; R is clear: we never wait for a peer's End-of-RIB before sending ours.
pub fn our_capability(n: &Neighbor) -> Option<GracefulRestart> {
    n.graceful_restart.then(|| GracefulRestart {
        restart_state: false,
        notification: false,
        restart_time: n.graceful_restart_time,
        families: Vec::new(),
    })
}

/// The peer's capability as the RIB applies it, when both sides advertised one (we only
/// act as the receiving speaker toward a peer that knows we are GR-aware).
pub fn peer_capability(n: &Neighbor, neg: &Negotiated) -> Option<GracefulRestartPeer> {
    if !n.graceful_restart {
        return None;
    }
    let gr = neg.graceful_restart.as_ref()?;
    let (mut families, mut forwarding) = (FamilySet::EMPTY, FamilySet::EMPTY);
    for &(afi, safi, fwd) in &gr.families {
        let Some(f) = Family::from_afi_safi(afi, safi).filter(|f| neg.families.contains(*f)) else {
            continue;
        };
        families.insert(f);
        if fwd {
            forwarding.insert(f);
        }
    }
    let secs = gr.restart_time.min(n.graceful_restart_time);
    Some(GracefulRestartPeer {
        families,
        forwarding,
        restart_time: Duration::from_secs(secs.into()),
        stale_time: Duration::from_secs(n.graceful_restart_stale_time.into()),
        restarting: gr.restart_state,
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::config::parse;
    use crate::wire::{CodecCtx, GracefulRestart};
    use std::net::Ipv4Addr;
    use std::path::Path;

    fn neighbor(extra: &str) -> Neighbor {
        let text = format!(
            "asn: 65000\nrouter_id: 10.0.0.1\nneighbors:\n  - address: 192.0.2.2\n    asn: 65000\n    families: [ipv4-unicast, ipv6-unicast]\n{extra}"
        );
        parse(&text, Path::new("t.yaml")).unwrap().neighbors[0].clone()
    }

    /// What an OPEN exchange settled, with the peer's `gr` and the common `families`.
    pub(in crate::worker) fn negotiated(
        gr: Option<GracefulRestart>,
        families: FamilySet,
    ) -> Negotiated {
        Negotiated {
            codec: CodecCtx::default(),
            families,
            hold_time: 90,
            keepalive: 30,
            remote_asn: 65000,
            remote_id: Ipv4Addr::new(10, 0, 0, 2),
            route_refresh: true,
            graceful_restart: gr,
            remote_capabilities: Vec::new(),
        }
    }

    #[test]
    fn we_advertise_the_helper_procedures_only_unless_switched_off() {
        let gr = our_capability(&neighbor("")).unwrap();
        assert_eq!(gr.restart_time, 120);
        assert!(!gr.restart_state && !gr.notification);
        assert_eq!(
            gr.families,
            vec![],
            "no <AFI, SAFI>: we keep no state across a restart"
        );
        let n = neighbor("    graceful_restart_time: 30\n");
        assert_eq!(our_capability(&n).map(|gr| gr.restart_time), Some(30));
        let n = neighbor("    graceful_restart: false\n");
        assert_eq!(our_capability(&n), None);
    }

    #[test]
    fn the_peers_families_are_cut_to_the_negotiated_ones_and_its_time_to_ours() {
        let gr = GracefulRestart {
            restart_state: true,
            notification: false,
            restart_time: 4000,
            families: vec![(1, 1, true), (2, 1, false), (1, 128, true)],
        };
        let v4 = FamilySet::EMPTY.with(Family::Ipv4Unicast);
        let both = v4.with(Family::Ipv6Unicast);
        let n = neighbor("    graceful_restart_time: 30\n");
        let p = peer_capability(&n, &negotiated(Some(gr.clone()), both)).unwrap();
        assert_eq!((p.families, p.forwarding), (both, v4));
        assert_eq!(p.restart_time, Duration::from_secs(30));
        assert_eq!(p.stale_time, Duration::from_secs(360));
        let p = peer_capability(&n, &negotiated(Some(gr.clone()), v4)).unwrap();
        assert_eq!(p.families, v4);
        assert_eq!(peer_capability(&n, &negotiated(None, both)), None);
        let off = neighbor("    graceful_restart: false\n");
        assert_eq!(peer_capability(&off, &negotiated(Some(gr), both)), None);
    }
}
