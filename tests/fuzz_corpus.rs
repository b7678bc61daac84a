//! Replays the committed fuzz corpus (`fuzz/corpus/TARGET/*`) through the same harness
//! functions the `cargo fuzz` targets call, so every seed and every past crash (kept as a
//! seed once fixed) is a regression test on the stable toolchain.
//!
//! `REFLECTD_WRITE_SEEDS=1 cargo test --test fuzz_corpus` rewrites the hand-made seeds
//! (`fuzz/corpus/*/seed-*`); the `pcap-*` ones come from `fuzz/pcap_seeds.py`.

use reflectd::fsm::fuzzing::LOCAL_ASN;
use reflectd::wire::*;
use reflectd::wire::{rtc, stored};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

/// Every file of one target's corpus, sorted; at least one must exist.
fn replay(target: &str, harness: fn(&[u8])) {
    if std::env::var_os("REFLECTD_WRITE_SEEDS").is_some() {
        write_seeds();
    }
    let dir = corpus_dir(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    for f in &files {
        let data = std::fs::read(f).unwrap();
        // Name the input if the harness panics.
        let res = std::panic::catch_unwind(|| harness(&data));
        assert!(res.is_ok(), "{} fails the {target} harness", f.display());
    }
}

#[test]
fn message_corpus_replays_without_a_broken_invariant() {
    replay("message", reflectd::wire::fuzzing::message);
}

#[test]
fn attributes_corpus_replays_without_a_broken_invariant() {
    replay("attributes", reflectd::wire::fuzzing::attributes);
}

#[test]
fn session_corpus_replays_without_a_broken_invariant() {
    replay("session", |d| {
        reflectd::fsm::fuzzing::session(d);
    });
}

#[test]
fn rtc_corpus_replays_without_a_broken_invariant() {
    replay("rtc", reflectd::wire::fuzzing::rtc);
}

#[test]
fn hand_made_rtc_seeds_decode_as_their_names_say() {
    // `ok` seeds reach the encoder and the text round trip; `bad` ones stop at an error.
    for (name, data) in rtc_seeds() {
        let mut out = Vec::new();
        let ok = rtc::decode(&data[1..], data[0] & 1 != 0, &mut out).is_ok();
        if name.contains("-ok-") || name.contains("-bad-") {
            assert_eq!(ok, name.contains("-ok-"), "{name}");
        }
    }
}

#[test]
fn hand_made_session_seeds_reach_established() {
    for (name, closed) in [
        ("established", false),
        ("hold-expires", true),
        ("lost", true),
    ] {
        let data = std::fs::read(corpus_dir("session").join(format!("seed-{name}"))).unwrap();
        let reached = reflectd::fsm::fuzzing::session(&data);
        assert!(reached.established, "seed-{name} never established");
        assert_eq!(reached.closed, closed, "seed-{name}");
    }
}

#[test]
fn hand_made_seeds_decode_cleanly() {
    // The seeds are only useful if they reach deep code: each must decode without error.
    let ctx = reflectd::wire::fuzzing::ctx_from_byte(1);
    for m in messages(&ctx) {
        let n = frame(&m, ctx.max_message_len()).unwrap().unwrap();
        decode(&m[..n], &ctx).unwrap();
    }
}

fn peer_open() -> Open {
    Open {
        version: 4,
        my_as: LOCAL_ASN as u16,
        hold_time: 90,
        bgp_id: Ipv4Addr::new(10, 0, 0, 2),
        capabilities: vec![
            Capability::Multiprotocol { afi: 1, safi: 1 },
            Capability::Multiprotocol { afi: 2, safi: 1 },
            Capability::RouteRefresh,
            Capability::FourOctetAs(LOCAL_ASN),
            Capability::ExtendedMessage,
            Capability::GracefulRestart(GracefulRestart {
                restart_state: false,
                notification: true,
                restart_time: 90,
                families: vec![(1, 1, true)],
            }),
            Capability::Unknown {
                code: 73,
                data: vec![1, 2],
            },
        ],
    }
}

/// One of each message kind, each a separate buffer.
fn messages(ctx: &CodecCtx) -> Vec<Vec<u8>> {
    let (v4, v6) = fuzzing::sample_prefixes();
    let mut v = Vec::new();
    let mut out = Vec::new();
    encode_announce(ctx, &fuzzing::sample_attrs(), &v4, &mut out);
    v.push(out);
    let mut a6 = fuzzing::sample_attrs();
    a6.next_hop = NextHop::V6 {
        global: "2001:db8::1".parse().unwrap(),
        link_local: Some("fe80::1".parse().unwrap()),
    };
    let mut out = Vec::new();
    encode_announce(ctx, &a6, &v6, &mut out);
    v.push(out);
    let mut out = Vec::new();
    encode_withdraw(ctx, &v4, &mut out);
    v.push(out);
    let mut out = Vec::new();
    encode_withdraw(ctx, &v6, &mut out);
    v.push(out);
    let mut out = Vec::new();
    encode_end_of_rib(Family::Ipv6Unicast, &mut out);
    v.push(out);
    for m in [
        Message::Open(peer_open()),
        Message::Keepalive,
        Message::Notification(Notification {
            code: 6,
            subcode: 2,
            data: vec![5, b'h', b'e', b'l', b'l', b'o'],
        }),
        Message::RouteRefresh(RouteRefresh {
            afi: 1,
            safi: 1,
            subtype: 0,
        }),
    ] {
        let mut out = Vec::new();
        encode(&m, ctx, &mut out);
        v.push(out);
    }
    v
}

/// Session script opcodes (see `reflectd::fsm::fuzzing`).
fn read_op(script: &mut Vec<u8>, bytes: &[u8]) {
    script.push(0);
    script.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    script.extend_from_slice(bytes);
}

fn tick_op(script: &mut Vec<u8>, secs: u8) {
    script.extend_from_slice(&[1, secs]);
}

fn write_seeds() {
    let mut seeds: Vec<(&str, String, Vec<u8>)> = Vec::new();
    for ctx_byte in [0u8, 1, 3, 0x15] {
        let ctx = reflectd::wire::fuzzing::ctx_from_byte(ctx_byte);
        let msgs = messages(&ctx);
        for (i, m) in msgs.iter().enumerate() {
            let mut d = vec![ctx_byte];
            d.extend_from_slice(m);
            seeds.push(("message", format!("seed-{ctx_byte:02x}-{i}"), d));
            // The path-attribute section of the UPDATEs.
            if m.get(18) == Some(&MSG_UPDATE) && m.len() > 23 {
                let wl = u16::from_be_bytes([m[19], m[20]]) as usize;
                let al = u16::from_be_bytes([m[21 + wl], m[22 + wl]]) as usize;
                let mut d = vec![ctx_byte];
                d.extend_from_slice(&m[23 + wl..23 + wl + al]);
                if al > 0 {
                    seeds.push(("attributes", format!("seed-{ctx_byte:02x}-{i}"), d));
                }
            }
        }
        let mut stream = vec![ctx_byte];
        msgs.iter().for_each(|m| stream.extend_from_slice(m));
        seeds.push(("message", format!("seed-{ctx_byte:02x}-stream"), stream));
    }
    // Sessions: config byte 4 is iBGP, hold time 90, IPv4 only; 12 adds IPv6.
    let ctx = reflectd::wire::fuzzing::ctx_from_byte(1 | 2);
    let msgs = messages(&ctx);
    let mut open = Vec::new();
    encode(&Message::Open(peer_open()), &CodecCtx::default(), &mut open);
    let mut keepalive = Vec::new();
    encode(&Message::Keepalive, &ctx, &mut keepalive);
    for (name, cfg, tail) in [
        ("established", 4u8, &[][..]),
        ("hold-expires", 4, &[1, 200, 1, 200][..]),
        ("stopped", 12, &[2][..]),
        ("lost", 12, &[3, 4][..]),
        ("keepalives", 12, &[1, 30, 4, 1, 31, 1, 29][..]),
    ] {
        let mut s = vec![cfg];
        read_op(&mut s, &open);
        tick_op(&mut s, 1);
        read_op(&mut s, &keepalive);
        for m in &msgs {
            // All but the NOTIFICATION (which would end it early) and OPEN (an FSM error).
            if !matches!(m[18], MSG_NOTIFICATION | MSG_OPEN) {
                read_op(&mut s, m);
            }
        }
        s.extend_from_slice(tail);
        seeds.push(("session", format!("seed-{name}"), s));
    }
    let mut s = vec![4u8];
    read_op(&mut s, &open);
    read_op(&mut s, &msgs[7]);
    seeds.push(("session", "seed-notification".into(), s));
    for (name, data) in rtc_seeds() {
        seeds.push(("rtc", name, data));
    }
    for (target, name, data) in seeds {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), data).unwrap();
    }
}

