//! The whole Bot API for modules (`bot-api`, contract 0.1.2), through the real runtime and the
//! fake Bot API: sends with files through the durable outbox, answers, reads inside a handler,
//! chat actions, downloads, broadcasts sent once and then by file id, and every refusal named.

mod crash;
mod dialogue_read;
mod refusals;
mod update_kinds;

use std::time::Duration;

use botbox_test_artifacts::{API_PROBE, CLICKER};

use crate::support::*;

/// Sends `text` and waits for the bot's next text in the chat that starts with `prefix`.
pub(crate) async fn ask(fake: &FakeBotApi, user: &TestUser, text: &str, prefix: &str) -> String {
    let before = bot_texts(fake, user.chat_id()).len();
    fake.send_text(user, text);
    answer_after(fake, user, before, prefix).await
}

/// The first text after the `before`-th one in the user's chat that starts with `prefix`.
pub(crate) async fn answer_after(
    fake: &FakeBotApi,
    user: &TestUser,
    before: usize,
    prefix: &str,
) -> String {
    let chat = user.chat_id();
    let found = fake
        .wait_until(WAIT, |s| {
            s.bot_texts(chat)
                .iter()
                .skip(before)
                .any(|t| t.starts_with(prefix))
        })
        .await
        .is_ok();
    let texts = bot_texts(fake, chat);
    assert!(
        found,
        "no answer starting {prefix:?} to the chat; it has {texts:?}"
    );
    texts
        .into_iter()
        .skip(before)
        .find(|t| t.starts_with(prefix))
        .expect("found above")
}

