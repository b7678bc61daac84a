//! The sinks: client sessions that check every prefix a reflector sends them, reading each
//! UPDATE in place. Each thread polls a shard of the sinks (`serve`), so a thousand sinks
//! are not a thousand threads waking one another: with a thread per sink, the wake-ups at
//! churn rates and the decoding in bulk made the harness its own bottleneck.

use crate::table::{evpn, vpn, Table};
use polling::{Event, Events, PollMode, Poller};
use reflectd::wire::evpn::EvpnRoute;
use reflectd::wire::{self, *};
use std::io::{self, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

pub const KEEPALIVE: [u8; HEADER_LEN] = wire::KEEPALIVE;

/// Reads of one sink before the thread turns to its other ready sinks. Reading one until
/// it has nothing left starves the rest while a reflector keeps it full, and their queues
/// in the reflector then pass its high-water mark (measured: scenario C's 200 sinks on
/// two threads).
const READS_PER_EVENT: usize = 2;

/// MED of churn change k: far above the table's MEDs, so a sink knows which change it saw.
pub const CHURN_MED: u32 = 1 << 30;

/// Which prefixes a sink must see, and what a correctly reflected route carries.
pub struct Expect {
    pub table: Arc<Table>,
    /// Unique mode: entry j belongs to speaker j / per_speaker. Contested: speaker 0.
    pub per_speaker: Option<u32>,
    /// Mesh mode: this sink's own speaker, whose prefixes are not reflected back to it.
    pub exclude: Option<u32>,
    /// Speaker s's BGP identifier: the ORIGINATOR_ID its routes carry once reflected
    /// (RFC 4456 §8).
    pub speaker_id: fn(u32) -> Ipv4Addr,
    /// How many speakers announce (contested: each may be best for a while).
    pub speakers: u32,
    /// The reflector's cluster id: the whole CLUSTER_LIST of a route reflected once.
    pub cluster: Ipv4Addr,
    /// VPN and EVPN workloads: each entry's customer, whose RD, label and route target its
    /// route must carry.
    pub customers: Option<Arc<[u32]>>,
    /// RT-Constraint: per customer (route target), whether this sink is a member. It must
    /// get the routes of those and no others. None: every route.
    pub member: Option<Arc<[bool]>>,
}

impl Expect {
    fn owner(&self, j: usize) -> u32 {
        self.per_speaker.map_or(0, |p| j as u32 / p)
    }

    /// Index of `p` if this sink must see it.
    fn index(&self, p: &Prefix4) -> Option<usize> {
        self.table
            .index(p)
            .filter(|&j| self.exclude != Some(self.owner(j)))
    }

    /// Whether this sink's membership admits entry `j` (always, without RT-Constraint).
    fn admits(&self, j: usize) -> bool {
        let Some(member) = &self.member else {
            return true;
        };
        let c = self.customers.as_ref().and_then(|cs| cs.get(j).copied());
        c.and_then(|c| member.get(c as usize).copied()) == Some(true)
    }

    /// Index of a VPN route if this sink must see it, and whether its RD and label are its
    /// customer's.
    fn vpn_index(&self, r: &VpnRoute) -> Option<(usize, bool)> {
        let j = self.index(&r.prefix)?;
        let c = self.customers.as_ref()?.get(j).copied()?;
        // The label's value: FRR sends its own bit in the traffic-class field (0x3e83 for
        // label 1000), which a route reflector may pass or not.
        Some((
            j,
            r.rd == vpn::rd(c) && r.label.value() == vpn::label(c).value(),
        ))
    }

    /// The entry an EVPN route stands for (its MAC, or a type 5 route's prefix), if this
    /// sink must see it.
    fn evpn_entry(&self, r: &EvpnRoute<'_>) -> Option<usize> {
        let j = match r {
            EvpnRoute::MacIp(m) => evpn::index_of(&m.mac)?,
            EvpnRoute::IpPrefix(p) => match p.prefix {
                std::net::IpAddr::V4(a) => self.table.index(&Prefix4::new(a, p.prefix_len)?)?,
                std::net::IpAddr::V6(_) => return None,
            },
            _ => return None,
        };
        (j < self.table.len() as usize && self.exclude != Some(self.owner(j))).then_some(j)
    }

    /// Entry of an EVPN route if this sink must see it, and whether the route is that
    /// entry's exactly: its type, RD, MAC, IP address or prefix, label, ESI and tag.
    fn evpn_index(&self, r: &EvpnRoute<'_>) -> Option<(usize, bool)> {
        let j = self.evpn_entry(r)?;
        Some((j, *r == self.evpn_route(j)?))
    }

    /// Entry j's EVPN route, as its speaker sent it.
    fn evpn_route(&self, j: usize) -> Option<EvpnRoute<'static>> {
        let c = self.customers.as_ref()?.get(j).copied()?;
        Some(evpn::route(&self.table, j, c))
    }

    /// Whether `a` carries the route target of entry `j`'s customer (VPN and EVPN workloads).
    fn carries_target(&self, j: usize, a: &Attrs) -> bool {
        let Some(c) = self.customers.as_ref().and_then(|cs| cs.get(j).copied()) else {
            return false;
        };
        let rt = vpn::route_target(c);
        a.ext_communities.chunks_exact(8).any(|x| x == rt)
    }

    /// Speaker s's path, reflected once: its next hop, its ORIGINATOR_ID, our CLUSTER_LIST.
    fn reflected_from(&self, s: u32, a: &Attrs) -> bool {
        a.next_hop.map(NextHop::V4) == Some(crate::table::next_hop(s))
            && a.originator_id == Some((self.speaker_id)(s))
            && a.cluster_list == self.cluster.octets()
    }

    /// Entry j's final path: its owner's, reflected.
    fn right(&self, j: usize, a: &Attrs) -> bool {
        self.reflected_from(self.owner(j), a)
    }

    /// Not merely another speaker's path (contested: any may be best for a while) but no
    /// speaker's path reflected correctly.
    fn wrong(&self, j: usize, a: &Attrs) -> bool {
        match self.per_speaker {
            Some(_) => !self.right(j, a),
            None => !(0..self.speakers).any(|s| self.reflected_from(s, a)),
        }
    }

    pub fn total(&self) -> usize {
        if self.member.is_some() {
            // (No mesh with RT-Constraint: nothing is excluded.)
            return (0..self.table.len() as usize)
                .filter(|&j| self.admits(j))
                .count();
        }
        let own = match (self.exclude, self.per_speaker) {
            (Some(_), Some(p)) => p as usize,
            _ => 0,
        };
        self.table.len() as usize - own
    }
}

