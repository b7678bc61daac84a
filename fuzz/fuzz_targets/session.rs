//! The session state machine driven by a script of reads, ticks, stops and TCP loss.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    reflectd::fsm::fuzzing::session(data);
});
