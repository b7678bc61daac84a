//! Framing and decoding of a TCP byte stream under a `CodecCtx` picked by the first byte.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| reflectd::wire::fuzzing::message(data));