pub enum SinkEvent {
    Converged(Instant),
    Churned,
    Withdrawn(Instant),
    Failed(String, f64),
}

/// What a sink waits for after convergence, and its limits.
#[derive(Clone, Copy)]
pub struct Phases {
    pub churn: u32,
    pub withdraw: bool,
    /// For convergence only: the later phases are timed by the caller, each on its own.
    pub deadline: Instant,
    pub keepalive: Option<Duration>,
}

/// One sink session. Each prefix's state: 0 absent, 1 present but wrong (next hop,
/// ORIGINATOR_ID or CLUSTER_LIST), 2 present and right. Reports when all are right, then
/// when every churn change was seen, then (if asked) when all are gone.
pub struct Sink {
    stream: TcpStream,
    ctx: CodecCtx,
    exp: Arc<Expect>,
    buf: Vec<u8>,
    have: usize,
    state: Vec<u8>,
    total: usize,
    good: usize,
    present: usize,
    /// Announcements received with a wrong next hop or reflection attributes.
    wrong: u64,
    /// The first wrong announcement, described for the failure message.
    first_wrong: Option<String>,
    /// RT-Constraint: routes received of targets it is not a member of, and the first.
    unwanted: u64,
    first_unwanted: Option<String>,
    converged: bool,
    /// Per churn change this sink must see, when it saw it.
    seen: Vec<Option<Instant>>,
    churned: usize,
    churn_reported: bool,
    last_ka: Instant,
    /// Reported its last event (or failed): not read any more, kept open.
    done: bool,
}

impl Sink {
    pub fn new(stream: TcpStream, ctx: CodecCtx, exp: Arc<Expect>, churn: u32) -> Sink {
        let total = exp.total();
        // Big reads for few sinks; many sinks (mesh) must not cost a MiB each.
        let buf = vec![0u8; if total > 1 << 20 { 1 << 20 } else { 1 << 18 }];
        // Changes this sink must see: none of its own (mesh, session 0 is the churner).
        let churn_want = if exp.exclude == Some(0) { 0 } else { churn };
        Sink {
            state: vec![0u8; exp.table.len() as usize],
            stream,
            ctx,
            exp,
            buf,
            have: 0,
            total,
            good: 0,
            present: 0,
            wrong: 0,
            first_wrong: None,
            unwanted: 0,
            first_unwanted: None,
            converged: false,
            seen: vec![None; churn_want as usize],
            churned: 0,
            churn_reported: false,
            last_ka: Instant::now(),
            done: false,
        }
    }

