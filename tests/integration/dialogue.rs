//! Dialogues written as sequential code (the coroutine-dialogue example and its test versions):
//! the article's flow, the questionnaire, and dialogues that survive `kill -9`, hot swaps and
//! traps, with a thousand users talking at once.

use std::time::Duration;

use crate::support::*;
use botbox::{Config, config::ModuleSettings};
use botbox_test_artifacts::{COROUTINE_DIALOGUE, COROUTINE_DIALOGUE_V2, COROUTINE_DIALOGUE_V3};

const MODULE: &str = "coroutine-dialogue";
const FIRST: &str = "Send me the first number.";
const SECOND: &str = "Now send the second number.";
const NOT_A_NUMBER: &str = "That is not a whole number. Please send a number like 42.";
const HELP: &str = "Send /sum to add two numbers, or /profile to fill in your profile.";
const DIVERGED: &str = "The bot was updated and cannot go on with this conversation. Send /sum to add two numbers, or /profile to fill in your profile.";

fn fast_fake() -> FakeBotApi {
    unlimited_fake()
}

/// A runtime configuration with fast outbox limits and the module's `timeout_secs`.
fn dialogue_config(
    root: &std::path::Path,
    fake: &FakeBotApi,
    wasm: &[&str],
    timeout_secs: u64,
) -> Config {
    let mut c = config(root, fake, wasm);
    c.outbox.chat_per_second = 1000.0;
    c.outbox.chat_burst = 1000;
    c.outbox.global_per_second = 1000;
    c.sandbox.watch_interval_ms = 0;
    let mut settings = ModuleSettings::default();
    settings
        .config
        .insert("timeout_secs".into(), (timeout_secs as i64).into());
    c.modules.insert(MODULE.into(), settings);
    c
}

/// Sends `text` as `user` and waits until the bot has said `expected` to them `times` times in
/// all.
async fn say(fake: &FakeBotApi, user: &TestUser, text: &str, expected: &str) {
    let before = count(fake, user.id, expected);
    fake.send_text(user, text);
    wait_count(fake, user.id, expected, before + 1).await;
}

fn count(fake: &FakeBotApi, chat: i64, text: &str) -> usize {
    bot_texts(fake, chat).iter().filter(|t| *t == text).count()
}

