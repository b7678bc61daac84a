//! What the RIB publishes for the control socket (counts, and the routes when asked) and
//! the interned attribute sets behind the routes.

use super::*;

#[test]
fn snapshot_counts_and_routes_best_first_sorted_by_prefix() {
    let mut r = rib_with(&[(1, true), (2, true), (3, false)]);
    r.feed(route(1, &["10.1.0.0/16", "10.0.0.0/8"]));
    r.feed(announce(2, &["10.0.0.0/8"], lp([192, 0, 2, 2], 200)));
    r.feed(route(3, &["10.2.0.0/16"]));
    r.plan();
    let s = r.snapshot(7);
    assert_eq!(s.queue_depth, 7);
    assert!(s.routes.is_none());
    assert_eq!(
        s.families[0],
        FamilyCounts {
            family: Family::Ipv4Unicast,
            prefixes: 3,
            paths: 4
        }
    );
    let fam = |peer: PeerId| s.peers.iter().find(|p| p.peer == peer).unwrap().per_family[0];
    // The clients' group advertises 3; each client holds them less its own best path.
    assert_eq!(fam(1), (Family::Ipv4Unicast, 2, 2, 2));
    assert_eq!(fam(2), (Family::Ipv4Unicast, 1, 1, 2));
    assert_eq!(
        fam(3),
        (Family::Ipv4Unicast, 1, 1, 2),
        "non-clients get client routes only"
    );
    r.feed(ToRib::PublishRoutes);
    let s = r.snapshot(0);
    assert_eq!(s.routes_generation, s.generation);
    let routes = s.routes.unwrap();
    let prefixes: Vec<String> = routes.iter().map(|v| v.prefix.to_string()).collect();
    assert_eq!(prefixes, ["10.0.0.0/8", "10.1.0.0/16", "10.2.0.0/16"]);
    let first = &routes[0].paths;
    assert_eq!(
        (first[0].peer, first[0].best, first[1].peer, first[1].best),
        (2, true, 1, false)
    );
    // Later snapshots keep the published routes until asked again.
    let s2 = r.snapshot(0);
    assert_eq!(s2.routes_generation, s.generation);
}

#[test]
fn attribute_sets_are_shared_and_freed_with_their_last_route() {
    let mut r = rib_with(&[(1, true), (2, true)]);
    let many: Vec<String> = (0..100).map(|i| format!("10.{i}.0.0/16")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    r.feed(route(1, &many));
    r.feed(announce(2, &many, attrs([192, 0, 2, 1])));
    assert_eq!(r.attr_sets(), 1);
    r.plan();
    r.feed(announce(2, &many[..50], lp([192, 0, 2, 1], 10)));
    assert_eq!(r.attr_sets(), 2);
    r.feed(withdraw(1, &many));
    r.feed(ToRib::PeerDown { peer: 2 });
    // Dirty entries keep the old best alive until the flush.
    r.plan();
    assert_eq!(r.attr_sets(), 0);
}
