//! Peer-level reconnect policy: how long a worker waits before dialling a peer again.
//! Must not: read a clock or a random source — jitter comes from a caller-given seed, so
//! the sequence is reproducible in tests.
//!
//! Two delays, for two situations:
//!
//! - [`Backoff::next_delay`] after a connection attempt failed, or a session died before
//!   Established: ConnectRetryTime (RFC 4271 §8), doubled per consecutive failure up to
//!   `max(120 s, connect_retry)`. [`Backoff::reset`] (call it on Established) forgets the
//!   failures.
//! - [`Backoff::idle_hold`] after a session that had been Established went down. In the
//!   spirit of RFC 4271 §8.1.1 DampPeerOscillations: the first drop of a stable session
//!   reconnects quickly (`IDLE_HOLD_BASE`, 5 s: the peer probably restarted and a reflector
//!   client without routes hurts); each drop of a session that stayed up less than
//!   `STABLE_UPTIME` counts as a flap and doubles the wait, up to the same cap. Because
//!   flaps are counted apart from connect failures, `reset` on Established does not let a
//!   flapping peer escape the damping.
//!
//! Every delay is multiplied by a factor in [0.75, 1.0] (RFC 4271 §10 jitter), so peers that
//! went down together do not all redial in the same instant.
//!
//! The first dial of a newly configured peer is the worker's call (immediately); inbound
//! connections are always accepted whatever the backoff says.

use std::time::Duration;

/// Growth stops here unless the configured ConnectRetryTime is larger.
pub const MAX_DELAY: Duration = Duration::from_secs(120);
/// First idle hold after an Established session went down.
pub const IDLE_HOLD_BASE: Duration = Duration::from_secs(5);
/// A session up at least this long was stable: its drop is not a flap.
pub const STABLE_UPTIME: Duration = Duration::from_secs(300);

#[derive(Clone, Debug)]
pub struct Backoff {
    connect_retry: Duration,
    cap: Duration,
    /// Consecutive failed attempts since the last Established.
    failures: u32,
    /// Consecutive short-lived Established sessions.
    flaps: u32,
    /// splitmix64 state for jitter.
    rng: u64,
}

impl Backoff {
    /// `connect_retry` in seconds (0 is taken as 1); `seed` makes the jitter (e.g. derived
    /// from the peer id or address, so peers differ).
    pub fn new(connect_retry: u16, seed: u64) -> Backoff {
        let connect_retry = Duration::from_secs(u64::from(connect_retry.max(1)));
        Backoff {
            connect_retry,
            cap: connect_retry.max(MAX_DELAY),
            failures: 0,
            flaps: 0,
            rng: seed,
        }
    }

    /// The wait before the next connection attempt after a failed one.
    pub fn next_delay(&mut self) -> Duration {
        let nominal = doubled(self.connect_retry, self.failures, self.cap);
        self.failures = self.failures.saturating_add(1);
        self.jitter(nominal)
    }

    /// The session reached Established: connect failures are forgotten.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// The wait before redialling after an Established session went down, `uptime` after it
    /// came up.
    pub fn idle_hold(&mut self, uptime: Duration) -> Duration {
        if uptime >= STABLE_UPTIME {
            self.flaps = 0;
        }
        let nominal = doubled(IDLE_HOLD_BASE, self.flaps, self.cap);
        self.flaps = self.flaps.saturating_add(1);
        self.jitter(nominal)
    }

    /// `nominal` × [0.75, 1.0].
    fn jitter(&mut self, nominal: Duration) -> Duration {
        // splitmix64 (Steele et al.): good enough to spread peers, no dependency.
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let unit = (z >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
        nominal.mul_f64(1.0 - 0.25 * unit)
    }
}

/// `base` × 2^`n`, capped (saturating: no overflow however long a peer stays down).
fn doubled(base: Duration, n: u32, cap: Duration) -> Duration {
    let factor = 1u32.checked_shl(n.min(31)).unwrap_or(u32::MAX);
    base.checked_mul(factor).unwrap_or(cap).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// Checks `got` is `nominal` jittered: within [0.75, 1.0] × nominal.
    fn assert_jittered(got: Duration, nominal: Duration) {
        assert!(
            got <= nominal && got >= nominal.mul_f64(0.75),
            "{got:?} is not a jittered {nominal:?}"
        );
    }

    #[test]
    fn connect_failures_double_from_connect_retry_up_to_120_seconds() {
        let mut b = Backoff::new(30, 42);
        for nominal in [30, 60, 120, 120, 120] {
            assert_jittered(b.next_delay(), secs(nominal));
        }
    }

    #[test]
    fn a_connect_retry_above_the_cap_becomes_the_cap() {
        let mut b = Backoff::new(300, 1);
        for _ in 0..4 {
            assert_jittered(b.next_delay(), secs(300));
        }
    }

    #[test]
    fn zero_connect_retry_is_taken_as_one_second() {
        let mut b = Backoff::new(0, 1);
        assert_jittered(b.next_delay(), secs(1));
        assert_jittered(b.next_delay(), secs(2));
    }

    #[test]
    fn reset_starts_again_from_connect_retry() {
        let mut b = Backoff::new(10, 7);
        for _ in 0..5 {
            b.next_delay();
        }
        b.reset();
        assert_jittered(b.next_delay(), secs(10));
    }

    #[test]
    fn many_failures_never_overflow() {
        let mut b = Backoff::new(30, 3);
        b.next_delay(); // 30
        b.next_delay(); // 60
        for _ in 0..1000 {
            assert_jittered(b.next_delay(), secs(120));
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_sequence_and_seeds_differ() {
        let run = |seed| {
            let mut b = Backoff::new(30, seed);
            (0..5).map(|_| b.next_delay()).collect::<Vec<_>>()
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
    }

    #[test]
    fn a_stable_session_going_down_is_redialled_quickly() {
        let mut b = Backoff::new(30, 5);
        for _ in 0..3 {
            assert_jittered(b.idle_hold(STABLE_UPTIME), IDLE_HOLD_BASE);
        }
    }

    #[test]
    fn a_flapping_session_waits_longer_each_time_even_across_reset() {
        let mut b = Backoff::new(30, 5);
        for nominal in [5, 10, 20, 40, 80, 120, 120] {
            b.reset(); // the worker calls it on each Established
            assert_jittered(b.idle_hold(secs(10)), secs(nominal));
        }
        // Then one stable session forgives the flaps.
        assert_jittered(b.idle_hold(secs(3600)), IDLE_HOLD_BASE);
        assert_jittered(b.idle_hold(secs(1)), secs(10));
    }
}