/// The ticket in `queued <ticket>`.
pub(crate) fn ticket_of(answer: &str) -> u64 {
    answer
        .strip_prefix("queued ")
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(|| panic!("not a queued call: {answer}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_made_by_a_module_arrives_and_its_ticket_returns_telegrams_result_with_the_file_id()
{
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let runtime = start(config(dir.path(), &fake, &[API_PROBE])).await;
    let alice = TestUser::alice();
    fake.open_chat(&alice);

    let ticket = ticket_of(&ask(&fake, &alice, "/photo", "queued ").await);
    let chat = alice.chat_id();
    assert!(
        fake.wait_until(WAIT, |s| !s.photos(chat).is_empty())
            .await
            .is_ok()
    );
    let photo = fake.photos(chat).remove(0);
    assert_eq!((photo.width, photo.height), (8, 8));
    assert_eq!(photo.caption, "probe photo");
    assert!(
        photo.bytes.starts_with(b"\x89PNG"),
        "the module's PNG arrives as sent"
    );

    // The ticket's status is Telegram's result: the message with the photo's file id.
    let mut status = String::new();
    for _ in 0..100 {
        status = ask(&fake, &alice, &format!("/status {ticket}"), "status: ").await;
        if status.starts_with("status: done") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let result: serde_json::Value =
        serde_json::from_str(status.strip_prefix("status: done ").expect(&status)).unwrap();
    assert_eq!(result["message_id"], photo.message_id);
    let sizes = result["photo"].as_array().expect("a photo message");
    assert_eq!(sizes.last().unwrap()["file_id"], photo.file_id.as_str());

    // Delivered: the bytes kept for it are gone from the store.
    assert!(
        wait_for(|| runtime.db().stored_files().unwrap() == (0, 0)).await,
        "stored files after delivery: {:?}",
        runtime.db().stored_files()
    );
    runtime.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_album_a_die_a_read_inside_the_handler_and_a_chat_action() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let runtime = start(config(dir.path(), &fake, &[API_PROBE])).await;
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let chat = alice.chat_id();

    ask(&fake, &alice, "/album", "queued ").await;
    assert!(
        fake.wait_until(WAIT, |s| s.photos(chat).len() == 3)
            .await
            .is_ok()
    );
    let groups: Vec<serde_json::Value> = fake
        .bot_messages(chat)
        .into_iter()
        .filter(|m| m.get("photo").is_some())
        .map(|m| m["media_group_id"].clone())
        .collect();
    assert!(
        groups.iter().all(|g| g.is_string() && *g == groups[0]),
        "{groups:?}"
    );

    ask(&fake, &alice, "/dice", "queued ").await;
    assert!(
        fake.wait_until(WAIT, |s| s.dice(chat).len() == 1)
            .await
            .is_ok()
    );
    let (emoji, value) = fake.dice(chat).remove(0);
    assert_eq!(emoji, "🎲");
    assert!((1..=6).contains(&value));

    assert_eq!(
        ask(&fake, &alice, "/member", "member status: ").await,
        "member status: member"
    );
    // Read again within the minute: from the host's cache, Telegram is not asked (it would
    // fail now).
    fake.fail_next(
        "getChatMember",
        1,
        fake_bot_api::Failure::Api {
            code: 400,
            description: "Bad Request: asked again".into(),
        },
    );
    assert_eq!(
        ask(&fake, &alice, "/member", "member status: ").await,
        "member status: member"
    );
    assert_eq!(ask(&fake, &alice, "/typing", "sent").await, "sent");
    runtime.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_edits_its_own_photo_by_ticket_gets_its_buttons_back_and_cannot_touch_another_module_s_message()
 {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let runtime = start(config(dir.path(), &fake, &[API_PROBE, CLICKER])).await;
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let chat = alice.chat_id();

    // The clicker's greeting: another module's message.
    ask(&fake, &alice, "/start", "Hello, Alice!").await;
    let greeting = fake.last_bot_message(chat).unwrap().message_id;
    let refused = ask(
        &fake,
        &alice,
        &format!("/editid {greeting} mine now"),
        "error: ",
    )
    .await;
    assert!(refused.starts_with("error: not-own-message"), "{refused}");
    let untouched = fake.last_bot_message(chat).map(|m| m.text);
    assert!(
        bot_texts(&fake, chat)
            .iter()
            .any(|t| t.starts_with("Hello, Alice!")),
        "the clicker's greeting is as it sent it; last message: {untouched:?}"
    );

    // A button drawn through bot-api comes back to the module that drew it.
    ask(&fake, &alice, "/button", "queued ").await;
    assert!(
        fake.wait_until(WAIT, |s| s.bot_texts(chat).iter().any(|t| t == "a button"))
            .await
            .is_ok()
    );
    let before = bot_texts(&fake, chat).len();
    fake.press_inline_label(&alice, chat, "Tap").unwrap();
    answer_after(&fake, &alice, before, "pressed tap").await;

    // Its own photo, by ticket, even right after it was queued.
    let ticket = ticket_of(&ask(&fake, &alice, "/photo", "queued ").await);
    ask(
        &fake,
        &alice,
        &format!("/edit {ticket} edited caption"),
        "queued ",
    )
    .await;
    assert!(
        fake.wait_until(WAIT, |s| s
            .photos(chat)
            .first()
            .is_some_and(|p| p.caption == "edited caption"))
            .await
            .is_ok(),
        "{:?}",
        fake.photos(chat)
    );
    runtime.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_a_user_sends_is_downloaded_and_one_over_twenty_megabytes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let mut c = config(dir.path(), &fake, &[API_PROBE]);
    c.sandbox.memory_mib = 128;
    c.sandbox.call_timeout_ms = 5_000;
    let runtime = start(c).await;
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let chat = alice.chat_id();

    let before = bot_texts(&fake, chat).len();
    fake.send_document(&alice, "nineteen.bin", vec![1; 19 << 20], "/download");
    let got = answer_after(&fake, &alice, before, "downloaded").await;
    assert_eq!(got, format!("downloaded {} bytes", 19 << 20));

    let before = bot_texts(&fake, chat).len();
    fake.send_document(&alice, "big.bin", vec![1; 25 << 20], "/download");
    let refused = answer_after(&fake, &alice, before, "error: ").await;
    assert!(
        refused.starts_with("error: quota-exceeded") && refused.contains("at most 20 MB"),
        "{refused}"
    );
    runtime.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_broadcast_uploads_the_bytes_once_then_sends_by_file_id_and_frees_them() {
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let runtime = start(config(dir.path(), &fake, &[API_PROBE])).await;
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let chats: Vec<i64> = (1001..=1040).collect();
    for id in &chats {
        fake.open_chat(&TestUser::new(*id, format!("user{id}")));
    }

    ask(&fake, &alice, "/bcast 40", "broadcast 40 tickets").await;
    assert!(
        fake.wait_until(WAIT, |s| chats.iter().all(|c| s.photos(*c).len() == 1))
            .await
            .is_ok()
    );
    let counters = fake.counters();
    assert_eq!(
        counters.uploads + counters.sent_by_file_id,
        40,
        "{counters:?}"
    );
    // The first copy uploads; the rest go by its file id (a few may upload side by side
    // before the first id is known).
    assert!(counters.uploads <= 3, "{counters:?}");
    assert!(
        wait_for(|| runtime.db().stored_files().unwrap() == (0, 0)).await,
        "{:?}",
        runtime.db().stored_files()
    );
    runtime.stop().await;
}

/// Waits up to [`WAIT`] for `done`.
pub(crate) async fn wait_for(mut done: impl FnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < end {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_stays_on_while_a_slow_handler_runs_and_stops_when_it_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let mut c = config(dir.path(), &fake, &[API_PROBE]);
    c.sandbox.call_timeout_ms = 5_000;
    let runtime = start(c).await;
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let chat = alice.chat_id();

    assert_eq!(
        ask(&fake, &alice, "/slowtyping 12", "slept").await,
        "slept 12 s"
    );
    let during = fake.chat_actions(chat);
    // Sent at once, then again every 4 s while the handler ran (Telegram shows one for 5 s).
    assert!(
        during.len() >= 3 && during.iter().all(|a| a == "typing"),
        "{during:?}"
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        fake.chat_actions(chat),
        during,
        "none after the handler ended"
    );
    runtime.stop().await;
}
