//! The BGP session state machine (RFC 4271 §8), sans-IO: one `Session` per TCP connection.
//!
//! Owns: OPEN construction, validation and capability negotiation (`open`), the per-connection
//! state and its hold and keepalive timers (`session`), connection collision resolution
//! (`collision`), the peer-level reconnect policy (`backoff`), and the types they share with
//! their callers (`types`: config, states, actions, close reasons).
//!
//! Must not: touch sockets, threads, clocks or logs. Time is always a parameter (`Instant`),
//! inputs are method calls, outputs are `Action`s pushed into a caller-owned `Vec` (so the
//! per-UPDATE path allocates nothing). The worker owns the socket: it encodes every
//! `Action::Send` with `Session::codec()`, reports what happened on the wire, and calls
//! `tick` at `next_deadline()`. This follows RustyBGP's `handle(input, now) -> actions`
//! shape: the codec never asks the FSM anything, it is handed a `CodecCtx`.
//!
//! The RFC 4271 states Idle, Connect and Active are peer-level in a worker (whether and when
//! to dial is `backoff`'s business); a `Session` starts in Connect (TCP being set up, either
//! direction) and is finished — back in Idle — once it has emitted `Action::Close`.

pub mod backoff;
pub mod collision;
// Fuzz harness: used by `fuzz/` and `tests/fuzz_corpus.rs`, not part of the API.
#[doc(hidden)]
pub mod fuzzing;
mod open;
mod session;
mod types;

pub use backoff::Backoff;
pub use collision::{collision_notification, keep_locally_initiated, resolve_collision, Survivor};
pub use open::{check_open, negotiate, our_open};
pub use session::{Session, OPEN_HOLD_TIME};
pub use types::*;
