//! The `update_convert` target: see `botbox::fuzzing::update_convert` for what it feeds and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| botbox::fuzzing::update_convert(data));
