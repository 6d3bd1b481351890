//! What modules see of each other: a plain text in a module's conversation (a dialogue waiting
//! for the user's answer) or replying to a module's message goes to that module only; the
//! operator narrows what a module wants; a button press with another module's tag does not
//! hand the pressed message to that module. The real runtime (and the real binary for the
//! crash), real modules: coroutine-dialogue, download-queue (it queues every link it is
//! sent) and the echo guest.

use botbox::{Runtime, config::ModuleSettings};
use botbox_test_artifacts::{COROUTINE_DIALOGUE, DOWNLOAD_QUEUE, ECHO};

use crate::support::*;

/// A bot with `wasm`, the modules' HTTP listener on a free port (download-queue serves gRPC),
/// and `settings` for the named modules.
async fn start_bot(
    root: &std::path::Path,
    wasm: &[&str],
    settings: &[(&str, ModuleSettings)],
) -> (FakeBotApi, Runtime) {
    let fake = unlimited_fake();
    let mut c = config(root, &fake, wasm);
    c.http.addr = "127.0.0.1:0".into();
    for (name, s) in settings {
        c.modules.insert((*name).into(), s.clone());
    }
    let rt = start(c).await;
    (fake, rt)
}

/// The bot's messages about queued links (`#<n> <link>`) that name `needle`.
fn queued(fake: &FakeBotApi, chat: i64, needle: &str) -> Vec<String> {
    bot_texts(fake, chat)
        .into_iter()
        .filter(|t| t.starts_with('#') && t.contains(needle))
        .collect()
}

/// Waits for the bot's message about the queued link with `needle`. A chat's messages arrive
/// in the order their updates were handled: a link queued earlier is announced before.
async fn wait_queued(fake: &FakeBotApi, chat: i64, needle: &str) {
    fake.wait_until(PATIENCE, |v| {
        v.bot_texts(chat)
            .iter()
            .any(|t| t.starts_with('#') && t.contains(needle))
    })
    .await
    .unwrap_or_else(|e| panic!("{needle} was not queued: {e}"));
}

/// How long an answer may take: the real binary compiles its modules when it starts, slowly
/// on a busy machine.
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(120);

/// Sends `text` and waits for the bot's first message containing `needle` after it.
async fn say(
    fake: &FakeBotApi,
    user: &TestUser,
    text: &str,
    needle: &str,
) -> fake_bot_api::ChatEntry {
    let before = fake.transcript(user.id).len();
    fake.send_text(user, text);
    let found = |v: &fake_bot_api::StateView<'_>| {
        v.transcript(user.id)
            .into_iter()
            .skip(before)
            .find(|e| e.from_bot && e.text.contains(needle))
    };
    fake.wait_until(PATIENCE, |v| found(v).is_some())
        .await
        .unwrap_or_else(|e| panic!("no answer with {needle:?} to {text:?}: {e}"));
    fake.view(found).unwrap()
}

