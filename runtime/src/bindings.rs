//! The host side of the WIT contract, generated in one place. The WIT files document every item.
#![expect(missing_docs, reason = "generated code; the docs live in wit/")]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "botbox:bot/module",
    // Reads and downloads wait on Telegram while the guest's call is suspended; so do the KV's
    // operations on PostgreSQL (a round trip). On redb they are ready at the first poll. The
    // imports that take tickets (sends, broadcasts, timers) or look them up (edits, deletes,
    // statuses) wait on PostgreSQL when a node's range of ids ran out or a ticket is not in
    // memory, and a timer's cancel (whose timer it is) and schedule (the module's pending count)
    // read PostgreSQL; on redb they too are ready at the first poll.
    imports: {
        "botbox:bot/bot-api.call": async,
        "botbox:bot/bot-api.broadcast": async,
        "botbox:bot/bot-api.status": async,
        "botbox:bot/bot-api.download": async,
        "botbox:bot/kv": async,
        "botbox:bot/outbox": async,
        "botbox:bot/timers.schedule-after": async,
        "botbox:bot/timers.schedule-at": async,
        "botbox:bot/timers.cancel": async,
    },
    exports: { default: async },
});

pub use self::botbox::bot::{bot_api, config, kv, log, outbox, timers, types};

/// The `wasi:http/incoming-handler` export of modules that serve HTTP (the contract's
/// `module-with-http` world); wasi:http itself is wasmtime-wasi-http's.
pub use wasmtime_wasi_http::p2::bindings::exports::wasi::http::incoming_handler;
