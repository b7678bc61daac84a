//! The test speaker against itself over loopback.

use super::*;
use std::sync::mpsc;
use std::thread;

const T: Duration = Duration::from_secs(10);

fn cfg(id: u8) -> SpeakerConfig {
    SpeakerConfig::new(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        65000,
        Ipv4Addr::new(10, 0, 0, id),
    )
}

/// Two speakers with an Established session between them.
fn pair() -> (Speaker, Speaker) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("address");
    let acceptor = thread::spawn(move || Speaker::accept(&l, &cfg(1), T));
    let b = Speaker::connect(&cfg(2), addr, T).expect("connect");
    let a = acceptor.join().expect("accept thread").expect("accept");
    (a, b)
}

extern "C" fn on_signal(_: libc::c_int) {}

/// What made `oversized_message_resets_only_its_session` fail under load: a read blocked
/// with a receive timeout fails with EINTR when the process is stopped and continued, with
/// no signal handler at all (signal(7)); `wait_until` passed that on as the session's end.
/// A test cannot stop and continue its own process, so a handled signal with SA_RESTART
/// (which such a read ignores just the same) is sent to the waiting thread instead.
#[test]
#[allow(unsafe_code)]
fn a_read_interrupted_by_a_signal_is_retried_not_a_session_error() {
    // SAFETY: a handler that does nothing, for a signal only this test sends.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
    }
    let (mut a, mut b) = pair();
    let (tid_tx, tid_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let waiter = thread::spawn(move || {
        // SAFETY: pthread_self has no preconditions.
        tid_tx.send(unsafe { libc::pthread_self() }).expect("send");
        let got = b.wait_until(T, |s| s.route("10.9.0.0/24").is_some());
        // Alive until the signals stop, so none goes to a thread that has exited.
        let _ = done_rx.recv();
        got.map_err(|e| e.to_string())
    });
    let tid = tid_rx.recv().expect("waiter thread id");
    // The waiter spends nearly all its time blocked in read, so these land there.
    for _ in 0..40 {
        thread::sleep(Duration::from_millis(5));
        // SAFETY: the waiter thread is alive until `done_tx` sends.
        assert_eq!(unsafe { libc::pthread_kill(tid, libc::SIGUSR1) }, 0);
    }
    let attrs = PathAttrs {
        next_hop: NextHop::V4(Ipv4Addr::new(100, 64, 0, 1)),
        ..PathAttrs::default()
    };
    a.announce(&["10.9.0.0/24".parse::<Prefix4>().expect("prefix")], &attrs)
        .expect("announce");
    done_tx.send(()).expect("release the waiter");
    assert_eq!(waiter.join().expect("waiter thread"), Ok(true));
}
