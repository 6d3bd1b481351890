//! botbox: a Telegram bot runtime whose features are sandboxed WebAssembly components.
//!
//! The host owns the Bot API connection, a durable rate-limited outbox and a key-value store
//! with one namespace per module; each feature is a wasm32-wasip2 component built against the
//! WIT contract in `wit/`. See `DESIGN.md` for the map and the README for how to run it.
#![deny(missing_docs)]

pub mod admin;
pub mod backup;
pub mod bindings;
pub mod cli;
pub mod config;
pub mod convert;
pub mod dev;
pub mod doctor;
mod error;
pub mod intake;
pub mod logs;
pub mod module;
pub mod module_cli;
pub mod module_http;
mod ops;
pub mod outbox;
pub mod registry;
pub mod router;
mod runtime;
pub mod sandbox;
pub mod store;
pub mod timers;

pub use config::Config;
pub use error::{Error, Result};
pub use runtime::{Options, Runtime, kv_limits};
