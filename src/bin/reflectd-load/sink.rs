//! The sinks: client sessions that check every prefix a reflector sends them. A few threads
//! (one per core) each poll a shard of the sinks, so a thousand sinks cost a thousand
//! sockets, not a thousand threads waking one another: at churn rates the per-thread wake-ups
//! were the harness's own bottleneck (the floor's p99 was 42 ms at 10k changes/s).

use crate::table::Table;
use polling::{Event, Events, PollMode, Poller};
use reflectd::wire::{self, *};
use std::io::{self, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

const KEEPALIVE: [u8; 19] = {
    let mut k = [0xffu8; 19];
    k[16] = 0;
    k[17] = 19;
    k[18] = 4;
    k
};

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

    /// Speaker s's path, reflected once: its next hop, its ORIGINATOR_ID, our CLUSTER_LIST.
    fn reflected_from(&self, s: u32, a: &PathAttrs) -> bool {
        a.next_hop == crate::table::next_hop(s)
            && a.originator_id == Some((self.speaker_id)(s))
            && a.cluster_list == [self.cluster]
    }

    /// Entry j's final path: its owner's, reflected.
    fn right(&self, j: usize, a: &PathAttrs) -> bool {
        self.reflected_from(self.owner(j), a)
    }

    /// Not merely another speaker's path (contested: any may be best for a while) but no
    /// speaker's path reflected correctly.
    fn wrong(&self, j: usize, a: &PathAttrs) -> bool {
        match self.per_speaker {
            Some(_) => !self.right(j, a),
            None => !(0..self.speakers).any(|s| self.reflected_from(s, a)),
        }
    }

    pub fn total(&self) -> usize {
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
                "{why} ({} announcements had a wrong next hop, ORIGINATOR_ID or CLUSTER_LIST)",
                self.wrong
            )
        } else {
            why
        };
        let _ = tx.send(SinkEvent::Failed(why, self.good as f64 / self.total as f64));
        self.done = true;
    }

    /// Reads until the socket has nothing more (or the sink is done).
    fn on_readable(&mut self, ph: &Phases, tx: &mpsc::Sender<SinkEvent>) {
        while !self.done {
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
            self.report(ph, tx);
        }
    }

    fn take_messages(&mut self) -> Result<(), String> {
        let mut pos = 0;
        while let Ok(Some(len)) = wire::frame(&self.buf[pos..self.have], MAX_EXTENDED_MESSAGE_LEN) {
            match wire::decode(&self.buf[pos..pos + len], &self.ctx) {
                Ok(Message::Update(u)) => self.apply(&u),
                Ok(Message::Notification(n)) => return Err(format!("NOTIFICATION {n:?}")),
                _ => {}
            }
            pos += len;
        }
        if pos == 0 && self.have == self.buf.len() {
            return Err("message larger than the read buffer".into());
        }
        self.buf.copy_within(pos..self.have, 0);
        self.have -= pos;
        Ok(())
    }

    fn apply(&mut self, u: &Update) {
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
        for j in u.withdrawn.iter().filter_map(|p| exp.index(p)) {
            set(j, 0);
        }
        let Some(a) = &u.attrs else { return };
        for j in u.nlri.iter().filter_map(|p| exp.index(p)) {
            let right = exp.right(j, a);
            self.wrong += u64::from(!right && exp.wrong(j, a));
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

    /// Keepalives, and the convergence deadline.
    fn tick(&mut self, now: Instant, ph: &Phases, tx: &mpsc::Sender<SinkEvent>) {
        if !self.converged && now >= ph.deadline {
            return self.fail("timed out".into(), tx);
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

    #[test]
    fn a_route_is_right_only_as_reflected() {
        let cluster = Ipv4Addr::new(10, 255, 0, 1);
        let exp = Expect {
            table: Arc::new(Table::new(100).unwrap()),
            per_speaker: Some(50),
            exclude: None,
            speaker_id: |s| Ipv4Addr::new(127, 1, 0, s as u8 + 1),
            speakers: 2,
            cluster,
        };
        // Entry 60 is speaker 1's.
        let mut a = crate::table::attrs(1, 60, 100, 0);
        assert!(!exp.right(60, &a), "not reflected: no ORIGINATOR_ID");
        a.originator_id = Some(Ipv4Addr::new(127, 1, 0, 2));
        assert!(!exp.right(60, &a), "no CLUSTER_LIST");
        a.cluster_list = vec![cluster];
        assert!(exp.right(60, &a));
        assert!(
            !exp.right(10, &a),
            "speaker 0's entry with speaker 1's path"
        );
        a.cluster_list = vec![cluster, cluster];
        assert!(!exp.right(60, &a), "reflected twice");
        a.cluster_list = vec![cluster];
        a.originator_id = Some(Ipv4Addr::new(127, 1, 0, 1));
        assert!(!exp.right(60, &a), "another speaker's ORIGINATOR_ID");
        assert!(exp.wrong(60, &a));
    }

    #[test]
    fn contested_another_speakers_path_is_not_yet_right_but_not_wrong() {
        let cluster = Ipv4Addr::new(10, 255, 0, 1);
        let exp = Expect {
            table: Arc::new(Table::new(100).unwrap()),
            per_speaker: None,
            exclude: None,
            speaker_id: |s| Ipv4Addr::new(127, 1, 0, s as u8 + 1),
            speakers: 2,
            cluster,
        };
        let mut a = crate::table::attrs(1, 60, 100, 0);
        a.originator_id = Some(Ipv4Addr::new(127, 1, 0, 2));
        a.cluster_list = vec![cluster];
        assert!(!exp.right(60, &a), "speaker 0's path is the best");
        assert!(!exp.wrong(60, &a), "speaker 1's, correctly reflected");
        a.cluster_list.clear();
        assert!(exp.wrong(60, &a));
    }
}