    fn fail(&mut self, why: String, tx: &mpsc::Sender<SinkEvent>) {
        let why = if self.wrong > 0 {
            format!(
                "{why} ({} announcements had a wrong next hop, ORIGINATOR_ID, CLUSTER_LIST, \
                 or (VPN, EVPN) RD, MAC, label or route target; \
                 the first: {})",
                self.wrong,
                self.first_wrong.as_deref().unwrap_or("?")
            )
        } else {
            why
        };
        let _ = tx.send(SinkEvent::Failed(why, self.good as f64 / self.total as f64));
        self.done = true;
    }

    /// Reads what the socket has, up to `READS_PER_EVENT` reads (the poller is level
    /// triggered: the rest waits for the next round).
    fn on_readable(&mut self, ph: &Phases, tx: &mpsc::Sender<SinkEvent>) {
        for _ in 0..READS_PER_EVENT {
            if self.done {
                return;
            }
            let n = match read_now(&self.stream, &mut self.buf[self.have..]) {
                Ok(0) => return self.fail("session closed by the reflector".into(), tx),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return self.fail(format!("read: {e}"), tx),
            };
            self.have += n;
            if let Err(why) = self.take_messages() {
                return self.fail(why, tx);
            }
            if self.unwanted > 0 {
                let why = format!(
                    "sent {} routes of route targets it is not a member of; the first: {}",
                    self.unwanted,
                    self.first_unwanted.as_deref().unwrap_or("?")
                );
                return self.fail(why, tx);
            }
            self.report(ph, tx);
        }
    }

    fn take_messages(&mut self) -> Result<(), String> {
        // Read in place: the buffer is lent out while the UPDATEs in it are applied.
        let buf = std::mem::take(&mut self.buf);
        let mut bad = None;
        let mut frames = wire::Frames::new(&buf[..self.have], MAX_EXTENDED_MESSAGE_LEN);
        for f in frames.by_ref().map_while(Result::ok) {
            match f.kind() {
                MessageType::Update => match Update::read(f.body()) {
                    Some(u) => self.apply(&u),
                    None => {
                        let head = &f.bytes()[..f.bytes().len().min(64)];
                        bad = Some(format!("malformed UPDATE {head:02x?}"));
                        break;
                    }
                },
                MessageType::Notification => {
                    let n = wire::decode(f.bytes(), &self.ctx);
                    bad = Some(format!("NOTIFICATION {n:?}"));
                    break;
                }
                _ => {}
            }
        }
        let pos = frames.consumed();
        self.buf = buf;
        if let Some(why) = bad {
            return Err(why);
        }
        if pos == 0 && self.have == self.buf.len() {
            return Err("message larger than the read buffer".into());
        }
        self.buf.copy_within(pos..self.have, 0);
        self.have -= pos;
        Ok(())
    }

    fn apply(&mut self, u: &Update<'_>) {
        let Sink {
            exp,
            state,
            good,
            present,
            ..
        } = self;
        let mut set = |j: usize, to: u8| {
            let from = state[j];
            *good = *good + usize::from(to == 2) - usize::from(from == 2);
            *present = *present + usize::from(to > 0) - usize::from(from > 0);
            state[j] = to;
        };
        for j in prefixes(u.withdrawn).filter_map(|p| exp.index(&p)) {
            set(j, 0);
        }
        for (j, _) in vpn_routes(u.vpn_withdrawn).filter_map(|r| exp.vpn_index(&r)) {
            if exp.admits(j) {
                set(j, 0);
            }
        }
        for r in evpn_routes(u.evpn_withdrawn) {
            if let Some(j) = r.ok().and_then(|r| exp.evpn_entry(&r)) {
                set(j, 0);
            }
        }
        let a = &u.attrs;
        for j in prefixes(u.nlri).filter_map(|p| exp.index(&p)) {
            let right = exp.right(j, a);
            if !right && exp.wrong(j, a) {
                self.wrong += 1;
                self.first_wrong
                    .get_or_insert_with(|| format!("{}: {}", exp.table.prefixes[j], a.describe()));
            }
            set(j, if right { 2 } else { 1 });
        }
        for r in vpn_routes(u.vpn_nlri) {
            let Some((j, key_right)) = exp.vpn_index(&r) else {
                continue;
            };
            let key_right = key_right && exp.carries_target(j, a);
            if !exp.admits(j) {
                self.unwanted += 1;
                self.first_unwanted
                    .get_or_insert_with(|| format!("{}:{}", r.rd, r.prefix));
                continue;
            }
            let right = key_right && exp.right(j, a);
            if !key_right || (!right && exp.wrong(j, a)) {
                self.wrong += 1;
                self.first_wrong.get_or_insert_with(|| {
                    let (rd, l) = (r.rd, r.label.0);
                    let rts = a.ext_communities;
                    let p = r.prefix;
                    format!(
                        "{rd}:{p} label {l:02x?} ext communities {rts:02x?}: {}",
                        a.describe()
                    )
                });
            }
            set(j, if right { 2 } else { 1 });
        }
        for r in evpn_routes(u.evpn_nlri) {
            let r = match r {
                Ok(r) => r,
                Err(e) => {
                    self.wrong += 1;
                    self.first_wrong
                        .get_or_insert_with(|| format!("malformed EVPN NLRI: {e}"));
                    break;
                }
            };
            let Some((j, key_right)) = exp.evpn_index(&r) else {
                continue;
            };
            let key_right = key_right && exp.carries_target(j, a);
            let right = key_right && exp.right(j, a);
            if !key_right || (!right && exp.wrong(j, a)) {
                self.wrong += 1;
                self.first_wrong.get_or_insert_with(|| {
                    // The key, then the path's fields (labels, ESI, gateway).
                    let (rts, data) = (a.ext_communities, r.path_data());
                    let want = exp.evpn_route(j).map(|w| format!("{w}{}", w.path_data()));
                    let want = want.unwrap_or_default();
                    format!(
                        "{r}{data} ext communities {rts:02x?}: {} (sent: {want})",
                        a.describe()
                    )
                });
            }
            set(j, if right { 2 } else { 1 });
        }
        if let Some(med) = a.med {
            let k = med.wrapping_sub(CHURN_MED) as usize;
            if let Some(slot @ None) = self.seen.get_mut(k) {
                *slot = Some(Instant::now());
                self.churned += 1;
            }
        }
    }

