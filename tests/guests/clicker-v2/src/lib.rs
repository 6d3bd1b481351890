//! Version 2 of the example clicker, generated from its source by `build.rs`: same name, KV
//! layout and commands; version `2.0.0`; answers `Clicks (v2): N`.

include!(concat!(env!("OUT_DIR"), "/clicker_v2.rs"));
