//! The download-queue test's bot: the runtime with the module and its settings, and the
//! steps the tests repeat (ask, press a button, wait for a file, stop).

use botbox::{Runtime, config::ModuleSettings};
use botbox_test_artifacts::DOWNLOAD_QUEUE;

use super::peers::{Downloader, PATIENCE, REGISTRY_TOKEN, file_bytes, wait};
use crate::support::*;

pub const MODULE: &str = "download-queue";

pub fn carol() -> TestUser {
    TestUser::new(1003, "Carol")
}

/// A bot with the module, its settings (`interval_secs` 1, backoff 1-2 s, carol an admin,
/// the downloaders' host granted, [`REGISTRY_TOKEN`], links to 127.0.0.1 allowed: the file
/// server) overridden by `settings`, the operator's `http_private`
/// granting loopback (where the downloaders listen), and `tweak` for its other module settings. Returns the fake, the runtime and the module's gRPC URL.
pub async fn start_bot(
    root: &std::path::Path,
    settings: &[(&str, &str)],
    tweak: impl FnOnce(&mut ModuleSettings),
) -> (FakeBotApi, Runtime, String) {
    let fake = unlimited_fake();
    let mut c = config(root, &fake, &[DOWNLOAD_QUEUE]);
    c.outbox.chat_per_second = 100.0;
    c.outbox.chat_burst = 100;
    c.http.addr = "127.0.0.1:0".into();
    let mut module = ModuleSettings::default();
    let defaults = [
        ("interval_secs", "1"),
        ("delay_secs", "0"),
        ("backoff_secs", "1"),
        ("backoff_max_secs", "2"),
        ("max_attempts", "1000"),
        ("admins", "1003"),
        ("downloader_hosts", "127.0.0.1:*"),
        ("registry_token", REGISTRY_TOKEN),
        ("internal_link_hosts", "127.0.0.1"),
    ];
    for (key, value) in defaults.iter().chain(settings) {
        module
            .config
            .insert((*key).into(), toml::Value::String((*value).into()));
    }
    // The downloaders listen on loopback: the operator grants it.
    module.http_private = vec!["127.0.0.1".into()];
    tweak(&mut module);
    c.modules.insert(MODULE.into(), module);
    let rt = start(c).await;
    let url = format!("http://{}/modules/{MODULE}", rt.http_addr().unwrap());
    (fake, rt, url)
}

/// Stops the downloaders, then the runtime (whose HTTP server would otherwise keep serving
/// their open HTTP/2 connections).
pub async fn stop<const N: usize>(rt: Runtime, downloaders: [Downloader; N]) {
    drop(downloaders);
    tokio::time::timeout(PATIENCE, rt.stop())
        .await
        .expect("the runtime stops");
}

/// Sends `text` and returns the first new bot message containing `needle`.
pub async fn ask(fake: &FakeBotApi, user: &TestUser, text: &str, needle: &str) -> String {
    let before = fake.transcript(user.id).len();
    fake.send_text(user, text);
    let found = |v: &fake_bot_api::StateView<'_>| {
        v.transcript(user.id)
            .into_iter()
            .skip(before)
            .find(|e| e.from_bot && e.text.contains(needle))
            .map(|e| e.text)
    };
    fake.wait_until(WAIT, |v| found(v).is_some())
        .await
        .unwrap_or_else(|e| panic!("no answer with {needle:?} to {text:?}: {e}"));
    fake.view(found).unwrap()
}

/// `user` presses the button labelled `label` under `message`.
pub fn press(fake: &FakeBotApi, user: &TestUser, message: &fake_bot_api::ChatEntry, label: &str) {
    let button = message
        .inline_button(label)
        .unwrap_or_else(|| panic!("no button {label:?} under {:?}", message.text));
    let data = button.callback_data.clone().unwrap();
    // Private chats only here: the chat is the user's.
    fake.press_button(user, user.id, message.message_id, &data)
        .unwrap();
}

/// The files of `name` the downloaders hold in `quality`, if any has it.
pub fn downloaded(downloaders: &[&Downloader], quality: &str, name: &str) -> Option<Vec<u8>> {
    downloaders.iter().find_map(|d| d.file(quality, name))
}

pub async fn wait_downloaded(downloaders: &[&Downloader], quality: &str, name: &str) {
    wait(&format!("{quality}/{name} downloaded"), || {
        downloaded(downloaders, quality, name).is_some()
    })
    .await;
    assert_eq!(
        downloaded(downloaders, quality, name).unwrap(),
        file_bytes(name),
        "the bytes of {quality}/{name}"
    );
}