/// Alice, asked her name by the questionnaire, answers with a link, cancels, and sends another
/// link: the answer went to the dialogue only, the later link to download-queue. It handles a
/// chat's updates in order, so had it got the answer it would have queued it first.
async fn answer_a_link_cancel_and_send_another(fake: &FakeBotApi, alice: &TestUser) {
    say(
        fake,
        alice,
        "https://example.com/me.zip",
        "How old are you?",
    )
    .await;
    say(fake, alice, "/cancel", "Cancelled.").await;
    // The dialogue is over: a link goes to download-queue again.
    say(
        fake,
        alice,
        "https://example.com/after.zip",
        "Queued 1 link",
    )
    .await;
    wait_queued(fake, alice.id, "after.zip").await;
    assert!(
        queued(fake, alice.id, "me.zip").is_empty(),
        "{:?}",
        bot_texts(fake, alice.id)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_answered_to_a_questionnaire_goes_to_the_dialogue_only_and_after_it_to_everyone() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, rt) = start_bot(dir.path(), &[COROUTINE_DIALOGUE, DOWNLOAD_QUEUE], &[]).await;
    let alice = TestUser::alice();
    say(&fake, &alice, "/profile", "What is your name?").await;
    answer_a_link_cancel_and_send_another(&fake, &alice).await;
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_to_a_module_s_message_goes_to_that_module_only() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, rt) = start_bot(dir.path(), &[ECHO, DOWNLOAD_QUEUE], &[]).await;
    let alice = TestUser::alice();
    let echoed = say(&fake, &alice, "hello", "echo: hello").await;
    // A link replying to echo's message: echo's alone.
    fake.send_reply(
        &alice,
        alice.id,
        echoed.message_id,
        "https://example.com/to-echo.zip",
    )
    .unwrap();
    fake.wait_for_bot_text(alice.id, "echo: https://example.com/to-echo.zip", WAIT)
        .await
        .unwrap();
    // A link to everyone: both take it.
    say(
        &fake,
        &alice,
        "https://example.com/open.zip",
        "Queued 1 link",
    )
    .await;
    fake.wait_for_bot_text(alice.id, "echo: https://example.com/open.zip", WAIT)
        .await
        .unwrap();
    assert!(
        queued(&fake, alice.id, "to-echo.zip").is_empty(),
        "{:?}",
        bot_texts(&fake, alice.id)
    );
    // A link replying to download-queue's message: download-queue's alone.
    let link_message = fake
        .wait_for_bot_text(alice.id, "#1 https://example.com/open.zip", WAIT)
        .await
        .unwrap();
    fake.send_reply(
        &alice,
        alice.id,
        link_message.message_id,
        "https://example.com/to-queue.zip",
    )
    .unwrap();
    wait_queued(&fake, alice.id, "to-queue.zip").await;
    // Echo handles the chat in order: its answer to "sync" comes after whatever it got before.
    say(&fake, &alice, "sync", "echo: sync").await;
    assert!(
        !bot_texts(&fake, alice.id)
            .iter()
            .any(|t| t == "echo: https://example.com/to-queue.zip"),
        "{:?}",
        bot_texts(&fake, alice.id)
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_s_wants_keep_plain_messages_from_a_module_and_its_commands_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let narrowed = ModuleSettings {
        wants: Some(Vec::new()),
        ..ModuleSettings::default()
    };
    let (fake, rt) = start_bot(
        dir.path(),
        &[ECHO, DOWNLOAD_QUEUE],
        &[("download-queue", narrowed)],
    )
    .await;
    let alice = TestUser::alice();
    say(
        &fake,
        &alice,
        "https://example.com/plain.zip",
        "echo: https://example.com/plain.zip",
    )
    .await;
    say(&fake, &alice, "/list", "You have no links in the queue.").await;
    assert!(
        queued(&fake, alice.id, "plain.zip").is_empty(),
        "{:?}",
        bot_texts(&fake, alice.id)
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_press_with_another_module_s_tag_does_not_let_that_module_edit_the_pressed_message() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, rt) = start_bot(dir.path(), &[ECHO, DOWNLOAD_QUEUE], &[]).await;
    let alice = TestUser::alice();
    // Echo's own message with buttons gives away echo's tag (`<tag>:a`).
    let own = say(&fake, &alice, "/buttons", "Pick one").await;
    let data = own
        .inline_button("A")
        .and_then(|b| b.callback_data.clone())
        .unwrap();
    let echo_tag = data.split_once(':').unwrap().0.to_string();
    // download-queue's message about a link, with its quality buttons.
    say(
        &fake,
        &alice,
        "https://example.com/file.zip",
        "Queued 1 link",
    )
    .await;
    let theirs = fake
        .wait_for_bot_text(alice.id, "#1 https://example.com/file.zip", WAIT)
        .await
        .unwrap();
    // A modified client presses "echo's" button `e` on download-queue's message.
    fake.press_forged_button(
        &alice,
        alice.id,
        theirs.message_id,
        &format!("{echo_tag}:e"),
    )
    .unwrap();
    // The same forged data on echo's own message is echo's: it edits it (the control).
    fake.press_forged_button(&alice, alice.id, own.message_id, &format!("{echo_tag}:e"))
        .unwrap();
    fake.wait_until(WAIT, |v| {
        let t = v.transcript(alice.id);
        t.iter()
            .any(|e| e.message_id == own.message_id && e.text == "edited by echo")
            && t.iter().any(|e| e.from_bot && e.text == "pressed: e")
    })
    .await
    .unwrap();
    let transcript = fake.transcript(alice.id);
    let theirs_now = transcript
        .iter()
        .find(|e| e.message_id == theirs.message_id)
        .unwrap();
    assert!(
        theirs_now
            .text
            .starts_with("#1 https://example.com/file.zip")
            && theirs_now.edits == theirs.edits,
        "download-queue's message was touched: {theirs_now:?}"
    );
    let presses = transcript
        .iter()
        .filter(|e| e.from_bot && e.text == "pressed: e")
        .count();
    assert_eq!(
        presses, 1,
        "only the press on echo's own message reaches echo"
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_between_the_question_and_the_answer_keeps_the_answer_the_dialogue_s() {
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let modules = modules_dir(dir.path(), &[COROUTINE_DIALOGUE, DOWNLOAD_QUEUE]);
    let config_file = write_config(
        dir.path(),
        &fake,
        &modules,
        "[http]\naddr = \"127.0.0.1:0\"\n",
    );
    let alice = TestUser::alice();
    let mut bot = spawn_bot(&config_file);
    say(&fake, &alice, "/profile", "What is your name?").await;
    bot.start_kill().unwrap();
    let status = bot.wait().await.unwrap();
    assert!(!status.success(), "killed, not exited: {status:?}");

    let mut bot = spawn_bot(&config_file);
    answer_a_link_cancel_and_send_another(&fake, &alice).await;
    bot.start_kill().unwrap();
    let _ = bot.wait().await;
}
