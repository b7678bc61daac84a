//! Churn and session flaps against an independent reference: four speakers (two clients,
//! two non-clients) announce overlapping IPv4 and IPv6 prefixes with varied attributes, withdraw them and
//! drop and re-establish their sessions, in a seeded deterministic sequence. Once quiet,
//! each observer must hold exactly what a separate, simple implementation of RFC 4271
//! §9.1.2.2 with the RFC 4456 §9 tie-breaks and reflection rules (§6) says: for every
//! prefix the best path with its attributes, and nothing for prefixes nobody announces.
//! Some paths carry NO_ADVERTISE or NO_EXPORT (RFC 1997): a best path with NO_ADVERTISE
//! goes to nobody, NO_EXPORT ones go on between iBGP peers unchanged. The sources are
//! sessions too and must hold the same, less the prefixes whose best path is their own
//! (a peer is never sent its own route back, as BIRD and OpenBGPD do). The speaker keeps
//! every route it is sent, its own ORIGINATOR_ID included, so an echo shows.
//!
//! Prints what it did (`--nocapture`); docs/robustness.md quotes it.

mod common;
use common::*;
use reflectd::speaker::{Speaker, SpeakerConfig};
use reflectd::wire::AnyPrefix;
use reflectd::wire::*;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

const STEPS: usize = 6000;
/// The sequence stops early after this long (slow machine); the count is reported.
const MAX_TIME: Duration = Duration::from_secs(40);
/// Prefix indices 0..POOL are IPv4, POOL..POOL + POOL6 IPv6 (MP_REACH/MP_UNREACH).
const POOL: u32 = 300;
const POOL6: u32 = 100;
/// Another sequence: `REFLECTD_FLAP_SEED=123 cargo test --test flap`.
const SEED: u64 = 0xf1a9_0004;

fn prefix(i: u32) -> Prefix4 {
    Prefix4::new(Ipv4Addr::from(0x0a40_0000 + (i << 8)), 24).expect("prefix")
}

fn prefix6(i: u32) -> Prefix6 {
    Prefix6::new(Ipv6Addr::new(0x2001, 0xdb8, 0x40, i as u16, 0, 0, 0, 0), 64).expect("prefix")
}

fn any(i: u32) -> AnyPrefix {
    if i < POOL {
        AnyPrefix::V4(prefix(i))
    } else {
        AnyPrefix::V6(prefix6(i))
    }
}

/// Announces prefix indices of one family with one attribute set.
fn announce(sp: &mut Speaker, idx: &[u32], a: &PathAttrs) {
    let (v4, v6): (Vec<u32>, Vec<u32>) = idx.iter().partition(|&&i| i < POOL);
    if !v4.is_empty() {
        let ps: Vec<Prefix4> = v4.into_iter().map(prefix).collect();
        sp.announce(&ps, a).expect("announce");
    }
    if !v6.is_empty() {
        let ps: Vec<Prefix6> = v6.into_iter().map(prefix6).collect();
        sp.announce(&ps, a).expect("announce");
    }
}

fn withdraw(sp: &mut Speaker, idx: &[u32]) {
    let (v4, v6): (Vec<u32>, Vec<u32>) = idx.iter().partition(|&&i| i < POOL);
    if !v4.is_empty() {
        let ps: Vec<Prefix4> = v4.into_iter().map(prefix).collect();
        sp.withdraw(&ps).expect("withdraw");
    }
    if !v6.is_empty() {
        let ps: Vec<Prefix6> = v6.into_iter().map(prefix6).collect();
        sp.withdraw(&ps).expect("withdraw");
    }
}

struct Source {
    local: &'static str,
    router_id: Ipv4Addr,
    client: bool,
    /// What it announces now (the session's Adj-RIB-Out), by prefix index.
    table: BTreeMap<u32, PathAttrs>,
    session: Option<Speaker>,
}

