//! What the kernel alone costs a sender that fans one stream out to many loopback TCP
//! sockets: scenario C's I/O (one 24 MB table to 200 clients) with no BGP in it. Two
//! sender threads (reflectd's two workers) write every socket from one shared buffer with
//! `writev`, or from a memfd with `sendfile` (no per-socket copy on the sender); four
//! reader threads drain the sockets. Prints wall time and each side's CPU seconds.
//!
//! ```text
//! cargo bench --bench kernel_fanout -- [SOCKETS] [BYTES] [RUNS]    # default 200 24000000 3
//! ```
//!
//! On loopback the receivers' processing runs in the sender's softirq, so the sender's CPU
//! here is the floor under reflectd's CPU in scenario C.

use polling::{Event, Events, Poller};
use std::fs::File;
use std::io::{IoSlice, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SENDERS: usize = 2;
const READERS: usize = 4;
/// Bytes per iovec entry; reflectd's RIB hands workers chunks of this size.
const CHUNK: usize = 256 * 1024;
const IOVECS: usize = 64;

/// CPU seconds (user + system) of the calling thread so far.
fn thread_cpu() -> f64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_THREAD, &mut ru);
        ru
    };
    let secs = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    secs(ru.ru_utime) + secs(ru.ru_stime)
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Writev,
    Sendfile,
}

/// A memfd holding `data` (the spool `sendfile` reads from).
fn memfd_with(data: &[u8]) -> File {
    // SAFETY: a NUL-terminated name; the returned descriptor is owned by the File.
    let fd = unsafe { libc::memfd_create(c"fanout".as_ptr(), 0) };
    assert!(fd >= 0, "memfd_create: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    let mut f = unsafe { File::from_raw_fd(fd) };
    f.write_all(data).expect("write the memfd");
    f
}

/// Writes as much of `data[*off..]` as `s` takes now; true once all of it is written.
fn send_some(mode: Mode, s: &TcpStream, data: &[u8], spool: &File, off: &mut usize) -> bool {
    while *off < data.len() {
        let n = match mode {
            Mode::Writev => {
                let iov: Vec<IoSlice> = (data[*off..].chunks(CHUNK).take(IOVECS))
                    .map(IoSlice::new)
                    .collect();
                // SAFETY: IoSlice is ABI-compatible with iovec; the slices outlive the call.
                unsafe { libc::writev(s.as_raw_fd(), iov.as_ptr().cast(), iov.len() as i32) }
            }
            Mode::Sendfile => {
                let mut at = *off as libc::off_t;
                // SAFETY: both descriptors are open; `at` is a valid offset in the file.
                unsafe {
                    libc::sendfile(s.as_raw_fd(), spool.as_raw_fd(), &mut at, data.len() - *off)
                }
            }
        };
        if n <= 0 {
            return false; // EAGAIN: wait for writability
        }
        *off += n as usize;
    }
    true
}

/// Polls `socks` for `interest` (readable or writable) until `step` has said of each that
/// it is done; returns this thread's CPU seconds meanwhile.
fn drive(
    socks: &[TcpStream],
    interest: fn(usize) -> Event,
    mut step: impl FnMut(usize, &TcpStream) -> bool,
) -> f64 {
    let c0 = thread_cpu();
    let poller = Poller::new().expect("poller");
    for (i, s) in socks.iter().enumerate() {
        // SAFETY: every socket outlives the poller (both live until this returns).
        unsafe { poller.add(s, interest(i)).expect("add") };
    }
    let mut left = socks.len();
    let mut events = Events::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while left > 0 && Instant::now() < deadline {
        events.clear();
        poller
            .wait(&mut events, Some(Duration::from_millis(100)))
            .expect("wait");
        for ev in events.iter() {
            let s = &socks[ev.key];
            if step(ev.key, s) {
                left -= 1;
                poller.delete(s).expect("delete");
            } else {
                poller.modify(s, interest(ev.key)).expect("modify");
            }
        }
    }
    assert_eq!(left, 0, "timed out");
    thread_cpu() - c0
}

fn sender(mode: Mode, socks: Vec<TcpStream>, data: Arc<Vec<u8>>, spool: Arc<File>) -> f64 {
    let mut off = vec![0usize; socks.len()];
    drive(&socks, Event::writable, |i, s| {
        send_some(mode, s, &data, &spool, &mut off[i])
    })
}

fn reader(socks: Vec<TcpStream>, size: usize) -> f64 {
    let mut got = vec![0usize; socks.len()];
    let mut buf = vec![0u8; 256 * 1024];
    drive(&socks, Event::readable, |i, s| {
        // Two reads per turn, as the load tool's sinks do.
        for _ in 0..2 {
            // SAFETY: `buf` is valid for its length.
            let n = unsafe {
                libc::recv(
                    s.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n <= 0 {
                break;
            }
            got[i] += n as usize;
        }
        got[i] >= size
    })
}

fn run(mode: Mode, sockets: usize, data: &Arc<Vec<u8>>, spool: &Arc<File>) -> (f64, f64, f64) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (mut outs, mut ins) = (Vec::new(), Vec::new());
    for _ in 0..sockets {
        let c = TcpStream::connect(addr).expect("connect");
        let (s, _) = listener.accept().expect("accept");
        for x in [&c, &s] {
            x.set_nonblocking(true).expect("nonblocking");
            x.set_nodelay(true).expect("nodelay");
        }
        outs.push(s);
        ins.push(c);
    }
    let split = |v: Vec<TcpStream>, k: usize| {
        let mut parts: Vec<Vec<TcpStream>> = (0..k).map(|_| Vec::new()).collect();
        for (i, s) in v.into_iter().enumerate() {
            parts[i % k].push(s);
        }
        parts
    };
    let size = data.len();
    let readers: Vec<_> = (split(ins, READERS).into_iter())
        .map(|part| std::thread::spawn(move || reader(part, size)))
        .collect();
    let t0 = Instant::now();
    let senders: Vec<_> = (split(outs, SENDERS).into_iter())
        .map(|part| {
            let (data, spool) = (data.clone(), spool.clone());
            std::thread::spawn(move || sender(mode, part, data, spool))
        })
        .collect();
    let send_cpu: f64 = senders.into_iter().map(|t| t.join().expect("sender")).sum();
    let read_cpu: f64 = readers.into_iter().map(|t| t.join().expect("reader")).sum();
    (t0.elapsed().as_secs_f64(), send_cpu, read_cpu)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes "--bench"; positional numbers are ours.
    let nums: Vec<usize> = std::env::args().filter_map(|a| a.parse().ok()).collect();
    let sockets = nums.first().copied().unwrap_or(200);
    let size = nums.get(1).copied().unwrap_or(24_000_000);
    let runs = nums.get(2).copied().unwrap_or(3).max(1);
    let data: Arc<Vec<u8>> = Arc::new((0..size).map(|i| (i % 251) as u8).collect());
    let spool = Arc::new(memfd_with(&data));
    println!("{sockets} sockets x {size} bytes, {SENDERS} senders, {READERS} readers, {runs} runs (medians)");
    for (name, mode) in [("writev", Mode::Writev), ("sendfile", Mode::Sendfile)] {
        let rs: Vec<_> = (0..runs)
            .map(|_| run(mode, sockets, &data, &spool))
            .collect();
        println!(
            "{name:>8}: wall {:.3} s, sender CPU {:.3} s, reader CPU {:.3} s",
            median(rs.iter().map(|r| r.0).collect()),
            median(rs.iter().map(|r| r.1).collect()),
            median(rs.iter().map(|r| r.2).collect()),
        );
    }
}
