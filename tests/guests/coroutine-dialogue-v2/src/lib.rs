//! Version 2 of the example coroutine-dialogue, generated from its source by `build.rs`: same
//! module and dialogues; version `2.0.0`; sums answered `a + b = s (v2)`; an answer `trap` traps.

include!(concat!(env!("OUT_DIR"), "/coroutine_dialogue_v2.rs"));
