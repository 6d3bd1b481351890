//! The `router` target: see `botbox::fuzzing::router` for what it feeds and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| botbox::fuzzing::router(data));
