//! Messages to Telegram: send, edit, delete, and answer button presses.
//!
//! Every call queues work in the host's durable outbox and returns at once. The host delivers it
//! within Telegram's rate limits, in order within each chat, after the update being handled has
//! been committed (so nothing is sent for an update whose handler fails). A sent message is named
//! by a [`Ticket`] at once, before it is delivered, so it can be edited or deleted right away or
//! in a later update (store the ticket in [`kv`](crate::kv); it serialises as a number).
//!
//! ```no_run
//! # fn handle(update: &botbox_sdk::Update) -> Result<(), botbox_sdk::Error> {
//! use botbox_sdk::outbox::{self, InlineButton, InlineKeyboard, Message, ParseMode};
//!
//! let chat = update.chat_id().ok_or("no chat")?;
//! let ticket = Message::new(chat, "<b>Pick one</b>")
//!     .parse_mode(ParseMode::Html)
//!     .inline_keyboard(InlineKeyboard::new().row([
//!         InlineButton::callback("A", "a"),
//!         InlineButton::callback("B", "b"),
//!     ]))
//!     .send()?;
//! outbox::edit_text(ticket, "Pick one (updated)")?;
//! # Ok(()) }
//! ```

mod keyboard;
mod message;

pub use keyboard::{InlineButton, InlineKeyboard, ReplyKeyboard};
pub use message::{Edit, Message};

pub use crate::__private::botbox::bot::outbox::{Delivery, ParseMode, Priority};

use crate::__private::botbox::bot::outbox as wit;
use crate::Update;
use crate::types::CallbackQuery;

/// Names a message sent through the outbox for the whole life of the bot, from the moment it is
/// queued: edit or delete it with the ticket even before it is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ticket(u64);

impl Ticket {
    /// A ticket from the number [`to_raw`](Self::to_raw) returned (e.g. one kept in KV).
    pub fn from_raw(raw: u64) -> Self {
        Self(raw)
    }

    /// The ticket as a number, to store.
    pub fn to_raw(self) -> u64 {
        self.0
    }
}

impl serde::Serialize for Ticket {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Ticket {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        u64::deserialize(deserializer).map(Self)
    }
}

/// A message to edit or delete: one this module sent, by ticket, or the message of the update
/// being handled (the new or edited message, or the one whose button was pressed) by its chat
/// and message id. The host refuses other messages, so no module can touch another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageRef {
    /// A message this module sent through the outbox.
    Ticket(Ticket),
    /// The message of the update being handled.
    Message {
        /// The chat's id.
        chat_id: i64,
        /// The message's id within the chat.
        message_id: i32,
    },
}

impl From<Ticket> for MessageRef {
    fn from(ticket: Ticket) -> Self {
        Self::Ticket(ticket)
    }
}

impl From<&crate::types::Message> for MessageRef {
    fn from(message: &crate::types::Message) -> Self {
        Self::Message {
            chat_id: message.chat.id,
            message_id: message.message_id,
        }
    }
}

impl MessageRef {
    fn into_wit(self) -> wit::MessageRef {
        match self {
            Self::Ticket(ticket) => wit::MessageRef::Ticket(ticket.0),
            Self::Message {
                chat_id,
                message_id,
            } => wit::MessageRef::Message((chat_id, message_id)),
        }
    }
}

/// Why an outbox call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An argument breaks a Bot API rule (empty text, over 4096 characters, callback data over the
    /// limit, ...); the message says which.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The module's outbox quota would be exceeded.
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
    /// The ticket names no message this module sent.
    #[error("unknown ticket {}", .0.to_raw())]
    UnknownTicket(Ticket),
    /// [`reply`] was given an update without a chat (such as a poll update).
    #[error("the update has no chat to reply in")]
    NoChat,
}

impl From<wit::Error> for Error {
    fn from(error: wit::Error) -> Self {
        match error {
            wit::Error::InvalidArgument(message) => Self::InvalidArgument(message),
            wit::Error::QuotaExceeded(message) => Self::QuotaExceeded(message),
            wit::Error::UnknownTicket(ticket) => Self::UnknownTicket(Ticket(ticket)),
        }
    }
}

/// Sends `text` as plain text to the chat of `update`. Use [`Message`] for keyboards, formatting
/// and the other options.
pub fn reply(update: &Update, text: &str) -> Result<Ticket, Error> {
    Message::new(update.chat_id().ok_or(Error::NoChat)?, text).send()
}

/// Replaces the text of a message (keeping no keyboard); see [`Edit`] for a new inline keyboard
/// or formatting.
pub fn edit_text(target: impl Into<MessageRef>, text: &str) -> Result<(), Error> {
    Edit::new(target, text).send()
}

/// Queues `text` as plain text to every chat in `chat_ids` (at most 10 000) at bulk priority;
/// see [`Message::broadcast`] for options.
pub fn broadcast(chat_ids: &[i64], text: &str) -> Result<Vec<Ticket>, Error> {
    Message::new(0, text).broadcast(chat_ids)
}

/// What became of a message this module sent: still queued, delivered (with Telegram's message
/// id) or given up (with the reason, e.g. the user blocked the bot).
pub fn status(ticket: Ticket) -> Result<Delivery, Error> {
    Ok(wit::status(ticket.0)?)
}

/// Deletes a message, delivered or still queued.
pub fn delete(target: impl Into<MessageRef>) -> Result<(), Error> {
    Ok(wit::delete_message(target.into().into_wit())?)
}

/// Answers a button press, which stops the spinner on the user's button. Every
/// [`callback`](Update::callback) should be answered, once.
pub fn answer_callback(query: &CallbackQuery) -> Result<(), Error> {
    Ok(wit::answer_callback_query(&query.id, None, false)?)
}

/// Answers a button press with `text`, shown as a brief notification, or as an alert the user
/// must dismiss when `alert` is true.
pub fn answer_callback_with(query: &CallbackQuery, text: &str, alert: bool) -> Result<(), Error> {
    Ok(wit::answer_callback_query(&query.id, Some(text), alert)?)
}
