//! The `kv_keys` target: see `botbox::fuzzing::kv_keys` for what it feeds and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| botbox::fuzzing::kv_keys(data));
