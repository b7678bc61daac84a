//! A small blocking BGP speaker: the simulated routers of the demo and the test peers of the
//! integration tests. It is a client of the codec like any other peer; the reflector itself
//! never uses it. Every wait is bounded by a caller-given timeout.

use crate::wire::AnyPrefix;
use crate::wire::{self, *};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct SpeakerConfig {
    /// Source address to bind (a 127.0.0.x address in tests and the demo).
    pub local: IpAddr,
    pub asn: u32,
    pub router_id: Ipv4Addr,
    pub hold_time: u16,
    pub families: FamilySet,
    /// Advertise the 4-octet AS capability (false plays an old 2-octet speaker).
    pub four_octet_as: bool,
    /// Advertise the Extended Message capability (RFC 8654).
    pub extended_message: bool,
    /// TCP MD5 key (RFC 2385) for the connection to the reflector; None: unsigned.
    pub md5_password: Option<String>,
    /// TTL / hop limit to send with; None: the system default (64 on Linux).
    pub ttl: Option<u32>,
    /// Minimum TTL / hop count to accept (IP_MINTTL); None: any.
    pub min_ttl: Option<u8>,
    /// Advertise this Graceful Restart capability (RFC 4724); see `with_graceful_restart`.
    pub graceful_restart: Option<GracefulRestart>,
}

impl SpeakerConfig {
    pub fn new(local: IpAddr, asn: u32, router_id: Ipv4Addr) -> SpeakerConfig {
        SpeakerConfig {
            local,
            asn,
            router_id,
            hold_time: 90,
            families: FamilySet::EMPTY
                .with(Family::Ipv4Unicast)
                .with(Family::Ipv6Unicast),
            four_octet_as: true,
            extended_message: true,
            md5_password: None,
            ttl: None,
            min_ttl: None,
            graceful_restart: None,
        }
    }

    /// Applies `md5_password`, `ttl` and `min_ttl` for traffic with `peer` to `sock` (the
    /// socket about to connect, or a listening socket the reflector will dial).
    pub fn protect<S: std::os::fd::AsFd>(&self, sock: &S, peer: IpAddr) -> io::Result<()> {
        if let Some(p) = &self.md5_password {
            crate::sockopt::set_md5_key(sock, peer, p.as_bytes())?;
        }
        if let Some(t) = self.ttl {
            crate::sockopt::set_send_ttl(sock, peer, t)?;
        }
        if let Some(t) = self.min_ttl {
            crate::sockopt::set_min_ttl(sock, peer, t)?;
        }
        Ok(())
    }

    /// Advertises Graceful Restart with `restart_time` seconds for every configured family,
    /// each with the Forwarding State bit `forwarding` (RFC 4724 §3).
    pub fn with_graceful_restart(mut self, restart_time: u16, forwarding: bool) -> SpeakerConfig {
        let families = self
            .families
            .iter()
            .map(|f| {
                let (afi, safi) = f.afi_safi();
                (afi, safi, forwarding)
            })
            .collect();
        self.graceful_restart = Some(GracefulRestart {
            restart_state: false,
            notification: false,
            restart_time,
            families,
        });
        self
    }

    /// The OPEN the reflector itself would send, less the capabilities switched off.
    fn open(&self) -> Open {
        let cfg = crate::fsm::SessionConfig {
            local_asn: self.asn,
            local_id: self.router_id,
            remote_asn: self.asn,
            hold_time: self.hold_time,
            families: self.families,
            connect_retry: 1,
            graceful_restart: self.graceful_restart.clone(),
        };
        let mut open = crate::fsm::our_open(&cfg);
        open.capabilities.retain(|c| match c {
            Capability::FourOctetAs(_) => self.four_octet_as,
            Capability::ExtendedMessage => self.extended_message,
            _ => true,
        });
        open
    }
}

/// An Established session and what the other side has sent on it.
pub struct Speaker {
    stream: TcpStream,
    pub ctx: CodecCtx,
    rbuf: Vec<u8>,
    pub peer_open: Open,
    /// Routes currently announced to us, by prefix.
    pub routes: HashMap<AnyPrefix, PathAttrs>,
    /// Families for which End-of-RIB arrived.
    pub end_of_rib: FamilySet,
    /// Set when the other side sent a NOTIFICATION (the session is then over).
    pub notification: Option<Notification>,
    pub closed: bool,
    pub updates_received: u64,
    keepalive_every: Duration,
    last_sent: Instant,
}

