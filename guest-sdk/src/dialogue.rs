//! Dialogues written as sequential code ("state on the stack") that survive restarts, traps and
//! hot swaps.
//!
//! A dialogue is an `async fn` that asks and awaits answers; its state lives in its locals:
//!
//! ```no_run
//! use std::time::Duration;
//! use botbox_sdk::dialogue::{Dialogue, Dialogues, Outcome};
//! use botbox_sdk::{Error, Manifest, Module, Update};
//!
//! async fn sum(d: Dialogue) -> Result<(), Error> {
//!     let a = number(&d, "Send me the first number.").await?;
//!     let b = number(&d, "And the second one?").await?;
//!     d.say(&format!("{a} + {b} = {}", a + b))
//! }
//!
//! async fn number(d: &Dialogue, question: &str) -> Result<i64, Error> {
//!     let mut answer = d.ask(question).await?;
//!     loop {
//!         match answer.trim().parse() {
//!             Ok(n) => return Ok(n),
//!             Err(_) => answer = d.ask("That is not a whole number; try again.").await?,
//!         }
//!     }
//! }
//!
//! thread_local! {
//!     static DIALOGUES: Dialogues = Dialogues::new()
//!         .inactivity(Duration::from_secs(60), "No answer for a minute: send /sum to start again.")
//!         .command("sum", "Add two numbers", 1, sum);
//! }
//!
//! struct Adder;
//!
//! impl Module for Adder {
//!     fn init() -> Result<Manifest, Error> {
//!         Ok(DIALOGUES.with(|d| d.declare(Manifest::new("adder", "1.0.0"))))
//!     }
//!
//!     fn handle_update(update: &Update) -> Result<(), Error> {
//!         match DIALOGUES.with(|d| d.handle(update))? {
//!             Outcome::Handled | Outcome::Ignored => Ok(()),
//!             Outcome::NotMine => Ok(()), // the module's other commands go here
//!         }
//!     }
//! }
//!
//! botbox_sdk::export_module!(Adder);
//! ```
//!
//! # How it runs
//!
//! [`Dialogues`] is a registry of dialogue functions, each started by a command. It runs them on
//! a small executor inside the module instance: a dialogue is a boxed future, polled (with a
//! no-op waker) only when an input for it arrives, and suspended at its next await. A suspended
//! dialogue costs its future (its locals and the await it is stopped at: 176 bytes for a
//! two-question dialogue on a 64-bit target, less on wasm32) plus an entry in a map, not an
//! instance or a thread.
//!
//! # Durable by replay
//!
//! The future is only a cache. Each dialogue's inputs (messages, button presses, timeouts,
//! [recorded values](Dialogue::record)) are appended to a log in the module's own KV store, in
//! the same transaction as the messages the step sends, so a step happens exactly once: if the
//! handler fails or the instance traps, neither the log entry nor the replies exist. When an
//! instance has no valid future for a dialogue (a fresh instance after a restart, a trap or a
//! hot swap; another shard moved the dialogue on), it rebuilds it lazily, on the dialogue's next
//! input, by running the dialogue function again over its log with every send suppressed: no
//! question is asked twice and no reply sent twice.
//!
//! Replay is exact when everything that may differ between runs is an input or a recorded value:
//! read the clock with [`Dialogue::now_unix_ms`], KV values and anything else with
//! [`Dialogue::record`], and make writes with [`Dialogue::effect`] (messages with
//! [`Dialogue::say`] / [`Dialogue::send`], which replay suppresses by themselves).
//!
//! # Changed code: divergence
//!
//! A dialogue records the version it was started with (the `version` given to
//! [`Dialogues::command`]); bump it when a change makes old logs meaningless. Replay against
//! changed code also checks the log's structure: the kind of input awaited at each step (text,
//! button, with or without a timeout of its own) must be the logged one, recorded values must be
//! asked for in the same order and types, and the dialogue must not finish, nor await anything
//! else, before its log is consumed. When the version differs or a check fails the dialogue has
//! *diverged*: it ends, and [`Divergence`] says what the user sees (by default a text).
//!
//! # Starting and cancelling
//!
//! - A dialogue's key ([`DialogueKey`]) says whose dialogue an input belongs to: the user (the
//!   default, as in the "state on the stack" article), the chat, or the user in a chat. One
//!   dialogue runs per key.
//! - A start command while a dialogue runs for the same key ends that dialogue silently and
//!   starts the new one (the same one again, too): the user's latest command wins.
//! - `/cancel` ends the running dialogue and says so ([`Dialogues::cancel_texts`]).
//! - An input of a kind the dialogue does not await (a text while it waits for a button, a
//!   photo) is not an input: [`Outcome::Ignored`], and the [`Dialogues::unexpected`] text if set.
//! - An `Err` returned by a dialogue ends it; the error is logged.
//!
//! # Who gets the answer
//!
//! While a dialogue waits for a text, the SDK tells the host (`outbox.expect-reply`, contract
//! 0.1.3) that the user's next plain text in the dialogue's chat (anyone's, for
//! [`DialogueKey::Chat`]) is this module's: the host gives it to this module only, not to every
//! module that wants messages. The declaration lasts as long as the dialogue's timeout (24 hours
//! without one, 7 days at most), is committed with the step that asked, and is withdrawn when the
//! dialogue ends or waits for a button.
//!
//! # Timeouts
//!
//! [`Dialogues::inactivity`] ends a dialogue that waited that long for an input, with a text;
//! the `*_with_timeout` awaits return `None` instead and the dialogue goes on. Both are durable
//! timers ([`timers`](crate::timers)): they fire after a restart too. A timer is cancelled when
//! its dialogue moves on, and one that fires anyway (a stale one) is ignored.

