//! RT-Constraint NLRI fields (RFC 4684 §4), with or without ADD-PATH, and the route targets
//! read out of the same bytes as extended communities.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| reflectd::wire::fuzzing::rtc(data));
