//! Inline mode: `@bot hello` in any chat offers a QR code of "hello" as a photo.
//!
//! An inline result cannot carry an upload: a photo result names a photo Telegram already
//! has, by its file id. So the first query for a text uploads its code once, to the chat the
//! operator set aside (`cache_chat_id`: a private channel or group the bot may post in) or else
//! to the asking user's own chat with the bot, looks for the upload's file id every 200 ms (a
//! timer, for up to 10 s), and answers with it. The file id is kept (`inline:<text>`), so every
//! later query for that text, from anyone, is answered at once. A user who never wrote to the
//! bot, with no cache chat set, is told to write to it first: a bot cannot start a chat.
//! Chosen results are counted (`inline-chosen`).

use std::time::Duration;

use botbox_sdk::bot_api::{self, Call, CallStatus, FilePart, SentMessage};
use botbox_sdk::outbox::{Priority, Ticket};
use botbox_sdk::{Error, Update, config, kv, log, timers};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::code::{self, EncodeError};

/// How often the upload's file id is looked for.
pub const POLL: Duration = Duration::from_millis(200);
/// How many looks before giving up (Telegram forgets a query after about 10 s).
const MAX_POLLS: u32 = 50;
/// How long Telegram may keep an answer of a cached code, in seconds.
const CACHE_SECS: u32 = 86_400;
/// The longest text whose file id is kept (a KV key is at most 1 KiB).
const MAX_KEPT_BYTES: usize = 1000;

/// What an `inline_query` update says that this module reads.
#[derive(Deserialize)]
struct InlineQuery {
    id: String,
    from: From,
    query: String,
}

#[derive(Deserialize)]
struct From {
    id: i64,
}

/// A query waiting for its upload, carried by the timer that looks for it.
#[derive(Serialize, Deserialize)]
struct Waiting {
    query_id: String,
    text: String,
    ticket: u64,
    polls: u32,
}

/// Answers an inline query: the cached code at once, or the upload started.
pub fn answer(update: &Update) -> Result<(), Error> {
    let Some(query) = update.other_body::<InlineQuery>() else {
        return Ok(());
    };
    let query = query?;
    let text = query.query.trim();
    if text.is_empty() {
        return answer_with(&query.id, json!([]), 0);
    }
    let png = match code::encode(text) {
        Ok(png) => png,
        Err(EncodeError::TooLong(bytes)) => {
            return answer_with(&query.id, article("Too long", &crate::too_long(bytes)), 0);
        }
        Err(EncodeError::Empty) => return answer_with(&query.id, json!([]), 0),
    };
    if let Some(file_id) = kept(text)? {
        return answer_photo(&query.id, text, &file_id);
    }
    let chat = config::get_parsed::<i64>("cache_chat_id")?.unwrap_or(query.from.id);
    let photo = FilePart::new("qr", "qr.png", png);
    let ticket = Call::new("sendPhoto")
        .param("chat_id", chat)
        .param("photo", photo.attach())
        .param("caption", crate::caption(text))
        .file(photo)
        .priority(Priority::Interactive)
        .send()?
        .ticket()?;
    let waiting = Waiting {
        query_id: query.id,
        text: text.to_string(),
        ticket: ticket.to_raw(),
        polls: 0,
    };
    timers::after(
        POLL,
        None,
        &serde_json::to_vec(&waiting).map_err(json_error)?,
    )?;
    Ok(())
}

/// A timer of a waiting query: answers with the upload's file id once Telegram has it.
pub fn poll(payload: &[u8]) -> Result<(), Error> {
    let mut waiting: Waiting = serde_json::from_slice(payload).map_err(json_error)?;
    match bot_api::status(Ticket::from_raw(waiting.ticket))? {
        CallStatus::Queued if waiting.polls < MAX_POLLS => {
            waiting.polls += 1;
            timers::after(
                POLL,
                None,
                &serde_json::to_vec(&waiting).map_err(json_error)?,
            )?;
            Ok(())
        }
        CallStatus::Queued => {
            log::warn!(
                "the code for an inline query was not uploaded in {} s; the query is dropped",
                (POLL * MAX_POLLS).as_secs()
            );
            Ok(())
        }
        done @ CallStatus::Done(_) => {
            let sent: SentMessage = done.result()?;
            let Some(largest) = sent.photo.last() else {
                return Err(Error::from("the uploaded code came back without a photo"));
            };
            if waiting.text.len() <= MAX_KEPT_BYTES {
                kv::set(key(&waiting.text), &largest.file_id)?;
            }
            answer_photo(&waiting.query_id, &waiting.text, &largest.file_id)
        }
        CallStatus::Failed(why) => {
            log::warn!("the code for an inline query could not be uploaded: {why}");
            let help = "I make inline QR codes by sending them to you first: open a chat with \
                        me, write anything, and try again.";
            answer_with(&waiting.query_id, article("Write to me first", help), 0)
        }
    }
}

/// Counts a chosen result.
pub fn chosen() -> Result<(), Error> {
    kv::increment("inline-chosen", 1)?;
    Ok(())
}

/// The file id kept for `text`'s code.
fn kept(text: &str) -> Result<Option<String>, Error> {
    Ok(kv::get(key(text))?.map(|id| String::from_utf8_lossy(&id).into_owned()))
}

fn json_error(e: serde_json::Error) -> Error {
    Error::from(format!("JSON: {e}"))
}

fn key(text: &str) -> Vec<u8> {
    [b"inline:".as_slice(), text.as_bytes()].concat()
}

fn answer_photo(query_id: &str, text: &str, file_id: &str) -> Result<(), Error> {
    let result = json!([{
        "type": "photo",
        "id": "qr",
        "photo_file_id": file_id,
        "caption": crate::caption(text),
    }]);
    answer_with(query_id, result, CACHE_SECS)
}

/// A result that sends `text` when chosen.
fn article(title: &str, text: &str) -> Value {
    json!([{
        "type": "article",
        "id": "help",
        "title": title,
        "description": text,
        "input_message_content": { "message_text": text },
    }])
}

fn answer_with(query_id: &str, results: Value, cache_time: u32) -> Result<(), Error> {
    Call::new("answerInlineQuery")
        .param("inline_query_id", query_id)
        .param("results", results)
        .param("cache_time", cache_time)
        .send()?;
    Ok(())
}