mod driver;
mod handle;
mod host;
mod log;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

pub use handle::Dialogue;

use crate::{Error, Manifest};

/// An input a dialogue received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A text message (or a press of a reply-keyboard button, which arrives as its label).
    Text(String),
    /// A press of one of the module's inline buttons: its data.
    Button(String),
}

/// Whose dialogue an input belongs to; one dialogue runs per key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DialogueKey {
    /// The user, wherever they write (the default; in private chats the same as the chat).
    #[default]
    User,
    /// The chat: everyone in a group answers the same dialogue.
    Chat,
    /// The user in one chat: a user has one dialogue per group.
    UserInChat,
}

/// What happens when replay finds that a dialogue's code no longer matches its log (see
/// [the module docs](self#changed-code-divergence)). The dialogue ends either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Divergence {
    /// Start the dialogue again from the beginning, after sending the text if there is one.
    /// The input that found the divergence is not given to the new run.
    Restart(Option<String>),
    /// Tell the user this text.
    Tell(String),
}

/// What [`Dialogues::handle`] did with an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Outcome {
    /// A dialogue took it: it started, moved on, ended or was cancelled (a stale timeout counts
    /// too).
    Handled,
    /// A dialogue runs for this key but awaits another kind of input; nothing changed.
    Ignored,
    /// No dialogue runs for this key and the update starts none: the module handles it.
    NotMine,
}

type Start = Box<dyn Fn(Dialogue) -> Pin<Box<dyn Future<Output = Result<(), Error>>>>>;

/// A dialogue function and how it is started.
struct Spec {
    name: String,
    description: String,
    version: u32,
    start: Start,
}

/// A suspended dialogue: its future and the log it reflects.
struct Running {
    steps: u32,
    hash: u64,
    future: Pin<Box<dyn Future<Output = Result<(), Error>>>>,
}

/// The registry of a module's dialogues and the executor that runs them.
///
/// Build it once per instance (a `thread_local!` is the usual place), declare its commands in
/// the manifest with [`declare`](Self::declare), and give it every update with
/// [`handle`](Self::handle). See [the module docs](self).
pub struct Dialogues {
    shared: Rc<handle::Shared>,
    key: DialogueKey,
    specs: Vec<Spec>,
    inactivity: Option<(Duration, String)>,
    cancelled: String,
    nothing_to_cancel: String,
    unexpected: Option<String>,
    divergence: Divergence,
    cache_limit: usize,
    running: RefCell<HashMap<(i64, i64), Running>>,
}

