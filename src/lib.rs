//! reflectd: a BGP route reflector (RFC 4456).
//!
//! `wire` (codec) depends on nothing in the crate; `fsm` on `wire`; `rib` on `wire` types,
//! never on `fsm`. Only `worker`, `listener`, `rib`'s loop and `control` touch threads,
//! sockets or clocks.
#![deny(unsafe_code)]

pub mod config;
pub mod control;
pub mod demo;
pub mod fsm;
pub mod listener;
pub mod metrics;
pub mod msg;
pub mod rib;
pub mod sockopt;
pub mod speaker;
pub mod wire;
pub mod worker;
