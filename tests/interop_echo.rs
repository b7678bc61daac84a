//! Issue #14, parts 1 and 2, with real daemons read back from their own RIBs.
//!
//! Part 1: a peer is never sent a route learned from itself. Client A announces P; client B
//! (GoBGP, BIRD or FRR) announces P with a better path; A withdraws P, or A's session drops.
//! Once B's path is best, B must hold no path for P from reflectd (it was sent a withdrawal
//! of A's path, as BIRD and OpenBGPD do as reflectors), and after A is gone still only its
//! own. Echoing B's own path back instead leaves GoBGP with A's path for good: it drops the
//! looped UPDATE (ORIGINATOR_ID = its own) without taking it as a withdrawal. reflectd's
//! Advert count and `reflectd_neighbor_prefixes_advertised` for B must be what B really
//! holds from it. A is the project's speaker; each daemon gets its own reflectd, and the
//! withdrawal and the session drop run side by side on different prefixes, both families.
//!
//! Part 2: RFC 1997. A route whose best path carries NO_ADVERTISE is advertised to no
//! peer; NO_EXPORT and NO_EXPORT_SUBCONFED ones are reflected to iBGP clients unchanged.
//! ExaBGP sends them (BIRD, FRR and GoBGP themselves never advertise a NO_ADVERTISE route).

mod common;
use common::daemons::*;
use common::*;
use reflectd::speaker::Speaker;
use reflectd::wire::*;
use serde_json::Value;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

/// Bound on waiting for a path to leave a daemon's RIB after reflectd has decided; a
/// withdrawal crosses reflectd and the daemon in well under a second.
const GONE_WAIT: Duration = Duration::from_secs(15);

/// The assertions that failed, all reported at the end: one run says every way the
/// behaviour is wrong, not only the first.
#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            let msg = what();
            eprintln!("FAILED: {msg}");
            self.0.push(msg);
        }
    }

    fn finish(self, test: &str) {
        assert!(
            self.0.is_empty(),
            "{test}: {} checks failed:\n- {}",
            self.0.len(),
            self.0.join("\n- ")
        );
    }
}

/// Polls `speakers` (their keepalives and what they receive) until `done` holds or
/// `timeout` passes; returns whether it held.
fn settle(
    speakers: &mut [&mut Speaker],
    timeout: Duration,
    mut done: impl FnMut() -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        for s in speakers.iter_mut() {
            let _ = s.poll(Duration::from_millis(50));
        }
    }
}

/// `reflectd neighbors --json`: per neighbor address and family, the Advert count.
fn advertised_cli(r: &Reflector, neighbor: &str, family: &str) -> Option<u64> {
    let out = std::process::Command::new(bin())
        .args([
            "neighbors",
            "--json",
            "--api",
            &format!("127.0.0.1:{}", r.api),
        ])
        .output()
        .ok()?;
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    v.as_array()?
        .iter()
        .find(|n| n["address"].as_str() == Some(neighbor))?["prefixes"]
        .as_array()?
        .iter()
        .find(|f| f["family"].as_str() == Some(family))?["advertised"]
        .as_u64()
}

/// `reflectd_neighbor_prefixes_advertised{neighbor, family}` on /metrics.
fn advertised_metric(r: &Reflector, neighbor: &str, family: &str) -> Option<u64> {
    let (n, f) = (
        format!("neighbor=\"{neighbor}\""),
        format!("family=\"{family}\""),
    );
    r.http(r.metrics, "/metrics").lines().find_map(|l| {
        let rest = l.strip_prefix("reflectd_neighbor_prefixes_advertised{")?;
        (rest.contains(&n) && rest.contains(&f))
            .then(|| rest.rsplit(' ').next()?.trim().parse::<f64>().ok())
            .flatten()
            .map(|v| v as u64)
    })
}

