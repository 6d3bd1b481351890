//! Write [botbox] modules in Rust.
//!
//! A botbox module is one feature of a Telegram bot, compiled to a WebAssembly component
//! (`wasm32-wasip2`) and run by the botbox host in a sandbox of its own. The host owns the Bot API
//! connection, the rate limits and the database; the module sees updates and answers them through
//! this crate:
//!
//! - [`Module`] is what a module implements, [`export_module!`] hands it to the host, and
//!   [`Manifest`] says what the module is and which updates it wants.
//! - [`Update`] is one update from Telegram, with accessors for what handlers usually need.
//! - [`kv`] is the module's private, transactional key-value store; [`outbox`] sends, edits and
//!   deletes messages ([`reply`] and [`Message`] for the common cases); [`config`] reads the
//!   operator's settings and [`log`] writes to the runtime's log; [`timers`] calls the module
//!   back later, durably.
//! - [`dialogue`] writes conversations as sequential `async` code ("state on the stack") that
//!   survives restarts, traps and hot swaps.
//!
//! Everything a handler writes to [`kv`] and every message it queues become durable together,
//! atomically, when [`Module::handle_update`] returns `Ok`; an `Err` or a panic discards them.
//! An instance may be dropped and replaced by a fresh one at any time, so keep in memory only what
//! can be recomputed: whatever must last lives in [`kv`].
//!
//! ```no_run
//! use botbox_sdk::{Error, Manifest, Module, Update, reply};
//!
//! struct Hello;
//!
//! impl Module for Hello {
//!     fn init() -> Result<Manifest, Error> {
//!         Ok(Manifest::new("hello", env!("CARGO_PKG_VERSION")).command("hello", "Say hello"))
//!     }
//!
//!     fn handle_update(update: &Update) -> Result<(), Error> {
//!         if update.is_command("hello") {
//!             let name = update.from().map_or("there", |user| user.first_name.as_str());
//!             reply(update, &format!("Hello, {name}!"))?;
//!         }
//!         Ok(())
//!     }
//! }
//!
//! botbox_sdk::export_module!(Hello);
//! ```
//!
//! Build with `cargo build --target wasm32-wasip2 --release`; the crate must be a `cdylib`.
//!
//! [botbox]: https://example.invalid/botbox
#![deny(missing_docs)]

pub mod config;
pub mod dialogue;
mod error;
pub mod kv;
pub mod log;
mod manifest;
pub mod outbox;
pub mod timers;
mod update;

pub use error::Error;
pub use manifest::Manifest;
pub use outbox::{InlineButton, InlineKeyboard, Message, ReplyKeyboard, Ticket, reply};
pub use update::Update;

/// The Telegram data types found in an [`Update`]: users, chats, messages and button presses.
pub mod types {
    pub use crate::__private::botbox::bot::types::{
        CallbackQuery, Chat, ChatKind, Message, TimerFired, UpdateKind, User,
    };
}

/// What a botbox module implements. Hand the implementing type to the host with
/// [`export_module!`].
///
/// Both functions are associated functions without `self`: an instance of a module may be
/// replaced by a fresh one between any two calls, so there is no module value to keep state in.
pub trait Module {
    /// Says what the module is. Called once per instance, before anything else. An error stops the
    /// module from loading and is shown to the operator.
    fn init() -> Result<Manifest, Error>;

    /// Handles one update routed to this module (one of its commands, a press of one of its
    /// buttons, or an update its manifest asks for).
    ///
    /// On `Ok` the update's KV writes and queued messages are committed; on `Err` they are
    /// discarded, the error is logged, and the update counts as handled. A panic traps the
    /// instance: the host retries the update a few times, then sets it aside.
    fn handle_update(update: &Update) -> Result<(), Error>;
}

/// Exports a [`Module`] implementation as the component's `handler`, so the host can call it.
///
/// Use it once per crate, at the top level, with the type that implements [`Module`]:
///
/// ```no_run
/// use botbox_sdk::{Error, Manifest, Module, Update};
///
/// struct Clicker;
///
/// impl Module for Clicker {
///     fn init() -> Result<Manifest, Error> {
///         Ok(Manifest::new("clicker", "0.1.0"))
///     }
///     fn handle_update(_update: &Update) -> Result<(), Error> {
///         Ok(())
///     }
/// }
///
/// botbox_sdk::export_module!(Clicker);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! export_module {
    ($module:ty) => {
        const _: () = {
            struct BotboxExport;

            impl $crate::__private::exports::botbox::bot::handler::Guest for BotboxExport {
                fn init() -> ::core::result::Result<
                    $crate::__private::botbox::bot::types::Manifest,
                    ::std::string::String,
                > {
                    $crate::__private::init::<$module>()
                }

                fn handle_update(
                    update: $crate::__private::botbox::bot::types::Update,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    $crate::__private::handle_update::<$module>(update)
                }
            }

    $crate::__private::export!(BotboxExport with_types_in $crate::__private);
        };
    };
}

/// The generated bindings of the `botbox:bot` world and the glue [`export_module!`] expands to.
/// Not part of the API: module code never uses it directly.
#[doc(hidden)]
pub mod __private {
    wit_bindgen::generate!({
        path: "../wit",
        world: "module",
        pub_export_macro: true,
        default_bindings_module: "botbox_sdk::__private",
        additional_derives: [PartialEq, Eq],
    });

    /// Runs [`Module::init`](crate::Module::init) for the export glue.
    pub fn init<M: crate::Module>() -> Result<botbox::bot::types::Manifest, String> {
        crate::log::install_panic_hook();
        M::init()
            .map(crate::Manifest::into_wit)
            .map_err(|error| error.to_string())
    }

    /// Runs [`Module::handle_update`](crate::Module::handle_update) for the export glue.
    pub fn handle_update<M: crate::Module>(
        update: botbox::bot::types::Update,
    ) -> Result<(), String> {
        crate::log::install_panic_hook();
        M::handle_update(&crate::Update::from_wit(update)).map_err(|error| error.to_string())
    }
}
