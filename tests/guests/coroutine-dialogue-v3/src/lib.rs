//! Version 3 of the example coroutine-dialogue, generated from its source by `build.rs`: version
//! `3.0.0` whose `/start` dialogue has version 2, incompatible with sums started before.

include!(concat!(env!("OUT_DIR"), "/coroutine_dialogue_v3.rs"));
