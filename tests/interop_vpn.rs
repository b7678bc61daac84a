//! VPNv4 and VPNv6 (RFC 4364, RFC 4659: SAFI 128) through reflectd with real daemons, every
//! check read from a client's own VPN table. Two GoBGP clients originate, a third GoBGP, a
//! BIRD 2 and an FRR receive. For each family: a route keeps its route distinguisher,
//! prefix, label, route target, next hop and every other attribute; the same prefix under a
//! second RD is a second route, held beside the first; of two paths for one RD + prefix the
//! clients get only the best (the shorter AS_PATH, from the originator with the higher
//! router id: a decision that skipped AS_PATH would pick the other), and the other when the
//! best is withdrawn; withdrawals reach every client. reflectd's own view
//! (`reflectd routes RD:PREFIX --family F --json`) shows the paths it holds, each with its
//! label and next hop.
//!
//! The two paths for one RD + prefix differ in AS_PATH, not LOCAL_PREF: GoBGP announces
//! only its best path, and a reflected path with a higher LOCAL_PREF would displace its own
//! (it prefers its own path only after LOCAL_PREF), so reflectd would never hold both.

mod common;
use common::daemons::*;
use common::vpn::*;
use common::*;

const RD1: &str = "65000:1";
const RD2: &str = "65000:2";

/// GoBGP's names for the families, as a client offers them.
const GOBGP_VPN: [&str; 2] = ["l3vpn-ipv4-unicast", "l3vpn-ipv6-unicast"];

/// The router ids of the two originators: g1's is the lower, and wins a tie.
const G1_ID: &str = "10.0.16.1";
const G2_ID: &str = "10.0.16.2";

/// The clients: `g1` and `g2` originate (and receive each other's routes), `g3`, `b` and
/// `f` only receive.
struct Clients {
    g1: GoBgp,
    g2: GoBgp,
    g3: GoBgp,
    b: Bird,
    f: Frr,
}

impl Clients {
    /// Starts the five clients of `r` on 127.0.16.1-5 (router ids 10.0.16.1-5).
    fn start(r: &Reflector) -> Clients {
        let gobgp = |name: &str, n: u8| {
            GoBgp::builder(r, name, &format!("127.0.16.{n}"), &format!("10.0.16.{n}"))
                .families(&GOBGP_VPN)
                .start()
        };
        let (g1, g2, g3) = (gobgp("g1", 1), gobgp("g2", 2), gobgp("g3", 3));
        let b = Bird::builder(r, "b4", "127.0.16.4", "10.0.16.4")
            .vpn()
            .next_hops("100.64.16.4", "2001:db8:ffff::164")
            .start();
        let f = frr_vpn_client(r, 5);
        Clients { g1, g2, g3, b, f }
    }

    /// The clients that only receive.
    fn receivers(&self) -> [&dyn VpnPeer; 3] {
        [&self.g3, &self.b, &self.f]
    }
}

/// One family's test routes: the prefix every route is for, the originators' next hops and
/// what is added to each label (the families' labels differ, so a label crossing over
/// would show).
struct Family {
    /// reflectd's name for it.
    name: &'static str,
    prefix: &'static str,
    nh1: &'static str,
    nh2: &'static str,
    label_base: u32,
}

const VPNV4: Family = Family {
    name: "ipv4-vpn",
    prefix: "10.16.1.0/24",
    nh1: "100.64.16.1",
    nh2: "100.64.16.2",
    label_base: 0,
};

const VPNV6: Family = Family {
    name: "ipv6-vpn",
    prefix: "2001:db8:16:1::/64",
    nh1: "2001:db8:ffff::161",
    nh2: "2001:db8:ffff::162",
    label_base: 1000,
};

/// A route as an originator announces it: AS_PATH `as_path` (the tie-break between the two
/// originators of one RD + prefix), route target `rt`, and a LOCAL_PREF, a MED and a
/// standard and a large community that must come through too.
fn route(next_hop: &str, as_path: &[u32], rt: &str) -> Seen {
    Seen {
        next_hop: next_hop.to_string(),
        local_pref: Some(100),
        med: Some(16),
        as_path: as_path.to_vec(),
        communities: vec!["65000:16".into()],
        ext_communities: vec![rt.to_string()],
        large_communities: vec!["65000:16:1".into()],
        ..Seen::default()
    }
}

