//! Memory bound (issue #5): a peer that sends a million prefixes past its `max_prefixes`
//! cannot raise reflectd's memory beyond a small bound; it gets Cease 1 and the other
//! sessions stay up. Prints its measurements (`--nocapture`); docs/robustness.md quotes them.

mod common;
use common::*;
use reflectd::speaker::{Speaker, SpeakerConfig};
use reflectd::wire::{self, *};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

const LIMIT: u32 = 1000;
const BLAST: u32 = 1_000_000;

fn prefix(i: u32) -> Prefix4 {
    Prefix4::new(Ipv4Addr::from(0x1400_0000 + (i << 8)), 24).expect("prefix")
}

/// Reads raw messages until a NOTIFICATION or EOF (bounded by `WAIT`).
fn read_notification(mut rd: TcpStream, ctx: CodecCtx) -> Option<Notification> {
    rd.set_read_timeout(Some(Duration::from_millis(200))).ok()?;
    let deadline = Instant::now() + WAIT * 4;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 65536];
    while Instant::now() < deadline {
        while let Ok(Some(n)) = wire::frame(&buf, MAX_EXTENDED_MESSAGE_LEN) {
            let msg = wire::decode(&buf[..n], &ctx);
            buf.drain(..n);
            if let Ok(Message::Notification(nt)) = msg {
                return Some(nt);
            }
        }
        match rd.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return None,
        }
    }
    None
}

/// `BLAST` prefixes past a limit of `LIMIT`, pre-encoded and written as fast as the socket
/// takes them, while the other sessions are read. Returns (bytes the blaster got written
/// before its session ended, RSS growth in KiB over the baseline).
fn blast(one_prefix_per_update: bool) -> (usize, u64) {
    let r = Reflector::start(&[
        NeighborSpec {
            hold_time: 240,
            extra: "    max_prefixes: 1000\n",
            ..NeighborSpec::client("127.0.0.11")
        },
        NeighborSpec::client("127.0.0.12"),
        NeighborSpec::client("127.0.0.13"),
    ]);
    let mut cfg = SpeakerConfig::new(ip("127.0.0.11"), ASN, Ipv4Addr::new(1, 1, 1, 1));
    cfg.hold_time = 240;
    let mut x = r.speaker_with(&cfg);
    let mut b = r.speaker("127.0.0.12", [2, 2, 2, 2]);
    let mut y = r.speaker("127.0.0.13", [3, 3, 3, 3]);
    announce_until_held(&mut y, &mut b, "10.13.0.0/24", [100, 64, 0, 13]);

    let a = attrs([100, 64, 0, 11]);
    let mut blob = Vec::new();
    if one_prefix_per_update {
        for i in 0..BLAST {
            wire::encode_announce(&x.ctx, &a, &[prefix(i)], &mut blob);
        }
    } else {
        let all: Vec<Prefix4> = (0..BLAST).map(prefix).collect();
        wire::encode_announce(&x.ctx, &a, &all, &mut blob);
    }
    let total = blob.len();
    let ctx = x.ctx;
    let w = x.take_stream();
    let rd = w.try_clone().unwrap();
    let rss_before = r.vm_kib("VmRSS");
    let writer = std::thread::spawn(move || {
        let mut w = w;
        let mut written = 0;
        for chunk in blob.chunks(64 * 1024) {
            if w.write_all(chunk).is_err() {
                break;
            }
            written += chunk.len();
        }
        written
    });
    // While it blasts: sample RSS, and keep the others read (B must never see more than
    // the limit of X's prefixes).
    let reader = std::thread::spawn(move || read_notification(rd, ctx));
    let mut rss_max = rss_before;
    let mut seen_max = 0;
    while !reader.is_finished() {
        rss_max = rss_max.max(r.vm_kib("VmRSS"));
        assert!(b.poll(Duration::from_millis(5)).unwrap(), "b dropped");
        assert!(y.poll(Duration::from_millis(5)).unwrap(), "y dropped");
        let from_x = b
            .routes
            .values()
            .filter(|p| p.originator_id == Some(Ipv4Addr::new(1, 1, 1, 1)))
            .count();
        seen_max = seen_max.max(from_x);
    }
    let n = reader
        .join()
        .unwrap()
        .expect("no NOTIFICATION for the blaster");
    let written = writer.join().unwrap();
    assert_eq!(
        (n.code, n.subcode),
        (notif::CEASE, notif::CEASE_MAX_PREFIXES)
    );
    assert_eq!(
        n.data,
        [0, 1, 1, 0, 0, 0x03, 0xe8],
        "AFI 1 SAFI 1 limit 1000"
    );
    // X's routes go with its session; Y's stay; B and Y stay up.
    assert!(
        b.wait_until(WAIT, |s| s.routes.len() == 1).unwrap(),
        "b still holds {} routes",
        b.routes.len()
    );
    assert!(b.route("10.13.0.0/24").is_some());
    assert!(
        seen_max <= LIMIT as usize,
        "b saw {seen_max} of x's prefixes"
    );
    assert!(b.poll(Duration::from_millis(200)).unwrap() && b.notification.is_none());
    assert!(y.poll(Duration::from_millis(200)).unwrap() && y.notification.is_none());
    let hwm = r.vm_kib("VmHWM");
    let growth = hwm.max(rss_max).saturating_sub(rss_before);
    println!(
        "max_prefixes blast ({}): {total} bytes encoded, {written} written before the Cease; \
         b saw at most {seen_max} of its prefixes; RSS KiB before {rss_before}, max sampled \
         {rss_max}, peak (VmHWM) {hwm}: growth {growth} KiB",
        if one_prefix_per_update {
            "one prefix per UPDATE"
        } else {
            "packed UPDATEs"
        },
    );
    (written, growth)
}

