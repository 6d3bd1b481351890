//! The `config` target: see `botbox::fuzzing::config` for what it feeds and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| botbox::fuzzing::config(data));
