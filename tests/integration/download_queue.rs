//! The download-queue example module end to end: the fake Bot API, the real runtime serving the
//! module's gRPC registry, real downloader processes (`download-queue-downloader`) that
//! register over gRPC and download from a local file server into a folder per quality.

#[path = "download_queue/peers.rs"]
mod peers;
mod support;

use botbox::{Runtime, config::ModuleSettings};
use botbox_test_artifacts::DOWNLOAD_QUEUE;
use download_queue_downloader::proto::RegisterRequest;
use download_queue_downloader::registrar;
use fake_bot_api::Limits;
use peers::*;
use support::*;

const MODULE: &str = "download-queue";

fn carol() -> TestUser {
    TestUser::new(1003, "Carol")
}

/// A bot with the module, its settings (`interval_secs` 1, backoff 1-2 s, carol an admin,
/// the downloaders' host granted) overridden by `settings`, and `tweak` for the operator's
/// other module settings. Returns the fake, the runtime and the module's gRPC URL.
async fn start_bot(
    root: &std::path::Path,
    settings: &[(&str, &str)],
    tweak: impl FnOnce(&mut ModuleSettings),
) -> (FakeBotApi, Runtime, String) {
    let fake = FakeBotApi::start(FakeConfig {
        limits: Limits::unlimited(),
        ..FakeConfig::default()
    })
    .unwrap();
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
    ];
    for (key, value) in defaults.iter().chain(settings) {
        module
            .config
            .insert((*key).into(), toml::Value::String((*value).into()));
    }
    tweak(&mut module);
    c.modules.insert(MODULE.into(), module);
    let rt = start(c).await;
    let url = format!("http://{}/modules/{MODULE}", rt.http_addr().unwrap());
    (fake, rt, url)
}

/// Stops the downloaders, then the runtime (whose HTTP server would otherwise keep serving
/// their open HTTP/2 connections).
async fn stop<const N: usize>(rt: Runtime, downloaders: [Downloader; N]) {
    drop(downloaders);
    tokio::time::timeout(PATIENCE, rt.stop())
        .await
        .expect("the runtime stops");
}

/// Sends `text` and returns the first new bot message containing `needle`.
async fn ask(fake: &FakeBotApi, user: &TestUser, text: &str, needle: &str) -> String {
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
fn press(fake: &FakeBotApi, user: &TestUser, message: &fake_bot_api::ChatEntry, label: &str) {
    let button = message
        .inline_button(label)
        .unwrap_or_else(|| panic!("no button {label:?} under {:?}", message.text));
    let data = button.callback_data.clone().unwrap();
    fake.press_button(user, message_chat(message, user), message.message_id, &data)
        .unwrap();
}

/// Private chats only here: the chat is the user's.
fn message_chat(_message: &fake_bot_api::ChatEntry, user: &TestUser) -> i64 {
    user.id
}

/// The files of `name` the downloaders hold in `quality`, if any has it.
fn downloaded(downloaders: &[&Downloader], quality: &str, name: &str) -> Option<Vec<u8>> {
    downloaders.iter().find_map(|d| d.file(quality, name))
}

async fn wait_downloaded(downloaders: &[&Downloader], quality: &str, name: &str) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_are_queued_a_button_changes_a_quality_and_on_schedule_real_downloaders_fetch_the_files_and_the_messages_go()
 {
    let dir = tempfile::tempdir().unwrap();
    let files = file_server().await;
    let (fake, rt, url) = start_bot(dir.path(), &[("delay_secs", "6")], |_| {}).await;
    let a = Downloader::start(dir.path(), "a", &url).await;
    let b = Downloader::start(dir.path(), "b", &url).await;
    a.wait_line("registered a", 1).await;
    b.wait_line("registered b", 1).await;
    let alice = TestUser::alice();
    let status = ask(
        &fake,
        &alice,
        &format!("http://{files}/files/one.bin http://{files}/files/two.bin"),
        "Queued 2 links",
    )
    .await;
    assert!(
        status.contains("Change the quality with the buttons"),
        "{status}"
    );
    let first = fake
        .wait_for_bot_text(alice.id, &format!("#1 http://{files}/files/one.bin"), WAIT)
        .await
        .unwrap();
    assert!(first.text.contains("Quality: 720p"), "{}", first.text);
    press(&fake, &alice, &first, "480p");
    let edited = fake
        .wait_for_bot_text(alice.id, "Quality: 480p", WAIT)
        .await
        .unwrap();
    assert_eq!(edited.message_id, first.message_id);
    assert!(edited.inline_button("• 480p").is_some());

    let both = [&a, &b];
    wait_downloaded(&both, "480p", "one.bin").await;
    wait_downloaded(&both, "720p", "two.bin").await;
    fake.wait_for_bot_text(alice.id, "Downloaded #1", WAIT)
        .await
        .unwrap();
    fake.wait_for_bot_text(alice.id, "Downloaded #2", WAIT)
        .await
        .unwrap();
    // The links' messages (with their keyboards) and the insertion status message are gone.
    fake.wait_until(WAIT, |v| {
        v.transcript(alice.id)
            .iter()
            .filter(|e| e.from_bot && (e.text.starts_with('#') || e.text.starts_with("Queued")))
            .all(|e| e.deleted)
    })
    .await
    .unwrap();
    assert!(downloaded(&both, "720p", "one.bin").is_none());
    let list = ask(&fake, &alice, "/list", "queue").await;
    assert_eq!(list, "You have no links in the queue.");
    stop(rt, [a, b]).await;
}