impl Speaker {
    /// Connects from `cfg.local` to `remote` and completes the OPEN exchange.
    pub fn connect(
        cfg: &SpeakerConfig,
        remote: SocketAddr,
        timeout: Duration,
    ) -> io::Result<Speaker> {
        let domain = socket2::Domain::for_address(remote);
        let sock = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
        sock.bind(&SocketAddr::new(cfg.local, 0).into())?;
        cfg.protect(&sock, remote.ip())?;
        sock.connect_timeout(&remote.into(), timeout)?;
        Speaker::handshake(sock.into(), cfg, timeout)
    }

    /// Waits for the reflector to connect to `listener` and completes the OPEN exchange.
    pub fn accept(
        listener: &TcpListener,
        cfg: &SpeakerConfig,
        timeout: Duration,
    ) -> io::Result<Speaker> {
        listener.set_nonblocking(true)?;
        let deadline = Instant::now() + timeout;
        loop {
            match listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false)?;
                    return Speaker::handshake(stream, cfg, timeout);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return Err(io::Error::new(io::ErrorKind::TimedOut, "no connection"));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn handshake(stream: TcpStream, cfg: &SpeakerConfig, timeout: Duration) -> io::Result<Speaker> {
        stream.set_nodelay(true)?;
        let mut sp = Speaker {
            stream,
            ctx: CodecCtx::default(),
            rbuf: Vec::with_capacity(1 << 16),
            peer_open: cfg.open(),
            routes: HashMap::new(),
            end_of_rib: FamilySet::EMPTY,
            notification: None,
            closed: false,
            updates_received: 0,
            keepalive_every: Duration::from_secs(u64::from(cfg.hold_time / 3).max(1)),
            last_sent: Instant::now(),
        };
        let ours = cfg.open();
        sp.send(&Message::Open(ours.clone()))?;
        let deadline = Instant::now() + timeout;
        let theirs = match sp.next_message(deadline)? {
            Message::Open(o) => o,
            other => return Err(protocol_error(format!("expected OPEN, got {other:?}"))),
        };
        let both = |f: fn(&Capability) -> bool| {
            ours.capabilities.iter().any(f) && theirs.capabilities.iter().any(f)
        };
        sp.ctx.four_octet_as = both(|c| matches!(c, Capability::FourOctetAs(_)));
        sp.ctx.extended_message = both(|c| matches!(c, Capability::ExtendedMessage));
        let hold = ours.hold_time.min(theirs.hold_time);
        sp.keepalive_every = Duration::from_secs(u64::from(hold / 3).max(1));
        sp.peer_open = theirs;
        sp.send(&Message::Keepalive)?;
        match sp.next_message(deadline)? {
            Message::Keepalive => Ok(sp),
            other => Err(protocol_error(format!("expected KEEPALIVE, got {other:?}"))),
        }
    }

    pub fn send(&mut self, msg: &Message) -> io::Result<()> {
        let mut out = Vec::new();
        wire::encode(msg, &self.ctx, &mut out);
        self.send_raw(&out)
    }

    /// Writes bytes as they are (hand-made or deliberately malformed messages).
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.last_sent = Instant::now();
        self.stream.write_all(bytes)
    }

    pub fn announce<N: Nlri>(&mut self, prefixes: &[N], attrs: &PathAttrs) -> io::Result<()> {
        let mut out = Vec::new();
        wire::encode_announce(&self.ctx, attrs, prefixes, &mut out);
        self.send_raw(&out)
    }

    pub fn withdraw<N: Nlri>(&mut self, prefixes: &[N]) -> io::Result<()> {
        let mut out = Vec::new();
        wire::encode_withdraw(&self.ctx, prefixes, &mut out);
        self.send_raw(&out)
    }

    pub fn end_of_rib(&mut self, family: Family) -> io::Result<()> {
        let mut out = Vec::new();
        wire::encode_end_of_rib(family, &mut out);
        self.send_raw(&out)
    }

    /// Reads and applies whatever arrives for up to `wait`; answers with KEEPALIVEs.
    /// Returns false once the session is over.
    pub fn poll(&mut self, wait: Duration) -> io::Result<bool> {
        let deadline = Instant::now() + wait;
        while !self.closed {
            if self.last_sent.elapsed() >= self.keepalive_every {
                self.send(&Message::Keepalive)?;
            }
            match self.next_message(deadline) {
                Ok(m) => self.apply(m),
                Err(e) if e.kind() == io::ErrorKind::TimedOut => break,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => self.closed = true,
                Err(e) => return Err(e),
            }
        }
        Ok(!self.closed)
    }