/// Checks that reflectd's Advert count (CLI) and gauge for `neighbor` equal `want` per
/// family, waiting (bounded) for the gauges' 1 s publication.
fn check_advertised(
    f: &mut Failures,
    r: &Reflector,
    speakers: &mut [&mut Speaker],
    neighbor: &str,
    want: [u64; 2],
    when: &str,
) {
    let families = ["ipv4-unicast", "ipv6-unicast"];
    let read = || {
        families.map(|fam| {
            (
                advertised_cli(r, neighbor, fam),
                advertised_metric(r, neighbor, fam),
            )
        })
    };
    let mut got = read();
    settle(speakers, Duration::from_secs(10), || {
        got = read();
        got.iter()
            .zip(want)
            .all(|(&(c, g), w)| c == Some(w) && g == Some(w))
    });
    for ((family, (cli, gauge)), want) in families.into_iter().zip(got).zip(want) {
        f.check(cli == Some(want), || {
            format!("{when}: `reflectd neighbors` Advert for {neighbor} {family} is {cli:?}, but it holds {want} routes from reflectd")
        });
        f.check(gauge == Some(want), || {
            format!("{when}: reflectd_neighbor_prefixes_advertised for {neighbor} {family} is {gauge:?}, but it holds {want} routes from reflectd")
        });
    }
}

