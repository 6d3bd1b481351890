//! The first outbox: tickets, buttons, 429s, unreachable chats.

use std::time::Duration;

use crate::support::*;
use botbox_test_artifacts::{CLICKER, ECHO};
use fake_bot_api::Failure;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_is_edited_through_its_ticket_before_it_was_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let rt = start(config(dir.path(), &fake, &[ECHO])).await;
    let alice = TestUser::alice();
    fake.send_text(&alice, "/edit");
    let msg = fake.wait_for_bot_text(alice.id, "v2", WAIT).await.unwrap();
    assert_eq!(msg.edits, 1);
    assert_eq!(
        bot_texts(&fake, alice.id),
        ["v2"],
        "one message, edited in place"
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_button_press_returns_to_the_module_that_drew_it_with_its_own_data() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    // The clicker is loaded too: the press must reach echo only.
    let rt = start(config(dir.path(), &fake, &[CLICKER, ECHO])).await;
    let alice = TestUser::alice();
    fake.send_text(&alice, "/buttons");
    let msg = fake
        .wait_for_bot_text(alice.id, "Pick one", WAIT)
        .await
        .unwrap();
    let data = msg
        .inline_button("B")
        .unwrap()
        .callback_data
        .clone()
        .unwrap();
    assert!(
        data.ends_with(":b") && data.len() <= 64,
        "tagged data: {data}"
    );
    fake.press_inline_label(&alice, alice.id, "B").unwrap();
    fake.wait_for_bot_text(alice.id, "pressed: b", WAIT)
        .await
        .unwrap();
    fake.wait_until(WAIT, |v| v.answered_callbacks().len() == 1)
        .await
        .unwrap();
    let clicker = rt.modules().remove("clicker").unwrap();
    assert_eq!(clicker.calls.load(std::sync::atomic::Ordering::Relaxed), 0);
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_waited_out_and_the_reply_arrives_once() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let rt = start(config(dir.path(), &fake, &[ECHO])).await;
    fake.fail_next("sendMessage", 1, Failure::RetryAfter(1));
    let alice = TestUser::alice();
    send_expecting(&fake, &alice, "hello", "echo: hello").await;
    assert_eq!(bot_texts(&fake, alice.id), ["echo: hello"]);
    assert_eq!(
        rt.outbox_stats()
            .rate_limited
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_who_blocked_the_bot_costs_nothing_and_others_are_still_served() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let rt = start(config(dir.path(), &fake, &[ECHO])).await;
    let (alice, bob) = (TestUser::alice(), TestUser::bob());
    send_expecting(&fake, &alice, "first", "echo: first").await;
    fake.set_blocked(&alice, true);
    fake.send_text(&alice, "second");
    send_expecting(&fake, &bob, "hi", "echo: hi").await;
    // The refused message is given up, not retried forever: the outbox drains.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !rt.db().outbox().unwrap().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "outbox never drained"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(bot_texts(&fake, alice.id), ["echo: first"]);
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_or_a_broken_answer_is_retried_with_backoff_and_delivered_once() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let rt = start(config(dir.path(), &fake, &[ECHO])).await;
    // A proxy's HTML error page (not JSON), then a Telegram-shaped 502.
    fake.fail_next(
        "sendMessage",
        1,
        Failure::Raw {
            status: 502,
            body: "<html>Bad Gateway</html>".into(),
        },
    );
    fake.fail_next("sendMessage", 1, Failure::status(502));
    let alice = TestUser::alice();
    fake.send_text(&alice, "again");
    fake.wait_for_bot_text(alice.id, "echo: again", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(bot_texts(&fake, alice.id), ["echo: again"]);
    assert_eq!(
        rt.outbox_stats()
            .failed
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_longer_than_ten_tries_loses_no_reply() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let mut c = config(dir.path(), &fake, &[ECHO]);
    c.outbox.retry_max_backoff_ms = 100;
    let rt = start(c).await;
    // Fifteen failures in a row (with short waits: the backoff is capped at 100 ms here):
    // answers that are not JSON, as a broken proxy gives.
    fake.fail_next(
        "sendMessage",
        15,
        Failure::Raw {
            status: 200,
            body: "<html>garbage</html>".into(),
        },
    );
    let alice = TestUser::alice();
    fake.send_text(&alice, "still there?");
    fake.wait_for_bot_text(alice.id, "echo: still there?", Duration::from_secs(60))
        .await
        .expect("delivered after the outage");
    assert_eq!(bot_texts(&fake, alice.id), ["echo: still there?"]);
    let failed = || {
        rt.outbox_stats()
            .failed
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    assert_eq!(failed(), 0);
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_failing_for_longer_than_retry_for_secs_is_given_up_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let mut c = config(dir.path(), &fake, &[ECHO]);
    c.outbox.retry_max_backoff_ms = 100;
    c.outbox.retry_for_secs = 1;
    let rt = start(c).await;
    fake.fail_all(
        "sendMessage",
        Duration::from_secs(600),
        Failure::status(502),
    );
    let alice = TestUser::alice();
    fake.send_text(&alice, "anyone?");
    let failed = || {
        rt.outbox_stats()
            .failed
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let started = tokio::time::Instant::now();
    while failed() == 0 {
        assert!(started.elapsed() < WAIT, "never given up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(bot_texts(&fake, alice.id), Vec::<String>::new());
    rt.stop().await;
}
