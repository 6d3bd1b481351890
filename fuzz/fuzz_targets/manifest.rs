//! The `manifest` target: see `botbox::fuzzing::manifest` for what it feeds and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| botbox::fuzzing::manifest(data));
