//! Scenario 6 with a 4-octet *local* AS: reflectd in AS 4200000001 (its OPEN carries AS_TRANS
//! in My AS and the real AS in the capability) with BIRD, GoBGP, FRR, OpenBGPD and ExaBGP
//! clients in the same AS. Routes whose AS_PATH holds 4-octet ASes reach every other client
//! with the path unchanged, read from each daemon's own RIB.

mod common;
use common::daemons::*;
use common::*;

const AS: u32 = 4_200_000_001;

/// (announcer, prefix, AS_PATH it sets)
const ROUTES: [(&str, &str, [u32; 2]); 4] = [
    ("gobgp", "10.11.1.0/24", [4_200_000_100, 65010]),
    ("bird", "10.11.2.0/24", [4_200_000_200, 65020]),
    ("frr", "10.11.3.0/24", [4_200_000_300, 65030]),
    ("exabgp", "10.11.5.0/24", [4_200_000_500, 65050]),
];

#[test]
fn four_octet_local_as_reflects_four_octet_paths_unchanged_between_every_daemon() {
    if !have_every_daemon() {
        return;
    }
    let o_port = free_port();
    let r = Reflector::start_as(
        AS,
        &[
            NeighborSpec::client("127.0.11.1"),
            NeighborSpec::client("127.0.11.2"),
            NeighborSpec::client("127.0.11.3"),
            NeighborSpec::dialed("127.0.11.4", o_port),
            NeighborSpec::client("127.0.11.5"),
            NeighborSpec::client("127.0.11.6"),
        ],
    );
    let g = GoBgp::builder(&r, "g1", "127.0.11.1", "10.0.11.1")
        .asn(AS)
        .start();
    g.announce(
        ROUTES[0].1,
        "origin igp nexthop 100.64.11.1 aspath 4200000100,65010",
    );
    let b = Bird::with_config(
        &r,
        "b2",
        "127.0.11.2",
        &format!(
            r#"router id 10.0.11.2;
log "{{log}}" all;
protocol device {{ }}
protocol static nh4 {{ ipv4; route 100.64.0.0/10 blackhole; }}
protocol static s4 {{ ipv4; route 10.11.2.0/24 blackhole {{ bgp_path.prepend(65020); bgp_path.prepend(4200000200); }}; }}
protocol bgp reflector {{
  local 127.0.11.2 port {listen} as {AS};
  strict bind yes;
  neighbor 127.0.0.1 port {rr} as {AS};
  connect retry time 1;
  ipv4 {{ import all; export where proto = "s4"; next hop address 100.64.11.2; }};
}}
"#,
            listen = free_port(),
            rr = r.port
        ),
    )
    .start();
    let f = Frr::with_config(
        &r,
        "f3",
        "127.0.11.3",
        &format!(
            "hostname f3\nlog file {{log}}\n!\nrouter bgp {AS}\n bgp router-id 10.0.11.3\n \
             no bgp network import-check\n no bgp default ipv4-unicast\n \
             neighbor 127.0.0.1 remote-as {AS}\n neighbor 127.0.0.1 port {}\n \
             neighbor 127.0.0.1 update-source 127.0.11.3\n neighbor 127.0.0.1 timers connect 1\n \
             neighbor 127.0.0.1 advertisement-interval 0\n \
             address-family ipv4 unicast\n  network 10.11.3.0/24 route-map SET\n  \
             neighbor 127.0.0.1 activate\n exit-address-family\n!\n\
             route-map SET permit 10\n set ip next-hop 100.64.11.3\n \
             set as-path prepend 4200000300 65030\n!\n",
            r.port
        ),
    )
    .start();
    let o = OpenBgpd::with_config(
        &r,
        "o4",
        "127.0.11.4",
        &format!(
            "AS {AS}\nrouter-id 10.0.11.4\nfib-update no\nnexthop qualify via default\n\
             neighbor 127.0.0.1 {{\n  remote-as {AS}\n  passive\n  local-address 127.0.11.4\n  \
             announce IPv4 unicast\n  descr \"reflectd\"\n}}\nallow from any\nallow to any\n"
        ),
    )
    .listen(o_port)
    .start();
    let e = ExaBgp::builder(&r, "e5", "127.0.11.5", "10.0.11.5")
        .asn(AS)
        .start();
    e.wait_established();
    e.send("announce route 10.11.5.0/24 next-hop 100.64.11.5 as-path [ 4200000500 65050 ]");

    let peers: [(&str, &dyn Peer); 5] = [
        ("gobgp", &g),
        ("bird", &b),
        ("frr", &f),
        ("openbgpd", &o),
        ("exabgp", &e),
    ];
    let ids = ["10.0.11.1", "10.0.11.2", "10.0.11.3", "", "10.0.11.5"];
    for (announcer, prefix, path) in ROUTES {
        let id = ids[peers.iter().position(|(n, _)| *n == announcer).unwrap()];
        for (name, p) in peers {
            if name == announcer {
                continue;
            }
            let got = wait_route(p, prefix, |s| s.originator_id.is_some());
            assert_eq!(got.as_path, path.to_vec(), "{} holds {prefix}", p.name());
            assert_eq!(got.originator_id.as_deref(), Some(id), "{}", p.name());
            assert_eq!(
                got.cluster_list,
                vec![CLUSTER_ID.to_string()],
                "{}",
                p.name()
            );
        }
    }
    // Every daemon took reflectd for AS 4200000001 (it sent AS_TRANS in My AS).
    let bird_view = b.birdc("show protocols all reflector");
    assert!(
        bird_view.contains("Neighbor AS:      4200000001"),
        "{bird_view}"
    );
    let obgp = o.bgpctl(&["show", "neighbor"]);
    assert!(obgp.contains("remote AS 4200000001"), "{obgp}");
    assert!(g.established() && f.established() && o.established() && e.established());

    // A 2-octet-only speaker cannot belong to AS 4200000001 (RFC 6793 §4.2: it only ever
    // sees and sends AS_TRANS), so this iBGP session must fail on both sides without
    // disturbing the others: ExaBGP reads AS_TRANS in reflectd's OPEN, and reflectd answers
    // its OPEN (My AS 23456, no capability) with Bad Peer AS.
    let old = ExaBgp::builder(&r, "e6", "127.0.11.6", "10.0.11.6")
        .asn(AS)
        .asn4(false)
        .start();
    let refused = eventually(ROUTE_WAIT, || {
        old.events_of("state")
            .iter()
            .any(|ev| {
                ev["neighbor"]["reason"]
                    .to_string()
                    .contains("ASN in OPEN (23456)")
            })
            .then_some(())
    });
    assert!(refused.is_some(), "{:?}", old.events());
    let bad_peer_as = "reflectd_neighbor_notifications_sent_total{neighbor=\"127.0.11.6\",code=\"2\",subcode=\"2\"}";
    let sent = eventually(ROUTE_WAIT, || r.metric(bad_peer_as).filter(|n| *n >= 1.0));
    assert!(sent.is_some(), "reflectd sent no Bad Peer AS");
    assert!(!old.established() && old.rib().is_empty());
    assert!(g.established() && f.established() && o.established() && e.established());
    assert_eq!(e.notifications(), vec![]);
}
