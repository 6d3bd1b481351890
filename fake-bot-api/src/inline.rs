//! Inline mode: a user types `@bot query` (an `inline_query` update), the bot answers with
//! results (`answerInlineQuery`, checked as Telegram checks it), and the user picks one (a
//! `chosen_inline_result` update, which Telegram sends when the bot's inline feedback is on).

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::{
    FakeBotApi, json,
    model::{InlineAnswer, TestUser},
};

/// An inline query waiting for (or having had) `answerInlineQuery`.
#[derive(Debug)]
pub(crate) struct PendingInline {
    pub(crate) user_id: i64,
    pub(crate) query: String,
    pub(crate) answered: bool,
}

impl FakeBotApi {
    /// `user` types `@bot query` in a chat: queues an `inline_query` update and returns its
    /// query id (what `answerInlineQuery` names and [`Self::inline_answer`] looks up).
    pub fn send_inline_query(&self, user: &TestUser, query: &str) -> String {
        self.inner.shared.write(|state| {
            let id = state.next_callback_id();
            state.inline_queries.insert(
                id.clone(),
                PendingInline {
                    user_id: user.id,
                    query: query.to_string(),
                    answered: false,
                },
            );
            state.enqueue(
                "inline_query",
                json!({
                    "id": id,
                    "from": json::user(user),
                    "query": query,
                    "offset": "",
                    "chat_type": "private",
                }),
            );
            id
        })
    }

    /// The bot's answer to the inline query `query_id`, once it answered.
    pub fn inline_answer(&self, query_id: &str) -> Option<InlineAnswer> {
        self.inner.shared.read(|state| {
            state
                .inline_answers
                .iter()
                .find(|a| a.query_id == query_id)
                .cloned()
        })
    }

    /// Waits for the bot's answer to the inline query `query_id`.
    pub async fn wait_for_inline_answer(
        &self,
        query_id: &str,
        timeout: std::time::Duration,
    ) -> anyhow::Result<InlineAnswer> {
        self.wait_until(timeout, |view| {
            view.inline_answers().iter().any(|a| a.query_id == query_id)
        })
        .await
        .with_context(|| format!("the bot did not answer the inline query {query_id}"))?;
        Ok(self.inline_answer(query_id).expect("answered"))
    }

    /// `user` picks the result `result_id` of the bot's answer to `query_id`: queues the
    /// `chosen_inline_result` update and returns its id. Fails if the answer has no such result.
    pub fn choose_inline_result(
        &self,
        user: &TestUser,
        query_id: &str,
        result_id: &str,
    ) -> anyhow::Result<i64> {
        self.inner.shared.write(|state| {
            let Some(answer) = state.inline_answers.iter().find(|a| a.query_id == query_id) else {
                bail!("the bot has not answered the inline query {query_id}");
            };
            if !answer.results.iter().any(|r| r["id"] == result_id) {
                bail!("the answer to {query_id} has no result {result_id:?}");
            }
            let query = answer.query.clone();
            Ok(state.enqueue(
                "chosen_inline_result",
                json!({ "result_id": result_id, "from": json::user(user), "query": query }),
            ))
        })
    }
}

/// The kinds of result `answerInlineQuery` takes, with the fields each must have.
const RESULT_TYPES: &[(&str, &[&str])] = &[
    ("article", &["title", "input_message_content"]),
    ("photo", &["photo_url", "thumbnail_url"]),
    ("gif", &["gif_url", "thumbnail_url"]),
    ("mpeg4_gif", &["mpeg4_url", "thumbnail_url"]),
    (
        "video",
        &["video_url", "mime_type", "thumbnail_url", "title"],
    ),
    ("audio", &["audio_url", "title"]),
    ("voice", &["voice_url", "title"]),
    ("document", &["title", "document_url", "mime_type"]),
    ("location", &["latitude", "longitude", "title"]),
    ("venue", &["latitude", "longitude", "title", "address"]),
    ("contact", &["phone_number", "first_name"]),
    ("game", &["game_short_name"]),
    ("sticker", &["sticker_file_id"]),
];

/// The field of a cached result (`InlineQueryResultCached*`) that names an uploaded file.
const CACHED_FILE_FIELDS: &[&str] = &[
    "photo_file_id",
    "gif_file_id",
    "mpeg4_file_id",
    "sticker_file_id",
    "document_file_id",
    "video_file_id",
    "voice_file_id",
    "audio_file_id",
];

/// Checks one result as Telegram does; the error is Telegram's description.
pub(crate) fn check_result(
    result: &Value,
    known_file: impl Fn(&str) -> bool,
) -> Result<(), String> {
    let kind = result["type"].as_str().unwrap_or("");
    let Some((_, required)) = RESULT_TYPES.iter().find(|(t, _)| *t == kind) else {
        return Err("Bad Request: RESULT_TYPE_INVALID".into());
    };
    match result["id"].as_str() {
        Some(id) if !id.is_empty() && id.len() <= 64 => {}
        _ => return Err("Bad Request: RESULT_ID_INVALID".into()),
    }
    if let Some(field) = CACHED_FILE_FIELDS
        .iter()
        .find(|f| result.get(**f).is_some())
    {
        let id = result[*field].as_str().unwrap_or("");
        return if known_file(id) {
            Ok(())
        } else {
            Err("Bad Request: wrong file identifier/HTTP URL specified".into())
        };
    }
    if let Some(missing) = required.iter().find(|f| result.get(**f).is_none()) {
        return Err(format!(
            "Bad Request: {}_EMPTY",
            missing.to_ascii_uppercase()
        ));
    }
    Ok(())
}
