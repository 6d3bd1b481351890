//! Durable timers: ask to be called back later, with a payload of your own.
//!
//! A timer scheduled while handling an update exists only if that update's handling succeeds
//! (like its KV writes), survives restarts, and fires exactly once, as an update whose
//! [`Update::timer`](crate::Update::timer) is set, on the shard of the chat it names (so it is
//! ordered with that chat's messages). A timer due while the bot was down fires right after
//! the next start; [`TimerFired::late_ms`](crate::types::TimerFired) says how late. The module
//! must declare the capability with [`Manifest::timers`](crate::Manifest::timers).
//!
//! ```no_run
//! use std::time::Duration;
//! use botbox_sdk::{Update, reply, timers};
//!
//! fn handle(update: &Update) -> Result<(), botbox_sdk::Error> {
//!     if let Some(fired) = update.timer() {
//!         let chat = fired.chat_id.ok_or("a reminder has a chat")?;
//!         botbox_sdk::Message::new(chat, String::from_utf8_lossy(&fired.payload)).send()?;
//!     } else if update.is_command("remind") {
//!         let chat = update.chat_id().ok_or("no chat")?;
//!         timers::after(Duration::from_secs(60), Some(chat), update.command_args().as_bytes())?;
//!         reply(update, "I will remind you in a minute.")?;
//!     }
//!     Ok(())
//! }
//! ```

use std::time::Duration;

pub use crate::__private::botbox::bot::timers::Error;

use crate::__private::botbox::bot::timers as wit;

/// A timer's id, to [`cancel`] it.
pub type TimerId = u64;

/// Schedules a timer `delay` from now for `chat` (which picks the shard it runs on), carrying
/// `payload` (at most 4 KiB).
pub fn after(delay: Duration, chat: Option<i64>, payload: &[u8]) -> Result<TimerId, Error> {
    let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
    wit::schedule_after(ms, chat, payload)
}

/// Schedules a timer at `unix_ms` (Unix time in milliseconds; the past fires at once).
pub fn at(unix_ms: u64, chat: Option<i64>, payload: &[u8]) -> Result<TimerId, Error> {
    wit::schedule_at(unix_ms, chat, payload)
}

/// Cancels a pending timer of this module; returns whether it was pending.
pub fn cancel(id: TimerId) -> Result<bool, Error> {
    wit::cancel(id)
}

/// The host's clock, Unix time in milliseconds. Modules have no other clock they can trust to
/// agree with the timers.
pub fn now_unix_ms() -> u64 {
    wit::now_unix_ms()
}
