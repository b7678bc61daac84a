//! Memory per stored path at scale (ARCHITECTURE invariant 5). `#[ignore]`d: run it alone,
//! since the counting allocator sees every thread of the test binary:
//!
//! `cargo test -j1 --lib rib::mem_test -- --ignored --nocapture`
#![allow(unsafe_code)]

use super::tests::Feed;
use super::*;
use crate::wire::{AsPath, AsSegment, CodecCtx, Family, NextHop, Prefix4, SegmentKind, Update};
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Live heap bytes requested by the program (allocator overhead not included).
static LIVE: AtomicUsize = AtomicUsize::new(0);

struct Counting;

// SAFETY: every call is forwarded unchanged to the system allocator; the wrapper only adds
// the requested sizes to a counter, which no allocation decision depends on.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours, forwarded.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours, forwarded.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as ours, forwarded.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(new_size, Relaxed);
            LIVE.fetch_sub(layout.size(), Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn rib() -> Rib {
    Rib::new(RibConfig {
        asn: 65000,
        router_id: Ipv4Addr::new(1, 1, 1, 1),
        cluster_id: Ipv4Addr::new(1, 1, 1, 1),
    })
}

/// Client `peer` up for IPv4 unicast only.
fn client(peer: PeerId) -> ToRib {
    ToRib::PeerUp(PeerUp {
        peer,
        worker: 0,
        address: IpAddr::from([192, 0, 2, peer as u8]),
        remote_asn: 65000,
        remote_id: Ipv4Addr::new(10, 0, 0, peer as u8),
        rr_client: true,
        families: FamilySet::EMPTY.with(Family::Ipv4Unicast),
        codec: CodecCtx {
            four_octet_as: true,
            ..CodecCtx::default()
        },
        route_refresh: true,
        max_prefixes: None,
        graceful_restart: None,
    })
}

fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

#[test]
#[ignore = "1M prefixes x 4 peers: run alone with --ignored --nocapture"]
fn one_million_prefixes_from_four_peers_cost_under_100_bytes_per_path() {
    const PREFIXES: u32 = 1_000_000;
    const PEERS: u32 = 4;
    const ATTR_SETS: u32 = 2_000;
    const PER_UPDATE: u32 = 500;
    let before = LIVE.load(Relaxed);
    let rss_before = rss_bytes();
    let start = Instant::now();
    let mut rib = rib();
    for peer in 1..=PEERS {
        rib.feed(client(peer));
    }
    rib.plan();
    let attrs = |peer: u32, i: u32| PathAttrs {
        as_path: AsPath {
            segments: vec![AsSegment {
                kind: SegmentKind::Sequence,
                asns: vec![65001 + i % 50, 3356, 174 + i],
            }],
        },
        next_hop: NextHop::V4(Ipv4Addr::new(192, 0, 2, peer as u8)),
        local_pref: Some(100),
        med: Some(i % 7),
        communities: vec![0xfde8_0000 + i],
        ..PathAttrs::default()
    };
    let mut messages = 0;
    for peer in 1..=PEERS {
        let mut base = 0;
        while base < PREFIXES {
            // Consecutive prefixes share an attribute set, as a real table mostly does.
            let set = (base / PER_UPDATE) % ATTR_SETS;
            let nlri: Vec<Prefix4> = (base..(base + PER_UPDATE).min(PREFIXES))
                .map(|i| Prefix4::new(Ipv4Addr::from((1u32 << 24) + (i << 8)), 24).unwrap())
                .collect();
            rib.feed(ToRib::updates(
                peer,
                vec![Update {
                    attrs: Some(attrs(peer, set)),
                    nlri,
                    ..Update::default()
                }],
            ));
            messages += 1;
            if messages % MAX_BATCH == 0 {
                rib.plan();
            }
            base += PER_UPDATE;
        }
    }
    rib.plan();
    let live = LIVE.load(Relaxed) - before;
    let rss = rss_bytes().saturating_sub(rss_before);
    let paths = (PREFIXES * PEERS) as usize;
    let snap = rib.snapshot(0);
    assert_eq!(snap.families[0].prefixes, PREFIXES as usize);
    assert_eq!(snap.families[0].paths, paths);
    println!(
        "{PREFIXES} prefixes x {PEERS} peers, {} attribute sets: {live} heap bytes = {:.1} bytes/path \
         (RSS growth {:.1} bytes/path), {:?}",
        rib.attr_sets(),
        live as f64 / paths as f64,
        rss as f64 / paths as f64,
        start.elapsed()
    );
    assert!(live / paths <= 100, "{} bytes per path", live / paths);

    // And the cost of a full dump to a fifth client (encoded once).
    let t = Instant::now();
    rib.feed(client(5));
    let mut out = Outbox::default();
    rib.flush(&mut out);
    let bytes: usize = out
        .msgs
        .iter()
        .map(|(_, m)| match m {
            crate::msg::ToWorker::Send { data, .. } => data.len(),
            _ => 0,
        })
        .sum();
    println!(
        "full dump: {} sends, {bytes} bytes, {:?}",
        out.msgs.len(),
        t.elapsed()
    );
}

/// The other end of the range: every path with its own attribute set (what a peer that
/// varies MED per prefix, or a hostile one, sends). Run alone, like the test above.
#[test]
#[ignore = "200k distinct attribute sets: run alone with --ignored --nocapture"]
fn a_path_with_its_own_attribute_set_costs_under_500_bytes() {
    const PREFIXES: u32 = 200_000;
    let before = LIVE.load(Relaxed);
    let mut rib = rib();
    rib.feed(client(1));
    rib.plan();
    let mut batch = Vec::new();
    for i in 0..PREFIXES {
        batch.push(Update {
            attrs: Some(PathAttrs {
                next_hop: NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)),
                local_pref: Some(100),
                med: Some(i),
                ..PathAttrs::default()
            }),
            nlri: vec![Prefix4::new(Ipv4Addr::from((1u32 << 24) + (i << 8)), 24).unwrap()],
            ..Update::default()
        });
        if batch.len() == 1000 {
            rib.feed(ToRib::updates(1, std::mem::take(&mut batch)));
            rib.plan();
        }
    }
    let live = LIVE.load(Relaxed) - before;
    assert_eq!(rib.attr_sets(), PREFIXES as usize);
    println!(
        "{PREFIXES} paths, each its own attribute set: {live} heap bytes = {:.1} bytes/path",
        live as f64 / f64::from(PREFIXES)
    );
    assert!(
        live / PREFIXES as usize <= 500,
        "{} bytes per path",
        live / PREFIXES as usize
    );
}
