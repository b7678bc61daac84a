//! BGP/MPLS IP VPN routes (RFC 4364 VPNv4, RFC 4659 VPNv6; SAFI 128) as the daemons hold
//! them: a route is keyed by route distinguisher + prefix, and carries a label stack besides
//! the attributes every route has. Each driver that speaks the VPN families reads its own VPN
//! table into a [`VpnPath`], so the scenarios are written once for all of them.

use super::daemons::*;

/// One path a daemon holds for an RD + prefix.
#[derive(Clone, Debug, PartialEq)]
pub struct VpnPath {
    /// Learned over the session with the reflector; false: the daemon's own route.
    pub from_reflector: bool,
    pub best: bool,
    /// The MPLS labels as the daemon shows them (one for a VPN route; a bottom-of-stack bit
    /// lost or moved on the way shows as more, or other, labels).
    pub labels: Vec<u32>,
    pub seen: Seen,
}

/// Daemons whose VPNv4 and VPNv6 tables can be read back.
pub trait VpnPeer: Peer {
    /// Every path for `prefix` (IPv4: VPNv4, IPv6: VPNv6) under route distinguisher `rd`
    /// (`65000:1`) in the daemon's own VPN table.
    fn vpn_paths(&self, rd: &str, prefix: &str) -> Vec<VpnPath>;

    /// The daemon's VPN tables, for failure messages.
    fn vpn_dump(&self) -> String;

    /// The best path for `prefix` under `rd`, if it holds one.
    fn vpn_route(&self, rd: &str, prefix: &str) -> Option<VpnPath> {
        let paths = self.vpn_paths(rd, prefix);
        paths.iter().find(|p| p.best).or(paths.first()).cloned()
    }

    /// The paths for `prefix` under `rd` it holds from the reflector.
    fn vpn_from_reflector(&self, rd: &str, prefix: &str) -> Vec<VpnPath> {
        self.vpn_paths(rd, prefix)
            .into_iter()
            .filter(|p| p.from_reflector)
            .collect()
    }
}

/// Waits (bounded) until `peer` holds, from the reflector, exactly one path for `prefix`
/// under `rd` and `ok` accepts it; returns it.
pub fn wait_vpn_route(
    peer: &dyn VpnPeer,
    rd: &str,
    prefix: &str,
    ok: impl Fn(&VpnPath) -> bool,
) -> VpnPath {
    let mut last = Vec::new();
    let got = eventually(ROUTE_WAIT, || {
        last = peer.vpn_from_reflector(rd, prefix);
        match last.as_slice() {
            [one] if ok(one) => Some(one.clone()),
            _ => None,
        }
    });
    got.unwrap_or_else(|| {
        panic!(
            "{} never held one acceptable {rd} {prefix} from the reflector; last seen {last:#?}\n{}",
            peer.name(),
            peer.vpn_dump()
        )
    })
}

/// Waits (bounded) until `peer` holds nothing from the reflector for `prefix` under `rd`.
pub fn wait_vpn_gone(peer: &dyn VpnPeer, rd: &str, prefix: &str) {
    let gone = eventually(ROUTE_WAIT, || {
        peer.vpn_from_reflector(rd, prefix).is_empty().then_some(())
    });
    assert!(
        gone.is_some(),
        "{} still holds {rd} {prefix}: {:#?}\n{}",
        peer.name(),
        peer.vpn_from_reflector(rd, prefix),
        peer.vpn_dump()
    );
}

/// A VPN route as a client of the reflector must hold it, as its best path: what the
/// originator with router id `originator` sent, with `labels`, plus ORIGINATOR_ID and
/// CLUSTER_LIST = [our cluster id].
pub fn reflected(labels: &[u32], sent: &Seen, originator: &str) -> VpnPath {
    VpnPath {
        from_reflector: true,
        best: true,
        labels: labels.to_vec(),
        seen: Seen {
            originator_id: Some(originator.to_string()),
            cluster_list: vec![super::CLUSTER_ID.to_string()],
            ..sent.clone()
        },
    }
}

/// Each of `receivers` (in turn) holds the route [`reflected`], alone: waits for the
/// originator's path, then compares all of it.
pub fn assert_vpn_reflected(
    receivers: &[&dyn VpnPeer],
    rd: &str,
    prefix: &str,
    labels: &[u32],
    sent: &Seen,
    originator: &str,
) {
    let want = reflected(labels, sent, originator);
    for receiver in receivers {
        let got = wait_vpn_route(*receiver, rd, prefix, |p| {
            p.seen.originator_id.as_deref() == Some(originator)
        });
        assert_eq!(
            got,
            want,
            "{} holds {rd} {prefix} changed\n{}",
            receiver.name(),
            receiver.vpn_dump()
        );
    }
}