    fn report(&mut self, ph: &Phases, tx: &mpsc::Sender<SinkEvent>) {
        if !self.converged && self.good == self.total {
            self.converged = true;
            let _ = tx.send(SinkEvent::Converged(Instant::now()));
        }
        if self.converged && !self.churn_reported && self.churned == self.seen.len() {
            self.churn_reported = true;
            if ph.churn > 0 {
                let _ = tx.send(SinkEvent::Churned);
            }
            if !ph.withdraw {
                self.done = true; // kept open until the run ends
                return;
            }
        }
        if self.churn_reported && self.present == 0 {
            let _ = tx.send(SinkEvent::Withdrawn(Instant::now()));
            self.done = true;
        }
    }

    /// Whose prefixes a sink that timed out lacks (or holds wrong), by speaker: a reflector
    /// that lost one client's routes shows as one speaker here rather than as a percentage.
    fn missing(&self) -> String {
        if self.exp.per_speaker.is_none() {
            return format!("; {} prefixes missing or wrong", self.total - self.good);
        }
        let mut by_owner: std::collections::BTreeMap<u32, usize> = Default::default();
        for (j, &st) in self.state.iter().enumerate() {
            let owner = self.exp.owner(j);
            if st != 2 && self.exp.exclude != Some(owner) && self.exp.admits(j) {
                *by_owner.entry(owner).or_default() += 1;
            }
        }
        let mut worst: Vec<_> = by_owner.into_iter().collect();
        worst.sort_by_key(|&(s, n)| (std::cmp::Reverse(n), s));
        let shown: Vec<_> = (worst.iter().take(4))
            .map(|(s, n)| format!("{n} of speaker {s}"))
            .collect();
        let more = worst.len().saturating_sub(4);
        let more = if more > 0 {
            format!(" and {more} more speakers")
        } else {
            String::new()
        };
        format!("; missing or wrong: {}{more}", shown.join(", "))
    }

    /// Keepalives, and the convergence deadline.
    fn tick(&mut self, now: Instant, ph: &Phases, tx: &mpsc::Sender<SinkEvent>) {
        if !self.converged && now >= ph.deadline {
            let why = format!("timed out{}", self.missing());
            return self.fail(why, tx);
        }
        if ph
            .keepalive
            .is_some_and(|k| now.duration_since(self.last_ka) >= k)
        {
            let _ = self.stream.write_all(&KEEPALIVE);
            self.last_ka = now;
        }
    }
}

impl Attrs<'_> {
    fn describe(&self) -> String {
        format!(
            "next hop {:?}, ORIGINATOR_ID {:?}, CLUSTER_LIST {:02x?}",
            self.next_hop, self.originator_id, self.cluster_list
        )
    }
}

