//! The whole Telegram Bot API: any method by name, with its parameters as JSON and files as
//! bytes (contract 0.1.2).
//!
//! The host checks every call before anything is queued or sent: the method must be one it
//! knows, the parameters must have that method's shape, the method must not be the host's own
//! (getUpdates, setWebhook, ...) nor need a grant the operator did not give, and a call that acts
//! on a message must name one this module sent (by ticket, [`Call::acting_on`]) or the message
//! of the update being handled. A refusal is an [`Error`] naming the rule.
//!
//! What a call does depends on its method, and its [`Outcome`] says which:
//! - sends and edits (`send*`, `copy*`, `forward*`, `edit*`, `delete*`, `pin*`, ...) are queued
//!   in the durable outbox with the update's commit, like [`outbox`](crate::outbox) messages:
//!   [`Outcome::Queued`] with a ticket; [`status`] later has Telegram's result;
//! - answers with a deadline (answerCallbackQuery, answerInlineQuery, ...) leave right after the
//!   commit: [`Outcome::AnswerQueued`];
//! - reads (getChat, getChatMember, getFile, ...) are made now: [`Outcome::Result`];
//! - chat actions (sendChatAction) are sent at once, not durably: [`Outcome::Sent`].
//!
//! ```no_run
//! # fn handle(update: &botbox_sdk::Update, png: Vec<u8>) -> Result<(), botbox_sdk::Error> {
//! use botbox_sdk::bot_api::{self, Call, FilePart};
//!
//! let chat = update.chat_id().ok_or("no chat")?;
//! bot_api::send_chat_action(chat, "upload_photo")?;
//! let qr = FilePart::new("qr", "qr.png", png);
//! let ticket = Call::new("sendPhoto")
//!     .param("chat_id", chat)
//!     .param("photo", qr.attach())
//!     .file(qr)
//!     .send()?
//!     .ticket()?;
//! // In a later update: Telegram's result, once delivered.
//! if let Ok(sent) = bot_api::status(ticket)?.result::<bot_api::SentMessage>() {
//!     let file_id = &sent.photo.last().ok_or("no sizes")?.file_id;
//! #   let _ = file_id;
//! }
//! # Ok(()) }
//! ```
//!
//! The parameters are anything serde encodes as a JSON object: `serde_json::json!({...})`,
//! structs of your own, or the parameter types of a Bot API crate; results decode into anything
//! serde decodes: [`serde_json::Value`], the few types here ([`SentMessage`], [`ChatMember`],
//! ...), or your own structs with just the fields you read.
//!
//! # Bot API crates
//!
//! The SDK has no feature for a crate of Telegram's types: the calls are generic over serde, so a
//! module that wants one depends on it itself (`frankenstein = { version = "0.52",
//! default-features = false }` builds its types without an HTTP client). Mind the size, measured
//! on a module that sends a 🎲 and reads its value back (release, `opt-level = "s"`, LTO):
//!
//! | parameters / result type | component |
//! |---|---|
//! | `bot_api::send_dice` / [`SentMessage`] | 154 KB |
//! | frankenstein's `SendDiceParams` / [`SentMessage`] | 157 KB |
//! | frankenstein's `SendDiceParams` / frankenstein's `Message` | 1,782 KB |
//!
//! Its parameter types cost little; decoding its `Message` (every field of every kind of
//! message) costs more than a megabyte and a half. Decode results into small structs.

mod call;
mod error;
mod methods;
mod outcome;
mod types;

pub use call::{Call, FilePart};
pub use error::Error;
pub use methods::{Photo, get_chat_member, send_chat_action, send_dice, send_photo};
pub use outcome::{CallStatus, Outcome};
pub use types::{ApiUser, ChatMember, ChatRef, Dice, Document, PhotoSize, SentMessage};

use serde::Serialize;

use crate::__private::botbox::bot::bot_api as wit;
use crate::outbox::Ticket;

/// Calls `method` with `params` (anything that encodes as a JSON object; `&()` for none). Use
/// [`Call`] for files, a priority, or acting on a message by ticket.
pub fn call(method: &str, params: &impl Serialize) -> Result<Outcome, Error> {
    Call::new(method).params(params).send()
}

/// Queues the same `method` call to each chat in `chat_ids` (at most 10 000) at bulk priority,
/// with `chat_id` set per chat: one ticket per chat, in order. Use [`Call::broadcast`] for files.
pub fn broadcast(
    chat_ids: &[i64],
    method: &str,
    params: &impl Serialize,
) -> Result<Vec<Ticket>, Error> {
    Call::new(method).params(params).broadcast(chat_ids)
}

/// What became of the call with `ticket` (a send or edit this module queued), with Telegram's
/// result once it was delivered.
pub fn status(ticket: Ticket) -> Result<CallStatus, Error> {
    Ok(CallStatus::from_wit(wit::status(ticket.to_raw())?))
}

/// Downloads a file a user sent, by its file id ([`PhotoSize::file_id`],
/// [`Document::file_id`]), up to Telegram's 20 MB and the module's download budget. The host
/// makes the getFile call and the download; the URL, which carries the bot's token, never
/// reaches the module.
pub fn download(file_id: &str) -> Result<Vec<u8>, Error> {
    Ok(wit::download(file_id)?)
}
