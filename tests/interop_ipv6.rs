//! BGP over IPv6 transport with every daemon: reflectd listens on [fd00::1] inside a network
//! namespace the test creates (the host's one IPv6 loopback address, ::1, cannot tell five
//! peers apart), and BIRD 2, GoBGP, FRR, OpenBGPD and ExaBGP are its clients on fd00::2..6,
//! each a process in that namespace. Each announces an IPv6 prefix and an IPv4 prefix (IPv4
//! NLRI over the IPv6 session, with an IPv4 NEXT_HOP); every other one must hold both, read
//! from its own RIB, with ORIGINATOR_ID = the announcer, CLUSTER_LIST = [ours] and the next hop
//! and other attributes unchanged; then each withdraws its IPv6 prefix and every other one
//! must lose it, and GoBGP's session dropping takes its IPv4 prefix away too.

mod common;
use common::daemons::*;
use common::netns::{comm, Netns};
use common::*;

const RR: &str = "fd00::1";
/// Client `n` (1..=5) speaks from `ADDRS[n - 1]`.
const ADDRS: [&str; 5] = ["fd00::2", "fd00::3", "fd00::4", "fd00::5", "fd00::6"];

/// What client `n` announces.
fn sent(n: u32, v6: bool) -> Seen {
    let t = 60 + n;
    Seen {
        next_hop: if v6 {
            format!("2001:db8:ffff::{t}")
        } else {
            format!("100.64.6.{n}")
        },
        local_pref: Some(100 + n),
        med: Some(t),
        communities: vec![format!("65000:{t}")],
        ..Seen::default()
    }
}

fn prefix(n: u32, v6: bool) -> String {
    if v6 {
        format!("2001:db8:6:{n}::/64")
    } else {
        format!("10.6.{n}.0/24")
    }
}

fn router_id(n: u32) -> String {
    format!("10.0.6.{n}")
}

