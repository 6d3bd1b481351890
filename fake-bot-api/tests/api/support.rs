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

/// POSTs `form` as multipart with plain reqwest and returns the status and the JSON answer.
pub async fn post_multipart(
    fake: &FakeBotApi,
    method: &str,
    form: reqwest::multipart::Form,
) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(method_url(fake, method))
        .multipart(form)
        .send()
        .await
        .expect("the fake answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON answer"))
}

/// A file part named `file_name` with `bytes`.
pub fn file_part(bytes: Vec<u8>, file_name: &str) -> reqwest::multipart::Part {
    reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned())
}

/// The start of a PNG image of `width` × `height`: enough for anything that reads its size
/// (the signature and the IHDR chunk), padded with `extra` zero bytes.
pub fn png(width: u32, height: u32, extra: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    bytes.extend_from_slice(&width.to_be_bytes());
    bytes.extend_from_slice(&height.to_be_bytes());
    bytes.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    bytes.resize(bytes.len() + extra, 0);
    bytes
}

/// Downloads the file `file_id` names through getFile and the file path, as a bot does.
pub async fn download(fake: &FakeBotApi, file_id: &str) -> Vec<u8> {
    let (status, file) =
        post_json(fake, "getFile", serde_json::json!({ "file_id": file_id })).await;
    assert_eq!(status, 200, "{file}");
    let path = file["result"]["file_path"].as_str().expect("a file_path");
    let url = format!("{}file/bot{}/{path}", fake.api_url(), fake.token());
    reqwest::get(url)
        .await
        .expect("download")
        .bytes()
        .await
        .expect("bytes")
        .to_vec()
}