    /// Polls until `done(self)` holds or `timeout` passes; returns whether it held.
    pub fn wait_until(
        &mut self,
        timeout: Duration,
        done: impl Fn(&Speaker) -> bool,
    ) -> io::Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            if done(self) {
                return Ok(true);
            }
            let now = Instant::now();
            if now >= deadline || self.closed {
                return Ok(done(self));
            }
            self.poll((deadline - now).min(Duration::from_millis(50)))?;
        }
    }

    /// Hands over the socket for raw use (load generation); the speaker is done after this.
    pub fn take_stream(&mut self) -> TcpStream {
        self.closed = true;
        self.stream.try_clone().expect("clone socket")
    }

    pub fn route(&self, prefix: &str) -> Option<&PathAttrs> {
        let p = parse_any_prefix(prefix)?;
        self.routes.get(&p)
    }

    fn apply(&mut self, msg: Message) {
        match msg {
            Message::Update(u) => {
                self.updates_received += 1;
                if let Some(f) = u.end_of_rib() {
                    self.end_of_rib.insert(f);
                    return;
                }
                for p in &u.withdrawn {
                    self.routes.remove(&AnyPrefix::V4(*p));
                }
                if let Some(un) = &u.mp_unreach {
                    for p in any_prefixes(&un.nlri) {
                        self.routes.remove(&p);
                    }
                }
                let attrs = u.attrs.clone().unwrap_or_default();
                for p in &u.nlri {
                    self.routes.insert(AnyPrefix::V4(*p), attrs.clone());
                }
                if let Some(r) = &u.mp_reach {
                    let mut a = attrs.clone();
                    a.next_hop = r.next_hop;
                    for p in any_prefixes(&r.nlri) {
                        self.routes.insert(p, a.clone());
                    }
                }
            }
            Message::Notification(n) => {
                self.notification = Some(n);
                self.closed = true;
            }
            _ => {}
        }
    }

    /// One whole message, reading as needed until `deadline` (TimedOut after it).
    fn next_message(&mut self, deadline: Instant) -> io::Result<Message> {
        loop {
            let max = wire::MAX_EXTENDED_MESSAGE_LEN;
            if let Some(n) =
                wire::frame(&self.rbuf, max).map_err(|e| protocol_error(e.to_string()))?
            {
                let res = wire::decode(&self.rbuf[..n], &self.ctx);
                self.rbuf.drain(..n);
                return res.map_err(|e| protocol_error(e.to_string()));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(io::ErrorKind::TimedOut.into());
            }
            self.stream.set_read_timeout(Some(deadline - now))?;
            let mut buf = [0u8; 65536];
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.rbuf.extend_from_slice(&buf[..n]),
                // Not an error of the session. With a receive timeout set, Linux fails a
                // blocked read with EINTR after the process was stopped and continued
                // (SIGSTOP/SIGCONT, a cgroup freezer, a ptrace attach) even with no signal
                // handler, and on any handled signal even with SA_RESTART (signal(7)).
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(io::ErrorKind::TimedOut.into())
                }
                Err(e) => return Err(e),
            }
        }
    }
}

fn protocol_error(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn any_prefixes(set: &NlriSet) -> Vec<AnyPrefix> {
    match set {
        NlriSet::Ipv4Unicast(v) => v.iter().map(|p| AnyPrefix::V4(*p)).collect(),
        NlriSet::Ipv6Unicast(v) => v.iter().map(|p| AnyPrefix::V6(*p)).collect(),
        NlriSet::Ipv4Vpn(v) => v.keys.iter().map(|p| AnyPrefix::Vpn4(*p)).collect(),
        NlriSet::Ipv6Vpn(v) => v.keys.iter().map(|p| AnyPrefix::Vpn6(*p)).collect(),
        NlriSet::Evpn(v) => v.keys.iter().map(|p| AnyPrefix::Evpn(*p)).collect(),
        NlriSet::RtConstraint(v) => v.iter().map(|p| AnyPrefix::Rtc(*p)).collect(),
        NlriSet::Other { .. } => Vec::new(),
    }
}

/// Parses `10.0.0.0/8`, `2001:db8::/32` or a VPN route `65000:1:10.0.0.0/8`.
pub fn parse_any_prefix(s: &str) -> Option<AnyPrefix> {
    s.parse().ok()
}

#[cfg(test)]
#[path = "speaker_tests.rs"]
mod tests;
