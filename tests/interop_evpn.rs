//! L2VPN EVPN (RFC 7432, RFC 9136: AFI 25 SAFI 70) through reflectd with real daemons,
//! every check read from a client's own EVPN table. A GoBGP client originates a route of
//! each type: Ethernet A-D (type 1, ESI Label extended community), MAC/IP (type 2, two
//! labels), inclusive multicast (type 3, VXLAN encapsulation), Ethernet segment (type 4)
//! and IP prefix (type 5, gateway, label and Router's MAC); a second GoBGP receives them
//! with their keys, labels, gateway, next hop and extended communities as sent, and with
//! the reflector's ORIGINATOR_ID; an FRR and an ExaBGP receive each too (FRR with its
//! extended communities); reflectd shows each route's type and fields
//! (`reflectd routes --family l2vpn-evpn --json`). Withdrawn, they leave every client.

mod common;
use common::daemons::*;
use common::*;
use serde_json::Value;

const MAC: &str = "[type:macadv][rd:65000:1][etag:0][mac:aa:bb:cc:dd:ee:01][ip:10.17.0.1]";
const MCAST: &str = "[type:multicast][rd:65000:3][etag:0][ip:10.17.0.1]";
const PREFIX: &str = "[type:Prefix][rd:65000:2][etag:0][prefix:10.17.1.0/24]";
const AD: &str = "[type:A-D][rd:65000:4][esi:ESI_ARBITRARY | 11:22:33:44:55:66:77:88:99][etag:100]";
const ES: &str =
    "[type:esi][rd:65000:5][esi:ESI_ARBITRARY | 11:22:33:44:55:66:77:88:99][ip:10.17.0.1]";
const NEXT_HOP: &str = "100.64.17.1";
const G1_ID: &str = "10.0.17.1";

fn evpn_client(n: u8) -> NeighborSpec {
    NeighborSpec {
        families: "[l2vpn-evpn]",
        ..NeighborSpec::client(leak(format!("127.0.17.{n}")))
    }
}

fn gobgp(r: &Reflector, name: &str, n: u8) -> GoBgp {
    GoBgp::builder(r, name, &format!("127.0.17.{n}"), &format!("10.0.17.{n}"))
        .families(&["l2vpn-evpn"])
        .start()
}

/// A route as a GoBGP client holds it from the reflector: its labels, next hop, extended
/// communities (GoBGP's JSON, route targets as `65000:1`) and ORIGINATOR_ID.
#[derive(Debug, PartialEq)]
struct Held {
    labels: Vec<u64>,
    gateway: Option<String>,
    next_hop: String,
    ext_communities: Vec<String>,
    originator_id: Option<String>,
}

fn gobgp_evpn(g: &GoBgp) -> std::collections::BTreeMap<String, Held> {
    let v = json(&g.cli(&["global", "rib", "-a", "evpn", "-j"]));
    let mut out = std::collections::BTreeMap::new();
    for (key, paths) in v.as_object().into_iter().flatten() {
        for p in paths.as_array().into_iter().flatten() {
            let nlri = &p["nlri"]["value"];
            let attrs: Vec<&Value> = p["attrs"].as_array().into_iter().flatten().collect();
            let attr = |t: u64| attrs.iter().find(|a| a["type"] == t).copied();
            let labels = match (&nlri["labels"], &nlri["label"]) {
                (Value::Array(ls), _) => ls.iter().filter_map(Value::as_u64).collect(),
                (_, l) => l.as_u64().into_iter().collect(),
            };
            out.insert(
                key.clone(),
                Held {
                    labels,
                    gateway: nlri["gateway"].as_str().map(str::to_string),
                    next_hop: attr(14)
                        .and_then(|a| a["nexthop"].as_str())
                        .unwrap_or("")
                        .to_string(),
                    ext_communities: attr(16)
                        .and_then(|a| a["value"].as_array())
                        .into_iter()
                        .flatten()
                        .map(|c| match (c["value"].as_str(), c["mac"].as_str()) {
                            (Some(v), _) => v.to_string(),
                            (_, Some(mac)) => format!("router-mac:{mac}"),
                            _ if c["tunnel_type"].is_u64() => {
                                format!("tunnel-type:{}", c["tunnel_type"])
                            }
                            _ => format!("esi-label:{}", c["label"]),
                        })
                        .collect(),
                    originator_id: attr(9)
                        .and_then(|a| a["value"].as_str())
                        .map(str::to_string),
                },
            );
        }
    }
    out
}

fn held(labels: &[u64], gateway: Option<&str>, ext: &[&str]) -> Held {
    Held {
        labels: labels.to_vec(),
        gateway: gateway.map(str::to_string),
        next_hop: NEXT_HOP.to_string(),
        ext_communities: ext.iter().map(|s| s.to_string()).collect(),
        originator_id: Some(G1_ID.to_string()),
    }
}

