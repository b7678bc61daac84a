//! `max_prefixes` (RFC 4486 §4): the peer past its limit is stopped with Cease 1 naming
//! the family, its excess is not stored, and what it already holds is counted once.

use super::*;

#[test]
fn a_peer_past_max_prefixes_is_stopped_with_cease_1_and_its_excess_is_not_stored() {
    let mut r = rib_with(&[(2, true)]);
    r.feed(limited(1, 3));
    let five = [
        "10.0.1.0/24",
        "10.0.2.0/24",
        "10.0.3.0/24",
        "10.0.4.0/24",
        "10.0.5.0/24",
    ];
    r.feed(route(1, &five));
    let s = stops(&mut r);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0, 1);
    // RFC 4486 §4: AFI 1, SAFI 1, limit 3.
    let n = &s[0].1;
    assert_eq!((n.code, n.subcode), (6, 1));
    assert_eq!(n.data, [0, 1, 1, 0, 0, 0, 3]);
    assert_eq!(held(&r, 1), 3);
    assert!(r.best(p4("10.0.4.0/24")).is_none());
    // Everything else the peer sends is ignored, and it is not stopped twice.
    r.feed(route(1, &["10.0.9.0/24"]));
    assert!(r.best(p4("10.0.9.0/24")).is_none());
    assert!(stops(&mut r).is_empty());
    // Other peers are untouched.
    r.feed(route(2, &five));
    assert_eq!(held(&r, 2), 5);
    assert!(stops(&mut r).is_empty());
}

#[test]
fn the_limit_is_summed_over_families_and_names_the_family_that_crossed_it() {
    let mut r = rib_with(&[]);
    r.feed(limited(1, 2));
    r.feed(route(1, &["10.0.1.0/24", "10.0.2.0/24"]));
    assert!(stops(&mut r).is_empty());
    let nh = v6_next_hop("2001:db8::1");
    let a = PathAttrs {
        next_hop: nh,
        ..attrs([192, 0, 2, 1])
    };
    r.feed(announce6(1, &["2001:db8:1::/48"], nh, a));
    let s = stops(&mut r);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].1.data, [0, 2, 1, 0, 0, 0, 2]);
}

#[test]
fn re_announcing_held_prefixes_at_the_limit_is_not_an_excess() {
    let mut r = rib_with(&[]);
    r.feed(limited(1, 2));
    r.feed(route(1, &["10.0.1.0/24", "10.0.2.0/24"]));
    r.feed(announce(
        1,
        &["10.0.1.0/24", "10.0.2.0/24"],
        lp([192, 0, 2, 1], 200),
    ));
    assert!(stops(&mut r).is_empty());
    // A withdrawal makes room again.
    r.feed(withdraw(1, &["10.0.1.0/24"]));
    r.feed(route(1, &["10.0.3.0/24"]));
    assert!(stops(&mut r).is_empty());
    assert_eq!(held(&r, 1), 2);
}

#[test]
fn a_stop_for_a_session_that_went_down_in_the_same_batch_is_dropped() {
    let mut r = rib_with(&[]);
    r.feed(limited(1, 1));
    r.feed(route(1, &["10.0.1.0/24", "10.0.2.0/24"]));
    r.feed(ToRib::PeerDown { peer: 1 });
    assert!(stops(&mut r).is_empty());
}
