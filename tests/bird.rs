//! reflectd with a real BIRD 2 peer (Debian `bird2`): BIRD is a route-reflector client; its
//! routes must reach our speaker reflected, and our speaker's routes must land in BIRD's own
//! RIB with ORIGINATOR_ID and CLUSTER_LIST, read back with `birdc`.

mod common;
use common::daemons::{Bird, Driver, WholeConfig};
use common::*;
use reflectd::wire::*;
use std::net::Ipv4Addr;
use std::time::Duration;

fn start_bird(r: &Reflector) -> Bird {
    Bird::with_config(
        r,
        "bird",
        "127.0.0.41",
        &format!(
            r#"router id 10.0.0.41;
log "{{log}}" all;
protocol device {{ }}
protocol static s4 {{
  ipv4;
  route 10.77.0.0/24 blackhole;
  route 10.77.1.0/24 blackhole;
  route 100.64.0.0/10 blackhole;
}}
protocol static s6 {{
  ipv6;
  route 2001:db8:77::/48 blackhole;
  route 2001:db8:ffff::/48 blackhole;
}}
protocol bgp reflector {{
  local 127.0.0.41 port {listen} as {asn};
  strict bind yes;
  neighbor 127.0.0.1 port {rr_port} as {asn};
  connect retry time 1;
  ipv4 {{ import all; export where net ~ [10.77.0.0/16+]; next hop address 100.64.0.41; }};
  ipv6 {{ import all; export where net ~ [2001:db8:77::/48]; next hop address 2001:db8:ffff::41; }};
}}
"#,
            asn = ASN,
            rr_port = r.port,
            // BIRD always listens: on its own address and a free port, never *:179.
            listen = free_port(),
        ),
    )
    .start()
}

#[test]
fn bird_client_exchanges_reflected_routes_in_both_directions() {
    if !Bird::installed() {
        return;
    }
    let r = Reflector::start(&[
        NeighborSpec::client("127.0.0.41"),
        NeighborSpec::client("127.0.0.42"),
    ]);
    let bird = start_bird(&r);
    let mut sp = r.speaker("127.0.0.42", [10, 0, 0, 42]);

    // BIRD -> reflectd -> speaker.
    let ok = sp
        .wait_until(Duration::from_secs(30), |s| {
            s.route("10.77.1.0/24").is_some() && s.route("2001:db8:77::/48").is_some()
        })
        .unwrap();
    assert!(
        ok,
        "BIRD's routes did not arrive: {:?}\nbird: {}\nlog:\n{}",
        sp.routes.keys(),
        bird.birdc("show protocols all reflector"),
        r.log()
    );
    let got = sp.route("10.77.0.0/24").unwrap();
    assert_eq!(got.originator_id, Some(Ipv4Addr::new(10, 0, 0, 41)));
    assert_eq!(got.cluster_list, vec![CLUSTER_ID]);
    assert_eq!(got.next_hop, NextHop::V4(Ipv4Addr::new(100, 64, 0, 41)));
    assert!(
        sp.route("100.64.0.0/10").is_none(),
        "BIRD's export filter holds"
    );

    // speaker -> reflectd -> BIRD, read from BIRD's own RIB.
    let mut a = attrs([100, 64, 0, 42]);
    a.communities = vec![(65000 << 16) | 42];
    a.large_communities = vec![[65000, 42, 1]];
    a.med = Some(42);
    sp.announce(&[p4("10.88.0.0/24")], &a).unwrap();
    let shown = bird.wait_for("show route 10.88.0.0/24 all", |o| {
        o.contains("BGP.cluster_list")
    });
    assert!(shown.contains("BGP.originator_id: 10.0.0.42"), "{shown}");
    assert!(
        shown.contains(&format!("BGP.cluster_list: {CLUSTER_ID}")),
        "{shown}"
    );
    assert!(shown.contains("BGP.next_hop: 100.64.0.42"), "{shown}");
    assert!(shown.contains("BGP.med: 42"), "{shown}");
    assert!(shown.contains("(65000,42)"), "{shown}");
    assert!(shown.contains("(65000, 42, 1)"), "{shown}");

    // Withdraw reaches BIRD; BIRD going away withdraws its routes from the speaker.
    sp.withdraw(&[p4("10.88.0.0/24")]).unwrap();
    let gone = bird.wait_for("show route 10.88.0.0/24", |o| !o.contains("10.88.0.0/24"));
    assert!(!gone.contains("10.88.0.0/24"), "{gone}");
    drop(bird);
    assert!(sp
        .wait_until(Duration::from_secs(30), |s| s
            .route("10.77.0.0/24")
            .is_none())
        .unwrap());
}
