//! Deterministic robustness test: valid messages mutated at random, and random bytes, fed
//! to `frame` + `decode` under every session context. Nothing may panic (run with debug
//! assertions, so arithmetic overflow would panic too).

use super::testutil::*;
use super::*;
use std::net::Ipv4Addr;

/// xorshift64*: tiny and deterministic, no crate needed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

fn corpus() -> Vec<Vec<u8>> {
    let ctx4 = CodecCtx {
        four_octet_as: true,
        ..CodecCtx::default()
    };
    let ctx2 = CodecCtx::default();
    let attrs = fuzzing::sample_attrs();
    let (v4, v6) = fuzzing::sample_prefixes();
    let mut v = Vec::new();
    for ctx in [ctx2, ctx4] {
        let mut out = Vec::new();
        encode_announce(&ctx, &attrs, &v4, &mut out);
        v.push(out);
        let mut a6 = attrs.clone();
        a6.next_hop = NextHop::V6 {
            global: "2001:db8::1".parse().unwrap(),
            link_local: Some("fe80::1".parse().unwrap()),
        };
        let mut out = Vec::new();
        encode_announce(&ctx, &a6, &v6, &mut out);
        v.push(out);
    }
    let mut out = Vec::new();
    encode_withdraw(&ctx2, &v4, &mut out);
    v.push(out);
    let mut out = Vec::new();
    encode_withdraw(&ctx2, &v6, &mut out);
    v.push(out);
    let mut out = Vec::new();
    encode_end_of_rib(Family::Ipv6Unicast, &mut out);
    v.push(out);
    let open = Open {
        version: 4,
        my_as: 65001,
        hold_time: 90,
        bgp_id: Ipv4Addr::new(1, 1, 1, 1),
        capabilities: vec![
            Capability::Multiprotocol { afi: 1, safi: 1 },
            Capability::RouteRefresh,
            Capability::FourOctetAs(400_000),
            Capability::AddPath(vec![(1, 1, AddPathMode::Both)]),
            Capability::GracefulRestart(GracefulRestart {
                restart_state: false,
                notification: true,
                restart_time: 90,
                families: vec![(1, 1, true)],
            }),
            Capability::ExtendedMessage,
            Capability::EnhancedRouteRefresh,
            Capability::Unknown {
                code: 73,
                data: vec![1, 2],
            },
        ],
    };
    v.push(encoded(&Message::Open(open), &ctx2));
    v.push(encoded(
        &Message::Notification(Notification {
            code: 6,
            subcode: 2,
            data: vec![1, 2],
        }),
        &ctx2,
    ));
    v.push(encoded(&Message::Keepalive, &ctx2));
    v.push(encoded(
        &Message::RouteRefresh(RouteRefresh {
            afi: 1,
            safi: 1,
            subtype: 1,
        }),
        &ctx2,
    ));
    // Keep single messages only.
    v.into_iter()
        .map(|m| {
            let n = frame(&m, 65535).unwrap().unwrap();
            m[..n].to_vec()
        })
        .collect()
}

fn random_ctx(rng: &mut Rng) -> CodecCtx {
    let bits = rng.byte();
    CodecCtx {
        four_octet_as: bits & 1 != 0,
        extended_message: bits & 2 != 0,
        add_path_rx: FamilySet(rng.byte() & 0x0f),
        add_path_tx: FamilySet(rng.byte() & 0x0f),
        extended_next_hop: FamilySet(rng.byte() & 0x05),
    }
}

fn mutate(rng: &mut Rng, m: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(4) {
        if m.is_empty() {
            m.push(rng.byte());
        }
        match rng.below(6) {
            0 | 1 => {
                // Flip a byte, mostly in the body.
                let i = rng.below(m.len());
                m[i] = rng.byte();
            }
            2 => {
                let i = rng.below(m.len());
                m[i] ^= 1 << rng.below(8);
            }
            3 => m.truncate(rng.below(m.len() + 1)),
            4 => {
                let i = rng.below(m.len() + 1);
                for _ in 0..rng.below(8) {
                    m.insert(i.min(m.len()), rng.byte());
                }
            }
            _ => {
                // Small nudge of a length-looking byte.
                let i = rng.below(m.len());
                m[i] = m[i].wrapping_add(rng.below(5) as u8).wrapping_sub(2);
            }
        }
    }
    // Mostly keep the header consistent so the body decoders are reached.
    if rng.below(4) != 0 && m.len() >= HEADER_LEN {
        m[..16].fill(0xff);
        let len = (m.len() as u16).to_be_bytes();
        m[16] = len[0];
        m[17] = len[1];
    }
}

fn feed(buf: &[u8], ctx: &CodecCtx) -> usize {
    let mut decoded = 0;
    if let Ok(Some(n)) = frame(buf, ctx.max_message_len()) {
        if let Ok(m) = decode(&buf[..n], ctx) {
            decoded += 1;
            // Whatever decodes must encode without panicking.
            let mut out = Vec::new();
            encode(&m, ctx, &mut out);
        }
    }
    let _ = decode(buf, ctx);
    decoded
}

#[test]
fn mutated_and_random_messages_never_panic_the_decoder() {
    let corpus = corpus();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut decoded = 0;
    for i in 0..200_000 {
        let ctx = random_ctx(&mut rng);
        let mut m = if i % 10 == 0 {
            let mut m = vec![0xff; 16];
            let len = HEADER_LEN + rng.below(80);
            m.extend_from_slice(&(len as u16).to_be_bytes());
            m.push(1 + rng.below(5) as u8);
            m.extend((HEADER_LEN..len).map(|_| rng.byte()));
            m
        } else {
            corpus[rng.below(corpus.len())].clone()
        };
        mutate(&mut rng, &mut m);
        decoded += feed(&m, &ctx);
    }
    // The mutations must leave many messages decodable, or the test only hits the header.
    assert!(decoded > 20_000, "only {decoded} decoded");
}

#[test]
fn every_corpus_message_decodes_unmutated() {
    for m in corpus() {
        let ctx = CodecCtx {
            four_octet_as: true,
            ..CodecCtx::default()
        };
        decode(&m, &ctx).unwrap();
    }
}
