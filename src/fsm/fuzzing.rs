//! Fuzz harness for the session state machine, shared by `fuzz/fuzz_targets/session.rs`
//! and the corpus replay in `tests/fuzz_corpus.rs`.
//!
//! Input layout: one byte picks the `SessionConfig`, then a script of operations, each an
//! opcode byte: `0` LEN(2) BYTES — bytes read from TCP, framed and decoded as the worker does;
//! `1` SECS — time advances and `tick` runs; `2` — `stop` (Cease); `3` — TCP lost;
//! `4` — an UPDATE was written (`update_sent`). Other opcodes wrap around (`op % 5`).
//!
//! Invariants checked (a panic is a bug): no panic on any input; `Close` is the last action
//! ever emitted and leaves the session Idle; every `Send` encodes into a message that frames
//! and decodes again; `Established` comes at most once and before any `Update` or
//! `RouteRefresh`; after `tick(now)` no timer is still due at `now` (no busy loop).

use super::session::Session;
use super::types::{Action, SessionConfig, State};
use crate::wire::{self, fuzzing::reencodes, notif, Family, FamilySet, Notification};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const LOCAL_ASN: u32 = 65000;
pub const LOCAL_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

/// The configuration a script runs against: bit 0 clear = iBGP (remote AS 65000), set =
/// eBGP (remote AS 65001); bits 1-2 our hold time (0, 3, 90, 240); bit 3 adds IPv6 unicast.
pub fn session_config(b: u8) -> SessionConfig {
    let mut families = FamilySet::EMPTY.with(Family::Ipv4Unicast);
    if b & 8 != 0 {
        families.insert(Family::Ipv6Unicast);
    }
    SessionConfig {
        local_asn: LOCAL_ASN,
        local_id: LOCAL_ID,
        remote_asn: if b & 1 == 0 { LOCAL_ASN } else { LOCAL_ASN + 1 },
        hold_time: [0, 3, 90, 240][usize::from((b >> 1) & 3)],
        families,
        connect_retry: 30,
        graceful_restart: None,
    }
}

/// Observes every action batch and checks the invariants; what a script reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checker {
    pub closed: bool,
    pub established: bool,
}

impl Checker {
    fn check(&mut self, s: &Session, out: &mut Vec<Action>) {
        for (i, a) in out.iter().enumerate() {
            assert!(!self.closed, "{a:?} emitted after Close");
            match a {
                Action::Send(m) => reencodes(m, &s.codec()),
                Action::Established(_) => {
                    assert!(!self.established, "Established twice");
                    self.established = true;
                }
                Action::Update(_) | Action::RouteRefresh(_) => {
                    assert!(self.established, "{a:?} before Established")
                }
                Action::Close(_) => {
                    assert_eq!(i + 1, out.len(), "Close is not the last action");
                    self.closed = true;
                }
            }
        }
        assert_eq!(self.closed, s.state() == State::Idle, "Idle iff closed");
        out.clear();
    }
}

/// Target `session`. Returns how far the script got (for tests of the seeds).
pub fn session(data: &[u8]) -> Checker {
    let Some((&cfg_byte, mut script)) = data.split_first() else {
        return Checker::default();
    };
    let mut s = Session::new(Arc::new(session_config(cfg_byte)));
    let mut out = Vec::new();
    let mut now = Instant::now();
    let mut rbuf: Vec<u8> = Vec::new();
    let mut c = Checker::default();
    s.connected(now, &mut out);
    c.check(&s, &mut out);
    // Every iteration consumes at least the opcode byte, so this ends.
    while let Some((&op, rest)) = script.split_first() {
        script = rest;
        match op % 5 {
            0 => {
                let len = match script {
                    [a, b, ..] => usize::from(u16::from_be_bytes([*a, *b])),
                    _ => script.len(),
                };
                script = script.get(2..).unwrap_or_default();
                let (chunk, rest) = script.split_at(len.min(script.len()));
                script = rest;
                rbuf.extend_from_slice(chunk);
                read(&mut s, &mut rbuf, now, &mut out);
            }
            1 => {
                let secs = script.first().copied().unwrap_or(0);
                script = script.get(1..).unwrap_or_default();
                now += Duration::from_secs(secs.into());
                s.tick(now, &mut out);
                if let Some(d) = s.next_deadline() {
                    assert!(d > now, "a timer is still due after tick");
                }
            }
            2 => s.stop(
                Notification {
                    code: notif::CEASE,
                    subcode: notif::CEASE_ADMIN_SHUTDOWN,
                    data: Vec::new(),
                },
                &mut out,
            ),
            3 => s.connection_lost(&mut out),
            _ => s.update_sent(now),
        }
        c.check(&s, &mut out);
    }
    c
}

/// The worker's parse loop (`worker::Worker::parse`): frame, decode, feed; consumed bytes
/// leave the buffer. Unlike the worker it keeps feeding after a Close, to check the session
/// ignores it.
fn read(s: &mut Session, rbuf: &mut Vec<u8>, now: Instant, out: &mut Vec<Action>) {
    let mut pos = 0;
    loop {
        let ctx = s.codec();
        let buf = rbuf.get(pos..).unwrap_or_default();
        match wire::frame(buf, ctx.max_message_len()) {
            Ok(Some(n)) => {
                match buf.get(..n).map(|m| wire::decode(m, &ctx)) {
                    Some(Ok(msg)) => s.receive(msg, now, out),
                    Some(Err(e)) => s.decode_error(&e, out),
                    None => panic!("frame returned {n} for {} bytes", buf.len()),
                }
                pos += n;
            }
            Ok(None) => break,
            Err(e) => {
                s.decode_error(&e, out);
                // A desynchronised stream is dropped, as the worker drops the connection.
                pos = rbuf.len();
                break;
            }
        }
    }
    rbuf.drain(..pos);
}
