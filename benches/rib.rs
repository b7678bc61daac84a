//! RIB hot paths, reported per prefix (criterion "elements"): attribute interning (hits on
//! a populated table and misses into a fresh one), best-path selection over 1 to 16
//! candidates, applying UPDATEs (`Rib::handle`) and update-group encoding (`Rib::flush`:
//! plan + encode once per group) to 1 and to 50 clients in one group (and from a speaker
//! that is itself a member of that group, whose part goes to the others), and a full table
//! into an empty RIB as the RIB thread takes one (its table then outgrows every cache).

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use reflectd::msg::{PeerUp, Rank, ToRib};
use reflectd::rib::attrs::AttrTable;
use reflectd::rib::decide::{self, Candidate};
use reflectd::rib::plan::Outbox;
use reflectd::rib::{Rib, RibConfig};
use reflectd::wire::*;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

const ASN: u32 = 65000;

fn attrs(i: u32) -> PathAttrs {
    PathAttrs {
        as_path: AsPath {
            segments: vec![AsSegment {
                kind: SegmentKind::Sequence,
                asns: (0..1 + i % 6).map(|k| 64512 + (i * 7 + k) % 1000).collect(),
            }],
        },
        next_hop: NextHop::V4(Ipv4Addr::new(100, 64, (i >> 8) as u8, i as u8)),
        local_pref: Some(100 + i % 3),
        med: Some(i % 5),
        communities: vec![(ASN << 16) | (i & 0xffff), (ASN << 16) | 1],
        ..PathAttrs::default()
    }
}