/// A path as reflectd shows it (`reflectd routes RD:PREFIX --family F --json`).
#[derive(Debug, PartialEq)]
struct Held {
    from: String,
    best: bool,
    label: Option<u32>,
    next_hop: String,
    /// `rt 65000:1`
    ext_communities: Vec<String>,
}

impl Held {
    /// The path from client `from` with `label`, `next_hop` and route target `rt`.
    fn new(from: &str, best: bool, label: u32, next_hop: &str, rt: &str) -> Held {
        Held {
            from: from.to_string(),
            best,
            label: Some(label),
            next_hop: next_hop.to_string(),
            ext_communities: vec![format!("rt {rt}")],
        }
    }
}

/// reflectd's paths for `prefix` under `rd` in `family`, in neighbor order.
fn reflectd_paths(r: &Reflector, family: &str, rd: &str, prefix: &str) -> Vec<Held> {
    let key = format!("{rd}:{prefix}");
    let v = json(&r.cli(&["routes", &key, "--family", family, "--json"]));
    let mut paths: Vec<Held> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter(|route| {
            route["family"] == family && route["rd"] == rd && route["ip_prefix"] == prefix
        })
        .flat_map(|route| route["paths"].as_array().into_iter().flatten())
        .map(|p| Held {
            from: p["from"].as_str().unwrap_or("").to_string(),
            best: p["best"] == true,
            label: p["label"].as_u64().and_then(|l| u32::try_from(l).ok()),
            next_hop: p["next_hop"].as_str().unwrap_or("").to_string(),
            ext_communities: p["ext_communities"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect(),
        })
        .collect();
    paths.sort_by(|a, b| a.from.cmp(&b.from));
    paths
}

/// Waits (bounded) until reflectd's paths for `prefix` under `rd` in `family` are `want`.
fn assert_reflectd_holds(r: &Reflector, family: &str, rd: &str, prefix: &str, want: &[Held]) {
    let held = eventually(ROUTE_WAIT, || {
        let h = reflectd_paths(r, family, rd, prefix);
        (h == want).then_some(())
    });
    assert!(
        held.is_some(),
        "reflectd's {rd} {prefix}: {:#?}, want {want:#?}",
        reflectd_paths(r, family, rd, prefix)
    );
}

/// The whole scenario for one family.
fn vpn_routes_are_reflected_per_rd_and_prefix(r: &Reflector, c: &Clients, fam: &Family) {
    let p = fam.prefix;
    let label = |l: u32| l + fam.label_base;
    let (l1, l2, l3) = (label(100), label(200), label(201));
    let (g1, g2) = (&c.g1 as &dyn VpnPeer, &c.g2 as &dyn VpnPeer);
    let [g3, b, f] = c.receivers();

    // A route keeps its RD, prefix, label, route target, next hop and attributes.
    let a1 = route(fam.nh1, &[65016], "65000:1");
    let a1_held = |best| Held::new("127.0.16.1", best, l1, fam.nh1, "65000:1");
    c.g1.announce_vpn(RD1, p, l1, &a1);
    assert_vpn_reflected(&[g2, g3, b, f], RD1, p, &[l1], &a1, G1_ID);
    assert_reflectd_holds(r, fam.name, RD1, p, &[a1_held(true)]);

    // The same prefix under another RD is another route: held beside the first.
    let b2 = route(fam.nh2, &[], "65000:2");
    c.g2.announce_vpn(RD2, p, l2, &b2);
    assert_vpn_reflected(&[g1, g3, b, f], RD2, p, &[l2], &b2, G2_ID);
    assert_vpn_reflected(&[g3, b, f], RD1, p, &[l1], &a1, G1_ID);

    // A second path for RD1 + prefix, from g2, with the shorter AS_PATH: every client gets
    // it in place of g1's (which the originators' router ids would pick) and holds it alone.
    // g1 gets it too but keeps its own as its best (GoBGP prefers its own path before it
    // compares AS_PATHs), so it goes on announcing it: reflectd holds both.
    let b1 = route(fam.nh2, &[], "65000:1");
    c.g2.announce_vpn(RD1, p, l3, &b1);
    assert_vpn_reflected(&[g3, b, f], RD1, p, &[l3], &b1, G2_ID);
    let not_best = VpnPath {
        best: false,
        ..reflected(&[l3], &b1, G2_ID)
    };
    wait_vpn_route(g1, RD1, p, |path| *path == not_best);
    let b1_held = Held::new("127.0.16.2", true, l3, fam.nh2, "65000:1");
    assert_reflectd_holds(r, fam.name, RD1, p, &[a1_held(false), b1_held]);
    // g2, whose own path is now reflectd's best, no longer gets g1's.
    wait_vpn_gone(g2, RD1, p);

    // The best withdrawn, every client gets the other back; g1 loses g2's.
    c.g2.withdraw_vpn(RD1, p, l3);
    assert_vpn_reflected(&[g2, g3, b, f], RD1, p, &[l1], &a1, G1_ID);
    wait_vpn_gone(g1, RD1, p);
    assert_reflectd_holds(r, fam.name, RD1, p, &[a1_held(true)]);
    // ...and RD2's route stood through it all.
    assert_vpn_reflected(&[g1, g3, b, f], RD2, p, &[l2], &b2, G2_ID);
    let b2_held = Held::new("127.0.16.2", true, l2, fam.nh2, "65000:2");
    assert_reflectd_holds(r, fam.name, RD2, p, &[b2_held]);

    // Withdrawals reach every client, and leave reflectd with nothing.
    c.g1.withdraw_vpn(RD1, p, l1);
    c.g2.withdraw_vpn(RD2, p, l2);
    for peer in [g1, g2, g3, b, f] {
        for rd in [RD1, RD2] {
            wait_vpn_gone(peer, rd, p);
        }
    }
    for rd in [RD1, RD2] {
        assert_reflectd_holds(r, fam.name, rd, p, &[]);
    }
}

/// GoBGP, BIRD and FRR are all here (each missing one is reported; under CI it fails).
fn have_vpn_daemons() -> bool {
    GoBgp::installed() & Bird::installed() & Frr::installed()
}

/// A client of reflectd on 127.0.16.`n` carrying both VPN families.
fn vpn_client(n: u8) -> NeighborSpec {
    NeighborSpec {
        families: "[ipv4-vpn, ipv6-vpn]",
        ..NeighborSpec::client(leak(format!("127.0.16.{n}")))
    }
}

#[test]
fn vpnv4_and_vpnv6_routes_are_reflected_unchanged_with_best_path_per_rd_and_prefix() {
    if !have_vpn_daemons() {
        return;
    }
    let r = Reflector::start(&[
        vpn_client(1),
        vpn_client(2),
        vpn_client(3),
        vpn_client(4),
        vpn_client(5),
    ]);
    let c = Clients::start(&r);

    // Every session is up with both VPN families negotiated.
    let neighbors = eventually(ROUTE_WAIT, || {
        let v = json(&r.cli(&["neighbors", "--json"]));
        let up = v.as_array().is_some_and(|list| {
            list.len() == 5
                && list.iter().all(|n| {
                    let families = n["families"].to_string();
                    n["state"].as_str() == Some("Established")
                        && families.contains("ipv4-vpn")
                        && families.contains("ipv6-vpn")
                })
        });
        up.then_some(v)
    });
    assert!(
        neighbors.is_some(),
        "not every client came up with ipv4-vpn and ipv6-vpn: {}",
        r.cli(&["neighbors", "--json"])
    );

    vpn_routes_are_reflected_per_rd_and_prefix(&r, &c, &VPNV4);
    vpn_routes_are_reflected_per_rd_and_prefix(&r, &c, &VPNV6);
}

/// FRR as the originator: its VPN routes (`network PREFIX rd RD label L` in its VPN
/// address families, next hop itself) reach a GoBGP and a BIRD client with their RD, label,
/// route target and next hop, and go away when FRR withdraws them.
#[test]
fn frr_originated_vpn_routes_reach_gobgp_and_bird_with_their_label_and_next_hop() {
    if !have_vpn_daemons() {
        return;
    }
    let r = Reflector::start(&[vpn_client(13), vpn_client(14), vpn_client(15)]);
    let g = GoBgp::builder(&r, "g13", "127.0.16.13", "10.0.16.13")
        .families(&GOBGP_VPN)
        .start();
    let b = Bird::builder(&r, "b14", "127.0.16.14", "10.0.16.14")
        .vpn()
        .next_hops("100.64.16.14", "2001:db8:ffff::1614")
        .start();
    let f = Frr::builder(&r, "f15", "127.0.16.15", "10.0.16.15")
        .body(
            " address-family ipv4 vpn\n  neighbor 127.0.0.1 activate\n exit-address-family\n \
             address-family ipv6 vpn\n  neighbor 127.0.0.1 activate\n exit-address-family\n",
        )
        .tail(
            "route-map RT5 permit 10\n set extcommunity rt 65000:5\n set local-preference 150\n!\n",
        )
        .start();

    // A VPN `network` with a route-map in bgpd's config file never entered its table here
    // (one without does): entered over vtysh once bgpd runs, it does. The `no` form takes
    // no route-map.
    let (rd, p4, p6) = ("65000:5", "10.16.5.0/24", "2001:db8:16:5::/64");
    let net4 = format!("network {p4} rd {rd} label 500");
    let net6 = format!("network {p6} rd {rd} label 1500");
    for (family, net) in [("ipv4 vpn", &net4), ("ipv6 vpn", &net6)] {
        let said = f.configure_family(family, &[&format!("{net} route-map RT5")]);
        assert!(said.trim().is_empty(), "FRR {family} {net}: {said}");
    }

    // FRR's next hop is its own address: over an IPv4 session, an IPv4-mapped IPv6 address
    // for VPNv6 (RFC 4659 §3.2.1.1), which GoBGP shows as the IPv4 address.
    let sent = Seen {
        next_hop: "127.0.16.15".into(),
        local_pref: Some(150),
        med: Some(0),
        ext_communities: vec!["65000:5".into()],
        ..Seen::default()
    };
    assert_vpn_reflected(&[&g, &b], rd, p4, &[500], &sent, "10.0.16.15");
    assert_vpn_reflected(&[&g], rd, p6, &[1500], &sent, "10.0.16.15");
    let held = |label, nh: &str| [Held::new("127.0.16.15", true, label, nh, "65000:5")];
    assert_reflectd_holds(&r, "ipv4-vpn", rd, p4, &held(500, "127.0.16.15"));
    assert_reflectd_holds(&r, "ipv6-vpn", rd, p6, &held(1500, "::ffff:127.0.16.15"));
    // BIRD 2.0.12 takes an IPv4-mapped next hop on an IPv6 channel for a mismatched
    // family and treats the route as withdrawn unless extended next hop (RFC 8950) is
    // negotiated (proto/bgp/packets.c, bgp_decode_next_hop_ip), so it holds no VPNv6 route
    // from FRR; not a check of reflectd.

    for (family, net) in [("ipv4 vpn", &net4), ("ipv6 vpn", &net6)] {
        let said = f.configure_family(family, &[&format!("no {net}")]);
        assert!(said.trim().is_empty(), "FRR {family} no {net}: {said}");
    }
    for (peer, prefix) in [(&g as &dyn VpnPeer, p4), (&b, p4), (&g, p6)] {
        wait_vpn_gone(peer, rd, prefix);
    }
    assert_reflectd_holds(&r, "ipv4-vpn", rd, p4, &[]);
    assert_reflectd_holds(&r, "ipv6-vpn", rd, p6, &[]);
}

/// An FRR client `f{n}` on 127.0.16.`n` (router id 10.0.16.`n`) with both VPN families.
fn frr_vpn_client(r: &Reflector, n: u8) -> Frr {
    Frr::builder(
        r,
        &format!("f{n}"),
        &format!("127.0.16.{n}"),
        &format!("10.0.16.{n}"),
    )
    .body(
        " address-family ipv4 vpn\n  neighbor 127.0.0.1 activate\n exit-address-family\n \
         address-family ipv6 vpn\n  neighbor 127.0.0.1 activate\n exit-address-family\n",
    )
    .start()
}

/// ExaBGP as the originator (`announce route PREFIX rd RD label L next-hop NH
/// extended-community [target:ASN:N]` in its `ipv4 mpls-vpn` / `ipv6 mpls-vpn` families):
/// GoBGP, BIRD and FRR clients hold each VPN route with the RD, label, next hop, route
/// target and attributes it was sent with; the same prefix under a second RD is a second
/// route; a withdrawal takes only the route of its RD.
#[test]
fn exabgp_originated_vpn_routes_reach_gobgp_bird_and_frr_as_sent() {
    if !have_vpn_daemons() || !ExaBgp::installed() {
        return;
    }
    let r = Reflector::start(&[
        vpn_client(21),
        vpn_client(22),
        vpn_client(23),
        vpn_client(24),
    ]);
    let e = ExaBgp::builder(&r, "e21", "127.0.16.21", "10.0.16.21")
        .families(&["ipv4 mpls-vpn", "ipv6 mpls-vpn"])
        .start();
    let g = GoBgp::builder(&r, "g22", "127.0.16.22", "10.0.16.22")
        .families(&GOBGP_VPN)
        .start();
    let b = Bird::builder(&r, "b23", "127.0.16.23", "10.0.16.23")
        .vpn()
        .next_hops("100.64.16.23", "2001:db8:ffff::1623")
        .start();
    let f = frr_vpn_client(&r, 24);
    e.wait_established();

    let (rd1, rd2) = ("65000:21", "65000:22");
    let (p4, p6) = ("10.16.21.0/24", "2001:db8:16:21::/64");
    let sent = |nh: &str, rt: &str| Seen {
        next_hop: nh.to_string(),
        local_pref: Some(100),
        med: Some(21),
        communities: vec!["65000:21".into()],
        ext_communities: vec![rt.to_string()],
        ..Seen::default()
    };
    let announce = |verb: &str, rd: &str, p: &str, label: u32, s: &Seen| {
        e.send(&format!(
            "{verb} route {p} rd {rd} label {label} next-hop {} local-preference 100 med 21 \
             community [65000:21] extended-community [target:{}]",
            s.next_hop, s.ext_communities[0]
        ))
    };
    let v4 = sent("100.64.16.21", "65000:21");
    let v4b = sent("100.64.16.21", "65000:22");
    let v6 = sent("2001:db8:ffff::1621", "65000:21");
    announce("announce", rd1, p4, 2100, &v4);
    announce("announce", rd2, p4, 2200, &v4b);
    announce("announce", rd1, p6, 2160, &v6);

    let receivers: [&dyn VpnPeer; 3] = [&g, &b, &f];
    assert_vpn_reflected(&receivers, rd1, p4, &[2100], &v4, "10.0.16.21");
    assert_vpn_reflected(&receivers, rd2, p4, &[2200], &v4b, "10.0.16.21");
    // BIRD 2.0.12 takes no IPv6 next hop on a VPNv6 route over an IPv4 session without
    // extended next hop (see the FRR test above): GoBGP and FRR hold it.
    assert_vpn_reflected(&[&g, &f], rd1, p6, &[2160], &v6, "10.0.16.21");
    let held = |label, nh: &str, rt: &str| [Held::new("127.0.16.21", true, label, nh, rt)];
    assert_reflectd_holds(
        &r,
        "ipv4-vpn",
        rd1,
        p4,
        &held(2100, "100.64.16.21", "65000:21"),
    );
    assert_reflectd_holds(
        &r,
        "ipv4-vpn",
        rd2,
        p4,
        &held(2200, "100.64.16.21", "65000:22"),
    );
    assert_reflectd_holds(
        &r,
        "ipv6-vpn",
        rd1,
        p6,
        &held(2160, "2001:db8:ffff::1621", "65000:21"),
    );

    // Withdrawing RD1's routes leaves RD2's.
    announce("withdraw", rd1, p4, 2100, &v4);
    announce("withdraw", rd1, p6, 2160, &v6);
    for peer in receivers {
        wait_vpn_gone(peer, rd1, p4);
    }
    wait_vpn_gone(&g, rd1, p6);
    wait_vpn_gone(&f, rd1, p6);
    assert_vpn_reflected(&receivers, rd2, p4, &[2200], &v4b, "10.0.16.21");
    assert_eq!(e.notifications(), vec![], "ExaBGP got a NOTIFICATION");
}

/// BIRD 2 as the originator: static routes in its VPN tables (`route RD PREFIX via NH%lo
/// onlink mpls L`; BIRD 2.0.12 sends a static route's gateway and label stack as the next
/// hop and label of its iBGP route, and label 3, implicit null, for one without a gateway)
/// reach GoBGP and FRR clients with their RD, label, next hop and route target, and go away
/// when BIRD's static protocols are disabled.
#[test]
fn bird_originated_vpn_routes_reach_gobgp_and_frr_with_their_label_and_next_hop() {
    if !have_vpn_daemons() {
        return;
    }
    let r = Reflector::start(&[vpn_client(31), vpn_client(32), vpn_client(33)]);
    let (rd, p4, p6) = ("65000:31", "10.16.31.0/24", "2001:db8:16:31::/64");
    let (nh4, nh6) = ("100.64.16.31", "2001:db8:ffff::1631");
    let attrs = "bgp_med = 31; bgp_community.add((65000, 31)); \
                 bgp_ext_community.add((rt, 65000, 31));";
    let b = Bird::builder(&r, "b31", "127.0.16.31", "10.0.16.31")
        .vpn()
        .next_hops(nh4, nh6)
        .statics(
            &format!("route {rd} {p4} via {nh4}%lo onlink mpls 3100 {{ {attrs} }};"),
            &format!("route {rd} {p6} via {nh6}%lo onlink mpls 3160 {{ {attrs} }};"),
        )
        .start();
    let g = GoBgp::builder(&r, "g32", "127.0.16.32", "10.0.16.32")
        .families(&GOBGP_VPN)
        .start();
    let f = frr_vpn_client(&r, 33);

    let sent = |nh: &str| Seen {
        next_hop: nh.to_string(),
        local_pref: Some(100),
        med: Some(31),
        communities: vec!["65000:31".into()],
        ext_communities: vec!["65000:31".into()],
        ..Seen::default()
    };
    let receivers: [&dyn VpnPeer; 2] = [&g, &f];
    assert_vpn_reflected(&receivers, rd, p4, &[3100], &sent(nh4), "10.0.16.31");
    assert_vpn_reflected(&receivers, rd, p6, &[3160], &sent(nh6), "10.0.16.31");
    let held = |label, nh: &str| [Held::new("127.0.16.31", true, label, nh, "65000:31")];
    assert_reflectd_holds(&r, "ipv4-vpn", rd, p4, &held(3100, nh4));
    assert_reflectd_holds(&r, "ipv6-vpn", rd, p6, &held(3160, nh6));

    for protocol in ["s4", "s6"] {
        let said = b.birdc(&format!("disable {protocol}"));
        assert!(said.contains("disabled"), "BIRD disable {protocol}: {said}");
    }
    for peer in receivers {
        wait_vpn_gone(peer, rd, p4);
        wait_vpn_gone(peer, rd, p6);
    }
    assert_reflectd_holds(&r, "ipv4-vpn", rd, p4, &[]);
    assert_reflectd_holds(&r, "ipv6-vpn", rd, p6, &[]);
}
