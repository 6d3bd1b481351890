//! Slow answers and 429 storms a test forces.

use std::time::{Duration, Instant};

use fake_bot_api::{Failure, TestUser};
use serde_json::json;
use teloxide_core::{RequestError, prelude::*, types::Seconds};

use super::support::{method_url, start};

/// POSTs a sendMessage to `chat_id` with a client that gives up after `timeout`.
async fn send_with_timeout(
    fake: &fake_bot_api::FakeBotApi,
    chat_id: i64,
    text: &str,
    timeout: Duration,
) -> reqwest::Result<reqwest::Response> {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .expect("a client")
        .post(method_url(fake, "sendMessage"))
        .json(&json!({ "chat_id": chat_id, "text": text }))
        .send()
        .await
}

#[tokio::test]
async fn a_delayed_call_runs_late_and_not_at_all_if_the_client_gave_up() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    fake.fail_next("sendMessage", 1, Failure::Delay(Duration::from_millis(300)));
    let error = send_with_timeout(&fake, alice.id, "lost", Duration::from_millis(50))
        .await
        .expect_err("the client times out");
    assert!(error.is_timeout(), "{error:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(fake.bot_texts(alice.id).is_empty(), "nothing was delivered");

    fake.fail_next("sendMessage", 1, Failure::Delay(Duration::from_millis(200)));
    let started = Instant::now();
    bot.send_message(ChatId(alice.id), "late")
        .await
        .expect("answered normally");
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(fake.bot_texts(alice.id), ["late"]);
}

#[tokio::test]
async fn a_delayed_answer_hides_a_delivered_message_from_a_client_that_gave_up() {
    let (fake, _bot) = start();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    fake.fail_next(
        "sendMessage",
        1,
        Failure::DelayAnswer(Duration::from_secs(5)),
    );
    let error = send_with_timeout(&fake, alice.id, "sent", Duration::from_millis(100))
        .await
        .expect_err("the client times out");
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(fake.bot_texts(alice.id), ["sent"], "delivered all the same");
}

#[tokio::test]
async fn a_storm_fails_every_call_of_the_method_until_it_ends() {
    let (fake, bot) = start();
    let (alice, bob) = (TestUser::alice(), TestUser::bob());
    fake.open_chats([&alice, &bob]);
    fake.fail_all(
        "sendMessage",
        Duration::from_millis(400),
        Failure::RetryAfter(1),
    );
    fake.fail_next("sendMessage", 1, Failure::status(500));
    let (status, _) = super::support::post_json(
        &fake,
        "sendMessage",
        json!({ "chat_id": alice.id, "text": "first" }),
    )
    .await;
    assert_eq!(status, 500, "a queued failure comes before the storm");
    for user in [&alice, &bob, &alice] {
        let error = bot
            .send_message(ChatId(user.id), "stormy")
            .await
            .expect_err("storm");
        assert!(
            matches!(error, RequestError::RetryAfter(s) if s == Seconds::from_seconds(1)),
            "{error:?}"
        );
    }
    bot.get_me().await.expect("other methods are not affected");
    assert_eq!(fake.counters().too_many_requests, 3);
    assert_eq!(fake.too_many_requests_in(alice.id), 2);
    assert_eq!(fake.too_many_requests_in(bob.id), 1);

    tokio::time::sleep(Duration::from_millis(450)).await;
    bot.send_message(ChatId(alice.id), "calm")
        .await
        .expect("the storm is over");
    assert_eq!(fake.bot_texts(alice.id), ["calm"]);
}