/// Attributes drawn so that every decision step decides some prefixes: LOCAL_PREF, AS_PATH
/// length, ORIGIN, MED within and across neighbor ASes, ORIGINATOR_ID (non-clients play
/// other reflectors, two of them sharing originators), CLUSTER_LIST length.
fn random_attrs(rng: &mut Rng, source: usize, client: bool) -> PathAttrs {
    let first_as = [65001, 65002][rng.below(2) as usize];
    let len = rng.below(3) as usize;
    let mut asns = vec![first_as, 3356, 174];
    asns.truncate(len);
    let as_path = if asns.is_empty() {
        AsPath::default()
    } else {
        AsPath {
            segments: vec![AsSegment {
                kind: SegmentKind::Sequence,
                asns,
            }],
        }
    };
    let (originator_id, cluster_list) = if !client && rng.below(2) == 0 {
        let o = Ipv4Addr::new(9, 9, 9, 1 + rng.below(2) as u8);
        let cl = (0..rng.below(3))
            .map(|k| Ipv4Addr::new(10, 77, 0, 1 + k as u8))
            .collect();
        (Some(o), cl)
    } else {
        (None, Vec::new())
    };
    let communities = match rng.below(8) {
        0 => vec![NO_ADVERTISE, 0xfde8_0001],
        1 => vec![NO_EXPORT],
        _ => Vec::new(),
    };
    PathAttrs {
        origin: [Origin::Igp, Origin::Egp, Origin::Incomplete][rng.below(3) as usize],
        as_path,
        next_hop: NextHop::V4(Ipv4Addr::new(
            100,
            64,
            source as u8 + 1,
            rng.below(250) as u8 + 1,
        )),
        med: [None, Some(0), Some(10), Some(50)][rng.below(4) as usize],
        local_pref: [None, Some(100), Some(200)][rng.below(3) as usize],
        originator_id,
        cluster_list,
        communities,
        ..PathAttrs::default()
    }
}

/// RFC 1997 well-known communities.
const NO_EXPORT: u32 = 0xffff_ff01;
const NO_ADVERTISE: u32 = 0xffff_ff02;

// ---- The reference: written from the RFCs, sharing no code with src/rib/decide.rs. ----

/// One path as RFC 4271 §9.1.2.2 ranks it.
struct Ranked<'a> {
    source: &'a Source,
    attrs: &'a PathAttrs,
    local_pref: u32,
    as_path_len: usize,
    origin: u8,
    med: u32,
    neighbor_as: u32,
    /// RFC 4456 §9: ORIGINATOR_ID stands in for the BGP Identifier.
    id: Ipv4Addr,
    cluster_list_len: usize,
    address: IpAddr,
}

fn ranked<'a>(source: &'a Source, attrs: &'a PathAttrs) -> Ranked<'a> {
    let asns: Vec<u32> = attrs
        .as_path
        .segments
        .iter()
        .flat_map(|s| s.asns.iter().copied())
        .collect();
    Ranked {
        source,
        attrs,
        // §9.1.2.1: absent LOCAL_PREF is the reflector's default, 100.
        local_pref: attrs.local_pref.unwrap_or(100),
        as_path_len: asns.len(),
        origin: match attrs.origin {
            Origin::Igp => 0,
            Origin::Egp => 1,
            Origin::Incomplete => 2,
        },
        // §9.1.2.2 c: a missing MED is the lowest value.
        med: attrs.med.unwrap_or(0),
        // §9.1.2.2 c: the neighbor AS is the first in AS_PATH; an empty path is our own.
        neighbor_as: asns.first().copied().unwrap_or(ASN),
        id: attrs.originator_id.unwrap_or(source.router_id),
        cluster_list_len: attrs.cluster_list.len(),
        address: ip(source.local),
    }
}

/// Sort key of the steps after MED: (d) eBGP over iBGP and (e) IGP cost decide nothing
/// here (all iBGP, no next-hop resolution), then (f) lowest id, RFC 4456 shortest
/// CLUSTER_LIST, (g) lowest peer address.
fn key_without_med(r: &Ranked) -> (std::cmp::Reverse<u32>, usize, u8, Ipv4Addr, usize, IpAddr) {
    (
        std::cmp::Reverse(r.local_pref),
        r.as_path_len,
        r.origin,
        r.id,
        r.cluster_list_len,
        r.address,
    )
}

