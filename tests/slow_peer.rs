//! A client that stops reading (ARCHITECTURE invariant 1): while it is stalled the other
//! clients converge, through a table load and many rounds of changes, and reflectd's memory
//! stays bounded by the table, not by the changes; when it reads again it ends with exactly
//! the current table — nothing lost, nothing stale.
//!
//! The stalled client is also a source: it announces some prefixes with a better path,
//! right after it connects and again in the middle of its stall (while what it owes is
//! pending). A peer is never sent its own route back (issue #14): it must end without
//! those prefixes, including the ones it had been sent the source's path for before its
//! own became best; and the source must hold only the stalled client's paths, none of its
//! own. The speaker keeps every route it is sent, its own ORIGINATOR_ID included, so an
//! echo shows.
//!
//! Prints its measurements (`--nocapture`); docs/robustness.md quotes them.

mod common;
use common::*;
use reflectd::speaker::{Speaker, SpeakerConfig};
use reflectd::wire::AnyPrefix;
use reflectd::wire::{self, *};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// Prefixes in the table: each with its own attribute set, so every one is its own UPDATE
/// on the way out (about 70 bytes): ~14 MB, far past the 4 MiB Xoff mark plus the socket
/// buffers (128 KiB receive, up to 4 MiB send on this kernel).
const PREFIXES: u32 = 200_000;
/// Rounds of changes while the client is stalled; each withdraws 10% and (re)announces
/// another 10% with new attributes: 12 x 40k = 480k changes, 2.4 tables' worth.
const ROUNDS: u32 = 12;
const CHANGE: usize = (PREFIXES / 10) as usize;
/// The stalled client is not read for at least this long.
const MIN_STALL: Duration = Duration::from_secs(25);
/// Bound on any one convergence (a debug build on a shared 2-core machine).
const CONVERGE: Duration = Duration::from_secs(240);

const SOURCE_ID: Ipv4Addr = Ipv4Addr::new(1, 1, 1, 1);
const STALLED_ID: Ipv4Addr = Ipv4Addr::new(2, 2, 2, 3);

/// Prefixes the stalled client announces as soon as it connects, and in the middle of its
/// stall: one in a thousand each.
fn own_at_start(i: u32) -> bool {
    i % 1000 == 7
}
fn own_mid_stall(i: u32) -> bool {
    i % 1000 == 501
}

/// The stalled client's path for prefix `i`: better than any of the source's (LOCAL_PREF).
fn stalled_announced(i: u32) -> PathAttrs {
    PathAttrs {
        origin: Origin::Igp,
        as_path: AsPath::default(),
        next_hop: NextHop::V4(Ipv4Addr::new(100, 65, (i >> 8) as u8, i as u8)),
        local_pref: Some(1000),
        ..PathAttrs::default()
    }
}

fn stalled_reflected(i: u32) -> PathAttrs {
    PathAttrs {
        originator_id: Some(STALLED_ID),
        cluster_list: vec![CLUSTER_ID],
        ..stalled_announced(i)
    }
}

fn prefix(i: u32) -> Prefix4 {
    Prefix4::new(Ipv4Addr::from(0x1400_0000 + (i << 8)), 24).expect("prefix")
}

/// What the speaker announces for prefix `i` in round `round` (0 = the initial load).
fn announced(i: u32, round: u32) -> PathAttrs {
    PathAttrs {
        origin: Origin::Igp,
        as_path: AsPath::default(),
        next_hop: NextHop::V4(Ipv4Addr::new(100, 64, (i >> 8) as u8, i as u8)),
        med: Some(round * 1_000_000 + i),
        local_pref: Some(100 + round),
        ..PathAttrs::default()
    }
}

/// What every client must receive for it (RFC 4456 §8: ORIGINATOR_ID, CLUSTER_LIST added).
fn reflected(i: u32, round: u32) -> PathAttrs {
    PathAttrs {
        originator_id: Some(SOURCE_ID),
        cluster_list: vec![CLUSTER_ID],
        ..announced(i, round)
    }
}

type Table = HashMap<AnyPrefix, PathAttrs>;

/// Sends `bytes` in slices, reading the live clients in between so their output never has
/// to wait for the whole load to be written.
fn send_chunked(s: &mut Speaker, bytes: &[u8], live: &mut [&mut Speaker]) {
    for chunk in bytes.chunks(256 * 1024) {
        s.send_raw(chunk).expect("speaker write");
        for c in live.iter_mut() {
            c.poll(Duration::from_millis(2)).expect("client read");
        }
    }
}