impl Default for Dialogues {
    fn default() -> Self {
        Self::new()
    }
}

impl Dialogues {
    /// A registry without dialogues, keyed by user, without an inactivity timeout, answering
    /// `/cancel`, and telling the user when a dialogue diverged.
    pub fn new() -> Self {
        Self::with_host(Box::new(host::Wit))
    }

    fn with_host(host: Box<dyn host::Host>) -> Self {
        Self {
            shared: Rc::new(handle::Shared {
                host,
                step: RefCell::default(),
            }),
            key: DialogueKey::User,
            specs: Vec::new(),
            inactivity: None,
            cancelled: "Cancelled.".into(),
            nothing_to_cancel: "There is nothing to cancel.".into(),
            unexpected: None,
            divergence: Divergence::Tell(
                "The bot was updated and this conversation cannot go on; please start again."
                    .into(),
            ),
            cache_limit: 1_000_000,
            running: RefCell::default(),
        }
    }

    /// Sets whose dialogue an input belongs to (the user by default).
    pub fn key(mut self, key: DialogueKey) -> Self {
        self.key = key;
        self
    }

    /// Adds a dialogue started by the command `name` (shown in the command menu with
    /// `description`). `version` is the dialogue's version: bump it when a change to `dialogue`
    /// makes the logs of running dialogues meaningless (see [`Divergence`]). The dialogue's name
    /// is the command's, and must stay the same across versions of the module.
    pub fn command<F, Fut>(
        mut self,
        name: impl Into<String>,
        description: impl Into<String>,
        version: u32,
        dialogue: F,
    ) -> Self
    where
        F: Fn(Dialogue) -> Fut + 'static,
        Fut: Future<Output = Result<(), Error>> + 'static,
    {
        self.specs.push(Spec {
            name: name.into(),
            description: description.into(),
            version,
            start: Box::new(move |d| Box::pin(dialogue(d))),
        });
        self
    }

    /// Ends a dialogue that waited `timeout` for an input (in an await without a timeout of its
    /// own), sending `text`, which should say how to start again.
    pub fn inactivity(mut self, timeout: Duration, text: impl Into<String>) -> Self {
        self.inactivity = Some((timeout, text.into()));
        self
    }

    /// The answers to `/cancel`: when a dialogue was cancelled, and when none was running.
    pub fn cancel_texts(
        mut self,
        cancelled: impl Into<String>,
        nothing_to_cancel: impl Into<String>,
    ) -> Self {
        self.cancelled = cancelled.into();
        self.nothing_to_cancel = nothing_to_cancel.into();
        self
    }

    /// A text sent when an input of the wrong kind arrives (a text while the dialogue waits for
    /// a button, a photo); by default nothing is sent.
    pub fn unexpected(mut self, text: impl Into<String>) -> Self {
        self.unexpected = Some(text.into());
        self
    }

    /// What happens to a dialogue whose code no longer matches its log.
    pub fn on_divergence(mut self, divergence: Divergence) -> Self {
        self.divergence = divergence;
        self
    }

    /// The most suspended dialogues this instance keeps in memory (a million by default); past
    /// it, one is dropped and rebuilt from its log when it is needed again.
    pub fn cache_limit(mut self, dialogues: usize) -> Self {
        self.cache_limit = dialogues.max(1);
        self
    }

    /// Adds what the dialogues need to `manifest`: their start commands, `/cancel`, plain
    /// messages, and the timers capability.
    pub fn declare(&self, manifest: Manifest) -> Manifest {
        let mut manifest = manifest.wants_messages().timers();
        for spec in &self.specs {
            manifest = manifest.command(&spec.name, &spec.description);
        }
        manifest.command(driver::CANCEL, "Cancel the current dialogue")
    }

    /// How many suspended dialogues this instance holds in memory.
    pub fn cached(&self) -> usize {
        self.running.borrow().len()
    }
}
