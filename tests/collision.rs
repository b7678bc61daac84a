//! Connection collisions (RFC 4271 §6.8) against the real binary, with the peer's side
//! written by hand so the bytes arrive exactly as a fast peer sends them.

mod common;
use common::*;
use reflectd::fsm::{our_open, SessionConfig};
use reflectd::wire::*;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A raw BGP connection: whole messages in, bytes out.
struct Raw {
    stream: TcpStream,
    rbuf: Vec<u8>,
}

impl Raw {
    fn new(stream: TcpStream) -> Raw {
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Raw {
            stream,
            rbuf: Vec::new(),
        }
    }

    /// The next whole message as (type, bytes); None once the connection is closed.
    fn next(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            if let Ok(Some(n)) = frame(&self.rbuf, 65535) {
                let msg: Vec<u8> = self.rbuf.drain(..n).collect();
                return Some((msg[18], msg));
            }
            let mut buf = [0u8; 4096];
            match self.stream.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.rbuf.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    fn expect(&mut self, kind: u8) -> Vec<u8> {
        match self.next() {
            Some((t, m)) if t == kind => m,
            other => panic!("expected message type {kind}, got {other:?}"),
        }
    }
}

fn encoded(msgs: &[Message]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in msgs {
        encode(m, &CodecCtx::default(), &mut out);
    }
    out
}

fn peer_open(id: Ipv4Addr) -> Message {
    Message::Open(our_open(&SessionConfig {
        local_asn: ASN,
        local_id: id,
        remote_asn: ASN,
        hold_time: 90,
        families: FamilySet::EMPTY.with(Family::Ipv4Unicast),
        connect_retry: 1,
        graceful_restart: None,
    }))
}

/// reflectd dials the peer at `addr` (a listener the test holds); the peer answers the
/// OPEN, so reflectd's connection sits in OpenConfirm (its KEEPALIVE proves it). Then the
/// peer's own connection sends OPEN and KEEPALIVE in one write. Returns the two
/// connections: (reflectd's, the peer's).
fn collide(addr: &'static str, peer_id: Ipv4Addr) -> (Reflector, Raw, Raw) {
    let listener = TcpListener::bind((addr, 0)).unwrap();
    let spec = NeighborSpec {
        families: "[ipv4-unicast]",
        ..NeighborSpec::dialed(addr, listener.local_addr().unwrap().port())
    };
    let r = Reflector::start(&[spec]);
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + WAIT;
    let dialled = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("reflectd did not dial: {e}; log:\n{}", r.log()),
        }
    };
    dialled.set_nonblocking(false).unwrap();
    let mut dialled = Raw::new(dialled);
    dialled.expect(MSG_OPEN);
    dialled
        .stream
        .write_all(&encoded(&[peer_open(peer_id)]))
        .unwrap();
    dialled.expect(MSG_KEEPALIVE);

    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&SocketAddr::new(ip(addr), 0).into()).unwrap();
    sock.connect_timeout(&r.addr().into(), WAIT).unwrap();
    let mut inbound = Raw::new(sock.into());
    inbound
        .stream
        .write_all(&encoded(&[peer_open(peer_id), Message::Keepalive]))
        .unwrap();
    (r, dialled, inbound)
}

/// Reads until a NOTIFICATION or the close; returns its (code, subcode) if one came.
fn notification(c: &mut Raw) -> Option<(u8, u8)> {
    while let Some((t, m)) = c.next() {
        if t == MSG_NOTIFICATION {
            return Some((m[19], m[20]));
        }
    }
    None
}

#[test]
fn open_and_keepalive_in_one_read_lose_to_a_connection_in_openconfirm_with_the_higher_identifier() {
    // Our identifier (10.255.0.1) is higher: the connection reflectd initiated stays.
    let (r, mut dialled, mut inbound) = collide("127.0.0.41", Ipv4Addr::new(1, 1, 1, 1));
    assert_eq!(
        notification(&mut inbound),
        Some((6, 7)),
        "the newcomer gets Cease / Connection Collision Resolution; log:\n{}",
        r.log()
    );
    dialled
        .stream
        .write_all(&encoded(&[Message::Keepalive]))
        .unwrap();
    // Established: reflectd sends its (empty) table's End-of-RIB, and no NOTIFICATION.
    assert_eq!(
        dialled.next().map(|(t, _)| t),
        Some(MSG_UPDATE),
        "log:\n{}",
        r.log()
    );
}

#[test]
fn open_and_keepalive_in_one_read_win_against_a_connection_in_openconfirm_with_the_lower_identifier(
) {
    // The peer's identifier is higher: its connection stays, reflectd's own one goes.
    let (r, mut dialled, mut inbound) = collide("127.0.0.42", Ipv4Addr::new(200, 0, 0, 1));
    assert_eq!(
        notification(&mut dialled),
        Some((6, 7)),
        "log:\n{}",
        r.log()
    );
    inbound.expect(MSG_OPEN);
    inbound.expect(MSG_KEEPALIVE);
    assert_eq!(
        inbound.next().map(|(t, _)| t),
        Some(MSG_UPDATE),
        "End-of-RIB on the surviving connection; log:\n{}",
        r.log()
    );
}