/// RT-Constraint seeds: a flags byte (bit 0: ADD-PATH), then an NLRI field. The `gobgp`
/// ones are NLRI fields GoBGP 3.10 sent (see `wire::rtc`'s tests); `ext` ones are also a
/// whole number of extended communities, and `stored` a stored attribute set with targets.
fn rtc_seeds() -> Vec<(String, Vec<u8>)> {
    let as2 = [
        0x60, 0x00, 0x00, 0xfd, 0xe8, 0x00, 0x02, 0xfd, 0xe8, 0x00, 0x00, 0x00, 0x64,
    ];
    let ipv4 = [
        0x60, 0x00, 0x00, 0xfd, 0xe8, 0x01, 0x02, 0xc0, 0x00, 0x02, 0x01, 0x00, 0xc8,
    ];
    let as4 = [
        0x60, 0x00, 0x00, 0xfd, 0xe8, 0x02, 0x02, 0xfa, 0x56, 0xea, 0x00, 0x01, 0x2c,
    ];
    let cat = |flags: u8, parts: &[&[u8]]| {
        let mut v = vec![flags];
        parts.iter().for_each(|p| v.extend_from_slice(p));
        v
    };
    let mut add_path = vec![1u8];
    for (id, nlri) in [(1u32, &as2), (2, &as2), (1, &ipv4)] {
        add_path.extend_from_slice(&id.to_be_bytes());
        add_path.extend_from_slice(nlri);
    }
    let mut attrs = fuzzing::sample_attrs();
    attrs.ext_communities = vec![
        [0x00, 0x02, 0xfd, 0xe8, 0, 0, 0, 100],
        [0x40, 0x02, 0xfd, 0xe8, 0, 0, 0, 100],
        [0x02, 0x02, 0xfa, 0x56, 0xea, 0x00, 0x01, 0x2c],
    ];
    let mut stored_set = vec![0u8];
    stored_set.extend_from_slice(&stored::store(&attrs));
    vec![
        ("seed-ok-gobgp".into(), cat(0, &[&as2, &ipv4, &as4])),
        ("seed-ok-gobgp-add-path".into(), add_path),
        ("seed-ok-default".into(), cat(0, &[&[0]])),
        (
            "seed-ok-origin-only".into(),
            cat(0, &[&[32, 0, 0, 0xfd, 0xe8]]),
        ),
        (
            "seed-ok-partial".into(),
            cat(0, &[&[64, 0, 0, 0xfd, 0xe8, 0, 2, 0xfd, 0xe8]]),
        ),
        (
            "seed-ok-host-bits".into(),
            cat(0, &[&[36, 0, 0, 0xfd, 0xe8, 0xff]]),
        ),
        (
            "seed-ok-hex-target".into(),
            cat(0, &[&[96, 0, 0, 0, 1, 0x40, 2, 0, 0, 0, 0, 0, 1]]),
        ),
        ("seed-ok-ext".into(), cat(0, &[&[0, 0, 0, 0, 0, 0, 0, 0]])),
        (
            "seed-bad-too-long".into(),
            cat(0, &[&[97], &as2[1..], &[0]]),
        ),
        (
            "seed-bad-too-short".into(),
            cat(0, &[&[31, 0, 0, 0xfd, 0xe8]]),
        ),
        ("seed-bad-truncated".into(), cat(0, &[&as2[..12]])),
        (
            "seed-ext".into(),
            cat(0, &[&as2[5..], &ipv4[5..], &as4[5..]]),
        ),
        ("seed-stored".into(), stored_set),
    ]
}
