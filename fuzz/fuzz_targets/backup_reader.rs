//! The `backup_reader` target: see `botbox::fuzzing::backup_reader` for what it feeds and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| botbox::fuzzing::backup_reader(data));
