//! Codec hot paths, reported per prefix: decoding UPDATEs (many and few prefixes per
//! message) and packing a fan-out's announcements.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use reflectd::wire::{self, *};
use std::hint::black_box;
use std::net::Ipv4Addr;

fn attrs() -> PathAttrs {
    PathAttrs {
        as_path: AsPath {
            segments: vec![AsSegment {
                kind: SegmentKind::Sequence,
                asns: vec![64512, 174, 3356, 15169],
            }],
        },
        next_hop: NextHop::V4(Ipv4Addr::new(100, 64, 0, 1)),
        local_pref: Some(100),
        med: Some(10),
        communities: vec![(65000 << 16) | 1, (65000 << 16) | 2],
        large_communities: vec![[65000, 1, 1]],
        ..PathAttrs::default()
    }
}

fn prefixes(n: u32) -> Vec<Prefix4> {
    (0..n)
        .filter_map(|i| Prefix4::new(Ipv4Addr::from((1u32 << 24) + (i << 8)), 24))
        .collect()
}

/// Splits a buffer of whole messages into message slices.
fn messages(buf: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Ok(Some(n)) = wire::frame(&buf[pos..], MAX_MESSAGE_LEN) {
        out.push(&buf[pos..pos + n]);
        pos += n;
    }
    out
}

fn decode(c: &mut Criterion) {
    let ctx = CodecCtx {
        four_octet_as: true,
        ..CodecCtx::default()
    };
    let mut g = c.benchmark_group("decode_update");
    for per_msg in [1u32, 900] {
        let total = 10_000u32;
        let mut buf = Vec::new();
        for chunk in prefixes(total).chunks(per_msg as usize) {
            wire::encode_announce(&ctx, &attrs(), chunk, &mut buf);
        }
        let msgs = messages(&buf);
        g.throughput(Throughput::Elements(u64::from(total)));
        g.bench_with_input(
            BenchmarkId::new("prefixes_per_update", per_msg),
            &msgs,
            |b, msgs| {
                b.iter(|| {
                    for m in msgs {
                        black_box(wire::decode(m, &ctx).ok());
                    }
                })
            },
        );
    }
    g.finish();
}

fn encode(c: &mut Criterion) {
    let ctx = CodecCtx {
        four_octet_as: true,
        ..CodecCtx::default()
    };
    let p = prefixes(100_000);
    let a = attrs();
    let mut g = c.benchmark_group("encode_announce");
    g.throughput(Throughput::Elements(p.len() as u64));
    g.bench_function("100k_prefixes_one_attr_set", |b| {
        let mut out = Vec::with_capacity(1 << 20);
        b.iter(|| {
            out.clear();
            wire::encode_announce(&ctx, &a, &p, &mut out);
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
