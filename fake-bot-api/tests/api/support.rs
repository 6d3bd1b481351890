//! Shared setup.

use std::time::Duration;

use fake_bot_api::{FakeBotApi, FakeConfig, Limits};
use teloxide_core::{
    Bot,
    prelude::*,
    types::{Message, Update, UpdateKind},
};

/// Long enough for anything the fake does on a loaded machine; tests never wait it out.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A fake without rate limits, and a teloxide bot pointed at it.
pub fn start() -> (FakeBotApi, Bot) {
    start_with(FakeConfig {
        limits: Limits::unlimited(),
        ..FakeConfig::default()
    })
}

/// A fake with `config`, and a teloxide bot pointed at it.
pub fn start_with(config: FakeConfig) -> (FakeBotApi, Bot) {
    let fake = FakeBotApi::start(config).expect("the fake starts");
    let bot = bot_for(&fake);
    (fake, bot)
}

/// A teloxide bot talking to `fake`.
pub fn bot_for(fake: &FakeBotApi) -> Bot {
    Bot::new(fake.token()).set_api_url(fake.api_url())
}

/// The pending updates, without confirming them.
pub async fn updates(bot: &Bot) -> Vec<Update> {
    bot.get_updates().await.expect("getUpdates succeeds")
}

/// The message of a `message` update.
pub fn message_of(update: &Update) -> &Message {
    match &update.kind {
        UpdateKind::Message(message) => message,
        other => panic!("expected a message update, got {other:?}"),
    }
}

/// The URL of `method` with the fake's token, for requests teloxide cannot make.
pub fn method_url(fake: &FakeBotApi, method: &str) -> String {
    format!("{}bot{}/{method}", fake.api_url(), fake.token())
}

/// POSTs `body` as JSON with plain reqwest and returns the status and the JSON answer.
pub async fn post_json(
    fake: &FakeBotApi,
    method: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(method_url(fake, method))
        .json(&body)
        .send()
        .await
        .expect("the fake answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON answer"))
}