/// FRR's EVPN routes: (route type, RD, extended communities) of each, read from
/// `show bgp l2vpn evpn` (its JSON nests each path in a list per RD and prefix, and
/// changed shape between releases; the table has not).
fn frr_evpn(f: &Frr) -> Vec<(u64, String, String)> {
    let text = f.vtysh(&["show bgp l2vpn evpn"]);
    let (mut out, mut rd): (Vec<(u64, String, String)>, String) = (Vec::new(), String::new());
    for line in text.lines() {
        let t = line.trim();
        if let Some(r) = t.strip_prefix("Route Distinguisher: ") {
            rd = r.trim().to_string();
        } else if let Some(at) = t.find("[").filter(|_| t.starts_with('*')) {
            if let Some(kind) = t[at + 1..].split(']').next().and_then(|n| n.parse().ok()) {
                out.push((kind, rd.clone(), String::new()));
            }
        } else if t.starts_with("RT:") || t.starts_with("ET:") {
            // The extended communities, on the line under the route's next hop.
            if let Some(last) = out.last_mut() {
                last.2 = t.to_string();
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// ExaBGP's EVPN routes, rebuilt from what it was sent: route type code and RD -> labels.
fn exabgp_evpn(e: &ExaBgp) -> std::collections::BTreeMap<(u64, String), Value> {
    let mut rib = std::collections::BTreeMap::new();
    for ev in e.events_of("update") {
        let u = &ev["neighbor"]["message"]["update"];
        let key = |n: &Value| (n["code"].as_u64().unwrap_or(0), n["rd"].to_string());
        for n in u["withdraw"]["l2vpn evpn"].as_array().into_iter().flatten() {
            rib.remove(&key(n));
        }
        for (_, nlris) in u["announce"]["l2vpn evpn"]
            .as_object()
            .into_iter()
            .flatten()
        {
            for n in nlris.as_array().into_iter().flatten() {
                rib.insert(key(n), n.clone());
            }
        }
    }
    rib
}

#[test]
fn evpn_routes_of_types_1_to_5_are_reflected_to_gobgp_frr_and_exabgp() {
    if !(GoBgp::installed() & Frr::installed() & ExaBgp::installed()) {
        return;
    }
    let r = Reflector::start(&[
        evpn_client(1),
        evpn_client(2),
        evpn_client(3),
        evpn_client(4),
    ]);
    let g1 = gobgp(&r, "g1", 1);
    let g2 = gobgp(&r, "g2", 2);
    let f = Frr::builder(&r, "f3", "127.0.17.3", "10.0.17.3")
        .body(" address-family l2vpn evpn\n  neighbor 127.0.0.1 activate\n exit-address-family\n")
        .start();
    let e = ExaBgp::builder(&r, "e4", "127.0.17.4", "10.0.17.4")
        .families(&["l2vpn evpn"])
        .start();

    let up = eventually(ROUTE_WAIT, || {
        let v = json(&r.cli(&["neighbors", "--json"]));
        let all = v.as_array().is_some_and(|l| {
            l.len() == 4
                && l.iter().all(|n| {
                    n["state"] == "Established" && n["families"].to_string().contains("l2vpn-evpn")
                })
        });
        all.then_some(())
    });
    assert!(up.is_some(), "sessions: {}", r.cli(&["neighbors"]));

    let add = |args: &str| {
        let mut a = vec!["global", "rib", "-a", "evpn", "add"];
        a.extend(args.split_whitespace());
        let said = g1.cli(&a);
        assert!(said.trim().is_empty(), "gobgp {args}: {said}");
    };
    add("macadv aa:bb:cc:dd:ee:01 10.17.0.1 esi 0 etag 0 label 100,200 rd 65000:1 rt 65000:1 nexthop 100.64.17.1");
    add("multicast 10.17.0.1 etag 0 rd 65000:3 rt 65000:1 encap vxlan nexthop 100.64.17.1");
    add("prefix 10.17.1.0/24 gw 10.17.0.254 esi 0 etag 0 label 300 rd 65000:2 rt 65000:2 router-mac aa:bb:cc:00:00:01 nexthop 100.64.17.1");
    add("a-d esi ARBITRARY 11:22:33:44:55:66:77:88:99 etag 100 label 400 rd 65000:4 rt 65000:1 esi-label 500 nexthop 100.64.17.1");
    add("esi 10.17.0.1 esi ARBITRARY 11:22:33:44:55:66:77:88:99 rd 65000:5 rt 65000:1 nexthop 100.64.17.1");

    // GoBGP: every route with its labels, gateway, next hop and extended communities.
    let want = [
        (MAC, held(&[100, 200], None, &["65000:1"])),
        (MCAST, held(&[], None, &["65000:1", "tunnel-type:8"])),
        (
            PREFIX,
            held(
                &[300],
                Some("10.17.0.254"),
                &["65000:2", "router-mac:aa:bb:cc:00:00:01"],
            ),
        ),
        (AD, held(&[400], None, &["65000:1", "esi-label:500"])),
        (ES, held(&[], None, &["65000:1"])),
    ];
    let got = eventually(ROUTE_WAIT, || {
        let rib = gobgp_evpn(&g2);
        want.iter()
            .all(|(k, h)| rib.get(*k) == Some(h))
            .then_some(())
    });
    assert!(got.is_some(), "g2 holds {:#?}", gobgp_evpn(&g2));

    // FRR: each route type under its RD.
    let frr_want: Vec<(u64, String, String)> = [
        (1, "65000:4", "RT:65000:1 ESI-label-Rt:AA"),
        (2, "65000:1", "RT:65000:1"),
        (3, "65000:3", "RT:65000:1 ET:8"),
        (4, "65000:5", "RT:65000:1"),
        (5, "65000:2", "RT:65000:2 Rmac:aa:bb:cc:00:00:01"),
    ]
    .into_iter()
    .map(|(t, rd, ext)| (t, rd.to_string(), ext.to_string()))
    .collect();
    let got = eventually(ROUTE_WAIT, || (frr_evpn(&f) == frr_want).then_some(()));
    assert!(
        got.is_some(),
        "FRR holds {:?}\n{}",
        frr_evpn(&f),
        f.vtysh(&["show bgp l2vpn evpn"])
    );

    // ExaBGP: the five routes.
    let got = eventually(ROUTE_WAIT, || (exabgp_evpn(&e).len() == 5).then_some(()));
    assert!(got.is_some(), "ExaBGP got {:#?}", exabgp_evpn(&e));

    // reflectd's own view: each route's type and fields, and the path's labels.
    let v = json(&r.cli(&["routes", "--family", "l2vpn-evpn", "--json"]));
    let mac = v
        .as_array()
        .into_iter()
        .flatten()
        .find(|route| route["evpn"]["route_type"] == "mac-ip")
        .unwrap_or_else(|| panic!("no MAC/IP route in {v:#}"));
    assert_eq!(mac["rd"], "65000:1");
    assert_eq!(mac["evpn"]["mac"], "aa:bb:cc:dd:ee:01");
    assert_eq!(mac["evpn"]["ip"], "10.17.0.1");
    assert_eq!(mac["paths"][0]["labels"], serde_json::json!([100, 200]));
    let mcast = v
        .as_array()
        .into_iter()
        .flatten()
        .find(|route| route["evpn"]["route_type"] == "inclusive-multicast")
        .unwrap_or_else(|| panic!("no multicast route in {v:#}"));
    assert_eq!(
        mcast["paths"][0]["ext_communities"],
        serde_json::json!(["rt 65000:1", "encap vxlan"])
    );
    let table = r.cli(&["routes", "--family", "l2vpn-evpn"]);
    assert!(
        table.contains(MAC) && table.contains("labels: 100,200"),
        "{table}"
    );

    // Withdrawn, they leave every client.
    for args in [
        "macadv aa:bb:cc:dd:ee:01 10.17.0.1 esi 0 etag 0 label 100,200 rd 65000:1",
        "multicast 10.17.0.1 etag 0 rd 65000:3",
        "prefix 10.17.1.0/24 gw 10.17.0.254 esi 0 etag 0 label 300 rd 65000:2",
        "a-d esi ARBITRARY 11:22:33:44:55:66:77:88:99 etag 100 label 400 rd 65000:4",
        "esi 10.17.0.1 esi ARBITRARY 11:22:33:44:55:66:77:88:99 rd 65000:5",
    ] {
        let mut a = vec!["global", "rib", "-a", "evpn", "del"];
        a.extend(args.split_whitespace());
        let said = g1.cli(&a);
        assert!(said.trim().is_empty(), "gobgp del {args}: {said}");
    }
    let gone = eventually(ROUTE_WAIT, || {
        (gobgp_evpn(&g2).is_empty() && frr_evpn(&f).is_empty() && exabgp_evpn(&e).is_empty())
            .then_some(())
    });
    assert!(
        gone.is_some(),
        "left: g2 {:?}, FRR {:?}, ExaBGP {:?}",
        gobgp_evpn(&g2).keys(),
        frr_evpn(&f),
        exabgp_evpn(&e).keys()
    );
    let empty = eventually(ROUTE_WAIT, || {
        let v = json(&r.cli(&["routes", "--family", "l2vpn-evpn", "--json"]));
        (v == serde_json::json!([])).then_some(())
    });
    assert!(
        empty.is_some(),
        "reflectd holds {}",
        r.cli(&["routes", "--family", "l2vpn-evpn"])
    );
}