/// What a sink checks of a route's attributes.
#[derive(Default)]
struct Attrs<'a> {
    next_hop: Option<Ipv4Addr>,
    med: Option<u32>,
    originator_id: Option<Ipv4Addr>,
    /// The CLUSTER_LIST's value as sent.
    cluster_list: &'a [u8],
    /// The EXTENDED COMMUNITIES' value as sent (8 bytes each).
    ext_communities: &'a [u8],
}

/// An UPDATE read in place: at full size the sinks read hundreds of millions of prefixes,
/// and decoding each message into the codec's owned `Update` made the sinks the slowest
/// part of the harness (scenario C). The codec's other checks are not a sink's job.
struct Update<'a> {
    withdrawn: &'a [u8],
    attrs: Attrs<'a>,
    nlri: &'a [u8],
    /// VPN-IPv4 routes of MP_REACH_NLRI (its next hop is in `attrs`) and MP_UNREACH_NLRI.
    vpn_nlri: &'a [u8],
    vpn_withdrawn: &'a [u8],
    /// EVPN routes of MP_REACH_NLRI (next hop in `attrs`) and MP_UNREACH_NLRI.
    evpn_nlri: &'a [u8],
    evpn_withdrawn: &'a [u8],
}

impl<'a> Update<'a> {
    /// `body`: the message after its 19-byte header. None if the fields do not add up.
    fn read(body: &'a [u8]) -> Option<Update<'a>> {
        let u16_at = |b: &[u8], i: usize| Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]));
        let wlen = usize::from(u16_at(body, 0)?);
        let withdrawn = body.get(2..2 + wlen)?;
        let alen = usize::from(u16_at(body, 2 + wlen)?);
        let mut rest = body.get(4 + wlen..4 + wlen + alen)?;
        let nlri = &body[4 + wlen + alen..];
        let mut attrs = Attrs::default();
        let (mut vpn_nlri, mut vpn_withdrawn): (&[u8], &[u8]) = (&[], &[]);
        let (mut evpn_nlri, mut evpn_withdrawn): (&[u8], &[u8]) = (&[], &[]);
        let v4 = |v: &[u8]| <[u8; 4]>::try_from(v).ok().map(Ipv4Addr::from);
        const VPN4: [u8; 3] = [0, 1, 128];
        const EVPN: [u8; 3] = [0, 25, 70];
        while let Some((code, value, whole)) = attr_code::next_attr(rest) {
            match code {
                // AFI 1, SAFI 128, next hop RD 0 + IPv4 (12 bytes), reserved, routes.
                attr_code::MP_REACH_NLRI if value.starts_with(&VPN4) => {
                    let nh = value.get(3..)?.split_first()?;
                    let (len, nh) = (usize::from(*nh.0), nh.1);
                    if len == 12 {
                        attrs.next_hop = Some(v4(nh.get(8..12)?)?);
                    }
                    vpn_nlri = nh.get(len + 1..)?;
                }
                attr_code::MP_UNREACH_NLRI if value.starts_with(&VPN4) => {
                    vpn_withdrawn = &value[3..];
                }
                // AFI 25, SAFI 70, next hop IPv4 (4 bytes), reserved, routes.
                attr_code::MP_REACH_NLRI if value.starts_with(&EVPN) => {
                    let nh = value.get(3..)?.split_first()?;
                    let (len, nh) = (usize::from(*nh.0), nh.1);
                    if len == 4 {
                        attrs.next_hop = Some(v4(nh.get(..4)?)?);
                    }
                    evpn_nlri = nh.get(len + 1..)?;
                }
                attr_code::MP_UNREACH_NLRI if value.starts_with(&EVPN) => {
                    evpn_withdrawn = &value[3..];
                }
                attr_code::NEXT_HOP => attrs.next_hop = Some(v4(value)?),
                attr_code::MED => attrs.med = Some(u32::from_be_bytes(value.try_into().ok()?)),
                attr_code::ORIGINATOR_ID => attrs.originator_id = Some(v4(value)?),
                attr_code::CLUSTER_LIST => attrs.cluster_list = value,
                // EXTENDED COMMUNITIES (RFC 4360): a VPN route's route target.
                16 => attrs.ext_communities = value,
                _ => {}
            }
            rest = &rest[whole.len()..];
        }
        if !rest.is_empty() {
            return None; // the section ends inside an attribute
        }
        Some(Update {
            withdrawn,
            attrs,
            nlri,
            vpn_nlri,
            vpn_withdrawn,
            evpn_nlri,
            evpn_withdrawn,
        })
    }
}

/// A VPN-IPv4 route as a sink checks it.
struct VpnRoute {
    rd: Rd,
    label: Label,
    prefix: Prefix4,
}

