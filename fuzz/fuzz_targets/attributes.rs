//! An UPDATE's path-attribute section (RFC 4271 §4.3, RFC 7606) under a picked `CodecCtx`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| reflectd::wire::fuzzing::attributes(data));