#[test]
fn clients_of_every_kind_exchange_routes_over_ipv6_transport() {
    let all = have_every_daemon() & have("ip", "iproute2");
    if !all {
        return;
    }
    // Dropped last: every process below runs inside it and is stopped by PID first.
    let ns = match Netns::create(&[RR, ADDRS[0], ADDRS[1], ADDRS[2], ADDRS[3], ADDRS[4]]) {
        Ok(ns) => ns,
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI must be able to create network namespaces (run as root): {e}"
            );
            eprintln!("SKIPPED: IPv6 transport needs a network namespace (root): {e}");
            return;
        }
    };
    let net = ns.net(RR);
    let o_port = free_port();
    let r = ns.reflector(
        RR,
        &[
            NeighborSpec::client(ADDRS[0]),
            NeighborSpec::client(ADDRS[1]),
            NeighborSpec::client(ADDRS[2]),
            NeighborSpec {
                // Else the kernel picks fd00::5 itself as the source (RFC 6724 rule 1: prefer
                // the destination address) and OpenBGPD refuses an unknown neighbor.
                extra: "    local_address: fd00::1\n",
                ..NeighborSpec::dialed(ADDRS[3], o_port)
            },
            NeighborSpec::client(ADDRS[4]),
        ],
    );

    // 1: BIRD.
    let bird_static = |v6: bool| {
        let s = sent(1, v6);
        format!(
            "route {} blackhole {{ bgp_local_pref = {}; bgp_med = {}; bgp_community.add((65000,61)); }};",
            prefix(1, v6),
            s.local_pref.unwrap(),
            s.med.unwrap()
        )
    };
    let b = Bird::builder(&r, "b1", ADDRS[0], &router_id(1))
        .net(&net)
        .statics(&bird_static(false), &bird_static(true))
        .next_hops(&sent(1, false).next_hop, &sent(1, true).next_hop)
        .start();
    // 2: GoBGP.
    let mut g = GoBgp::builder(&r, "g2", ADDRS[1], &router_id(2))
        .net(&net)
        .start();
    for v6 in [false, true] {
        g.announce_seen(&prefix(2, v6), &sent(2, v6));
    }
    // 3: FRR.
    let frr_set = "set local-preference 103\n set metric 63\n set community 65000:63\n";
    let f = Frr::builder(&r, "f3", ADDRS[2], &router_id(3))
        .net(&net)
        .body(&format!(
            " address-family ipv4 unicast\n  network {} route-map S4\n  neighbor {RR} activate\n exit-address-family\n \
             address-family ipv6 unicast\n  network {} route-map S6\n  neighbor {RR} activate\n exit-address-family\n",
            prefix(3, false),
            prefix(3, true)
        ))
        .tail(&format!(
            "route-map S4 permit 10\n set ip next-hop {}\n {frr_set}!\n\
             route-map S6 permit 10\n set ipv6 next-hop global {}\n {frr_set}!\n",
            sent(3, false).next_hop,
            sent(3, true).next_hop
        ))
        .start();
    // 4: OpenBGPD (reflectd dials it); its routes go in through bgpctl so they can be withdrawn.
    let o = OpenBgpd::builder(&r, "o4", ADDRS[3], &router_id(4))
        .net(&net)
        .listen(o_port)
        .start();
    for v6 in [false, true] {
        o.announce(
            &prefix(4, v6),
            &format!(
                "nexthop {} localpref 104 med 64 community 65000:64",
                sent(4, v6).next_hop
            ),
        );
    }
    // 5: ExaBGP.
    let e = ExaBgp::builder(&r, "e5", ADDRS[4], &router_id(5))
        .net(&net)
        .start();
    for v6 in [false, true] {
        e.send(&format!(
            "announce route {} next-hop {} local-preference 105 med 65 community [65000:65]",
            prefix(5, v6),
            sent(5, v6).next_hop
        ));
    }

    let peers: [&dyn Peer; 5] = [&b, &g, &f, &o, &e];
    assert_all_reflected(&peers, [true, false], |n, v6| {
        (prefix(n, v6), sent(n, v6), router_id(n))
    });

    // `ip netns exec` execs (by now, long since): the PIDs the harness stops are the
    // daemons' own.
    let pids = [
        (r.child.id(), "reflectd"),
        (b.proc.pid(), "bird"),
        (g.proc.pid(), "gobgpd"),
        (f.proc.pid(), "bgpd"),
        (o.proc.pid(), "bgpd"),
        (e.proc.pid(), "exabgp"),
    ];
    for (pid, name) in pids {
        assert_eq!(comm(pid), name, "process {pid}");
    }

    // reflectd reports every IPv6 peer Established, in JSON and in the table.
    let json = ns.neighbors_json(&r).expect("reflectd neighbors --json");
    let list = json.as_array().expect("a list of neighbors");
    for a in ADDRS {
        let n = list
            .iter()
            .find(|n| n["address"].as_str() == Some(a))
            .unwrap_or_else(|| panic!("reflectd neighbors lists no {a}: {json}"));
        assert_eq!(n["state"].as_str(), Some("Established"), "{a}: {n}");
        let families = n["families"].to_string();
        assert!(
            families.contains("ipv4-unicast") && families.contains("ipv6-unicast"),
            "{a} negotiated both families over IPv6: {n}"
        );
    }
    let table = ns.neighbors(&r, false);
    for a in ADDRS {
        assert!(
            table
                .lines()
                .any(|l| l.starts_with(&format!("{a} ")) && l.contains("Established")),
            "reflectd neighbors shows {a} Established:\n{table}"
        );
    }

    // 4: each withdraws its IPv6 prefix; every other one loses it and keeps the IPv4 one.
    b.birdc("disable s6");
    g.withdraw(&prefix(2, true));
    f.configure(
        "ipv6",
        &[&format!("no network {} route-map S6", prefix(3, true))],
    );
    o.withdraw(&prefix(4, true));
    e.send(&format!(
        "withdraw route {} next-hop {}",
        prefix(5, true),
        sent(5, true).next_hop
    ));
    for (i, _) in peers.iter().enumerate() {
        let n = i as u32 + 1;
        for (j, receiver) in peers.iter().enumerate() {
            if i != j {
                wait_gone(*receiver, &prefix(n, true));
                assert!(
                    receiver.route(&prefix(n, false)).is_some(),
                    "{} lost {} with the IPv6 withdrawal",
                    receiver.name(),
                    prefix(n, false)
                );
            }
        }
    }

    // ...and the announcer's session dropping removes the rest of its routes.
    g.proc.stop();
    wait_gone_from(&[&b, &f, &o, &e], &[&prefix(2, false)]);
}
