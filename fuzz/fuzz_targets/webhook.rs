//! The `webhook` target: see `botbox::fuzzing::webhook` for what it feeds and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| botbox::fuzzing::webhook(data));
