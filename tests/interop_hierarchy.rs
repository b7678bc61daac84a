//! Scenario 7 with BIRD route reflectors above reflectd: reflectd (cluster A) is a client of
//! B1 (cluster B) and B2 (cluster C), two BIRDs that peer as non-clients; B2 prefers what B1
//! sends (LOCAL_PREF 500 on import). Below reflectd: GoBGP, BIRD and FRR clients; beside it,
//! X1, another BIRD client of B1. Every check reads the daemons' own RIBs.

mod common;
use common::daemons::*;
use common::*;

const B1_CLUSTER: &str = "10.0.12.11";
const B2_CLUSTER: &str = "10.0.12.22";

/// reflectd's gauge `name` for `neighbor`'s IPv4 unicast routes.
fn ipv4_gauge(r: &Reflector, name: &str, neighbor: &str) -> Option<f64> {
    let labels = [
        format!("neighbor=\"{neighbor}\""),
        "family=\"ipv4-unicast\"".to_string(),
    ];
    r.http(r.metrics, "/metrics").lines().find_map(|l| {
        let (sample, value) = l.rsplit_once(' ')?;
        (sample.starts_with(&format!("{name}{{")) && labels.iter().all(|x| sample.contains(x)))
            .then(|| value.parse().ok())?
    })
}

/// B`n`, one of the reflectors above reflectd: on 127.0.12.7`n`:`port`, in cluster
/// `cluster`, with the BGP sessions `others` beside the one with reflectd.
fn upper_bird(r: &Reflector, n: u8, port: u16, cluster: &str, others: &str) -> Bird {
    let addr = format!("127.0.12.7{n}");
    let rr_port = r.port;
    Bird::with_config(
        r,
        &format!("b{n}"),
        &addr,
        &format!(
            r#"router id 10.0.12.{n};
log "{{log}}" all;
protocol device {{ }}
protocol static nh4 {{ ipv4; route 100.64.0.0/10 blackhole; }}
template bgp upper {{
  local {addr} port {port} as 65000;
  strict bind yes;
  connect retry time 1;
}}
protocol bgp reflectd from upper {{
  neighbor 127.0.0.1 port {rr_port} as 65000;
  rr client;
  rr cluster id {cluster};
  ipv4 {{ import all; export where source = RTS_BGP; }};
}}
{others}
"#
        ),
    )
    .start()
}

