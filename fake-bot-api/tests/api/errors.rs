//! Rate limits, forced failures, blocked users, tokens and method names.

use std::time::Duration;

use fake_bot_api::{Failure, FakeConfig, Limits, TestUser};
use serde_json::json;
use teloxide_core::{
    ApiError, Bot, RequestError,
    prelude::*,
    types::{ChatMemberKind, Seconds, UpdateKind},
};

use super::support::{post_json, start, start_with, updates};

#[tokio::test]
async fn exceeding_the_chat_burst_is_429_with_retry_after_and_nothing_is_delivered() {
    let (fake, bot) = start_with(FakeConfig {
        limits: Limits {
            chat_burst: 3,
            chat_window: Duration::from_secs(3600),
            ..Limits::default()
        },
        ..FakeConfig::default()
    });
    let alice = TestUser::alice();
    fake.send_text(&alice, "spam me");
    for n in 0..3 {
        bot.send_message(ChatId(alice.id), format!("#{n}"))
            .await
            .expect("within the burst");
    }
    let error = bot
        .send_message(ChatId(alice.id), "#3")
        .await
        .expect_err("over the burst");
    let RequestError::RetryAfter(after) = error else {
        panic!("expected RetryAfter, got {error:?}");
    };
    assert!(after >= Seconds::from_seconds(3599), "{after:?}");
    assert_eq!(fake.bot_texts(alice.id).len(), 3);
    assert_eq!(fake.counters().too_many_requests, 1);

    fake.send_text(&TestUser::bob(), "hi");
    bot.send_message(ChatId(1002), "other chats are not limited")
        .await
        .expect("sent");
    let (status, body) = post_json(
        &fake,
        "sendMessage",
        json!({ "chat_id": 1001, "text": "x" }),
    )
    .await;
    assert_eq!(status, 429);
    assert_eq!(body["error_code"], 429);
    assert_eq!(
        body["parameters"]["retry_after"],
        body["description"]
            .as_str()
            .and_then(|d| d.rsplit(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .expect("a number")
    );
}

#[tokio::test]
async fn forced_failures_answer_the_next_calls_and_then_stop() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.send_text(&alice, "hi");
    fake.fail_next("sendMessage", 1, Failure::RetryAfter(2));
    fake.fail_next("SENDMESSAGE", 1, Failure::status(500));
    fake.fail_next(
        "sendMessage",
        1,
        Failure::Raw {
            status: 502,
            body: "<html>Bad Gateway</html>".to_owned(),
        },
    );

    let first = bot
        .send_message(ChatId(alice.id), "1")
        .await
        .expect_err("forced 429");
    assert!(
        matches!(first, RequestError::RetryAfter(s) if s == Seconds::from_seconds(2)),
        "{first:?}"
    );
    // teloxide sleeps 10 s after a 5xx, so the 5xx answers are checked with plain requests.
    let (status, body) = post_json(
        &fake,
        "sendMessage",
        json!({ "chat_id": alice.id, "text": "2" }),
    )
    .await;
    assert_eq!(
        (status, body["description"].as_str()),
        (500, Some("Internal Server Error"))
    );
    let raw = reqwest::Client::new()
        .post(super::support::method_url(&fake, "sendMessage"))
        .json(&json!({ "chat_id": alice.id, "text": "3" }))
        .send()
        .await
        .expect("an answer");
    assert_eq!(raw.status().as_u16(), 502);
    assert_eq!(raw.text().await.expect("body"), "<html>Bad Gateway</html>");

    bot.send_message(ChatId(alice.id), "4")
        .await
        .expect("failures are used up");
    assert_eq!(fake.bot_texts(alice.id), ["4"]);
}

#[tokio::test]
async fn a_user_who_blocked_the_bot_gives_403_and_a_my_chat_member_update() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.send_text(&alice, "bye");
    fake.set_blocked(&alice, true);
    let error = bot
        .send_message(ChatId(alice.id), "wait!")
        .await
        .expect_err("blocked");
    assert!(
        matches!(error, RequestError::Api(ApiError::BotBlocked)),
        "{error:?}"
    );

    let updates = updates(&bot).await;
    let UpdateKind::MyChatMember(member) = &updates[1].kind else {
        panic!("expected my_chat_member, got {:?}", updates[1].kind);
    };
    assert!(matches!(
        member.new_chat_member.kind,
        ChatMemberKind::Banned(_)
    ));

    fake.set_blocked(&alice, false);
    bot.send_message(ChatId(alice.id), "welcome back")
        .await
        .expect("unblocked");
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized() {
    let (fake, _bot) = start();
    let impostor = Bot::new("123456:WRONG").set_api_url(fake.api_url());
    let error = impostor.get_me().await.expect_err("wrong token");
    assert!(
        matches!(error, RequestError::Api(ApiError::InvalidToken)),
        "{error:?}"
    );
    let status = reqwest::get(format!("{}bot123456:WRONG/getMe", fake.api_url()))
        .await
        .expect("an answer")
        .status();
    assert_eq!(status.as_u16(), 401);
}

#[tokio::test]
async fn method_names_are_case_insensitive_and_every_encoding_is_accepted() {
    let (fake, _bot) = start();
    let alice = TestUser::alice();
    fake.send_text(&alice, "hi");
    let client = reqwest::Client::new();
    let form = client
        .post(super::support::method_url(&fake, "SENDMESSAGE"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("chat_id=1001&text=from+a+form&reply_markup=%7B%22inline_keyboard%22%3A%5B%5B%7B%22text%22%3A%22A%22%2C%22callback_data%22%3A%22a%22%7D%5D%5D%7D")
        .send()
        .await
        .expect("an answer");
    assert_eq!(form.status().as_u16(), 200);
    let query = client
        .get(format!(
            "{}?chat_id=1001&text=from%20a%20query",
            super::support::method_url(&fake, "sendmessage")
        ))
        .send()
        .await
        .expect("an answer");
    assert_eq!(query.status().as_u16(), 200);
    assert_eq!(fake.bot_texts(alice.id), ["from a form", "from a query"]);
    assert!(fake.transcript(alice.id)[1].inline_button("A").is_some());

    let (status, body) = post_json(&fake, "noSuchMethod", json!({})).await;
    assert_eq!(
        (status, body["description"].as_str()),
        (404, Some("Not Found"))
    );
}