/// The VPN-IPv4 routes of an MP_REACH or MP_UNREACH NLRI field (RFC 8277: one label);
/// stops at a malformed one.
fn vpn_routes(mut b: &[u8]) -> impl Iterator<Item = VpnRoute> + '_ {
    std::iter::from_fn(move || {
        let len = b.first()?.checked_sub(88)?;
        let n = usize::from(len).div_ceil(8);
        let label = Label(b.get(1..4)?.try_into().ok()?);
        let rd = Rd(b.get(4..12)?.try_into().ok()?);
        let bytes = b.get(12..12 + n)?;
        let mut addr = [0u8; 4];
        addr.get_mut(..n)?.copy_from_slice(bytes);
        b = &b[12 + n..];
        Some(VpnRoute {
            rd,
            label,
            prefix: Prefix4::new(Ipv4Addr::from(addr), len)?,
        })
    })
}

/// The EVPN routes of an MP_REACH or MP_UNREACH NLRI field (no ADD-PATH); after an error,
/// nothing more.
fn evpn_routes(b: &[u8]) -> impl Iterator<Item = Result<EvpnRoute<'_>, &'static str>> + '_ {
    reflectd::wire::evpn::iter(b, false).map(|r| r.map(|(_, r)| r))
}

/// The IPv4 prefixes of an NLRI or withdrawn-routes field; stops at a malformed one.
fn prefixes(mut b: &[u8]) -> impl Iterator<Item = Prefix4> + '_ {
    std::iter::from_fn(move || {
        let len = *b.first()?;
        let n = usize::from(len).div_ceil(8);
        let bytes = b.get(1..1 + n)?;
        let mut addr = [0u8; 4];
        addr.get_mut(..n)?.copy_from_slice(bytes);
        b = &b[1 + n..];
        Prefix4::new(Ipv4Addr::from(addr), len)
    })
}

