//! reflectd with real ExaBGP peers (Debian `exabgp`): ExaBGP announces ordinary and
//! hand-crafted malformed routes (its `attribute [code flags value]` puts any bytes on the
//! wire); every check reads a peer's own RIB (ExaBGP's received updates, `gobgp ... -j`).

mod common;
use common::daemons::*;
use common::*;
use reflectd::speaker::SpeakerConfig;
use std::net::Ipv4Addr;

/// ExaBGP keeps the first of two attributes with one code, so a hand-made attribute goes
/// before these and these set nothing the hand-made ones replace.
const VALID: &str = "next-hop 100.64.6.1";

/// reflectd with two clients: ExaBGP e`n` on 127.0.6.`n` and GoBGP g`n+1` on 127.0.6.`n+1`
/// (router ids 10.0.6.x), ExaBGP's session up; `asn4: false` leaves out ExaBGP's 4-octet AS
/// capability. None when either daemon is missing (the test is skipped).
fn exabgp_beside_gobgp(n: u8, asn4: bool) -> Option<(Reflector, ExaBgp, GoBgp)> {
    if !ExaBgp::installed() || !GoBgp::installed() {
        return None;
    }
    let m = n + 1;
    let (e_addr, g_addr) = (leak(format!("127.0.6.{n}")), leak(format!("127.0.6.{m}")));
    let r = Reflector::start(&[NeighborSpec::client(e_addr), NeighborSpec::client(g_addr)]);
    let e = ExaBgp::builder(&r, &format!("e{n}"), e_addr, &format!("10.0.6.{n}"))
        .asn4(asn4)
        .start();
    let g = GoBgp::builder(&r, &format!("g{m}"), g_addr, &format!("10.0.6.{m}")).start();
    e.wait_established();
    Some((r, e, g))
}

/// RFC 7606: each malformed attribute gets its reaction (treat-as-withdraw or attribute
/// discard), an unknown optional transitive attribute is passed on with Partial set, and
/// neither the sender's session nor anyone else's is disturbed.
#[test]
fn exabgp_malformed_attributes_get_rfc7606_treatment_and_disturb_no_one() {
    let Some((_r, e, g)) = exabgp_beside_gobgp(1, true) else {
        return;
    };
    g.announce("10.6.2.0/24", "origin igp nexthop 100.64.6.2");
    wait_route(&e, "10.6.2.0/24", |_| true);

    // Treat-as-withdraw: a valid route is replaced by a malformed one; it must disappear.
    let withdrawn = [
        (
            "10.6.11.0/24",
            "bad ORIGIN value",
            "attribute [0x01 0x40 0x05]",
        ),
        (
            "10.6.12.0/24",
            "bad AS_PATH segment type",
            "attribute [0x02 0x40 0x05010000fde8]",
        ),
        (
            "10.6.13.0/24",
            "LOCAL_PREF of 3 bytes",
            "attribute [0x05 0x40 0x000064]",
        ),
        (
            "10.6.14.0/24",
            "MED with wrong flags",
            "attribute [0x04 0x40 0x00000001]",
        ),
    ];
    for (prefix, _, _) in withdrawn {
        e.send(&format!("announce route {prefix} {VALID}"));
    }
    for (prefix, _, _) in withdrawn {
        wait_route(&g, prefix, |_| true);
    }
    for (prefix, _, bad) in withdrawn {
        e.send(&format!("announce route {prefix} {bad} {VALID}"));
    }
    for (prefix, what, _) in withdrawn {
        eprintln!("checking {what}");
        wait_gone(&g, prefix);
    }

    // Attribute discard: ATOMIC_AGGREGATE with a length of 1 is dropped, the route kept.
    e.send(&format!(
        "announce route 10.6.15.0/24 {VALID} med 15 attribute [0x06 0x40 0x01]"
    ));
    let kept = wait_route(&g, "10.6.15.0/24", |_| true);
    assert_eq!(kept.med, Some(15));
    let raw = g.cli(&["global", "rib", "-a", "ipv4", "10.6.15.0/24", "-j"]);
    assert!(!raw.contains("\"type\":6"), "ATOMIC_AGGREGATE kept: {raw}");

    // Unknown optional transitive: passed on unchanged, with the Partial bit (0xe0).
    e.send(&format!(
        "announce route 10.6.16.0/24 {VALID} attribute [0xf0 0xc0 0x01020304]"
    ));
    wait_route(&g, "10.6.16.0/24", |_| true);
    let raw = g.cli(&["global", "rib", "-a", "ipv4", "10.6.16.0/24", "-j"]);
    assert!(
        raw.contains("{\"flags\":224,\"type\":240,\"value\":\"AQIDBA==\"}"),
        "unknown attribute not passed on with Partial: {raw}"
    );

    // Nobody was disturbed: no NOTIFICATION, one session each, and both still work.
    e.send(&format!("announce route 10.6.19.0/24 {VALID}"));
    wait_route(&g, "10.6.19.0/24", |_| true);
    assert_eq!(e.notifications(), vec![], "ExaBGP got a NOTIFICATION");
    assert_eq!(e.events_of("state").len(), 2, "ExaBGP session flapped");
    assert!(e.established() && g.established());
    assert!(e.route("10.6.2.0/24").is_some());
}