/// The paths reflectd holds for `prefix`, as (from neighbor, best).
fn rib_paths(r: &Reflector, prefix: &str) -> Vec<(String, bool)> {
    let body = r.http(
        r.api,
        &format!("/routes?prefix={}", prefix.replace('/', "%2F")),
    );
    let v: Value = serde_json::from_str(&body).unwrap_or_default();
    v.as_array()
        .into_iter()
        .flatten()
        .flat_map(|route| route["paths"].as_array().cloned().unwrap_or_default())
        .map(|p| {
            (
                p["from"].as_str().unwrap_or("").to_string(),
                p["best"].as_bool() == Some(true),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------- Part 1

/// Waits (bounded by `GONE_WAIT`) until `b` holds nothing from reflectd for any of
/// `prefixes`; returns what it holds for each at the end.
fn wait_nothing_held(
    b: &dyn AllPaths,
    prefixes: &[String],
    speakers: &mut [&mut Speaker],
) -> Vec<(String, Vec<Seen>)> {
    let read = || -> Vec<(String, Vec<Seen>)> {
        prefixes
            .iter()
            .map(|p| (p.clone(), b.held_from_reflector(p)))
            .collect()
    };
    let mut held = read();
    settle(speakers, GONE_WAIT, || {
        held = read();
        held.iter().all(|(_, h)| h.is_empty())
    });
    held
}

/// Where one daemon's part lives: A1 (withdraws) at .{k}1, A2 (its session drops) at
/// .{k}2, the daemon B at .{k}3, all in 127.0.14.0/24; prefixes 10.14.{k}j.0/24 and
/// 2001:db8:14:{k}j::/64.
struct Layout {
    k: u8,
}

impl Layout {
    fn addr(&self, n: u8) -> String {
        format!("127.0.14.{}", self.k * 10 + n)
    }
    fn id(&self, n: u8) -> String {
        format!("10.0.14.{}", self.k * 10 + n)
    }
    /// j = 0: only A1 announces it (B keeps holding it from reflectd); 1: A1 withdraws it;
    /// 2: A2's session drops.
    fn prefix(&self, j: u8, v6: bool) -> String {
        if v6 {
            format!("2001:db8:14:{}::/64", self.k * 10 + j)
        } else {
            format!("10.14.{}.0/24", self.k * 10 + j)
        }
    }
    fn b_next_hop(&self, v6: bool) -> String {
        if v6 {
            format!("2001:db8:ffff::14:{}", self.k * 10 + 3)
        } else {
            format!("100.64.14.{}", self.k * 10 + 3)
        }
    }
    fn neighbors(&self) -> Vec<NeighborSpec> {
        (1..=3)
            .map(|n| NeighborSpec::client(leak(self.addr(n))))
            .collect()
    }
}

/// A's announcement of `prefixes` (both families) from A number `n`, LOCAL_PREF 100.
fn a_announce(sp: &mut Speaker, l: &Layout, n: u8, prefixes: &[u8]) {
    let host = l.k * 10 + n;
    let v4: Vec<Prefix4> = prefixes.iter().map(|&j| p4(&l.prefix(j, false))).collect();
    let v6: Vec<Prefix6> = prefixes.iter().map(|&j| p6(&l.prefix(j, true))).collect();
    sp.announce(&v4, &attrs([100, 64, 14, host]))
        .expect("announce");
    let a6 = PathAttrs {
        next_hop: NextHop::V6 {
            global: Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0x14, host.into()),
            link_local: None,
        },
        ..attrs([100, 64, 14, host])
    };
    sp.announce(&v6, &a6).expect("announce");
}

/// A daemon's Adj-RIB-In from reflectd: the prefixes of a family (`ipv4`, `ipv6`).
type AdjRibIn<'a> = dyn Fn(&str) -> Vec<String> + 'a;

/// The sequence of issue #14 part 1 against daemon `b` (already started, its own route
/// for prefixes 1 and 2 not yet announced): `announce_b` makes it announce them with
/// LOCAL_PREF 200. `adj_rib_in`, where the daemon has one, lists the prefixes of a family
/// (`ipv4`, `ipv6`) it was sent and still holds from reflectd before its own loop checks.
fn echo_sequence(
    r: &Reflector,
    l: &Layout,
    b: &dyn AllPaths,
    announce_b: impl FnOnce(),
    adj_rib_in: Option<&AdjRibIn<'_>>,
) {
    let mut f = Failures::default();
    let a1_id = l.id(1).parse::<Ipv4Addr>().unwrap().octets();
    let a2_id = l.id(2).parse::<Ipv4Addr>().unwrap().octets();
    let mut a1 = r.speaker(&l.addr(1), a1_id);
    let mut a2 = r.speaker(&l.addr(2), a2_id);
    let b_addr = l.addr(3);
    let all = |js: &[u8]| -> Vec<String> {
        js.iter()
            .flat_map(|&j| [l.prefix(j, false), l.prefix(j, true)])
            .collect()
    };

    // A1 announces prefixes 0 and 1, A2 prefix 2; B holds each from reflectd.
    a_announce(&mut a1, l, 1, &[0, 1]);
    a_announce(&mut a2, l, 2, &[2]);
    for (j, a) in [(0, l.id(1)), (1, l.id(1)), (2, l.id(2))] {
        for p in [l.prefix(j, false), l.prefix(j, true)] {
            let ok = settle(&mut [&mut a1, &mut a2], ROUTE_WAIT, || {
                b.held_from_reflector(&p)
                    .iter()
                    .any(|s| s.originator_id.as_deref() == Some(a.as_str()))
            });
            assert!(
                ok,
                "{} never got A's {p} from reflectd\n{}",
                b.name(),
                b.dump()
            );
        }
    }

    // B announces prefixes 1 and 2 with the better path; reflectd selects it (A1 and A2
    // are sent it).
    announce_b();
    let b_id = l.id(3);
    let b_id_octets = b_id.parse::<Ipv4Addr>().unwrap();
    let from_b = |s: &Speaker, p: &str| {
        s.route(p)
            .is_some_and(|a| a.originator_id == Some(b_id_octets))
    };
    for (j, a) in [(1u8, 1u8), (2, 2)] {
        for v6 in [false, true] {
            let p = l.prefix(j, v6);
            let sp = if a == 1 { &mut a1 } else { &mut a2 };
            let ok = sp.wait_until(ROUTE_WAIT, |s| from_b(s, &p)).unwrap();
            assert!(
                ok,
                "reflectd never selected {}'s path for {p}: A{a} holds {:?}\n{}",
                b.name(),
                sp.route(&p),
                b.dump()
            );
        }
    }

    // Before A goes: B's own path is best and B holds nothing from reflectd for 1 and 2.
    let held = wait_nothing_held(b, &all(&[1, 2]), &mut [&mut a1, &mut a2]);
    for (p, held) in &held {
        f.check(held.is_empty(), || {
            format!(
                "own path best: {} still holds {p} from reflectd: {held:?} (reflectd echoed \
                 its own path back instead of withdrawing A's)",
                b.name()
            )
        });
        f.check(b.own_is_best(p), || {
            format!(
                "{}'s own path for {p} is not its best: {:?}",
                b.name(),
                b.paths(p)
            )
        });
    }
    for p in all(&[0]) {
        f.check(!b.held_from_reflector(&p).is_empty(), || {
            format!("{} lost A's {p} (only A announces it)", b.name())
        });
    }
    if let Some(adj) = adj_rib_in {
        let want = [vec![l.prefix(0, false)], vec![l.prefix(0, true)]];
        let read = || [adj("ipv4"), adj("ipv6")];
        let mut got = read();
        settle(&mut [&mut a1, &mut a2], GONE_WAIT, || {
            got = read();
            got == want
        });
        for (got, want) in got.iter().zip(&want) {
            f.check(got == want, || {
                format!("own path best: {}'s Adj-RIB-In from reflectd holds {got:?}, want only {want:?}", b.name())
            });
        }
    }
    check_advertised(
        &mut f,
        r,
        &mut [&mut a1, &mut a2],
        &b_addr,
        [1, 1],
        "own path best",
    );

    // A1 withdraws prefix 1; A2's session drops (TCP closed, no NOTIFICATION, no Graceful
    // Restart: its routes go at once).
    let gone1: Vec<Prefix4> = vec![p4(&l.prefix(1, false))];
    let gone6: Vec<Prefix6> = vec![p6(&l.prefix(1, true))];
    a1.withdraw(&gone1).unwrap();
    a1.withdraw(&gone6).unwrap();
    drop(a2);
    for p in all(&[1, 2]) {
        let mut paths = Vec::new();
        let ok = settle(&mut [&mut a1], ROUTE_WAIT, || {
            paths = rib_paths(r, &p);
            paths == [(b_addr.clone(), true)]
        });
        assert!(ok, "reflectd still has {paths:?} for {p}\n{}", r.log());
    }

    // After A is gone: B holds only its own path.
    let held = wait_nothing_held(b, &all(&[1, 2]), &mut [&mut a1]);
    for (p, held) in &held {
        let what = if all(&[1]).contains(p) {
            "withdrawal"
        } else {
            "session drop"
        };
        f.check(held.is_empty(), || {
            format!(
                "after A's {what}: {} still holds {p} from reflectd: {held:?}",
                b.name()
            )
        });
        f.check(b.own_is_best(p), || {
            format!(
                "after A's {what}: {}'s own path for {p} is not its best: {:?}",
                b.name(),
                b.paths(p)
            )
        });
    }
    if let Some(adj) = adj_rib_in {
        for (af, v6) in [("ipv4", false), ("ipv6", true)] {
            let want = vec![l.prefix(0, v6)];
            let got = adj(af);
            f.check(got == want, || {
                format!("after A: {}'s Adj-RIB-In from reflectd ({af}) holds {got:?}, want only {want:?}", b.name())
            });
        }
    }
    // What B holds from reflectd, read from B: prefix 0 in each family, and that is what
    // reflectd must count.
    for v6 in [false, true] {
        let n = [0, 1, 2]
            .iter()
            .map(|&j| b.held_from_reflector(&l.prefix(j, v6)).len())
            .sum::<usize>();
        f.check(n == 1, || {
            format!(
                "after A: {} holds {n} paths from reflectd (v6: {v6}), want 1\n{}",
                b.name(),
                b.dump()
            )
        });
    }
    check_advertised(&mut f, r, &mut [&mut a1], &b_addr, [1, 1], "after A");
    f.finish(&b.name());
}

#[test]
fn a_gobgp_client_whose_path_became_best_holds_none_of_ours_for_it_after_withdrawal_and_drop() {
    if !GoBgp::installed() {
        return;
    }
    let l = Layout { k: 1 };
    let r = Reflector::start(&l.neighbors());
    let b = GoBgp::builder(&r, "b", &l.addr(3), &l.id(3)).start();
    let announce = || {
        for j in [1, 2] {
            for v6 in [false, true] {
                b.announce(
                    &l.prefix(j, v6),
                    &format!("origin igp nexthop {} local-pref 200", l.b_next_hop(v6)),
                );
            }
        }
    };
    echo_sequence(&r, &l, &b, announce, None);
}

#[test]
fn a_bird_client_whose_path_became_best_holds_none_of_ours_for_it_after_withdrawal_and_drop() {
    if !Bird::installed() {
        return;
    }
    let l = Layout { k: 2 };
    let r = Reflector::start(&l.neighbors());
    // Its routes are configured but switched off until A's have arrived.
    let statics = |v6: bool| {
        format!(
            "disabled yes; {}",
            [1, 2]
                .iter()
                .map(|&j| format!(
                    "route {} blackhole {{ bgp_local_pref = 200; }};",
                    l.prefix(j, v6)
                ))
                .collect::<String>()
        )
    };
    let b = Bird::builder(&r, "b", &l.addr(3), &l.id(3))
        .statics(&statics(false), &statics(true))
        .next_hops(&l.b_next_hop(false), &l.b_next_hop(true))
        .start();
    let announce = || {
        for s in ["s4", "s6"] {
            let out = b.birdc(&format!("enable {s}"));
            assert!(out.contains("enabled"), "birdc enable {s}: {out}");
        }
    };
    echo_sequence(&r, &l, &b, announce, None);
}

#[test]
fn an_frr_client_whose_path_became_best_holds_none_of_ours_for_it_after_withdrawal_and_drop() {
    if !Frr::installed() {
        return;
    }
    let l = Layout { k: 3 };
    let r = Reflector::start(&l.neighbors());
    // soft-reconfiguration inbound: FRR keeps what it was sent, before its loop checks.
    let af = |af: &str| {
        format!(
            " address-family {af} unicast\n  neighbor 127.0.0.1 activate\n  \
             neighbor 127.0.0.1 soft-reconfiguration inbound\n exit-address-family\n"
        )
    };
    let b = Frr::builder(&r, "b", &l.addr(3), &l.id(3))
        .body(&format!("{}{}", af("ipv4"), af("ipv6")))
        .tail(&format!(
            "route-map B4 permit 10\n set ip next-hop {}\n set local-preference 200\n!\n\
             route-map B6 permit 10\n set ipv6 next-hop global {}\n set local-preference 200\n!\n",
            l.b_next_hop(false),
            l.b_next_hop(true)
        ))
        .start();
    let announce = || {
        for (af, v6, map) in [("ipv4", false, "B4"), ("ipv6", true, "B6")] {
            let lines: Vec<String> = [1, 2]
                .iter()
                .map(|&j| format!("network {} route-map {map}", l.prefix(j, v6)))
                .collect();
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            b.configure(af, &refs);
        }
    };
    let adj = |af: &str| b.received_routes(af);
    echo_sequence(&r, &l, &b, announce, Some(&adj));
}

// ---------------------------------------------------------------------------- Part 2

const NO_EXPORT: &str = "65535:65281";
const NO_ADVERTISE: &str = "65535:65282";
const NO_EXPORT_SUBCONFED: &str = "65535:65283";

/// ExaBGP (E) announces, between iBGP clients only: P1 (IPv4 and IPv6) with NO_ADVERTISE,
/// P2 with NO_EXPORT, P3 with NO_EXPORT_SUBCONFED, P4 plain and then again with
/// NO_ADVERTISE; GoBGP (X) announces P6 plain and then E a better P6 with NO_ADVERTISE. BIRD
/// and FRR must hold P2 and P3 with their communities intact, never P1, and lose P4 and P6
/// once their best path carries NO_ADVERTISE; X must not be sent E's P6 either.
#[test]
fn well_known_communities_no_advertise_is_reflected_to_nobody_and_no_export_to_clients_unchanged() {
    let all = ExaBgp::installed() & Bird::installed() & Frr::installed() & GoBgp::installed();
    if !all {
        return;
    }
    let (e_addr, b_addr, f_addr, x_addr) =
        ("127.0.14.51", "127.0.14.52", "127.0.14.53", "127.0.14.54");
    let r = Reflector::start(&[
        NeighborSpec::client(e_addr),
        NeighborSpec::client(b_addr),
        NeighborSpec::client(f_addr),
        NeighborSpec::client(x_addr),
    ]);
    let e = ExaBgp::builder(&r, "e", e_addr, "10.0.14.51").start();
    let bird = Bird::builder(&r, "b", b_addr, "10.0.14.52")
        .next_hops("100.64.14.52", "2001:db8:ffff::14:52")
        .start();
    let frr_af = |af: &str| {
        format!(
            " address-family {af} unicast\n  neighbor 127.0.0.1 activate\n exit-address-family\n"
        )
    };
    let frr = Frr::builder(&r, "f", f_addr, "10.0.14.53")
        .body(&format!("{}{}", frr_af("ipv4"), frr_af("ipv6")))
        .start();
    let x = GoBgp::builder(&r, "x", x_addr, "10.0.14.54").start();
    e.wait_established();
    let mut f = Failures::default();

    let (p1, p1v6, p2, p3, p4, p6, marker) = (
        "10.14.51.0/24",
        "2001:db8:14:51::/64",
        "10.14.52.0/24",
        "10.14.53.0/24",
        "10.14.54.0/24",
        "10.14.56.0/24",
        "10.14.57.0/24",
    );
    let nh = "next-hop 100.64.14.51";
    x.announce(p6, "origin igp nexthop 100.64.14.54 local-pref 100");
    wait_route(&bird, p6, |s| {
        s.originator_id.as_deref() == Some("10.0.14.54")
    });
    e.send(&format!(
        "announce route {p1} {nh} community [{NO_ADVERTISE} 65000:51]"
    ));
    e.send(&format!(
        "announce route {p1v6} next-hop 2001:db8:ffff::14:51 community [{NO_ADVERTISE}]"
    ));
    e.send(&format!(
        "announce route {p2} {nh} community [{NO_EXPORT} 65000:52]"
    ));
    e.send(&format!(
        "announce route {p3} {nh} community [{NO_EXPORT_SUBCONFED}]"
    ));
    e.send(&format!("announce route {p4} {nh} community [65000:54]"));
    // Announced after the others: once a receiver has it, it has been sent whatever
    // reflectd was going to send it of those before.
    e.send(&format!("announce route {marker} {nh}"));
    let receivers: [&dyn AllPaths; 3] = [&bird, &frr, &x];
    for rx in receivers {
        wait_route(rx, marker, |_| true);
        // Compared as sets: FRR lists them sorted.
        let sorted = |s: &Seen| {
            let mut c = s.communities.clone();
            c.sort();
            c
        };
        let got = wait_route(rx, p2, |_| true);
        f.check(sorted(&got) == ["65000:52", NO_EXPORT], || {
            format!(
                "{} holds {p2} with communities {:?}",
                rx.name(),
                got.communities
            )
        });
        let got = wait_route(rx, p3, |_| true);
        f.check(sorted(&got) == [NO_EXPORT_SUBCONFED], || {
            format!(
                "{} holds {p3} with communities {:?}",
                rx.name(),
                got.communities
            )
        });
        wait_route(rx, p4, |_| true);
    }
    // reflectd has P1 (ExaBGP did send it) and sent it to nobody.
    for p in [p1, p1v6] {
        let paths = rib_paths(&r, p);
        assert_eq!(
            paths,
            [(e_addr.to_string(), true)],
            "reflectd's paths for {p}: ExaBGP's announcement never arrived\n{}",
            e.proc.log_text()
        );
        for rx in receivers {
            let held = rx.held_from_reflector(p);
            f.check(held.is_empty(), || {
                format!("{} was sent {p} (NO_ADVERTISE): {held:?}", rx.name())
            });
        }
    }

    // The best path of P4 (same source) and of P6 (another source, better) now carries
    // NO_ADVERTISE: whoever held the previous best is sent a withdrawal.
    e.send(&format!(
        "announce route {p4} {nh} community [65000:54 {NO_ADVERTISE}]"
    ));
    e.send(&format!(
        "announce route {p6} {nh} local-preference 200 community [{NO_ADVERTISE}]"
    ));
    for p in [p4, p6] {
        let ok = eventually(ROUTE_WAIT, || {
            (rib_paths(&r, p).contains(&(e_addr.to_string(), true))).then_some(())
        });
        assert!(
            ok.is_some(),
            "ExaBGP's new {p} is not best: {:?}",
            rib_paths(&r, p)
        );
    }
    let read = || -> Vec<(String, String, Vec<Seen>)> {
        receivers
            .iter()
            .flat_map(|rx| [p4, p6].map(|p| (rx.name(), p.to_string(), rx.held_from_reflector(p))))
            .collect()
    };
    let mut held = read();
    eventually(GONE_WAIT, || {
        held = read();
        held.iter().all(|(_, _, h)| h.is_empty()).then_some(())
    });
    for (name, p, h) in &held {
        f.check(h.is_empty(), || {
            format!("{name} still holds {p} from reflectd once its best path carries NO_ADVERTISE: {h:?}")
        });
    }
    f.check(x.own_is_best(p6), || {
        format!("GoBGP's own {p6} is not its best: {:?}", x.paths(p6))
    });

    // BIRD and FRR hold P2, P3 and the marker from reflectd, which is what reflectd counts.
    for rx in [b_addr, f_addr] {
        check_advertised(&mut f, &r, &mut [], rx, [3, 0], "RFC 1997");
    }
    for rx in [&bird as &dyn AllPaths, &frr] {
        let n: usize = [p1, p2, p3, p4, p6, marker]
            .iter()
            .map(|p| rx.held_from_reflector(p).len())
            .sum();
        f.check(n == 3, || {
            format!(
                "{} holds {n} of the test's IPv4 routes from reflectd, want 3",
                rx.name()
            )
        });
    }
    f.finish("RFC 1997");
}
