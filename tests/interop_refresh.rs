//! Scenario 5 read from the daemons' own state: End-of-RIB follows reflectd's initial dump
//! (GoBGP's per-family `end_of_rib_received`, OpenBGPD's End-of-RIB counter, BIRD's and FRR's
//! own logs of what they received), and a ROUTE-REFRESH from BIRD (`birdc reload in`),
//! OpenBGPD (`bgpctl neighbor .. refresh`) or FRR (`clear bgp .. soft in`) brings back
//! reflectd's whole Adj-RIB-Out: the daemon's received-update counters rise by the routes
//! re-sent, reflectd counts the ROUTE-REFRESH, and the daemon still holds exactly the routes.
//! (GoBGP never sends ROUTE-REFRESH: it keeps every Adj-RIB-In and its `softresetin`
//! re-reads that locally.)

mod common;
use common::daemons::*;
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;

/// What the announcer sends: three IPv4 routes with distinct MEDs (three UPDATEs) and one IPv6.
const V4: [&str; 3] = ["10.10.1.0/24", "10.10.2.0/24", "10.10.3.0/24"];
const V6: &str = "2001:db8:10:1::/64";

fn expected() -> BTreeSet<String> {
    V4.iter().chain([&V6]).map(|p| p.to_string()).collect()
}

fn gobgp_prefixes(g: &GoBgp) -> BTreeSet<String> {
    ["ipv4", "ipv6"]
        .iter()
        .flat_map(|af| {
            let v = json(&g.cli(&["global", "rib", "-a", af, "-j"]));
            v.as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
        })
        .collect()
}

fn bird_prefixes(b: &Bird) -> BTreeSet<String> {
    b.birdc("show route protocol reflector")
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.contains('/'))
        .map(str::to_string)
        .collect()
}

fn openbgpd_prefixes(o: &OpenBgpd) -> BTreeSet<String> {
    let v = json(&o.bgpctl(&["-j", "show", "rib"]));
    v["rib"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["prefix"].as_str().map(str::to_string))
        .collect()
}

fn frr_prefixes(f: &Frr) -> BTreeSet<String> {
    ["ipv4", "ipv6"]
        .iter()
        .flat_map(|af| {
            let v = json(&f.vtysh(&[&format!("show bgp {af} unicast json")]));
            v["routes"]
                .as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
        })
        .collect()
}

/// BIRD's "Import updates: received" for one channel of its `reflector` protocol.
fn bird_imports(b: &Bird, channel: &str) -> Option<u64> {
    let out = b.birdc("show protocols all reflector");
    let mut lines = out
        .lines()
        .skip_while(|l| l.trim() != format!("Channel {channel}"));
    lines
        .find(|l| l.trim_start().starts_with("Import updates:"))?
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}

fn openbgpd_stats(o: &OpenBgpd) -> Value {
    json(&o.bgpctl(&["-j", "show", "neighbor"]))["neighbors"][0]["stats"].clone()
}

fn frr_updates_received(f: &Frr) -> Option<u64> {
    json(&f.vtysh(&["show bgp neighbors 127.0.0.1 json"]))["127.0.0.1"]["messageStats"]
        ["updatesRecv"]
        .as_u64()
}

/// reflectd's count of ROUTE-REFRESH messages from `neighbor`.
fn refreshes(r: &Reflector, neighbor: &str) -> u64 {
    r.metric(&format!(
        "reflectd_neighbor_messages_received_total{{neighbor=\"{neighbor}\",type=\"route_refresh\"}}"
    ))
    .unwrap_or(0.0) as u64
}

fn wait_refreshes(r: &Reflector, neighbor: &str, want: u64) {
    let got = eventually(ROUTE_WAIT, || {
        (refreshes(r, neighbor) == want).then_some(())
    });
    assert!(
        got.is_some(),
        "reflectd counted {} ROUTE-REFRESH from {neighbor}, want {want}",
        refreshes(r, neighbor)
    );
}

/// Index of the first line of `log` containing `needle`.
fn line_of(log: &str, needle: &str) -> Option<usize> {
    log.lines().position(|l| l.contains(needle))
}

