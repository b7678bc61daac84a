//! Human tables for the CLI, in the spirit of `gobgp neighbor` and `gobgp global rib`.

use super::view::{NeighborView, RouteJson};
use std::fmt::Write;

fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d{h:02}h{m:02}m")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

pub fn neighbors(list: &[NeighborView]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<24} {:>10} {:<6} {:<12} {:>10} {:>9} {:>9} {:>9}  Description",
        "Peer", "AS", "Client", "State", "Up/Down", "Received", "Accepted", "Advert"
    );
    for n in list {
        let sum =
            |f: fn(&super::view::FamilyPrefixes) -> u64| n.prefixes.iter().map(f).sum::<u64>();
        let _ = writeln!(
            out,
            "{:<24} {:>10} {:<6} {:<12} {:>10} {:>9} {:>9} {:>9}  {}",
            n.address,
            n.asn,
            if n.rr_client { "yes" } else { "no" },
            n.state,
            duration(n.state_seconds),
            sum(|p| p.received),
            sum(|p| p.accepted),
            sum(|p| p.advertised),
            n.description.as_deref().unwrap_or(""),
        );
        if n.state != "Established" {
            if let Some(e) = &n.last_error {
                let _ = writeln!(out, "{:<24} last error: {e}", "");
            }
        }
    }
    out
}

pub fn routes(list: &[RouteJson]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "   {:<24} {:<20} {:<20} {:>7} {:>6} {:<3} {:<16} Reflection",
        "Network", "Next Hop", "AS_PATH", "LocPrf", "MED", "Org", "From"
    );
    for r in list {
        for (i, p) in r.paths.iter().enumerate() {
            let net = if i == 0 { r.prefix.as_str() } else { "" };
            let refl = match (&p.originator_id, p.cluster_list.is_empty()) {
                (Some(o), _) => format!("originator {o} cluster [{}]", p.cluster_list.join(" ")),
                (None, false) => format!("cluster [{}]", p.cluster_list.join(" ")),
                (None, true) => String::new(),
            };
            let _ = writeln!(
                out,
                "{:<2} {:<24} {:<20} {:<20} {:>7} {:>6} {:<3} {:<16} {}",
                if p.best { "*>" } else { "*" },
                net,
                p.next_hop,
                if p.as_path.is_empty() {
                    "-"
                } else {
                    &p.as_path
                },
                p.local_pref.map(|v| v.to_string()).unwrap_or_default(),
                p.med.map(|v| v.to_string()).unwrap_or_default(),
                p.origin,
                p.from,
                refl,
            );
            if let Some(label) = p.label {
                let _ = writeln!(out, "   {:<24} label: {label}", "");
            }
            let evpn: Vec<String> = p
                .esi
                .iter()
                .map(|e| format!("esi: {e}"))
                .chain((!p.labels.is_empty()).then(|| {
                    let l: Vec<String> = p.labels.iter().map(u32::to_string).collect();
                    format!("labels: {}", l.join(","))
                }))
                .chain(p.gateway.iter().map(|g| format!("gateway: {g}")))
                .collect();
            if !evpn.is_empty() {
                let _ = writeln!(out, "   {:<24} {}", "", evpn.join(" "));
            }
            if !p.communities.is_empty()
                || !p.large_communities.is_empty()
                || !p.ext_communities.is_empty()
            {
                let all: Vec<&str> = p
                    .communities
                    .iter()
                    .chain(&p.ext_communities)
                    .chain(&p.large_communities)
                    .map(String::as_str)
                    .collect();
                let _ = writeln!(out, "   {:<24} communities: {}", "", all.join(" "));
            }
        }
    }
    out
}