/// The bound: what a peer can make reflectd hold before the RIB stops it. Stored paths are
/// capped at the limit (1000 paths, well under 1 MiB); in flight are its read buffer (two
/// 64 KiB chunks), the batch being built (at most 8 reads, 512 KiB of wire) and what sits
/// decoded in the RIB's inbox until the RIB sees the prefix past the limit.
const BOUND_KIB: u64 = 32 * 1024;

#[test]
fn a_million_packed_prefixes_past_max_prefixes_cannot_raise_memory_past_the_bound() {
    let (_, growth) = blast(false);
    assert!(growth <= BOUND_KIB, "RSS grew {growth} KiB");
}

#[test]
fn a_million_single_prefix_updates_past_max_prefixes_cannot_raise_memory_past_the_bound() {
    let (_, growth) = blast(true);
    assert!(growth <= BOUND_KIB, "RSS grew {growth} KiB");
}

/// A peer that sends maximum-size (65521-byte, so 65535 once reflected) UPDATEs forever, each replacing the one
/// prefix it holds with a new 65 KB attribute set: memory stays flat (the replaced set is
/// freed), its read buffer stays bounded, and the latest one is what the others get.
#[test]
fn endless_maximum_size_updates_replacing_one_prefix_keep_memory_flat() {
    const MESSAGES: u32 = 1500; // ~98 MB on the wire
    const REFLECTION_ADDS: usize = 14;
    let r = Reflector::start(&[
        NeighborSpec {
            hold_time: 240,
            extra: "    max_prefixes: 10\n",
            ..NeighborSpec::client("127.0.0.11")
        },
        NeighborSpec::client("127.0.0.12"),
    ]);
    let mut cfg = SpeakerConfig::new(ip("127.0.0.11"), ASN, Ipv4Addr::new(1, 1, 1, 1));
    cfg.hold_time = 240;
    let mut x: Speaker = r.speaker_with(&cfg);
    let mut b = r.speaker("127.0.0.12", [2, 2, 2, 2]);
    assert!(
        x.ctx.extended_message,
        "needs RFC 8654 for 65535-byte messages"
    );
    let ctx = x.ctx;
    let big = |n: u32| {
        let mut a = attrs([100, 64, 0, 11]);
        a.med = Some(n);
        // Fill the message: one unknown optional transitive attribute (extended length).
        let mut probe = Vec::new();
        wire::encode_announce(&ctx, &a, &[p4("10.11.0.0/24")], &mut probe);
        // Leave room for the ORIGINATOR_ID and CLUSTER_LIST reflection adds (7 + 7 bytes):
        // a path that no longer fits is withdrawn from the receivers instead.
        let room = 65535 - REFLECTION_ADDS - probe.len() - 4;
        a.unknown = vec![RawAttr {
            flags: 0xc0 | 0x10,
            code: 250,
            data: vec![n as u8; room],
        }];
        a
    };
    let rss_before = r.vm_kib("VmRSS");
    let mut rss_max = rss_before;
    let mut msg = Vec::new();
    for n in 0..MESSAGES {
        msg.clear();
        wire::encode_announce(&ctx, &big(n), &[p4("10.11.0.0/24")], &mut msg);
        assert_eq!(
            msg.len(),
            65535 - REFLECTION_ADDS,
            "not a maximum-size message"
        );
        x.send_raw(&msg).unwrap();
        if n % 50 == 0 {
            assert!(b.poll(Duration::from_millis(5)).unwrap());
            rss_max = rss_max.max(r.vm_kib("VmRSS"));
        }
    }
    let want = |s: &Speaker| {
        s.route("10.11.0.0/24")
            .is_some_and(|a| a.med == Some(MESSAGES - 1))
    };
    assert!(b.wait_until(WAIT * 4, want).unwrap(), "b lacks the latest");
    assert!(x.poll(Duration::from_millis(100)).unwrap() && x.notification.is_none());
    let hwm = r.vm_kib("VmHWM");
    let growth = hwm.max(rss_max).saturating_sub(rss_before);
    println!(
        "max-size UPDATEs: {MESSAGES} x 65521 bytes (65535 reflected) replacing one prefix; RSS KiB before \
         {rss_before}, max sampled {rss_max}, peak {hwm}: growth {growth} KiB"
    );
    assert!(growth <= BOUND_KIB, "RSS grew {growth} KiB");
}