#[test]
fn daemons_get_end_of_rib_after_the_dump_and_everything_again_on_route_refresh() {
    let all = GoBgp::installed() & Bird::installed() & Frr::installed() & OpenBgpd::installed();
    if !all {
        return;
    }
    let o_port = free_port();
    let r = Reflector::start(&[
        NeighborSpec::client("127.0.10.1"),
        NeighborSpec::client("127.0.10.2"),
        NeighborSpec::client("127.0.10.3"),
        NeighborSpec::dialed("127.0.10.4", o_port),
        NeighborSpec::client("127.0.10.5"),
    ]);
    let g1 = GoBgp::builder(&r, "g1", "127.0.10.1", "10.0.10.1").start();
    for (i, p) in V4.iter().enumerate() {
        g1.announce(p, &format!("origin igp nexthop 100.64.10.1 med {i}"));
    }
    g1.announce(V6, "origin igp nexthop 2001:db8:ffff::101");
    // The others connect once reflectd holds every route, so they are all in the initial dump.
    let loaded = eventually(ROUTE_WAIT, || {
        let routes = r.http(r.api, "/routes");
        expected()
            .iter()
            .all(|p| routes.contains(p.as_str()))
            .then_some(())
    });
    assert!(loaded.is_some(), "reflectd never held g1's routes");

    let g2 = GoBgp::builder(&r, "g2", "127.0.10.2", "10.0.10.2").start();
    let b3 = Bird::with_config(
        &r,
        "b3",
        "127.0.10.3",
        &format!(
            r#"router id 10.0.10.3;
log "{{log}}" all;
debug protocols {{ states, routes, packets }};
protocol device {{ }}
protocol static nh4 {{ ipv4; route 100.64.0.0/10 blackhole; }}
protocol static nh6 {{ ipv6; route 2001:db8:ffff::/48 blackhole; }}
protocol bgp reflector {{
  local 127.0.10.3 port {listen} as 65000;
  strict bind yes;
  neighbor 127.0.0.1 port {rr} as 65000;
  connect retry time 1;
  ipv4 {{ import all; export none; }};
  ipv6 {{ import all; export none; }};
}}
"#,
            listen = free_port(),
            rr = r.port
        ),
    )
    .start();
    let o4 = OpenBgpd::with_config(
        &r,
        "o4",
        "127.0.10.4",
        "AS 65000\nrouter-id 10.0.10.4\nfib-update no\nnexthop qualify via default\n\
         neighbor 127.0.0.1 {\n  remote-as 65000\n  passive\n  local-address 127.0.10.4\n  \
         announce IPv4 unicast\n  announce IPv6 unicast\n  descr \"reflectd\"\n}\n\
         allow from any\nallow to any\n",
    )
    .listen(o_port)
    .start();
    let f5 = Frr::with_config(
        &r,
        "f5",
        "127.0.10.5",
        &format!(
            "hostname f5\nlog file {{log}} debugging\ndebug bgp neighbor-events\ndebug bgp updates in\n!\n\
             router bgp 65000\n bgp router-id 10.0.10.5\n no bgp default ipv4-unicast\n \
             neighbor 127.0.0.1 remote-as 65000\n neighbor 127.0.0.1 port {}\n \
             neighbor 127.0.0.1 update-source 127.0.10.5\n neighbor 127.0.0.1 timers connect 1\n \
             address-family ipv4 unicast\n  neighbor 127.0.0.1 activate\n exit-address-family\n \
             address-family ipv6 unicast\n  neighbor 127.0.0.1 activate\n exit-address-family\n!\n",
            r.port
        ),
    )
    .start();

    let holds_all = |name: &str, got: &dyn Fn() -> BTreeSet<String>| {
        let ok = eventually(ROUTE_WAIT, || (got() == expected()).then_some(()));
        assert!(
            ok.is_some(),
            "{name} holds {:?}, want {:?}",
            got(),
            expected()
        );
    };
    holds_all("g2", &|| gobgp_prefixes(&g2));
    holds_all("b3", &|| bird_prefixes(&b3));
    holds_all("o4", &|| openbgpd_prefixes(&o4));
    holds_all("f5", &|| frr_prefixes(&f5));

    // End-of-RIB, per family, as each daemon recorded it.
    let gobgp_eor = eventually(ROUTE_WAIT, || {
        let v = json(&g2.cli(&["neighbor", "127.0.0.1", "-j"]));
        let eors: Vec<(u64, bool)> = v["afi_safis"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                (
                    a["state"]["family"]["afi"].as_u64().unwrap_or(0),
                    a["mp_graceful_restart"]["state"]["end_of_rib_received"] == true,
                )
            })
            .collect();
        (eors == [(1, true), (2, true)]).then_some(())
    });
    assert!(
        gobgp_eor.is_some(),
        "GoBGP did not record End-of-RIB for both families: {}",
        g2.cli(&["neighbor", "127.0.0.1", "-j"])
    );
    let obgp_eor = eventually(ROUTE_WAIT, || {
        (openbgpd_stats(&o4)["update"]["received"]["eor"] == 2).then_some(())
    });
    assert!(obgp_eor.is_some(), "OpenBGPD: {}", openbgpd_stats(&o4));
    let bird_eor = eventually(ROUTE_WAIT, || {
        (b3.log_text().matches("Got END-OF-RIB").count() == 2).then_some(())
    });
    assert!(bird_eor.is_some(), "BIRD's log:\n{}", b3.log_text());
    // Each End-of-RIB came after that family's routes. BIRD's does not name its family: one
    // family's routes all precede the first, and every route precedes the second.
    let log = b3.log_text();
    let eors: Vec<usize> = log
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("Got END-OF-RIB"))
        .map(|(i, _)| i)
        .collect();
    let added = |p: &str| line_of(&log, &format!("added [best] {p} "));
    let family_done = |routes: &[&str], by: usize| routes.iter().all(|p| added(p) < Some(by));
    assert!(
        family_done(&V4, eors[0]) || family_done(&[V6], eors[0]),
        "BIRD got End-of-RIB before any family's routes:\n{log}"
    );
    assert!(
        family_done(&V4, eors[1]) && family_done(&[V6], eors[1]),
        "BIRD got its last End-of-RIB before the routes:\n{log}"
    );
    let frr_log = || std::fs::read_to_string(r.dir.join("f5.frrlog")).unwrap_or_default();
    for (fam, routes) in [("IPv4 Unicast", &V4[..]), ("IPv6 Unicast", &[V6][..])] {
        let eor = format!("rcvd End-of-RIB for {fam}");
        let seen = eventually(ROUTE_WAIT, || line_of(&frr_log(), &eor));
        assert!(seen.is_some(), "FRR's log has no {eor}:\n{}", frr_log());
        let log = frr_log();
        for p in routes {
            let got = line_of(&log, &format!("rcvd {p} "));
            assert!(
                got.is_some() && got < seen,
                "FRR got {p} at line {got:?}, {eor} at {seen:?}:\n{log}"
            );
        }
    }

    // ROUTE-REFRESH from BIRD (both channels): every route comes again.
    assert_eq!(refreshes(&r, "127.0.10.3"), 0);
    let (v4_before, v6_before) = (bird_imports(&b3, "ipv4"), bird_imports(&b3, "ipv6"));
    assert_eq!((v4_before, v6_before), (Some(3), Some(1)));
    b3.birdc("reload in reflector");
    wait_refreshes(&r, "127.0.10.3", 2);
    let again = eventually(ROUTE_WAIT, || {
        (bird_imports(&b3, "ipv4") == Some(6) && bird_imports(&b3, "ipv6") == Some(2)).then_some(())
    });
    assert!(
        again.is_some(),
        "BIRD's import counters after the refresh: {}",
        b3.birdc("show protocols all reflector")
    );

    // From OpenBGPD: its per-prefix update counter rises by the four routes.
    assert_eq!(refreshes(&r, "127.0.10.4"), 0);
    let before = openbgpd_stats(&o4)["update"]["received"]["updates"].as_u64();
    assert_eq!(before, Some(4), "{}", openbgpd_stats(&o4));
    let out = o4.bgpctl(&["neighbor", "127.0.0.1", "refresh"]);
    assert!(out.contains("request"), "bgpctl refresh: {out}");
    wait_refreshes(&r, "127.0.10.4", 2);
    let again = eventually(ROUTE_WAIT, || {
        (openbgpd_stats(&o4)["update"]["received"]["updates"] == 8).then_some(())
    });
    assert!(
        again.is_some(),
        "OpenBGPD after the refresh: {}",
        openbgpd_stats(&o4)
    );

    // From FRR: at least one UPDATE per route (they differ in MED, so none share one).
    let before = frr_updates_received(&f5).expect("FRR neighbor stats");
    f5.vtysh(&["clear bgp 127.0.0.1 soft in"]);
    wait_refreshes(&r, "127.0.10.5", 2);
    let again = eventually(ROUTE_WAIT, || {
        frr_updates_received(&f5).filter(|n| *n >= before + 4)
    });
    assert!(
        again.is_some(),
        "FRR after the refresh: {:?}",
        frr_updates_received(&f5)
    );

    // Nobody else asked, and everyone still holds exactly the routes.
    assert_eq!(refreshes(&r, "127.0.10.2"), 0);
    holds_all("g2", &|| gobgp_prefixes(&g2));
    holds_all("b3", &|| bird_prefixes(&b3));
    holds_all("o4", &|| openbgpd_prefixes(&o4));
    holds_all("f5", &|| frr_prefixes(&f5));
    assert!(g2.established() && o4.established() && f5.established());
    assert!(b3.birdc("show protocols reflector").contains("Established"));
}