/// What each session must hold when the source's announcements are `src` and the stalled
/// client's `own` (both as reflected): the other clients the two, the stalled client's
/// paths winning; the source only the stalled client's paths (never its own back); the
/// stalled client the source's, less the prefixes where its own path is best.
struct Views {
    others: Table,
    source: Table,
    stalled: Table,
}

fn views(src: &Table, own: &Table) -> Views {
    let mut others = src.clone();
    others.extend(own.iter().map(|(p, a)| (*p, a.clone())));
    let mut stalled = src.clone();
    stalled.retain(|p, _| !own.contains_key(p));
    Views {
        others,
        source: own.clone(),
        stalled,
    }
}

/// The stalled client announces `idx` with its better path (it only writes).
fn announce_own(stalled: &mut Speaker, idx: &[u32], own: &mut Table) {
    for &i in idx {
        stalled
            .announce(&[prefix(i)], &stalled_announced(i))
            .expect("stalled client write");
        own.insert(AnyPrefix::V4(prefix(i)), stalled_reflected(i));
    }
}

/// `converge` for the clients that read and the source, against the current tables.
fn converge_live(
    (a, b, s): (&mut Speaker, &mut Speaker, &mut Speaker),
    want: &Table,
    own: &Table,
    what: &str,
) {
    let v = views(want, own);
    converge(
        &mut [
            (a, &v.others, "a"),
            (b, &v.others, "b"),
            (s, &v.source, "source"),
        ],
        what,
    );
}

/// Polls the sessions until each holds exactly its table; panics with the differences
/// after `CONVERGE`.
/// [`converge`] for the stalled client reading again and the live sessions, each to its
/// view in `v`.
fn converge_with_stalled(
    stalled: &mut Speaker,
    (a, b, s): (&mut Speaker, &mut Speaker, &mut Speaker),
    v: &Views,
    what: &str,
) {
    converge(
        &mut [
            (stalled, &v.stalled, "stalled"),
            (a, &v.others, "a"),
            (b, &v.others, "b"),
            (s, &v.source, "source"),
        ],
        what,
    );
}

fn converge(sessions: &mut [(&mut Speaker, &Table, &str)], what: &str) {
    let deadline = Instant::now() + CONVERGE;
    loop {
        let done = sessions
            .iter()
            .all(|(c, want, _)| c.routes.len() == want.len() && c.routes == **want);
        if done {
            return;
        }
        if Instant::now() >= deadline {
            for (c, want, name) in sessions.iter() {
                let missing = want.keys().filter(|p| !c.routes.contains_key(p)).count();
                let extra = c.routes.keys().filter(|p| !want.contains_key(p)).count();
                let wrong = want
                    .iter()
                    .filter(|(p, a)| c.routes.get(p).is_some_and(|b| b != *a))
                    .count();
                let example = want
                    .iter()
                    .find(|(p, a)| c.routes.get(p).is_some_and(|b| b != *a))
                    .map(|(p, a)| format!("{p:?}: got {:?}, want {a:?}", c.routes.get(p)));
                eprintln!(
                    "{what}: {name}: missing {missing}, extra {extra}, wrong attributes {wrong} \
                     (e.g. {example:?})"
                );
            }
            panic!("{what}: did not converge");
        }
        for (c, _, name) in sessions.iter_mut() {
            assert!(
                c.poll(Duration::from_millis(20)).expect("read"),
                "{name} closed"
            );
        }
    }
}

/// reflectd logged an Xoff for the stalled client (127.0.0.23).
fn throttled(r: &Reflector) -> bool {
    r.log()
        .lines()
        .any(|l| l.contains("output throttled (Xoff)") && l.contains("127.0.0.23"))
}

fn metric(r: &Reflector, name: &str, neighbor: &str) -> Option<f64> {
    let text = r.http(r.metrics, "/metrics");
    let key = format!("{name}{{neighbor=\"{neighbor}\"}}");
    text.lines()
        .find_map(|l| l.strip_prefix(&key)?.trim().parse().ok())
}

#[test]
fn a_stalled_client_does_not_stall_the_others_costs_bounded_memory_and_catches_up_exactly() {
    stall(false);
}

/// The same, but the client connects once the table is loaded: its initial dump (~14 MB)
/// is what it stops reading, and the changes come while that dump is still queued.
#[test]
fn a_client_that_stalls_during_its_initial_dump_catches_up_exactly() {
    stall(true);
}