/// What waits for the RIB thread is bounded by estimated memory (`msg::INBOX_BUDGET`,
/// 64 MiB), not only by message count: two peers write 27-byte withdrawals as fast as
/// loopback takes them (each decodes to a several-hundred-byte `Update`) while the RIB
/// thread holds a 300k-path table. Before the budget, the 4096-message inbox (each message
/// up to eight 64 KiB reads) grew reflectd by 1.5 GB here; with it, by about 90 MB.
#[test]
fn withdrawal_spam_from_two_peers_is_held_to_the_inbox_budget() {
    const TABLE: u32 = 300_000;
    const SPAM_ROUNDS: usize = 200;
    let hold = |a| NeighborSpec {
        hold_time: 240,
        ..NeighborSpec::client(a)
    };
    let r = Reflector::start(&[
        hold("127.0.0.11"),
        hold("127.0.0.12"),
        hold("127.0.0.13"),
        hold("127.0.0.14"),
    ]);
    let mut cfg = SpeakerConfig::new(ip("127.0.0.13"), ASN, Ipv4Addr::new(3, 3, 3, 3));
    cfg.hold_time = 240;
    let mut loader = r.speaker_with(&cfg);
    let mut sink = r.speaker("127.0.0.14", [4, 4, 4, 4]);
    let mut blob = Vec::new();
    for i in 0..TABLE {
        let mut a = attrs([100, 64, 0, 13]);
        a.med = Some(i);
        wire::encode_announce(&loader.ctx, &a, &[prefix(i)], &mut blob);
    }
    loader.send_raw(&blob).unwrap();
    assert!(
        sink.wait_until(WAIT * 8, |s| s.routes.len() == TABLE as usize)
            .unwrap(),
        "table not loaded"
    );
    let rss_before = r.vm_kib("VmRSS");
    let mut writers = Vec::new();
    let mut spam_bytes = 0;
    for (n, local) in ["127.0.0.11", "127.0.0.12"].into_iter().enumerate() {
        let mut cfg = SpeakerConfig::new(ip(local), ASN, Ipv4Addr::new(1, 1, 1, n as u8 + 1));
        cfg.hold_time = 240;
        let mut x = r.speaker_with(&cfg);
        let mut one = Vec::new();
        wire::encode_withdraw(&x.ctx, &[prefix(5_000_000 + n as u32)], &mut one);
        let chunk: Vec<u8> = one.repeat(20_000);
        spam_bytes += chunk.len() * SPAM_ROUNDS;
        let mut w = x.take_stream();
        writers.push(std::thread::spawn(move || {
            for _ in 0..SPAM_ROUNDS {
                w.write_all(&chunk).expect("spam write");
            }
            w
        }));
    }
    let mut rss_max = rss_before;
    let deadline = Instant::now() + WAIT * 8;
    while writers.iter().any(|h| !h.is_finished()) {
        assert!(Instant::now() < deadline, "spam not taken in time");
        rss_max = rss_max.max(r.vm_kib("VmRSS"));
        assert!(
            sink.poll(Duration::from_millis(20)).unwrap(),
            "sink dropped"
        );
        assert!(
            loader.poll(Duration::from_millis(1)).unwrap(),
            "loader dropped"
        );
    }
    let _spammers: Vec<TcpStream> = writers.into_iter().map(|h| h.join().unwrap()).collect();
    // Reading resumed everywhere: a new route still gets through.
    loader
        .announce(&[p4("10.99.0.0/24")], &attrs([100, 64, 0, 13]))
        .unwrap();
    assert!(sink
        .wait_until(WAIT * 4, |s| s.route("10.99.0.0/24").is_some())
        .unwrap());
    let hwm = r.vm_kib("VmHWM");
    let growth = hwm.max(rss_max).saturating_sub(rss_before);
    println!(
        "withdrawal spam: {spam_bytes} bytes from two peers over a {TABLE}-path table; RSS \
         KiB before {rss_before}, max sampled {rss_max}, peak {hwm}: growth {growth} KiB"
    );
    // The budget (64 MiB of estimated decoded UPDATEs), allocator slack on top of the
    // estimate (up to 2x), and one batch (1 MiB + a read) per worker.
    assert!(growth <= 160 * 1024, "RSS grew {growth} KiB");
}