fn intern(c: &mut Criterion) {
    let mut g = c.benchmark_group("attr_intern");
    let n = 10_000u32;
    g.throughput(Throughput::Elements(u64::from(n)));
    let sets: Vec<PathAttrs> = (0..n).map(attrs).collect();
    g.bench_function("miss_10k_distinct", |b| {
        b.iter_batched(
            || (AttrTable::new(ASN), sets.clone()),
            |(mut t, sets)| {
                for a in sets {
                    black_box(t.intern(a));
                }
                t
            },
            BatchSize::LargeInput,
        )
    });
    let mut table = AttrTable::new(ASN);
    for a in &sets {
        table.intern(a.clone());
    }
    g.bench_function("hit_10k_of_10k", |b| {
        b.iter_batched(
            || sets.clone(),
            |sets| {
                for a in sets {
                    let id = table.intern(a);
                    table.release(id);
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn best_path(c: &mut Criterion) {
    let mut g = c.benchmark_group("best_path");
    g.throughput(Throughput::Elements(1));
    for n in [1u32, 2, 4, 8, 16] {
        let cands: Vec<Candidate> = (0..n)
            .map(|i| {
                let rank = Rank::of(&attrs(i * 13 + 1));
                let addr = Ipv4Addr::new(10, 0, 0, 1 + i as u8);
                Candidate::new(&rank, i + 1, addr, IpAddr::V4(addr))
            })
            .collect();
        g.bench_with_input(BenchmarkId::new("candidates", n), &cands, |b, c| {
            b.iter(|| black_box(decide::best(black_box(c))))
        });
    }
    g.finish();
}

fn up(peer: u32, client: bool) -> ToRib {
    ToRib::PeerUp(PeerUp {
        peer,
        worker: 0,
        address: IpAddr::from([192, 0, 2, peer as u8]),
        remote_asn: ASN,
        remote_id: Ipv4Addr::new(10, 0, (peer >> 8) as u8, peer as u8),
        rr_client: client,
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

/// A RIB with one non-client speaker (peer 1) and `clients` clients, all up and flushed.
fn rib_with(clients: u32) -> Rib {
    rib_with_speaker(clients, false)
}

/// As `rib_with`, the speaker a client too when `speaker_client` (then a member of the
/// clients' group that is not sent its own routes: its part goes to the others apart).
fn rib_with_speaker(clients: u32, speaker_client: bool) -> Rib {
    let mut rib = Rib::new(RibConfig {
        asn: ASN,
        router_id: Ipv4Addr::new(10, 255, 0, 1),
        cluster_id: Ipv4Addr::new(10, 255, 0, 1),
    });
    let now = Instant::now();
    rib.handle(up(1, speaker_client), now);
    for c in 0..clients {
        rib.handle(up(100 + c, true), now);
    }
    rib.flush(&mut Outbox::default());
    rib
}

/// `n` /24s from peer 1 in address order, four prefixes per attribute set, `per_msg`
/// prefixes per message.
fn batches(n: u32, per_msg: usize) -> Vec<ToRib> {
    batches_in(n, per_msg, |i| i)
}

/// The same /24s, the `i`-th sent being the `order(i)`-th in address order: a sorted stream
/// (as FRR and OpenBGPD dump theirs) or a scattered one (as BIRD's hash-ordered table is).
fn batches_in(n: u32, per_msg: usize, order: impl Fn(u32) -> u32) -> Vec<ToRib> {
    let prefixes: Vec<Prefix4> = (0..n)
        .filter_map(|i| Prefix4::new(Ipv4Addr::from((1u32 << 24) + (order(i) << 8)), 24))
        .collect();
    prefixes
        .chunks(per_msg)
        .map(|chunk| {
            ToRib::updates(
                1,
                chunk
                    .chunks(4)
                    .enumerate()
                    .map(|(k, nlri)| Update {
                        attrs: Some(attrs(k as u32 + u32::from(nlri[0].addr()) / 1024)),
                        nlri: nlri.to_vec(),
                        ..Update::default()
                    })
                    .collect(),
            )
        })
        .collect()
}

fn update_groups(c: &mut Criterion) {
    let n = 10_000u32;
    let mut g = c.benchmark_group("rib");
    g.sample_size(20);
    g.throughput(Throughput::Elements(u64::from(n)));
    for clients in [1u32, 50] {
        g.bench_function(
            BenchmarkId::new("handle_10k_prefixes_clients", clients),
            |b| {
                b.iter_batched(
                    || (rib_with(clients), batches(n, 100)),
                    |(mut rib, msgs)| {
                        let now = Instant::now();
                        for m in msgs {
                            rib.handle(m, now);
                        }
                        rib
                    },
                    BatchSize::LargeInput,
                )
            },
        );
        g.bench_function(
            BenchmarkId::new("flush_10k_prefixes_clients", clients),
            |b| flush_10k(b, n, || rib_with(clients)),
        );
    }
    g.bench_function("flush_10k_prefixes_from_a_client_to_clients/50", |b| {
        flush_10k(b, n, || rib_with_speaker(50, true))
    });
    g.finish();
}

/// Times the flush (plan and encoding) of `n` prefixes applied to a RIB made by `rib`.
fn flush_10k(b: &mut criterion::Bencher, n: u32, rib: impl Fn() -> Rib) {
    b.iter_batched(
        || {
            let (mut rib, now) = (rib(), Instant::now());
            for m in batches(n, 100) {
                rib.handle(m, now);
            }
            rib
        },
        |mut rib| {
            let mut out = Outbox::default();
            rib.flush(&mut out);
            (rib, out)
        },
        BatchSize::LargeInput,
    )
}

/// A million prefixes into an empty RIB in the RIB thread's batches (a worker's 256
/// UPDATEs, here 1024 prefixes), flushed every `MAX_DIRTY` changed prefixes, to one client.
fn full_table(c: &mut Criterion) {
    let n = 1_000_000u32;
    let mut g = c.benchmark_group("rib");
    g.sample_size(10);
    g.throughput(Throughput::Elements(u64::from(n)));
    // A bijection of 0..n (n ≤ 2^20) with no locality left: rounds of multiply-and-xorshift,
    // each a bijection of 0..2^20, walked until the result is below n.
    let scattered = move |i: u32| {
        let round = |mut x: u32| {
            for _ in 0..3 {
                x = x.wrapping_mul(0x9e37_79b1) & 0xf_ffff;
                x ^= x >> 10;
            }
            x
        };
        let mut x = round(i);
        while x >= n {
            x = round(x);
        }
        x
    };
    for (name, order) in [("sorted", None), ("scattered", Some(scattered))] {
        g.bench_function(
            BenchmarkId::new("handle_and_flush_1m_prefixes", name),
            |b| {
                b.iter_batched(
                    || {
                        let msgs = match order {
                            Some(f) => batches_in(n, 1024, f),
                            None => batches(n, 1024),
                        };
                        (rib_with(1), msgs)
                    },
                    |(mut rib, msgs)| {
                        let (mut out, now) = (Outbox::default(), Instant::now());
                        for m in msgs {
                            rib.handle(m, now);
                            if rib.dirty_len() >= reflectd::rib::MAX_DIRTY {
                                rib.flush(&mut out);
                                out.msgs.clear();
                            }
                        }
                        rib.flush(&mut out);
                        (rib, out)
                    },
                    BatchSize::PerIteration,
                )
            },
        );
    }
    g.finish();
}

criterion_group!(benches, intern, best_path, update_groups, full_table);
criterion_main!(benches);