fn stall(joins_late: bool) {
    let long_hold = |addr| NeighborSpec {
        hold_time: 240,
        ..NeighborSpec::client(addr)
    };
    let r = Reflector::start(&[
        long_hold("127.0.0.11"),
        long_hold("127.0.0.21"),
        long_hold("127.0.0.22"),
        long_hold("127.0.0.23"),
    ]);
    let speaker = |local: &str, id: [u8; 4]| {
        let mut cfg = SpeakerConfig::new(ip(local), ASN, Ipv4Addr::from(id));
        // Long enough that the stalled one needs no keepalive from us while it sleeps; our
        // hold timer on reflectd's side is reset by received bytes only.
        cfg.hold_time = 240;
        r.speaker_with(&cfg)
    };
    let mut a = speaker("127.0.0.21", [2, 2, 2, 1]);
    let mut b = speaker("127.0.0.22", [2, 2, 2, 2]);
    // The stalled client: after the OPEN exchange it is not read until the end.
    // As soon as it is up it announces its own better paths for some prefixes.
    let own_start: Vec<u32> = (0..PREFIXES).filter(|&i| own_at_start(i)).collect();
    let mut own = Table::new();
    let mut stalled = (!joins_late).then(|| {
        let mut c = speaker("127.0.0.23", STALLED_ID.octets());
        announce_own(&mut c, &own_start, &mut own);
        c
    });
    let mut stall_start = Instant::now();
    let mut s = speaker("127.0.0.11", SOURCE_ID.octets());
    let rss_start = r.vm_kib("VmRSS");

    // The table: 200k prefixes, one UPDATE each. `want`: the source's routes as reflected.
    let mut want = Table::new();
    let mut blob = Vec::new();
    for i in 0..PREFIXES {
        wire::encode_announce(&s.ctx, &announced(i, 0), &[prefix(i)], &mut blob);
        want.insert(AnyPrefix::V4(prefix(i)), reflected(i, 0));
    }
    let load_bytes = blob.len();
    send_chunked(&mut s, &blob, &mut [&mut a, &mut b]);
    converge_live((&mut a, &mut b, &mut s), &want, &own, "initial load");
    if joins_late {
        let mut c = speaker("127.0.0.23", STALLED_ID.octets());
        announce_own(&mut c, &own_start, &mut own);
        stalled = Some(c);
        stall_start = Instant::now();
        // Bounded wait for the dump to fill its socket and queue.
        let deadline = Instant::now() + CONVERGE;
        while !throttled(&r) {
            assert!(Instant::now() < deadline, "no Xoff for the late client");
            for c in [&mut a, &mut b, &mut s] {
                c.poll(Duration::from_millis(20)).unwrap();
            }
        }
    }
    let mut stalled = stalled.unwrap();
    let rss_table = r.vm_kib("VmRSS");
    assert!(
        throttled(&r),
        "the stalled client was never throttled: the test did not test it"
    );

    // Rounds of changes, each converged on by the live clients.
    let mut rng = Rng(0x5eed_0005);
    let mut present: Vec<bool> = vec![true; PREFIXES as usize];
    // The round whose attributes each prefix carries now.
    let mut last: Vec<u32> = vec![0; PREFIXES as usize];
    let mut rss_rounds = Vec::new();
    let mut changes = 0usize;
    for round in 1..=ROUNDS {
        let mut withdraw = Vec::new();
        let mut chosen = vec![false; PREFIXES as usize];
        while withdraw.len() < CHANGE {
            let i = rng.index(PREFIXES as usize);
            if present[i] {
                present[i] = false;
                chosen[i] = true;
                withdraw.push(i as u32);
            }
        }
        let mut announce = Vec::new();
        while announce.len() < CHANGE {
            let i = rng.index(PREFIXES as usize);
            if !chosen[i] {
                chosen[i] = true;
                announce.push(i as u32);
            }
        }
        let mut blob = Vec::new();
        let gone: Vec<Prefix4> = withdraw.iter().map(|&i| prefix(i)).collect();
        wire::encode_withdraw(&s.ctx, &gone, &mut blob);
        for p in &gone {
            want.remove(&AnyPrefix::V4(*p));
        }
        for &i in &announce {
            wire::encode_announce(&s.ctx, &announced(i, round), &[prefix(i)], &mut blob);
            want.insert(AnyPrefix::V4(prefix(i)), reflected(i, round));
            present[i as usize] = true;
            last[i as usize] = round;
        }
        changes += withdraw.len() + announce.len();
        send_chunked(&mut s, &blob, &mut [&mut a, &mut b]);
        converge_live(
            (&mut a, &mut b, &mut s),
            &want,
            &own,
            &format!("round {round}"),
        );
        if round == ROUNDS / 2 {
            // The source's session drops mid-stall (every route withdrawn), then it comes
            // back and announces what it had: the stalled client owes both, as prefixes.
            let _ = s.take_stream().shutdown(std::net::Shutdown::Both);
            let v = views(&Table::new(), &own);
            converge(
                &mut [(&mut a, &v.others, "a"), (&mut b, &v.others, "b")],
                "source down",
            );
            s = speaker("127.0.0.11", SOURCE_ID.octets());
            let mut blob = Vec::new();
            for i in (0..PREFIXES).filter(|&i| present[i as usize]) {
                let a = announced(i, last[i as usize]);
                wire::encode_announce(&s.ctx, &a, &[prefix(i)], &mut blob);
            }
            send_chunked(&mut s, &blob, &mut [&mut a, &mut b]);
            // The stalled client's own path becomes best for more prefixes, some of which
            // it may have been sent the source's path for before it stopped reading.
            let mid: Vec<u32> = (0..PREFIXES).filter(|&i| own_mid_stall(i)).collect();
            announce_own(&mut stalled, &mid, &mut own);
            converge_live((&mut a, &mut b, &mut s), &want, &own, "source back");
        }
        rss_rounds.push(r.vm_kib("VmRSS"));
    }
    // Keep it stalled for a while even if the rounds went fast.
    while stall_start.elapsed() < MIN_STALL {
        for c in [&mut a, &mut b, &mut s] {
            assert!(c.poll(Duration::from_millis(100)).unwrap());
        }
    }
    let stall = stall_start.elapsed();
    let sent_to_stalled = metric(&r, "reflectd_neighbor_sent_bytes_total", "127.0.0.23");
    let rss_stalled = r.vm_kib("VmRSS");
    let hwm = r.vm_kib("VmHWM");
    let xoff_line = r
        .log()
        .lines()
        .find(|l| l.contains("output throttled (Xoff)") && l.contains("127.0.0.23"))
        .map(str::to_string);

    // Resume reading: the client must end with exactly the current table, less its own.
    let v = views(&want, &own);
    // Not empty comparisons: the source holds the stalled client's paths, and the stalled
    // client holds fewer than the others.
    let sizes = [v.stalled.len(), v.others.len(), v.source.len()];
    converge_with_stalled(&mut stalled, (&mut a, &mut b, &mut s), &v, "after resume");
    assert!(stalled.notification.is_none() && !stalled.closed);
    assert!(
        sizes[2] > 0 && sizes[0] < sizes[1],
        "stalled, others, source: {sizes:?}"
    );
    // And it takes part in ordinary deltas again: a change of the source's ...
    let i = (0..PREFIXES)
        .find(|&i| present[i as usize] && !own.contains_key(&AnyPrefix::V4(prefix(i))))
        .unwrap();
    s.announce(&[prefix(i)], &announced(i, ROUNDS + 1)).unwrap();
    want.insert(AnyPrefix::V4(prefix(i)), reflected(i, ROUNDS + 1));
    // ... and its own path withdrawn where the source has one: it is sent the source's.
    let j = (0..PREFIXES)
        .find(|&j| present[j as usize] && own.contains_key(&AnyPrefix::V4(prefix(j))))
        .unwrap();
    stalled.withdraw(&[prefix(j)]).unwrap();
    own.remove(&AnyPrefix::V4(prefix(j)));
    let v = views(&want, &own);
    converge_with_stalled(
        &mut stalled,
        (&mut a, &mut b, &mut s),
        &v,
        "delta after resume",
    );
    let catch_up = stall_start.elapsed() - stall;

    let table_cost = rss_table.saturating_sub(rss_start);
    let max_rounds = *rss_rounds.iter().max().unwrap();
    println!(
        "slow peer (joins late: {joins_late}): {PREFIXES} prefixes ({load_bytes} bytes from the source), {ROUNDS} rounds, \
         {changes} changes and a source flap; stalled {:.1} s; reflectd wrote {sent_to_stalled:?} bytes to the \
         stalled client's socket before it stopped; first Xoff: {xoff_line:?}; \
         RSS KiB: start {rss_start}, table loaded {rss_table}, per round {rss_rounds:?}, \
         at end of stall {rss_stalled}, peak (VmHWM) {hwm}; caught up in {:.1} s \
         ({} UPDATEs received)",
        stall.as_secs_f64(),
        catch_up.as_secs_f64(),
        stalled.updates_received
    );
    // Memory follows the table, not the number of changes: 2.4 tables' worth of changes
    // (each ~70 bytes encoded, ~33 MB if they were queued as bytes) may cost at most what
    // the table itself cost again. Pending state is a set of prefixes (one entry per
    // changed prefix, at most the table), and replaced attribute sets are freed.
    assert!(
        max_rounds <= rss_table + table_cost,
        "RSS grew with the changes: table cost {table_cost} KiB, after table {rss_table} KiB, \
         rounds {rss_rounds:?}"
    );
}