/// Deterministic MED, as src/rib/decide.rs documents it: MED only compares paths from the
/// same neighbor AS, so take the best of each neighbor AS with MED, then the best of those
/// without it.
fn reference_best<'a>(paths: Vec<Ranked<'a>>) -> Option<Ranked<'a>> {
    let mut by_as: BTreeMap<u32, Vec<Ranked>> = BTreeMap::new();
    for p in paths {
        by_as.entry(p.neighbor_as).or_default().push(p);
    }
    by_as
        .into_values()
        .filter_map(|group| {
            group.into_iter().min_by_key(|r| {
                let k = key_without_med(r);
                (k.0, k.1, k.2, r.med, k.3, k.4, k.5)
            })
        })
        .min_by_key(key_without_med)
}

/// The reference's best path for prefix index `i`, if any source announces it.
fn best_of(sources: &[Source], i: u32) -> Option<Ranked<'_>> {
    let paths = sources
        .iter()
        .filter(|s| s.session.is_some())
        .filter_map(|s| s.table.get(&i).map(|a| ranked(s, a)))
        .collect();
    reference_best(paths)
}

/// What a peer at `observer` (its address) that is a client or not must hold: per prefix
/// the best path, if RFC 4456 §6 lets it be reflected to it (a non-client's best path goes
/// to clients only), it does not carry NO_ADVERTISE (RFC 1997) and it is not the peer's
/// own, with ORIGINATOR_ID and CLUSTER_LIST as the reflector sets them (§8).
fn expected(
    sources: &[Source],
    observer: &str,
    observer_client: bool,
) -> HashMap<AnyPrefix, PathAttrs> {
    let mut out = HashMap::new();
    for i in 0..POOL + POOL6 {
        let Some(best) = best_of(sources, i) else {
            continue;
        };
        if !best.source.client && !observer_client {
            continue;
        }
        if best.attrs.communities.contains(&NO_ADVERTISE) || best.source.local == observer {
            continue;
        }
        let mut a = best.attrs.clone();
        a.originator_id = Some(a.originator_id.unwrap_or(best.source.router_id));
        a.cluster_list.insert(0, CLUSTER_ID);
        out.insert(any(i), a);
    }
    out
}

/// How what `sp` holds differs from `want`, if it does: how many prefixes and why, the
/// peer's own route sent back, a NO_ADVERTISE route sent, or anything else. `bests`: per
/// prefix index, the reference best path's source address and whether it carries
/// NO_ADVERTISE.
fn differences(
    sp: &Speaker,
    want: &HashMap<AnyPrefix, PathAttrs>,
    bests: &HashMap<u32, (&str, bool)>,
    name: &str,
) -> Option<String> {
    if sp.notification.is_some() || sp.closed {
        return Some(format!("{name} lost its session"));
    }
    if sp.routes == *want {
        return None;
    }
    let (mut echoed, mut no_advertise, mut diffs) = (0, 0, Vec::new());
    for i in 0..POOL + POOL6 {
        let p = any(i);
        let (got, exp) = (sp.routes.get(&p), want.get(&p));
        if got == exp {
            continue;
        }
        match (bests.get(&i), got, exp) {
            (Some((_, true)), Some(_), None) => no_advertise += 1,
            (Some((local, _)), Some(_), None) if name.ends_with(local) => echoed += 1,
            _ => diffs.push(format!("{p:?}: got {got:?}\n   want {exp:?}")),
        }
    }
    Some(format!(
        "{name}: {} prefixes differ from the reference: {echoed} its own best path sent back, \
         {no_advertise} NO_ADVERTISE best paths sent, {} others:\n{}",
        echoed + no_advertise + diffs.len(),
        diffs.len(),
        diffs[..diffs.len().min(10)].join("\n")
    ))
}

fn connect(r: &Reflector, s: &Source) -> Speaker {
    let cfg = SpeakerConfig::new(ip(s.local), ASN, s.router_id);
    r.speaker_with(&cfg)
}