/// RFC 7606 §7.11 / RFC 4760 §7: a malformed MP_REACH_NLRI cannot be skipped safely, so the
/// session is reset with an UPDATE Message Error / Optional Attribute Error; the other
/// session and its routes stay.
#[test]
fn exabgp_malformed_mp_reach_resets_only_its_own_session() {
    let Some((_r, e, g)) = exabgp_beside_gobgp(3, true) else {
        return;
    };
    g.announce("10.6.4.0/24", "origin igp nexthop 100.64.6.4");
    e.send("announce route 10.6.3.0/24 next-hop 100.64.6.3");
    wait_route(&g, "10.6.3.0/24", |_| true);
    wait_route(&e, "10.6.4.0/24", |_| true);

    // IPv4 unicast MP_REACH_NLRI with a 3-byte next hop.
    e.send("announce route 10.6.5.0/24 next-hop 100.64.6.3 attribute [0x0e 0x80 0x000101030a000000180a0605]");
    let got = eventually(ROUTE_WAIT, || {
        (!e.notifications().is_empty()).then(|| e.notifications())
    });
    // (ExaBGP reconnects and sends it again: every reset is the same.)
    let got = got.unwrap_or_default();
    assert!(
        !got.is_empty() && got.iter().all(|n| *n == (3, 9)),
        "{got:?}\n{}",
        e.dump()
    );
    // The reset withdrew the sender's routes; the other session is untouched.
    wait_gone(&g, "10.6.3.0/24");
    assert!(g.established());
    assert!(g.route("10.6.5.0/24").is_none());
    let raw = g.cli(&["neighbor", "127.0.0.1", "-j"]);
    assert!(
        raw.contains("\"flops\":0") || !raw.contains("flops"),
        "{raw}"
    );
}

/// Counter of the first event matching `f`.
fn first_counter(e: &ExaBgp, f: impl Fn(&serde_json::Value) -> bool) -> Option<u64> {
    e.events()
        .iter()
        .find(|ev| f(ev))
        .and_then(|ev| ev["counter"].as_u64())
}

fn announces(ev: &serde_json::Value, prefix: &str) -> bool {
    ev["type"] == "update" && ev.to_string().contains(&format!("\"nlri\":\"{prefix}\""))
}

fn eor(ev: &serde_json::Value, afi: &str) -> bool {
    ev["type"] == "update" && ev["neighbor"]["message"]["eor"]["afi"] == afi
}