/// The other reading of "a 65535-byte message forever": one that never completes. Its
/// bytes wait in a read buffer bounded by one message; as no whole message arrives the hold
/// timer is not restarted (RFC 4271 §4.4, restarted by KEEPALIVE and UPDATE), and the
/// session ends with Hold Timer Expired however long the peer keeps trickling.
#[test]
fn a_message_that_never_completes_ends_with_hold_timer_expired() {
    let r = Reflector::start(&[
        NeighborSpec {
            hold_time: 3,
            ..NeighborSpec::client("127.0.0.11")
        },
        NeighborSpec::client("127.0.0.12"),
    ]);
    let mut cfg = SpeakerConfig::new(ip("127.0.0.11"), ASN, Ipv4Addr::new(1, 1, 1, 1));
    cfg.hold_time = 3;
    let mut x = r.speaker_with(&cfg);
    let mut b = r.speaker("127.0.0.12", [2, 2, 2, 2]);
    assert!(x.ctx.extended_message);
    let mut header = vec![0xff; 16];
    header.extend_from_slice(&65535u16.to_be_bytes());
    header.push(2); // UPDATE
    x.send_raw(&header).unwrap();
    let mut sent = header.len();
    let deadline = Instant::now() + WAIT;
    // ~1 KB every 100 ms: the message would take 6.5 s to complete, twice the hold time.
    while x.notification.is_none() && !x.closed && sent + 1024 < 65535 {
        assert!(Instant::now() < deadline, "no NOTIFICATION");
        if x.send_raw(&[0u8; 1024]).is_err() {
            break;
        }
        sent += 1024;
        let _ = x.poll(Duration::from_millis(100));
    }
    let _ = x.wait_until(WAIT, |s| s.notification.is_some());
    let n = x.notification.clone().expect("NOTIFICATION");
    assert_eq!((n.code, n.subcode), (notif::HOLD_TIMER_EXPIRED, 0), "{n:?}");
    assert!(sent < 65535, "the message completed ({sent} bytes)");
    assert!(b.poll(Duration::from_millis(200)).unwrap() && b.notification.is_none());
    println!("incomplete message: {sent} of 65535 bytes sent when the hold timer expired");
}
