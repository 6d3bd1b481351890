//! botbox: a Telegram bot runtime whose features are sandboxed WebAssembly components.
//!
//! The host owns the Bot API connection, a durable rate-limited outbox and a key-value store
//! with one namespace per module; each feature is a wasm32-wasip2 component built against the
//! WIT contract in `wit/`. See `DESIGN.md` for the map and the README for how to run it.
#![deny(missing_docs)]

// The floor: shared by everything, importing nothing of the crate but each other.
pub mod bindings;
pub mod bot_api;
pub mod clock;
pub mod config;
mod error;
pub mod health;
pub mod logs;
pub mod text;

// The data path (see ARCHITECTURE.md for the order an update travels them in).
pub mod backup;
pub mod intake;
pub mod modules;
pub mod outbox;
pub mod sandbox;
pub mod store;

// Outside the data path, calling in.
pub mod cli;
pub mod control;
#[doc(hidden)]
pub mod fuzzing;
mod runtime;

pub use config::Config;
pub use error::{Error, Result};
pub use runtime::{Options, Runtime};

#[cfg(test)]
mod layout;