/// Scenario 5: the initial dump ends with End-of-RIB for each family, after the routes; a
/// ROUTE-REFRESH brings the whole Adj-RIB-Out back.
#[test]
fn exabgp_gets_end_of_rib_after_the_dump_and_everything_again_on_route_refresh() {
    if !ExaBgp::installed() || !GoBgp::installed() {
        return;
    }
    let r = Reflector::start(&[
        NeighborSpec::client("127.0.6.5"),
        NeighborSpec::client("127.0.6.6"),
    ]);
    let g = GoBgp::builder(&r, "g6", "127.0.6.6", "10.0.6.6").start();
    g.announce("10.6.6.0/24", "origin igp nexthop 100.64.6.6");
    g.announce("2001:db8:6:6::/64", "origin igp nexthop 2001:db8:ffff::66");
    // ExaBGP connects once the routes are in reflectd, so they are part of its initial dump.
    let sp = r.speaker("127.0.6.5", [10, 0, 6, 99]);
    let mut sp = sp;
    assert!(sp
        .wait_until(WAIT, |s| s.route("2001:db8:6:6::/64").is_some())
        .unwrap());
    drop(sp);
    let e = ExaBgp::builder(&r, "e5", "127.0.6.5", "10.0.6.5").start();
    e.wait_established();
    wait_route(&e, "10.6.6.0/24", |_| true);
    wait_route(&e, "2001:db8:6:6::/64", |_| true);
    let eor4 = eventually(ROUTE_WAIT, || first_counter(&e, |ev| eor(ev, "ipv4")));
    let eor6 = eventually(ROUTE_WAIT, || first_counter(&e, |ev| eor(ev, "ipv6")));
    let r4 = first_counter(&e, |ev| announces(ev, "10.6.6.0/24"));
    let r6 = first_counter(&e, |ev| announces(ev, "2001:db8:6:6::/64"));
    assert!(
        r4 < eor4 && r6 < eor6 && r4.is_some() && r6.is_some(),
        "End-of-RIB before the dump's routes: {}",
        e.dump()
    );

    let count = |p: &str| e.events().iter().filter(|ev| announces(ev, p)).count();
    assert_eq!(count("10.6.6.0/24"), 1);
    e.send("announce route-refresh ipv4 unicast");
    let again = eventually(ROUTE_WAIT, || (count("10.6.6.0/24") >= 2).then_some(()));
    assert!(again.is_some(), "no re-advertisement: {}", e.dump());
    assert_eq!(count("2001:db8:6:6::/64"), 1, "refresh of ipv4 only");
    e.send("announce route-refresh ipv6 unicast");
    let again = eventually(ROUTE_WAIT, || {
        (count("2001:db8:6:6::/64") >= 2).then_some(())
    });
    assert!(again.is_some(), "no re-advertisement: {}", e.dump());
    assert_eq!(e.notifications(), vec![]);
}

/// Scenario 6: 4-octet AS numbers cross a 2-octet-only peer (ExaBGP without the capability)
/// both ways: reflectd sends it AS_TRANS in AS_PATH plus AS4_PATH, and rebuilds the real path
/// from what it sends for the 4-octet GoBGP.
#[test]
fn four_octet_as_paths_round_trip_through_a_two_octet_exabgp() {
    let Some((_r, e, g)) = exabgp_beside_gobgp(7, false) else {
        return;
    };
    g.announce(
        "10.6.8.0/24",
        "origin igp nexthop 100.64.6.8 aspath 4200000008,65010",
    );
    e.send("announce route 10.6.7.0/24 next-hop 100.64.6.7 as-path [ 4200000007 65010 ]");
    let at_e = wait_route(&e, "10.6.8.0/24", |_| true);
    let at_g = wait_route(&g, "10.6.7.0/24", |_| true);
    assert_eq!(at_g.as_path, vec![4_200_000_007, 65010], "{}", g.dump());
    // On the 2-octet session the 4-octet AS can only travel in AS4_PATH (AS_PATH carries
    // AS_TRANS); ExaBGP merges the two into the path it reports.
    assert_eq!(at_e.as_path, vec![4_200_000_008, 65010], "{}", e.dump());
    // On the wire: AS_PATH [AS_TRANS 65010] and AS4_PATH [4200000008 65010].
    let raw = e.dump().to_uppercase();
    assert!(raw.contains("02025BA0FDF2"), "AS_PATH with AS_TRANS: {raw}");
    assert!(
        raw.contains("C0110A0202FA56EA080000FDF2"),
        "AS4_PATH: {raw}"
    );
}