async fn wait_count(fake: &FakeBotApi, chat: i64, text: &str, n: usize) {
    fake.wait_until(WAIT, |v| {
        v.bot_texts(chat).iter().filter(|t| *t == text).count() >= n
    })
    .await
    .unwrap_or_else(|e| panic!("waiting for {text:?} x{n} in chat {chat}: {e:#}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_article_s_dialogue_adds_two_numbers_and_asks_again_after_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fast_fake();
    let rt = start(dialogue_config(
        dir.path(),
        &fake,
        &[COROUTINE_DIALOGUE],
        300,
    ))
    .await;
    let ann = TestUser::alice();
    say(&fake, &ann, "/sum", FIRST).await;
    say(&fake, &ann, "twelve", NOT_A_NUMBER).await;
    say(&fake, &ann, "12", SECOND).await;
    say(&fake, &ann, "3.5", NOT_A_NUMBER).await;
    say(&fake, &ann, "-30", "12 + -30 = -18").await;
    // The dialogue is over: a number now is no answer (the module leaves it to others).
    fake.send_text(&ann, "5");
    say(&fake, &ann, "/sum", FIRST).await;
    assert_eq!(
        bot_texts(&fake, ann.id),
        [
            FIRST,
            NOT_A_NUMBER,
            SECOND,
            NOT_A_NUMBER,
            "12 + -30 = -18",
            FIRST
        ]
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_inactivity_timeout_the_bot_says_it_stopped_waiting_and_how_to_start_again() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fast_fake();
    let rt = start(dialogue_config(dir.path(), &fake, &[COROUTINE_DIALOGUE], 2)).await;
    let ann = TestUser::alice();
    say(&fake, &ann, "/sum", FIRST).await;
    say(&fake, &ann, "7", SECOND).await;
    let timeout = format!("You did not answer for 2 seconds, so I stopped waiting. {HELP}");
    wait_count(&fake, ann.id, &timeout, 1).await;
    // The late answer is no answer any more; /sum starts afresh.
    fake.send_text(&ann, "8");
    say(&fake, &ann, "/sum", FIRST).await;
    say(&fake, &ann, "1", SECOND).await;
    say(&fake, &ann, "2", "1 + 2 = 3").await;
    assert_eq!(
        bot_texts(&fake, ann.id),
        [FIRST, SECOND, &timeout, FIRST, SECOND, "1 + 2 = 3"]
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_questionnaire_validates_each_answer_saves_the_profile_and_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fast_fake();
    let rt = start(dialogue_config(
        dir.path(),
        &fake,
        &[COROUTINE_DIALOGUE],
        300,
    ))
    .await;
    let ann = TestUser::alice();
    say(
        &fake,
        &ann,
        "/myprofile",
        "You have no profile yet: send /profile.",
    )
    .await;
    say(&fake, &ann, "/profile", "What is your name?").await;
    say(
        &fake,
        &ann,
        "   ",
        "Please send a name of 1 to 40 characters.",
    )
    .await;
    say(
        &fake,
        &ann,
        "Ann",
        "Nice to meet you, Ann. How old are you?",
    )
    .await;
    let bad_age = "Please send your age as a whole number from 1 to 120.";
    say(&fake, &ann, "very", bad_age).await;
    say(&fake, &ann, "500", bad_age).await;
    say(&fake, &ann, "30", "Which language do you write bots in?").await;
    say(
        &fake,
        &ann,
        "Rust",
        "Please press one of the buttons above.",
    )
    .await;
    let city = "Rust, good choice. Which city do you live in?";
    fake.press_inline_label(&ann, ann.chat_id(), "Rust")
        .unwrap();
    wait_count(&fake, ann.id, city, 1).await;
    let profile = "Name: Ann\nAge: 30\nLanguage: Rust\nCity: Lisbon";
    say(
        &fake,
        &ann,
        "Lisbon",
        &format!("Saved. Your profile:\n{profile}"),
    )
    .await;
    say(&fake, &ann, "/myprofile", profile).await;
    // /cancel in the middle of a new round leaves the saved profile alone.
    say(&fake, &ann, "/profile", "What is your name?").await;
    say(&fake, &ann, "/cancel", &format!("Cancelled. {HELP}")).await;
    say(
        &fake,
        &ann,
        "/cancel",
        &format!("Nothing to cancel. {HELP}"),
    )
    .await;
    say(&fake, &ann, "/myprofile", profile).await;
    rt.stop().await;
}

/// The bot's texts to `chat` with a repeat of the message in flight at a kill removed (the
/// outbox may deliver that one message twice, right after itself; see the README), checking
/// there is at most one.
fn texts_across_a_kill(fake: &FakeBotApi, chat: i64) -> Vec<String> {
    let texts = bot_texts(fake, chat);
    let mut deduped = texts.clone();
    deduped.dedup();
    assert!(
        texts.len() - deduped.len() <= 1,
        "more than the one message in flight repeated: {texts:?}"
    );
    deduped
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_mid_dialogue_users_answer_the_pending_questions_and_nothing_is_asked_twice() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fast_fake();
    let modules = modules_dir(dir.path(), &[COROUTINE_DIALOGUE]);
    let config_file = write_config(
        dir.path(),
        &fake,
        &modules,
        "[outbox]\nchat_per_second = 50.0\nchat_burst = 50\nglobal_per_second = 1000\n",
    );
    let (ann, bob, cid) = (
        TestUser::new(101, "Ann"),
        TestUser::new(102, "Bob"),
        TestUser::new(103, "Cid"),
    );
    let mut bot = spawn_bot(&config_file);
    say(&fake, &ann, "/sum", FIRST).await;
    say(&fake, &bob, "/sum", FIRST).await;
    say(&fake, &bob, "5", SECOND).await;
    say(&fake, &cid, "/profile", "What is your name?").await;
    say(
        &fake,
        &cid,
        "Cid",
        "Nice to meet you, Cid. How old are you?",
    )
    .await;
    say(&fake, &cid, "40", "Which language do you write bots in?").await;
    bot.start_kill().unwrap();
    let status = bot.wait().await.unwrap();
    assert!(!status.success(), "killed, not exited: {status:?}");

    let mut bot = spawn_bot(&config_file);
    say(&fake, &ann, "1", SECOND).await;
    say(&fake, &ann, "2", "1 + 2 = 3").await;
    say(&fake, &bob, "7", "5 + 7 = 12").await;
    let city = "Go, good choice. Which city do you live in?";
    fake.press_inline_label(&cid, cid.chat_id(), "Go").unwrap();
    wait_count(&fake, cid.id, city, 1).await;
    let profile = "Name: Cid\nAge: 40\nLanguage: Go\nCity: Oslo";
    say(
        &fake,
        &cid,
        "Oslo",
        &format!("Saved. Your profile:\n{profile}"),
    )
    .await;

    assert_eq!(
        texts_across_a_kill(&fake, ann.id),
        [FIRST, SECOND, "1 + 2 = 3"]
    );
    assert_eq!(
        texts_across_a_kill(&fake, bob.id),
        [FIRST, SECOND, "5 + 7 = 12"]
    );
    // The questionnaire's clock was recorded before the kill and replayed after it.
    fake.wait_for_bot_text(cid.id, "You answered in", WAIT)
        .await
        .unwrap();
    let mut cid_texts = texts_across_a_kill(&fake, cid.id);
    let took = cid_texts.pop().unwrap();
    assert!(
        took.starts_with("You answered in ") && took.ends_with(" s."),
        "{took}"
    );
    assert_eq!(
        cid_texts,
        [
            "What is your name?",
            "Nice to meet you, Cid. How old are you?",
            "Which language do you write bots in?",
            city,
            &format!("Saved. Your profile:\n{profile}"),
        ]
    );
    bot.start_kill().unwrap();
    let _ = bot.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compatible_swap_mid_dialogue_lets_every_dialogue_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fast_fake();
    let rt = start(dialogue_config(
        dir.path(),
        &fake,
        &[COROUTINE_DIALOGUE],
        300,
    ))
    .await;
    let (ann, bob) = (TestUser::alice(), TestUser::bob());
    say(&fake, &ann, "/sum", FIRST).await;
    say(&fake, &ann, "4", SECOND).await;
    say(&fake, &bob, "/profile", "What is your name?").await;

    let v2 = std::fs::read(COROUTINE_DIALOGUE_V2).unwrap();
    rt.registry().install(&v2, None).await.unwrap();
    assert_eq!(rt.registry().info(MODULE).unwrap().version, "2.0.0");

    say(&fake, &ann, "5", "4 + 5 = 9 (v2)").await;
    say(
        &fake,
        &bob,
        "Bob",
        "Nice to meet you, Bob. How old are you?",
    )
    .await;
    assert_eq!(bot_texts(&fake, ann.id), [FIRST, SECOND, "4 + 5 = 9 (v2)"]);
    assert_eq!(
        bot_texts(&fake, bob.id),
        [
            "What is your name?",
            "Nice to meet you, Bob. How old are you?"
        ]
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incompatible_swap_mid_dialogue_ends_only_the_changed_dialogue_with_the_module_s_text() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fast_fake();
    let rt = start(dialogue_config(
        dir.path(),
        &fake,
        &[COROUTINE_DIALOGUE],
        300,
    ))
    .await;
    let (ann, bob) = (TestUser::alice(), TestUser::bob());
    say(&fake, &ann, "/sum", FIRST).await;
    say(&fake, &ann, "4", SECOND).await;
    say(&fake, &bob, "/profile", "What is your name?").await;

    // Version 3 changed the sum dialogue (its version went from 1 to 2), not the questionnaire.
    let v3 = std::fs::read(COROUTINE_DIALOGUE_V3).unwrap();
    rt.registry().install(&v3, None).await.unwrap();
    assert_eq!(rt.registry().info(MODULE).unwrap().version, "3.0.0");

    say(&fake, &ann, "5", DIVERGED).await;
    say(
        &fake,
        &bob,
        "Bob",
        "Nice to meet you, Bob. How old are you?",
    )
    .await;
    // /sum starts afresh with the new version.
    say(&fake, &ann, "/sum", FIRST).await;
    say(&fake, &ann, "5", SECOND).await;
    say(&fake, &ann, "6", "5 + 6 = 11").await;
    assert_eq!(
        bot_texts(&fake, ann.id),
        [FIRST, SECOND, DIVERGED, FIRST, SECOND, "5 + 6 = 11"]
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_in_one_dialogue_step_does_not_end_other_users_dialogues() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fast_fake();
    let mut c = dialogue_config(dir.path(), &fake, &[COROUTINE_DIALOGUE_V2], 300);
    // One shard: the instance that traps holds every user's suspended dialogue.
    c.sandbox.shards = 1;
    let rt = start(c).await;
    let (ann, bob, cid) = (
        TestUser::new(201, "Ann"),
        TestUser::new(202, "Bob"),
        TestUser::new(203, "Cid"),
    );
    say(&fake, &ann, "/sum", FIRST).await;
    say(&fake, &ann, "3", SECOND).await;
    say(&fake, &bob, "/sum", FIRST).await;
    say(&fake, &cid, "/sum", FIRST).await;
    say(&fake, &cid, "10", SECOND).await;

    fake.send_text(&cid, "trap");
    let stats = rt.modules()[MODULE].clone();
    fake.wait_until(WAIT, |_| {
        stats.quarantined.load(std::sync::atomic::Ordering::Relaxed) >= 1
    })
    .await
    .unwrap();

    say(&fake, &ann, "4", "3 + 4 = 7 (v2)").await;
    say(&fake, &bob, "1", SECOND).await;
    say(&fake, &bob, "2", "1 + 2 = 3 (v2)").await;
    // The trapping step never happened: Cid's dialogue still waits for the second number.
    say(&fake, &cid, "20", "10 + 20 = 30 (v2)").await;
    assert_eq!(bot_texts(&fake, ann.id), [FIRST, SECOND, "3 + 4 = 7 (v2)"]);
    assert_eq!(bot_texts(&fake, bob.id), [FIRST, SECOND, "1 + 2 = 3 (v2)"]);
    assert_eq!(
        bot_texts(&fake, cid.id),
        [FIRST, SECOND, "10 + 20 = 30 (v2)"]
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_users_in_concurrent_dialogues_each_get_exactly_their_own_sums() {
    const USERS: i64 = 1000;
    const FIRST_ID: i64 = 500_000;
    let dir = tempfile::tempdir().unwrap();
    let fake = fast_fake();
    let rt = start(dialogue_config(
        dir.path(),
        &fake,
        &[COROUTINE_DIALOGUE],
        300,
    ))
    .await;
    let users: Vec<TestUser> = (0..USERS)
        .map(|i| TestUser::new(FIRST_ID + i, format!("U{i}")))
        .collect();
    let a = |i: i64| i * 3;
    let b = |i: i64| 7 - i;
    let long = Duration::from_secs(120);
    // Three rounds sent at once, each in another order, so the users' messages interleave: the
    // runtime keeps each chat's order, nothing else.
    for u in &users {
        fake.send_text(u, "/sum");
    }
    for (i, u) in users.iter().enumerate().rev() {
        fake.send_text(u, a(i as i64).to_string());
    }
    for (i, u) in users.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
        fake.send_text(u, b(i as i64).to_string());
    }
    for (i, u) in users.iter().enumerate().filter(|(i, _)| i % 2 == 1).rev() {
        fake.send_text(u, b(i as i64).to_string());
    }
    fake.wait_until(long, |v| users.iter().all(|u| v.bot_texts(u.id).len() >= 3))
        .await
        .unwrap();
    for (i, u) in users.iter().enumerate() {
        let (a, b) = (a(i as i64), b(i as i64));
        assert_eq!(
            bot_texts(&fake, u.id),
            [FIRST, SECOND, &format!("{a} + {b} = {}", a + b)],
            "user {i}"
        );
    }
    rt.stop().await;
}
