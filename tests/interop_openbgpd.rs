//! reflectd with real OpenBGPD peers (Debian `openbgpd`): every check reads a peer's own RIB
//! (`bgpctl -j show rib detail`, `gobgp ... -j`). OpenBGPD cannot dial another port than 179,
//! so reflectd dials each OpenBGPD on its own 127.0.5.x address and a free port.

mod common;
use common::daemons::*;
use common::*;

fn sent(nh: &str, lp: u32, tag: u32) -> Seen {
    Seen::tagged(nh, lp, tag, tag)
}

fn set(s: &Seen, tag: u32) -> String {
    format!(
        "set {{ nexthop {} localpref {} med {} community 65000:{tag} ext-community rt 65000:{tag} large-community 65000:{tag}:1 }}",
        s.next_hop,
        s.local_pref.unwrap_or(100),
        s.med.unwrap_or(0)
    )
}

fn dialed(address: &'static str, port: u16, rr_client: bool) -> NeighborSpec {
    NeighborSpec {
        rr_client,
        ..NeighborSpec::dialed(address, port)
    }
}

/// Scenarios 1, 2 and 4 with OpenBGPD clients and non-client, and a GoBGP non-client.
#[test]
fn openbgpd_peers_see_reflected_routes_unchanged_and_withdrawn() {
    if !OpenBgpd::installed() || !GoBgp::installed() {
        return;
    }
    let ports = [free_port(), free_port(), free_port()];
    let r = Reflector::start(&[
        dialed("127.0.5.1", ports[0], true),
        dialed("127.0.5.2", ports[1], true),
        dialed("127.0.5.3", ports[2], false),
        NeighborSpec::non_client("127.0.5.4"),
    ]);
    let o1v4 = sent("100.64.5.1", 200, 51);
    let o1v6 = sent("2001:db8:ffff::51", 200, 51);
    let o1 = OpenBgpd::builder(&r, "o1", "127.0.5.1", "10.0.5.1")
        .listen(ports[0])
        .body(&format!(
            "network 10.5.1.0/24 {}\nnetwork 2001:db8:5:1::/64 {}",
            set(&o1v4, 51),
            set(&o1v6, 51)
        ))
        .start();
    let o2v4 = sent("100.64.5.2", 100, 52);
    let mut o2 = OpenBgpd::builder(&r, "o2", "127.0.5.2", "10.0.5.2")
        .listen(ports[1])
        .body(&format!("network 10.5.2.0/24 {}", set(&o2v4, 52)))
        .start();
    let o3v4 = sent("100.64.5.3", 100, 53);
    let o3 = OpenBgpd::builder(&r, "o3", "127.0.5.3", "10.0.5.3")
        .listen(ports[2])
        .body(&format!("network 10.5.3.0/24 {}", set(&o3v4, 53)))
        .start();
    let g4 = GoBgp::builder(&r, "g4", "127.0.5.4", "10.0.5.4").start();

    // 1: client routes reach every other peer, attributes unchanged.
    assert_reflected_to(
        &[&o2, &o3, &g4],
        &[("10.5.1.0/24", &o1v4), ("2001:db8:5:1::/64", &o1v6)],
        "10.0.5.1",
    );
    assert_reflected_to(&[&o1, &o3, &g4], &[("10.5.2.0/24", &o2v4)], "10.0.5.2");
    // 2: a non-client's route reaches the clients, not the other non-client.
    assert_reflected_to(&[&o1, &o2], &[("10.5.3.0/24", &o3v4)], "10.0.5.3");
    o1.announce("10.5.9.0/24", "nexthop 100.64.5.1");
    wait_route(&g4, "10.5.9.0/24", |_| true);
    assert_eq!(g4.route("10.5.3.0/24"), None, "non-client to non-client");

    // 4: withdrawal, then the announcer's session dropping, remove routes everywhere.
    o1.withdraw("10.5.9.0/24");
    wait_gone_from(&[&o2, &o3, &g4], &["10.5.9.0/24"]);
    o2.proc.stop();
    wait_gone_from(&[&o1, &o3, &g4], &["10.5.2.0/24"]);
    assert!(o1.established() && o3.established() && g4.established());
}
