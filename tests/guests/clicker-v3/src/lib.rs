//! Version 3 of the example clicker, generated from its source by `build.rs`: same name, KV
//! layout and commands; version `3.0.0`; answers `Clicks (v3): N`; and asks for more than the
//! clicker does (an HTTP host, timers, edited messages), so a swap to it awaits the operator's
//! approval.

include!(concat!(env!("OUT_DIR"), "/clicker_v3.rs"));