#[test]
fn reflectd_as_client_of_bird_reflectors_passes_routes_and_drops_its_own_loops() {
    let all = Bird::installed() & GoBgp::installed() & Frr::installed();
    if !all {
        return;
    }
    let r = Reflector::start(&[
        NeighborSpec::client("127.0.12.61"),
        NeighborSpec::client("127.0.12.62"),
        NeighborSpec::client("127.0.12.63"),
        NeighborSpec::client("127.0.12.64"),
        NeighborSpec::non_client("127.0.12.71"),
        NeighborSpec::non_client("127.0.12.72"),
    ]);
    let [p1, p2, px] = free_ports::<3>();
    let b1 = upper_bird(
        &r,
        1,
        p1,
        B1_CLUSTER,
        &format!(
            r#"protocol bgp x1 from upper {{
  neighbor 127.0.12.81 port {px} as 65000;
  passive;
  rr client;
  rr cluster id {B1_CLUSTER};
  ipv4 {{ import all; export where source = RTS_BGP; }};
}}
protocol bgp peer2 from upper {{
  neighbor 127.0.12.72 port {p2} as 65000;
  ipv4 {{ import all; export where source = RTS_BGP; }};
}}"#
        ),
    );
    let b2 = upper_bird(
        &r,
        2,
        p2,
        B2_CLUSTER,
        &format!(
            r#"protocol bgp peer1 from upper {{
  neighbor 127.0.12.71 port {p1} as 65000;
  passive;
  ipv4 {{ import filter {{ bgp_local_pref = 500; accept; }}; export where source = RTS_BGP; }};
}}"#
        ),
    );
    let x1 = Bird::with_config(
        &r,
        "x1",
        "127.0.12.81",
        &format!(
            r#"router id 10.0.12.81;
log "{{log}}" all;
protocol device {{ }}
protocol static nh4 {{ ipv4; route 100.64.0.0/10 blackhole; }}
protocol static s4 {{ ipv4; route 10.12.81.0/24 blackhole; }}
protocol bgp toB1 {{
  local 127.0.12.81 port {px} as 65000;
  strict bind yes;
  neighbor 127.0.12.71 port {p1} as 65000;
  connect retry time 1;
  ipv4 {{ import all; export where proto = "s4"; next hop address 100.64.12.81; }};
}}
"#
        ),
    )
    .start();
    let c1 = GoBgp::builder(&r, "c1", "127.0.12.61", "10.0.12.61").start();
    let c2 = GoBgp::builder(&r, "c2", "127.0.12.62", "10.0.12.62").start();
    let b3 = Bird::builder(&r, "b3", "127.0.12.63", "10.0.12.63")
        .next_hops("100.64.12.63", "2001:db8:ffff::1263")
        .start();
    let f4 = Frr::builder(&r, "f4", "127.0.12.64", "10.0.12.64")
        .body(" address-family ipv4 unicast\n  neighbor 127.0.0.1 activate\n exit-address-family\n")
        .start();
    let below: [&dyn Peer; 3] = [&c2, &b3, &f4];

    // Down: X1's route reaches reflectd from B1 and, preferred, through B2; reflectd's
    // clients end with B2's path, carrying all three clusters.
    for p in below {
        let down = wait_route(p, "10.12.81.0/24", |s| s.local_pref == Some(500));
        assert_eq!(
            down.originator_id.as_deref(),
            Some("10.0.12.81"),
            "{}",
            p.name()
        );
        assert_eq!(
            down.cluster_list,
            [&CLUSTER_ID.to_string(), B2_CLUSTER, B1_CLUSTER],
            "{}",
            p.name()
        );
        assert_eq!(down.next_hop, "100.64.12.81", "{}", p.name());
    }

    // Up and across: c1's route reaches B1's other client X1 through B1, with B1's cluster
    // in front of ours, and B2 prefers the copy B1 reflected to it.
    c1.announce("10.12.61.0/24", "origin igp nexthop 100.64.12.61");
    // B1 may first reflect the copy B2 passed it ([B2, A], one cluster longer) before
    // reflectd's own copy arrives and wins: wait for the path B1 settles on.
    let b1_then_us = [B1_CLUSTER.to_string(), CLUSTER_ID.to_string()];
    let at_x1 = wait_route(&x1, "10.12.61.0/24", |s| s.cluster_list == b1_then_us);
    assert_eq!(at_x1.originator_id.as_deref(), Some("10.0.12.61"));
    assert_eq!(at_x1.cluster_list, [B1_CLUSTER, &CLUSTER_ID.to_string()]);
    assert_eq!(at_x1.next_hop, "100.64.12.61");
    let at_b2 = wait_route(&b2, "10.12.61.0/24", |s| s.local_pref == Some(500));
    assert_eq!(at_b2.cluster_list, [B1_CLUSTER, &CLUSTER_ID.to_string()]);

    // B2 reflects that path back down to reflectd with [C, B, A]: reflectd must see its own
    // cluster and drop it. Once it has counted the path from B2 without accepting it...
    let looped = eventually(ROUTE_WAIT, || {
        let received = ipv4_gauge(&r, "reflectd_neighbor_prefixes_received", "127.0.12.72")?;
        let accepted = ipv4_gauge(&r, "reflectd_neighbor_prefixes_accepted", "127.0.12.72")?;
        (received == accepted + 1.0).then_some(())
    });
    assert!(
        looped.is_some(),
        "reflectd never got the loop from B2: {}",
        b2.birdc("show route all 10.12.61.0/24")
    );
    let routes = r.http(r.api, "/routes?prefix=10.12.61.0/24");
    let v: serde_json::Value = serde_json::from_str(&routes).expect("routes JSON");
    let from: Vec<&str> = v[0]["paths"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["from"].as_str())
        .collect();
    assert_eq!(from, ["127.0.12.61"], "reflectd's paths: {routes}");
    // ...and a marker from c1 has reached everyone below after it, nobody below has a
    // looped copy: they all hold c1's original path.
    c1.announce("10.12.69.0/24", "origin igp nexthop 100.64.12.61");
    for p in below {
        wait_route(p, "10.12.69.0/24", |_| true);
    }
    for p in [&b3 as &dyn Peer, &f4, &c2] {
        let kept = p.route("10.12.61.0/24").expect("c1's route below");
        assert_eq!(
            (kept.local_pref, kept.cluster_list.clone()),
            (Some(100), vec![CLUSTER_ID.to_string()]),
            "{} holds a looped copy: {kept:?}",
            p.name()
        );
    }
    for b in [&b1, &b2, &x1, &b3] {
        assert!(
            !b.birdc("show protocols").contains("Error"),
            "{}",
            b.birdc("show protocols")
        );
    }
    assert!(c2.established() && f4.established());
}
