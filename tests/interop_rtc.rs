//! RT-Constraint (RFC 4684) through reflectd with GoBGP 3.10, every check read from GoBGP's
//! own tables. GoBGP has no command to announce a membership: a VRF importing a route target
//! (`gobgp vrf add NAME rd RD rt import RT`) makes it announce one, and deleting the VRF
//! withdraws it.
//!
//! 1. A member receives exactly the VPN routes of the targets it imports; after it imports
//!    a second target it gets that target's routes too. The originator here does not do
//!    RT-Constraint, so reflectd holds every route and asks its members for everything with
//!    the default membership alone (the member, GoBGP, gets nothing else in the family).
//! 2. Between two members reflectd reflects memberships (ORIGINATOR_ID set): the
//!    originator, itself a member, then sends reflectd only the routes the other member
//!    asked for, and the other member gets them; a target dropped takes its route away.

mod common;
use common::daemons::*;
use common::vpn::*;
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;

/// A client of reflectd on 127.0.21.`n` with `families`.
fn client(n: u8, families: &'static str) -> NeighborSpec {
    NeighborSpec {
        families,
        ..NeighborSpec::client(leak(format!("127.0.21.{n}")))
    }
}

fn gobgp(r: &Reflector, n: u8, families: &[&str]) -> GoBgp {
    let (name, addr, id) = (
        format!("g{n}"),
        format!("127.0.21.{n}"),
        format!("10.0.21.{n}"),
    );
    GoBgp::builder(r, &name, &addr, &id)
        .families(families)
        .start()
}

/// The originator's route for target 65000:`n`: RD 65000:`n`, 10.21.`n`.0/24, label 100+n.
fn originate(g: &GoBgp, n: u32) {
    let seen = Seen {
        next_hop: "100.64.21.1".into(),
        local_pref: Some(100),
        ext_communities: vec![format!("65000:{n}")],
        ..Seen::default()
    };
    g.announce_vpn(
        &format!("65000:{n}"),
        &format!("10.21.{n}.0/24"),
        100 + n,
        &seen,
    );
}

/// The key GoBGP lists the route for target `n` under.
fn key(n: u32) -> String {
    format!("65000:{n}:10.21.{n}.0/24")
}