/// A read that does not block, on a socket left blocking: in mesh mode the session's writer
/// thread shares it and relies on blocking writes.
fn read_now(stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes, and recv writes no more.
    let n = unsafe {
        libc::recv(
            stream.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Serves `sinks` from this thread until each is done or `stop` is set. Returns each sink's
/// stream (still open) and when it saw each churn change.
pub fn serve(
    mut sinks: Vec<Sink>,
    ph: Phases,
    tx: mpsc::Sender<SinkEvent>,
    stop: Arc<AtomicBool>,
) -> Vec<(TcpStream, Vec<Option<Instant>>)> {
    let poller = match Poller::new() {
        Ok(p) => p,
        Err(e) => {
            for s in &mut sinks {
                s.fail(format!("poller: {e}"), &tx);
            }
            return sinks.into_iter().map(|s| (s.stream, s.seen)).collect();
        }
    };
    for (i, s) in sinks.iter_mut().enumerate() {
        // SAFETY: each stream is deleted from the poller below before it is returned (and
        // so before it can be dropped).
        let armed = unsafe { poller.add_with_mode(&s.stream, Event::readable(i), PollMode::Level) };
        if let Err(e) = armed {
            s.fail(format!("poller: {e}"), &tx);
        }
    }
    let mut events = Events::new();
    let mut last_tick = Instant::now();
    while !stop.load(Ordering::Relaxed) && sinks.iter().any(|s| !s.done) {
        events.clear();
        let _ = poller.wait(&mut events, Some(Duration::from_millis(50)));
        for ev in events.iter() {
            let s = &mut sinks[ev.key];
            if !s.done {
                s.on_readable(&ph, &tx);
                if s.done {
                    let _ = poller.delete(&s.stream);
                }
            }
        }
        // Keepalives and deadlines need no more than this; a pass over a thousand sinks
        // per read at churn rates would cost more than the reads.
        let now = Instant::now();
        if now.duration_since(last_tick) >= Duration::from_millis(50) {
            last_tick = now;
            for s in sinks.iter_mut().filter(|s| !s.done) {
                s.tick(now, &ph, &tx);
                if s.done {
                    let _ = poller.delete(&s.stream);
                }
            }
        }
    }
    for s in sinks.iter().filter(|s| !s.done) {
        let _ = poller.delete(&s.stream);
    }
    sinks.into_iter().map(|s| (s.stream, s.seen)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(per_speaker: Option<u32>) -> Expect {
        Expect {
            table: Arc::new(Table::new(100).unwrap()),
            per_speaker,
            exclude: None,
            speaker_id: crate::lab::speaker_ip,
            speakers: 2,
            cluster: Ipv4Addr::new(10, 255, 0, 1),
            customers: None,
            member: None,
        }
    }

    fn speaker_next_hop(s: u32) -> Ipv4Addr {
        match crate::table::next_hop(s) {
            NextHop::V4(a) => a,
            _ => unreachable!("the synthetic table's next hops are IPv4"),
        }
    }

    #[test]
    fn a_route_is_right_only_as_reflected() {
        let exp = expect(Some(50));
        let one = exp.cluster.octets();
        let two = [one, one].concat();
        // Entry 60 is speaker 1's.
        let mut a = Attrs {
            next_hop: Some(speaker_next_hop(1)),
            ..Attrs::default()
        };
        assert!(!exp.right(60, &a), "not reflected: no ORIGINATOR_ID");
        a.originator_id = Some(Ipv4Addr::new(127, 1, 0, 2));
        assert!(!exp.right(60, &a), "no CLUSTER_LIST");
        a.cluster_list = &one;
        assert!(exp.right(60, &a));
        assert!(!exp.right(10, &a), "speaker 0's entry, speaker 1's path");
        a.cluster_list = &two;
        assert!(!exp.right(60, &a), "reflected twice");
        a.cluster_list = &one;
        a.originator_id = Some(Ipv4Addr::new(127, 1, 0, 1));
        assert!(!exp.right(60, &a), "another speaker's ORIGINATOR_ID");
        assert!(exp.wrong(60, &a));
    }

    #[test]
    fn contested_another_speakers_path_is_not_yet_right_but_not_wrong() {
        let exp = expect(None);
        let one = exp.cluster.octets();
        let mut a = Attrs {
            next_hop: Some(speaker_next_hop(1)),
            originator_id: Some(Ipv4Addr::new(127, 1, 0, 2)),
            cluster_list: &one,
            ..Attrs::default()
        };
        assert!(!exp.right(60, &a), "speaker 0's path is the best");
        assert!(!exp.wrong(60, &a), "speaker 1's, correctly reflected");
        a.cluster_list = &[];
        assert!(exp.wrong(60, &a));
    }

    #[test]
    fn an_update_read_in_place_matches_the_codec() {
        let t = Table::new(1000).unwrap();
        let ctx = CodecCtx {
            four_octet_as: true,
            ..CodecCtx::default()
        };
        for run in [0usize, 7, 300, 995] {
            let mut a = crate::table::attrs(2, run as u32, 100, 0);
            a.med = Some(CHURN_MED + run as u32);
            a.originator_id = Some(Ipv4Addr::new(127, 1, 0, 3));
            a.cluster_list = vec![Ipv4Addr::new(10, 255, 0, 1), Ipv4Addr::new(10, 9, 9, 9)];
            let mut msg = Vec::new();
            wire::encode_announce(&ctx, &a, &t.prefixes[run..run + 5], &mut msg);
            let Ok(Message::Update(want)) = wire::decode(&msg, &ctx) else {
                panic!("the codec cannot read its own UPDATE")
            };
            let u = Update::read(&msg[19..]).expect("read in place");
            assert_eq!(prefixes(u.nlri).collect::<Vec<_>>(), want.nlri);
            let w = want.attrs.unwrap();
            assert_eq!(u.attrs.next_hop.map(NextHop::V4), Some(w.next_hop));
            assert_eq!(u.attrs.med, w.med);
            assert_eq!(u.attrs.originator_id, w.originator_id);
            let cl: Vec<u8> = w.cluster_list.iter().flat_map(|c| c.octets()).collect();
            assert_eq!(u.attrs.cluster_list, cl);
            // A cut NLRI field loses its last prefix; cut attributes are no UPDATE.
            let cut = Update::read(&msg[19..msg.len() - 1]).expect("attributes whole");
            assert_eq!(prefixes(cut.nlri).count(), 4);
            assert!(Update::read(&msg[19..30]).is_none());
        }
        let mut wd = Vec::new();
        wire::encode_withdraw(&ctx, &t.prefixes[..3], &mut wd);
        let w = Update::read(&wd[19..]).expect("read in place");
        assert_eq!(prefixes(w.withdrawn).collect::<Vec<_>>(), t.prefixes[..3]);
    }

    #[test]
    fn a_vpn_update_read_in_place_matches_the_codec_and_its_customer() {
        let t = Arc::new(Table::new(1000).unwrap());
        let ctx = CodecCtx {
            four_octet_as: true,
            ..CodecCtx::default()
        };
        let customers: Arc<[u32]> = t.customers(10).into();
        let exp = Expect {
            customers: Some(customers.clone()),
            table: t.clone(),
            ..expect(None)
        };
        let (a, b) = t.runs[7];
        let c = customers[a as usize];
        let keys: Vec<Vpn4> = (a..b)
            .map(|j| Vpn4::new(vpn::rd(c), t.prefixes[j as usize]))
            .collect();
        let mut attrs = crate::table::attrs(1, a, 100, 0);
        // Without its customer's route target, then with it.
        let mut msg = Vec::new();
        wire::encode_announce_labeled(&ctx, &attrs, vpn::label(c), &keys, &mut msg);
        let u = Update::read(&msg[19..]).expect("read in place");
        assert!(!exp.carries_target(a as usize, &u.attrs));
        attrs.ext_communities = vec![vpn::route_target(c + 1), vpn::route_target(c)];
        let mut msg = Vec::new();
        wire::encode_announce_labeled(&ctx, &attrs, vpn::label(c), &keys, &mut msg);
        let u = Update::read(&msg[19..]).expect("read in place");
        assert!(exp.carries_target(a as usize, &u.attrs));
        assert!(!exp.carries_target(a as usize + 1000, &u.attrs));
        assert_eq!(u.attrs.next_hop.map(NextHop::V4), Some(attrs.next_hop));
        let got: Vec<(usize, bool)> = vpn_routes(u.vpn_nlri)
            .filter_map(|r| exp.vpn_index(&r))
            .collect();
        let want: Vec<(usize, bool)> = (a..b).map(|j| (j as usize, true)).collect();
        assert_eq!(got, want);
        // Another customer's label on the same route is not right.
        let mut msg = Vec::new();
        wire::encode_announce_labeled(&ctx, &attrs, vpn::label(c + 1), &keys, &mut msg);
        let u = Update::read(&msg[19..]).expect("read in place");
        assert!(vpn_routes(u.vpn_nlri)
            .all(|r| exp.vpn_index(&r) == Some((t.index(&r.prefix).unwrap(), false))));
        let mut wd = Vec::new();
        wire::encode_withdraw(&ctx, &keys, &mut wd);
        let w = Update::read(&wd[19..]).expect("read in place");
        assert_eq!(vpn_routes(w.vpn_withdrawn).count(), keys.len());
    }

    #[test]
    fn an_evpn_update_read_in_place_gives_each_route_its_entry_and_checks_its_fields() {
        let t = Arc::new(Table::new(1000).unwrap());
        let ctx = CodecCtx::default();
        let customers: Arc<[u32]> = t.customers(10).into();
        let exp = Expect {
            customers: Some(customers.clone()),
            table: t.clone(),
            ..expect(None)
        };
        let (a, b) = (t.runs[7].0 as usize, t.runs[9].1 as usize);
        let mut attrs = crate::table::attrs(1, a as u32, 100, 0);
        attrs.ext_communities = vec![vpn::route_target(customers[a])];
        let routes = evpn::announced(&t, &customers, a..b);
        let mut msg = Vec::new();
        wire::encode_announce(&ctx, &attrs, &routes, &mut msg);
        let u = Update::read(&msg[19..]).expect("read in place");
        assert_eq!(u.attrs.next_hop.map(NextHop::V4), Some(attrs.next_hop));
        assert!(exp.carries_target(a, &u.attrs));
        let got: Vec<(usize, bool)> = evpn_routes(u.evpn_nlri)
            .map(|r| exp.evpn_index(&r.unwrap()).unwrap())
            .collect();
        assert_eq!(got, (a..b).map(|j| (j, true)).collect::<Vec<_>>());
        // Entry a's route with another customer's RD and label: found, but not right.
        let other = evpn::route(&t, a, customers[a] + 1);
        assert_eq!(exp.evpn_index(&other), Some((a, false)));
        let mut wd = Vec::new();
        wire::encode_withdraw(&ctx, &evpn::keys(&t, &customers, a..b), &mut wd);
        let w = Update::read(&wd[19..]).expect("read in place");
        let gone: Vec<usize> = evpn_routes(w.evpn_withdrawn)
            .filter_map(|r| exp.evpn_entry(&r.unwrap()))
            .collect();
        assert_eq!(gone, (a..b).collect::<Vec<_>>());
    }

    #[test]
    fn with_rt_constraint_a_sink_expects_only_its_targets_routes() {
        let t = Arc::new(Table::new(1000).unwrap());
        let customers: Arc<[u32]> = t.customers(10).into();
        let mut member = vec![false; 10];
        member[3] = true;
        let exp = Expect {
            customers: Some(customers.clone()),
            member: Some(member.into()),
            table: t.clone(),
            ..expect(None)
        };
        let want = customers.iter().filter(|&&c| c == 3).count();
        assert!(want > 0);
        assert_eq!(exp.total(), want);
        assert!((0..1000).all(|j| exp.admits(j) == (customers[j] == 3)));
    }
}
