//! The host side of the WIT contract, generated in one place. The WIT files document every item.
#![expect(missing_docs, reason = "generated code; the docs live in wit/")]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "botbox:bot/module",
    exports: { default: async },
});

pub use self::botbox::bot::{config, kv, log, outbox, timers, types};