/// The VPNv4 routes `g` holds, by GoBGP's key (`RD:PREFIX`).
fn vpnv4_keys(g: &GoBgp) -> BTreeSet<String> {
    let v = json(&g.cli(&["global", "rib", "-a", "vpnv4", "-j"]));
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// Waits (bounded) until `g`'s VPNv4 table holds exactly the routes of targets `targets`.
fn assert_holds_targets(g: &GoBgp, targets: &[u32]) {
    let want: BTreeSet<String> = targets.iter().map(|&n| key(n)).collect();
    let got = eventually(ROUTE_WAIT, || (vpnv4_keys(g) == want).then_some(()));
    assert!(
        got.is_some(),
        "{} holds {:?}, want {want:?}\n{}\n{}",
        g.name(),
        vpnv4_keys(g),
        g.vpn_dump(),
        g.cli(&["global", "rib", "-a", "rtc"])
    );
}

/// The RT-Constraint NLRIs `g` holds, with the ORIGINATOR_ID of each path.
fn memberships(g: &GoBgp) -> Vec<(String, Option<String>)> {
    let v = json(&g.cli(&["global", "rib", "-a", "rtc", "-j"]));
    let mut out = Vec::new();
    for (nlri, paths) in v.as_object().into_iter().flatten() {
        for p in paths.as_array().into_iter().flatten() {
            let originator = p["attrs"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| a["type"] == 9)
                .and_then(|a| a["value"].as_str().map(str::to_string));
            out.push((nlri.clone(), originator));
        }
    }
    out.sort();
    out
}

fn wait_established(r: &Reflector, n: usize) {
    let up = eventually(ROUTE_WAIT, || {
        let v = json(&r.cli(&["neighbors", "--json"]));
        let list = v.as_array()?;
        (list.len() == n
            && list
                .iter()
                .all(|p| p["state"].as_str() == Some("Established")))
        .then_some(())
    });
    assert!(up.is_some(), "{}", r.cli(&["neighbors", "--json"]));
}

/// The families reflectd negotiated with the neighbor at `address`.
fn negotiated(r: &Reflector, address: &str) -> Vec<String> {
    let v = json(&r.cli(&["neighbors", "--json"]));
    v.as_array()
        .into_iter()
        .flatten()
        .find(|n| n["address"] == address)
        .and_then(|n| n["families"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|f| f.as_str().map(str::to_string))
        .collect()
}

/// `gobgp vrf add NAME rd RD rt import RT`: GoBGP 3.10 announces the membership of a
/// VRF's import route target (it has no `-a rtc add`).
fn import_vrf(g: &GoBgp, name: &str, rd: &str, rt: &str) {
    g.cli(&["vrf", "add", name, "rd", rd, "rt", "import", rt]);
}

#[test]
fn a_gobgp_member_receives_exactly_the_routes_of_the_targets_it_imports() {
    if !GoBgp::installed() {
        return;
    }
    let r = Reflector::start(&[
        client(1, "[ipv4-vpn]"),
        client(2, "[ipv4-vpn, rt-constraint]"),
    ]);
    let g1 = gobgp(&r, 1, &["l3vpn-ipv4-unicast"]);
    let g2 = gobgp(&r, 2, &["l3vpn-ipv4-unicast", "rtc"]);
    wait_established(&r, 2);
    assert_eq!(negotiated(&r, "127.0.21.2"), ["ipv4-vpn", "rt-constraint"]);
    for n in [1, 2, 3] {
        originate(&g1, n);
    }
    // reflectd holds all three (g1 sends it everything: no RT-Constraint between them).
    let held = eventually(ROUTE_WAIT, || {
        let v = json(&r.cli(&["routes", "--family", "ipv4-vpn", "--json"]));
        (v.as_array().map(Vec::len) == Some(3)).then_some(())
    });
    assert!(
        held.is_some(),
        "{}",
        r.cli(&["routes", "--family", "ipv4-vpn"])
    );
    // g2 imports nothing yet: it gets none; and it is asked for everything, by the default
    // membership alone.
    assert_holds_targets(&g2, &[]);
    let asked = eventually(ROUTE_WAIT, || {
        let m = memberships(&g2);
        (m.len() == 1).then_some(m)
    });
    let asked = asked.unwrap_or_else(|| panic!("{:?}", memberships(&g2)));
    assert!(
        asked[0].0.contains("0:0") || asked[0].0.contains("default"),
        "{asked:?}"
    );

    // One target imported: exactly its route.
    import_vrf(&g2, "red", "65000:101", "65000:1");
    assert_holds_targets(&g2, &[1]);
    // A second: its route too, the first kept.
    import_vrf(&g2, "blue", "65000:102", "65000:2");
    assert_holds_targets(&g2, &[1, 2]);
    // Routes announced now: the one of a target it imports reaches it, the other not.
    // (No `vrf del` here: GoBGP 3.10 crashes deleting a VRF while it holds a default
    // membership, on the nil route target; the second scenario drops a target.)
    originate(&g1, 4);
    originate(&g1, 5);
    import_vrf(&g2, "green", "65000:104", "65000:4");
    assert_holds_targets(&g2, &[1, 2, 4]);
    // A route of an imported target withdrawn at the source goes.
    g1.withdraw_vpn("65000:2", "10.21.2.0/24", 102);
    assert_holds_targets(&g2, &[1, 4]);
}

#[test]
fn memberships_are_reflected_and_a_gobgp_originator_sends_only_what_was_asked_for() {
    if !GoBgp::installed() {
        return;
    }
    let families = "[ipv4-vpn, rt-constraint]";
    let r = Reflector::start(&[client(11, families), client(12, families)]);
    let g1 = gobgp(&r, 11, &["l3vpn-ipv4-unicast", "rtc"]);
    let g2 = gobgp(&r, 12, &["l3vpn-ipv4-unicast", "rtc"]);
    wait_established(&r, 2);
    for n in [1, 2] {
        originate(&g1, n);
    }
    import_vrf(&g2, "red", "65000:101", "65000:1");
    // g2's membership reaches g1 reflected (ORIGINATOR_ID g2's router id)...
    let reflected = eventually(ROUTE_WAIT, || {
        let m = memberships(&g1);
        m.iter()
            .any(|(nlri, o)| nlri.contains("65000:1") && o.as_deref() == Some("10.0.21.12"))
            .then_some(m)
    });
    assert!(reflected.is_some(), "g1 holds {:?}", memberships(&g1));
    // ...so g1 sends reflectd its target-1 route, which g2 gets; target 2 stays with g1.
    assert_holds_targets(&g2, &[1]);
    // reflectd's own view of the family: g2's membership, from g2.
    let v = json(&r.cli(&["routes", "--family", "rt-constraint", "--json"]));
    let shown: Vec<(&str, &str)> = v
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|route| {
            let prefix = route["prefix"].as_str().unwrap_or("");
            let paths = route["paths"].as_array().into_iter().flatten();
            paths.map(move |p| (prefix, p["from"].as_str().unwrap_or("")))
        })
        .collect();
    assert_eq!(shown, [("65000:65000:1/96", "127.0.21.12")], "{v}");
    let v = json(&r.cli(&["routes", "--family", "ipv4-vpn", "--json"]));
    let held: Vec<&Value> = v.as_array().into_iter().flatten().collect();
    assert_eq!(
        held.len(),
        1,
        "reflectd was sent only what it asked for: {v}"
    );
    // g2 asks for target 2 as well: g1 sends it, g2 gets it.
    import_vrf(&g2, "blue", "65000:102", "65000:2");
    assert_holds_targets(&g2, &[1, 2]);
    // g2 drops target 1: its membership is withdrawn, and so is the route.
    g2.cli(&["vrf", "del", "red"]);
    assert_holds_targets(&g2, &[2]);
    let gone = eventually(ROUTE_WAIT, || {
        let m = memberships(&g1);
        (!m.iter().any(|(nlri, _)| nlri.ends_with(":65000:1"))).then_some(())
    });
    assert!(gone.is_some(), "g1 still holds {:?}", memberships(&g1));
}

/// With Graceful Restart GoBGP sends End-of-RIB markers, and reflectd holds a member's VPN
/// routes back until its RT-Constraint End-of-RIB (at most 60 s, longer than `ROUTE_WAIT`):
/// the member getting its routes in time shows the marker was read and ended the wait.
#[test]
fn a_gobgp_member_with_graceful_restart_gets_its_routes_after_its_end_of_rib() {
    if !GoBgp::installed() {
        return;
    }
    let r = Reflector::start(&[
        client(21, "[ipv4-vpn]"),
        client(22, "[ipv4-vpn, rt-constraint]"),
    ]);
    let g1 = gobgp(&r, 21, &["l3vpn-ipv4-unicast"]);
    for n in [1, 2] {
        originate(&g1, n);
    }
    let g2 = GoBgp::builder(&r, "g22", "127.0.21.22", "10.0.21.22")
        .families(&["l3vpn-ipv4-unicast", "rtc"])
        .graceful_restart(false)
        .start();
    import_vrf(&g2, "red", "65000:101", "65000:1");
    wait_established(&r, 2);
    assert_holds_targets(&g2, &[1]);
    // It did wait (Graceful Restart agreed), and its End-of-RIB ended the wait.
    let log = r.log();
    assert!(log.contains("RT-Constraint membership complete"), "{log}");
    assert!(!log.contains("no RT-Constraint End-of-RIB after"), "{log}");
    import_vrf(&g2, "blue", "65000:102", "65000:2");
    assert_holds_targets(&g2, &[1, 2]);
}