#[test]
fn after_churn_and_flaps_every_observer_holds_exactly_the_reference_best_paths() {
    let specs = [
        ("127.0.0.11", true),
        ("127.0.0.12", true),
        ("127.0.0.13", false),
        ("127.0.0.14", false),
    ];
    let mut neighbors: Vec<NeighborSpec> = specs
        .iter()
        .map(|&(a, client)| NeighborSpec {
            rr_client: client,
            ..NeighborSpec::client(a)
        })
        .collect();
    neighbors.push(NeighborSpec::client("127.0.0.21"));
    neighbors.push(NeighborSpec::non_client("127.0.0.22"));
    let r = Reflector::start(&neighbors);
    let mut observer_client = r.speaker("127.0.0.21", [2, 2, 2, 1]);
    let mut observer_non_client = r.speaker("127.0.0.22", [2, 2, 2, 2]);
    let mut sources: Vec<Source> = specs
        .iter()
        .enumerate()
        .map(|(k, &(local, client))| Source {
            local,
            // Descending with k, so later sources win the id tie-break.
            router_id: Ipv4Addr::new(10, 0, 0, 40 - k as u8),
            client,
            table: BTreeMap::new(),
            session: None,
        })
        .collect();
    for s in sources.iter_mut() {
        s.session = Some(connect(&r, s));
    }

    let seed = std::env::var("REFLECTD_FLAP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED);
    let mut rng = Rng(seed);
    let (mut announces, mut withdraws, mut flaps, mut steps) = (0usize, 0usize, 0usize, 0usize);
    let mut observer_flaps = 0usize;
    let start = Instant::now();
    while steps < STEPS && start.elapsed() < MAX_TIME {
        steps += 1;
        let k = rng.below(sources.len() as u64) as usize;
        let roll = rng.below(100);
        let s = &mut sources[k];
        if roll < 2 {
            // Flap: drop TCP (every other time after a Cease), reconnect, re-announce
            // what it has.
            let mut old = s.session.take().unwrap();
            if flaps % 2 == 1 {
                let cease = Notification {
                    code: notif::CEASE,
                    subcode: notif::CEASE_ADMIN_RESET,
                    data: Vec::new(),
                };
                old.send(&Message::Notification(cease)).expect("cease");
            }
            drop(old);
            r.wait_session_gone(s.local);
            let mut sp = connect(&r, s);
            let held: Vec<(u32, PathAttrs)> =
                s.table.iter().map(|(i, a)| (*i, a.clone())).collect();
            for (i, a) in held {
                announce(&mut sp, &[i], &a);
            }
            s.session = Some(sp);
            flaps += 1;
        } else if roll < 3 {
            // An observer flaps: it must be brought back to the current state by a dump.
            let (o, local, id) = if rng.below(2) == 0 {
                (&mut observer_client, "127.0.0.21", [2, 2, 2, 1])
            } else {
                (&mut observer_non_client, "127.0.0.22", [2, 2, 2, 2])
            };
            // Gone before it dials again: reflectd keeps an Established session against
            // a newcomer from the same address (RFC 4271 §6.8).
            let _ = o.take_stream().shutdown(std::net::Shutdown::Both);
            r.wait_session_gone(local);
            *o = r.speaker(local, id);
            observer_flaps += 1;
        } else if roll < 30 && !s.table.is_empty() {
            // Withdraw one to three of what it announces, in one UPDATE.
            let n = 1 + rng.below(3) as usize;
            let keys: Vec<u32> = s.table.keys().copied().collect();
            let mut gone = Vec::new();
            for _ in 0..n {
                let i = keys[rng.below(keys.len() as u64) as usize];
                if s.table.remove(&i).is_some() {
                    gone.push(i);
                }
            }
            withdraw(s.session.as_mut().unwrap(), &gone);
            withdraws += gone.len();
        } else {
            // (Re-)announce one to four prefixes of one family with one new attribute set.
            let mut a = random_attrs(&mut rng, k, s.client);
            let v6 = rng.below(4) == 0;
            if v6 {
                a.next_hop = NextHop::V6 {
                    global: Ipv6Addr::new(0x2001, 0xdb8, 0xff, k as u16 + 1, 0, 0, 0, 1),
                    link_local: None,
                };
            }
            let (base, size) = if v6 { (POOL, POOL6) } else { (0, POOL) };
            let n = 1 + rng.below(4) as usize;
            let mut ps = Vec::new();
            for _ in 0..n {
                let i = base + rng.below(size.into()) as u32;
                if !ps.contains(&i) {
                    s.table.insert(i, a.clone());
                    ps.push(i);
                }
            }
            announce(s.session.as_mut().unwrap(), &ps, &a);
            announces += ps.len();
        }
        if steps % 16 == 0 {
            for o in [&mut observer_client, &mut observer_non_client] {
                assert!(
                    o.poll(Duration::from_millis(1)).unwrap(),
                    "observer dropped"
                );
            }
            for s in sources.iter_mut() {
                let sp = s.session.as_mut().unwrap();
                assert!(
                    sp.poll(Duration::from_millis(1)).unwrap(),
                    "{} dropped",
                    s.local
                );
            }
        }
    }

    // Quiesce: each observer, and each source, must reach exactly the reference.
    let want_client = expected(&sources, "127.0.0.21", true);
    let want_non_client = expected(&sources, "127.0.0.22", false);
    let bests: HashMap<u32, (&str, bool)> = (0..POOL + POOL6)
        .filter_map(|i| {
            let b = best_of(&sources, i)?;
            Some((
                i,
                (b.source.local, b.attrs.communities.contains(&NO_ADVERTISE)),
            ))
        })
        .collect();
    let wants: HashMap<&str, _> = sources
        .iter()
        .map(|s| (s.local, expected(&sources, s.local, s.client)))
        .collect();
    let held_by_sources: usize = wants.values().map(HashMap::len).sum();
    let mut sessions: Vec<(&mut Speaker, &HashMap<AnyPrefix, PathAttrs>, String)> = vec![
        (&mut observer_client, &want_client, "client observer".into()),
        (
            &mut observer_non_client,
            &want_non_client,
            "non-client observer".into(),
        ),
    ];
    for s in sources.iter_mut() {
        let sp = s.session.as_mut().expect("source session");
        sessions.push((sp, &wants[s.local], format!("source {}", s.local)));
    }
    // One bounded wait for all of them, so that a wrong run does not wait once per session.
    let deadline = Instant::now() + WAIT * 2;
    while Instant::now() < deadline && sessions.iter().any(|(sp, want, _)| sp.routes != **want) {
        for (sp, _, name) in sessions.iter_mut() {
            assert!(
                sp.poll(Duration::from_millis(10)).expect("session read"),
                "{name} lost its session"
            );
        }
    }
    let failures: Vec<String> = sessions
        .iter()
        .filter_map(|(sp, want, name)| differences(sp, want, &bests, name))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The observers got something from every decision: not an empty comparison.
    assert!(
        want_client.len() > (POOL + POOL6) as usize / 2,
        "{}",
        want_client.len()
    );
    assert!(!want_non_client.is_empty() && want_non_client.len() < want_client.len());
    assert!(want_client.keys().any(|p| matches!(p, AnyPrefix::V6(_))));
    // Some best paths were the sources' own and some carried NO_ADVERTISE: the rules
    // were exercised.
    let (mut own, mut no_advertise) = (0, 0);
    for i in 0..POOL + POOL6 {
        if let Some(best) = best_of(&sources, i) {
            no_advertise += best.attrs.communities.contains(&NO_ADVERTISE) as usize;
            own += best.source.client as usize;
        }
    }
    assert!(
        own > 0 && no_advertise > 0,
        "own {own}, NO_ADVERTISE {no_advertise}"
    );
    println!(
        "flap: {steps} steps in {:.1} s (seed {seed:#x}): {announces} announcements, \
         {withdraws} withdrawals, {flaps} source and {observer_flaps} observer session flaps; at the end {} prefixes at the client \
         observer, {} at the non-client observer, {held_by_sources} at the four sources together \
         ({own} best paths from client sources, {no_advertise} with NO_ADVERTISE), all equal to the reference",
        start.elapsed().as_secs_f64(),
        want_client.len(),
        want_non_client.len()
    );
}