/// RFC 8654: a route whose UPDATE only fits an extended message (from an ExaBGP that has
/// them) reaches the other ExaBGP that has them, is withdrawn from a GoBGP without them, and
/// disturbs no session. (Found here: reflectd's RIB thread used to panic on it.)
#[test]
fn route_too_big_for_a_peer_without_extended_messages_is_not_sent_to_it() {
    if !ExaBgp::installed() || !GoBgp::installed() {
        return;
    }
    let r = Reflector::start(&[
        NeighborSpec::client("127.0.6.9"),
        NeighborSpec::client("127.0.6.10"),
        NeighborSpec::client("127.0.6.11"),
    ]);
    let e = ExaBgp::builder(&r, "e9", "127.0.6.9", "10.0.6.9").start();
    let g = GoBgp::builder(&r, "g10", "127.0.6.10", "10.0.6.10").start();
    let e2 = ExaBgp::builder(&r, "e11", "127.0.6.11", "10.0.6.11").start();
    e.wait_established();
    e2.wait_established();
    // A small version first, which GoBGP holds...
    e.send("announce route 10.6.31.0/24 next-hop 100.64.6.9 community [65000:1]");
    wait_route(&g, "10.6.31.0/24", |_| true);
    // ...replaced by one with 1,100 communities (4,400 bytes): GoBGP must lose the route
    // (RFC 8654 §4: withdrawn for a peer that cannot take it), not keep the stale version.
    let many: Vec<String> = (1..=1100).map(|i| format!("65000:{i}")).collect();
    e.send(&format!(
        "announce route 10.6.31.0/24 next-hop 100.64.6.9 community [{}]",
        many.join(" ")
    ));
    let big = wait_route(&e2, "10.6.31.0/24", |s| s.communities.len() == 1100);
    assert_eq!(big.originator_id.as_deref(), Some("10.0.6.9"));
    wait_gone(&g, "10.6.31.0/24");
    e.send("announce route 10.6.32.0/24 next-hop 100.64.6.9");
    wait_route(&g, "10.6.32.0/24", |_| true);
    wait_route(&e2, "10.6.32.0/24", |_| true);
    assert!(g.established() && e.established() && e2.established());
    assert_eq!(e.notifications(), vec![]);
    assert_eq!(e2.notifications(), vec![]);
}

/// An oversized message (4,200 bytes, no extended messages negotiated) cannot be made with
/// ExaBGP, so the project speaker sends it: RFC 4271 §6.1 Bad Message Length resets that
/// session, and an ExaBGP session beside it is undisturbed.
#[test]
fn oversized_message_resets_only_its_session() {
    if !ExaBgp::installed() {
        return;
    }
    let r = Reflector::start(&[
        NeighborSpec::client("127.0.6.12"),
        NeighborSpec::client("127.0.6.13"),
    ]);
    let e = ExaBgp::builder(&r, "e12", "127.0.6.12", "10.0.6.12").start();
    e.wait_established();
    let mut cfg = SpeakerConfig::new(ip("127.0.6.13"), ASN, Ipv4Addr::new(10, 0, 6, 13));
    cfg.extended_message = false;
    let mut sp = r.speaker_with(&cfg);
    assert!(!sp.ctx.extended_message);
    sp.announce(&[p4("10.6.13.0/24")], &attrs([100, 64, 6, 13]))
        .unwrap();
    wait_route(&e, "10.6.13.0/24", |_| true);
    e.send("announce route 10.6.12.0/24 next-hop 100.64.6.12");
    assert!(sp
        .wait_until(WAIT, |s| s.route("10.6.12.0/24").is_some())
        .unwrap());

    let len: u16 = 4200;
    let attr_len = usize::from(len) - 19 - 4 - 4;
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&len.to_be_bytes());
    m.push(2);
    m.extend_from_slice(&[0, 0]);
    m.extend_from_slice(&((attr_len + 4) as u16).to_be_bytes());
    m.extend_from_slice(&[0xd0, 0xf1]); // optional transitive, extended length, code 241
    m.extend_from_slice(&(attr_len as u16).to_be_bytes());
    m.resize(usize::from(len), 0);
    sp.send_raw(&m).unwrap();
    assert!(sp.wait_until(WAIT, |s| s.notification.is_some()).unwrap());
    let n = sp.notification.clone().unwrap();
    assert_eq!((n.code, n.subcode), (1, 2), "{n:?}");
    assert_eq!(n.data, len.to_be_bytes().to_vec());

    // The speaker's route is gone from ExaBGP; ExaBGP's session never moved.
    wait_gone(&e, "10.6.13.0/24");
    assert_eq!(e.events_of("state").len(), 2, "{}", e.dump());
    assert_eq!(e.notifications(), vec![]);
}
