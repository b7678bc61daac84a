//! An EVPN NLRI field (RFC 7432 §7, RFC 9136 §3.1), read with and without ADD-PATH.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| reflectd::wire::fuzzing::evpn(data));
