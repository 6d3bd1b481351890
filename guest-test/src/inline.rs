//! Inline mode in tests: a user types `@bot query`, the test reads the bot's results and
//! picks one.

use serde_json::{Value, json};

use crate::{Bot, User};

/// An inline query a user typed (see [`User::inline`]).
#[derive(Debug)]
pub struct InlineQuery<'a> {
    bot: &'a Bot,
    user: i64,
    name: String,
    id: String,
    query: String,
}

/// The bot's answer to an inline query.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[non_exhaustive]
pub struct InlineAnswer {
    /// The results, as the bot sent them: JSON objects with at least `type` and `id`
    /// (`{"type": "photo", "id": "qr", "photo_file_id": "..."}`).
    pub results: Vec<Value>,
    /// How long Telegram may cache the answer, in seconds.
    pub cache_time: i64,
    /// Whether it is cached for this user only.
    pub is_personal: bool,
}

impl InlineAnswer {
    /// The results' ids, in order.
    pub fn ids(&self) -> Vec<&str> {
        self.results
            .iter()
            .map(|r| r["id"].as_str().unwrap_or_default())
            .collect()
    }
}

impl User<'_> {
    /// Types `@bot query` in a chat: an inline query, which reaches the module if it asked for
    /// `inline_query` updates. Read the answer with [`InlineQuery::answer`].
    pub fn inline(&self, query: &str) -> InlineQuery<'_> {
        let id = self.bot.call(json!({
            "op": "inline", "user": self.id(), "name": self.name(), "query": query,
        }));
        InlineQuery {
            bot: self.bot,
            user: self.id(),
            name: self.name().to_string(),
            id: id.as_str().unwrap_or_default().to_string(),
            query: query.to_string(),
        }
    }
}

impl InlineQuery<'_> {
    /// The bot's answer, after the bot settles; `None` if it has not answered (yet: a module
    /// that answers from a timer needs [`Bot::advance`] first).
    pub fn answer(&self) -> Option<InlineAnswer> {
        let value = self
            .bot
            .call(json!({ "op": "inline_answer", "query_id": self.id }));
        (!value.is_null()).then(|| {
            serde_json::from_value(value).expect("botbox-test: an inline answer has results")
        })
    }

    /// The bot's answer, which must have come.
    pub fn expect_answer(&self) -> InlineAnswer {
        self.answer().unwrap_or_else(|| {
            panic!(
                "botbox-test: expected the bot to answer {}'s inline query {:?}, but it has not",
                self.name, self.query
            )
        })
    }

    /// Picks the result `result_id` of the answer (a `chosen_inline_result` update).
    pub fn choose(&self, result_id: &str) {
        self.bot.call(json!({
            "op": "choose", "user": self.user, "name": self.name,
            "query_id": self.id, "result_id": result_id,
        }));
    }
}
