//! reflectd with real ExaBGP peers (Debian `exabgp`): ExaBGP announces ordinary and
//! hand-crafted malformed routes (its `attribute [code flags value]` puts any bytes on the
//! wire); every check reads a peer's own RIB (ExaBGP's received updates, `gobgp ... -j`).

mod common;
use common::daemons::*;
use common::*;

/// ExaBGP keeps the first of two attributes with one code, so a hand-made attribute goes
/// before these and these set nothing the hand-made ones replace.
const VALID: &str = "next-hop 100.64.6.1";

/// RFC 7606: each malformed attribute gets its reaction (treat-as-withdraw or attribute
/// discard), an unknown optional transitive attribute is passed on with Partial set, and
/// neither the sender's session nor anyone else's is disturbed.
#[test]
fn exabgp_malformed_attributes_get_rfc7606_treatment_and_disturb_no_one() {
    if !have("exabgp", "exabgp") || !have("gobgpd", "gobgpd") {
        return;
    }
    let r = Reflector::start(&[
        NeighborSpec::client("127.0.6.1"),
        NeighborSpec::client("127.0.6.2"),
    ]);
    let e = ExaBgp::start(&r.dir, "e1", "127.0.6.1", "10.0.6.1", ASN, r.port, true);
    let g = GoBgp::start(&r.dir, "g2", "127.0.6.2", "10.0.6.2", r.port);
    e.wait_established();
    g.announce("10.6.2.0/24", "origin igp nexthop 100.64.6.2");
    wait_route(&e, "10.6.2.0/24", |_| true);

    // Treat-as-withdraw: a valid route is replaced by a malformed one; it must disappear.
    let withdrawn = [
        ("10.6.11.0/24", "bad ORIGIN value", "attribute [0x01 0x40 0x05]"),
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
    if !have("exabgp", "exabgp") || !have("gobgpd", "gobgpd") {
        return;
    }
    let r = Reflector::start(&[
        NeighborSpec::client("127.0.6.3"),
        NeighborSpec::client("127.0.6.4"),
    ]);
    let e = ExaBgp::start(&r.dir, "e3", "127.0.6.3", "10.0.6.3", ASN, r.port, true);
    let g = GoBgp::start(&r.dir, "g4", "127.0.6.4", "10.0.6.4", r.port);
    e.wait_established();
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
    assert!(raw.contains("\"flops\":0") || !raw.contains("flops"), "{raw}");
}
