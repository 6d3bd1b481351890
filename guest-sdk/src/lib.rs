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
//! - [`bot_api`] calls any Telegram Bot API method by name, with JSON parameters and uploaded
//!   files, and downloads the files users send.
//! - [`http`] reaches the hosts the manifest declares and serves HTTP requests the host mounts
//!   under `/modules/<name>/`; [`grpc`] calls and serves unary gRPC methods over it.
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

pub mod bot_api;
pub mod config;
pub mod dialogue;
mod error;
#[cfg(feature = "grpc")]
pub mod grpc;
pub mod http;
pub mod kv;
pub mod log;
mod manifest;
pub mod outbox;
pub mod payments;
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
/// Use it once per crate, at the top level, with the type that implements [`Module`]. A module
/// that serves HTTP names its [`http::Handler`] too: `export_module!(MyModule, http = MyHttp)`
/// (the same type may implement both).
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
    ($module:ty, http = $http:ty) => {
        $crate::export_module!($module);

        const _: () = {
            struct BotboxHttpExport;

            impl $crate::__private::http_export::exports::wasi::http::incoming_handler::Guest
                for BotboxHttpExport
            {
                fn handle(
                    request: $crate::__private::wasi::http::types::IncomingRequest,
                    response_out: $crate::__private::wasi::http::types::ResponseOutparam,
                ) {
                    $crate::__private::handle_http::<$http>(request, response_out)
                }
            }

    $crate::__private::http_export::export!(BotboxHttpExport with_types_in $crate::__private::http_export);
        };
    };
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
    /// wasi:http's outgoing handler (with the wasi:io and wasi:clocks types it uses), as the
    /// contract's `module-with-http-client` world imports it; no derives, as its types hold
    /// resources. A component imports it only when the module calls out.
    mod wasi_http {
        wit_bindgen::generate!({
            path: "../wit",
            inline: "package botbox:sdk-glue; world outgoing { import wasi:http/outgoing-handler@0.2.12; }",
            world: "outgoing",
            // wit-bindgen 0.46 cannot resolve wasi:cli's gated import of this interface
            // otherwise; nothing of it is generated (no world here imports it).
            features: ["clocks-timezone"],
            generate_all,
        });
    }
    pub use wasi_http::wasi;

    wit_bindgen::generate!({
        path: "../wit",
        world: "module",
        pub_export_macro: true,
        default_bindings_module: "botbox_sdk::__private",
        additional_derives: [PartialEq, Eq],
        features: ["clocks-timezone"],
    });

    /// The `wasi:http/incoming-handler` export, for modules that serve HTTP: exported next to
    /// `handler` by `export_module!(M, http = H)`, which makes the component fit the contract's
    /// `module-with-http` world.
    pub mod http_export {
        wit_bindgen::generate!({
            path: "../wit",
            inline: "package botbox:sdk-glue; world incoming { export wasi:http/incoming-handler@0.2.12; }",
            world: "incoming",
            pub_export_macro: true,
            default_bindings_module: "botbox_sdk::__private::http_export",
            features: ["clocks-timezone"],
            with: {
                "wasi:http/types@0.2.12": crate::__private::wasi::http::types,
                "wasi:io/poll@0.2.12": crate::__private::wasi::io::poll,
                "wasi:io/error@0.2.12": crate::__private::wasi::io::error,
                "wasi:io/streams@0.2.12": crate::__private::wasi::io::streams,
                "wasi:clocks/monotonic-clock@0.2.12": crate::__private::wasi::clocks::monotonic_clock,
            },
        });
    }

    /// Runs an [`http::Handler`](crate::http::Handler) for the export glue.
    pub fn handle_http<H: crate::http::Handler>(
        request: wasi::http::types::IncomingRequest,
        out: wasi::http::types::ResponseOutparam,
    ) {
        crate::log::install_panic_hook();
        crate::http::serve::<H>(request, out);
    }

    /// Runs [`Module::init`](crate::Module::init) for the export glue.
    pub fn init<M: crate::Module>() -> Result<botbox::bot::types::Manifest, String> {
        crate::log::install_panic_hook();
        let manifest = M::init().map_err(|error| error.to_string())?;
        if !manifest.wanted_updates().is_empty() {
            botbox::bot::bot_api::want_updates(manifest.wanted_updates())
                .map_err(|error| format!("update kinds: {error:?}"))?;
        }
        Ok(manifest.into_wit())
    }

    /// Runs [`Module::handle_update`](crate::Module::handle_update) for the export glue.
    pub fn handle_update<M: crate::Module>(
        update: botbox::bot::types::Update,
    ) -> Result<(), String> {
        crate::log::install_panic_hook();
        M::handle_update(&crate::Update::from_wit(update)).map_err(|error| error.to_string())
    }
}
