//! getMe and getUpdates.

use fake_bot_api::TestUser;
use serde_json::json;
use teloxide_core::{
    ApiError, RequestError,
    prelude::*,
    types::{AllowedUpdate, ChatKind, MessageEntityKind, UpdateKind},
};

use super::support::{PATIENCE, message_of, post_json, start, updates};

#[tokio::test]
async fn get_me_returns_the_configured_bot() {
    let (fake, bot) = start();
    let me = bot.get_me().await.expect("getMe");
    assert_eq!(me.username(), "botbox_test_bot");
    assert_eq!(me.id, UserId(123_456));
    assert!(me.is_bot);
    assert_eq!(fake.bot_username(), "botbox_test_bot");
}

#[tokio::test]
async fn an_injected_text_arrives_as_a_message_teloxide_parses() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    let update_id = fake.send_text(&alice, "/start now");

    let updates = updates(&bot).await;
    assert_eq!(updates.len(), 1);
    assert_eq!(i64::from(updates[0].id.0), update_id);
    let message = message_of(&updates[0]);
    assert_eq!(message.text(), Some("/start now"));
    assert_eq!(message.chat.id, ChatId(alice.id));
    assert!(matches!(message.chat.kind, ChatKind::Private(_)));
    let from = message.from.as_ref().expect("a sender");
    assert_eq!(from.username.as_deref(), Some("alice"));
    assert!(!from.is_bot);
    let entities = message.entities().expect("the command is an entity");
    assert_eq!(entities[0].kind, MessageEntityKind::BotCommand);
    assert_eq!((entities[0].offset, entities[0].length), (0, 6));
}

#[tokio::test]
async fn get_updates_confirms_earlier_updates_with_offset() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    let first = fake.send_text(&alice, "one");
    let second = fake.send_text(&alice, "two");
    assert_eq!(second, first + 1);

    assert_eq!(
        updates(&bot).await.len(),
        2,
        "nothing is confirmed without an offset"
    );
    let rest = bot
        .get_updates()
        .offset(second as i32)
        .await
        .expect("getUpdates");
    assert_eq!(rest.len(), 1);
    assert_eq!(message_of(&rest[0]).text(), Some("two"));
    assert_eq!(fake.pending_updates(), 1);
    let none = bot
        .get_updates()
        .offset(second as i32 + 1)
        .await
        .expect("getUpdates");
    assert!(none.is_empty());
    assert_eq!(fake.pending_updates(), 0);
}

#[tokio::test]
async fn get_updates_with_a_negative_offset_forgets_all_but_the_last_updates() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    for text in ["a", "b", "c"] {
        fake.send_text(&alice, text);
    }
    let last = bot.get_updates().offset(-1).await.expect("getUpdates");
    assert_eq!(last.len(), 1);
    assert_eq!(message_of(&last[0]).text(), Some("c"));
    assert_eq!(fake.pending_updates(), 1, "the earlier ones are forgotten");
}

#[tokio::test]
async fn get_updates_returns_at_most_limit_updates() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    for n in 0..5 {
        fake.send_text(&alice, format!("message {n}"));
    }
    let two = bot.get_updates().limit(2).await.expect("getUpdates");
    assert_eq!(two.len(), 2);
    assert_eq!(message_of(&two[1]).text(), Some("message 1"));
    assert_eq!(updates(&bot).await.len(), 5);
}

#[tokio::test]
async fn a_long_poll_returns_as_soon_as_an_update_arrives() {
    let (fake, bot) = start();
    let poll = tokio::spawn(async move { bot.get_updates().timeout(50).await });
    fake.wait_until(PATIENCE, |view| view.waiting_polls() == 1)
        .await
        .expect("the poll waits");
    fake.send_text(&TestUser::bob(), "wake up");
    let updates = tokio::time::timeout(PATIENCE, poll)
        .await
        .expect("the long poll returns before its timeout")
        .expect("the task does not panic")
        .expect("getUpdates succeeds");
    assert_eq!(message_of(&updates[0]).text(), Some("wake up"));
}

#[tokio::test]
async fn a_long_poll_its_client_gives_up_on_is_counted_as_abandoned_and_an_answered_one_is_not() {
    let (fake, bot) = start();
    bot.get_updates()
        .timeout(0)
        .await
        .expect("an answered poll");
    assert_eq!(fake.view(|v| v.abandoned_polls()), 0);
    // Given up by asking again: the newer poll replaces the waiting one.
    let first = tokio::spawn({
        let bot = bot.clone();
        async move { bot.get_updates().timeout(50).await }
    });
    fake.wait_until(PATIENCE, |view| view.waiting_polls() == 1)
        .await
        .expect("the first poll waits");
    bot.get_updates().await.expect("the newer poll is answered");
    let _ = first.await;
    assert_eq!(fake.view(|v| v.abandoned_polls()), 1);
}

#[tokio::test]
async fn a_long_poll_without_updates_answers_an_empty_list_at_its_timeout() {
    let (_fake, bot) = start();
    let updates = bot.get_updates().timeout(1).await.expect("getUpdates");
    assert!(updates.is_empty());
}

#[tokio::test]
async fn a_newer_get_updates_ends_a_waiting_one_with_a_conflict() {
    let (fake, bot) = start();
    let first = tokio::spawn({
        let bot = bot.clone();
        async move { bot.get_updates().timeout(50).await }
    });
    fake.wait_until(PATIENCE, |view| view.waiting_polls() == 1)
        .await
        .expect("the first poll waits");
    bot.get_updates().await.expect("the newer poll is answered");
    let error = tokio::time::timeout(PATIENCE, first)
        .await
        .expect("the first poll is ended")
        .expect("no panic")
        .expect_err("a conflict");
    assert!(
        matches!(
            error,
            RequestError::Api(ApiError::TerminatedByOtherGetUpdates)
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn allowed_updates_are_remembered_between_calls() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    bot.get_updates()
        .allowed_updates([AllowedUpdate::EditedMessage])
        .await
        .expect("getUpdates");
    fake.send_text(&alice, "filtered out");
    assert!(
        updates(&bot).await.is_empty(),
        "the setting outlives the call"
    );

    bot.get_updates()
        .allowed_updates([])
        .await
        .expect("getUpdates");
    fake.send_text(&alice, "let through");
    let all = updates(&bot).await;
    assert_eq!(all.len(), 1);
    assert_eq!(message_of(&all[0]).text(), Some("let through"));
}

#[tokio::test]
async fn group_messages_carry_the_group_chat_and_edits_arrive_as_edited_messages() {
    let (fake, bot) = start();
    let bob = TestUser::bob();
    fake.send_text_in_group(-1_001_234_567_890, "Botbox fans", &bob, "hi all");
    let message_id = fake.transcript(-1_001_234_567_890)[0].message_id;
    fake.edit_text(&bob, -1_001_234_567_890, message_id, "hi everyone")
        .expect("bob's own message");

    let updates = updates(&bot).await;
    let message = message_of(&updates[0]);
    assert_eq!(message.chat.title(), Some("Botbox fans"));
    assert!(message.chat.is_supergroup());
    match &updates[1].kind {
        UpdateKind::EditedMessage(edited) => {
            assert_eq!(edited.text(), Some("hi everyone"));
            assert!(edited.edit_date().is_some());
        }
        other => panic!("expected an edited message, got {other:?}"),
    }
    assert!(
        fake.edit_text(&TestUser::alice(), -1_001_234_567_890, message_id, "x")
            .is_err()
    );
}

#[tokio::test]
async fn raw_updates_are_delivered_exactly_as_given() {
    let (fake, bot) = start();
    fake.inject_raw_update(json!({ "update_id": 77, "some_future_kind": { "x": 1 } }));
    let parsed = updates(&bot).await;
    assert_eq!(parsed[0].id.0, 77);
    assert!(matches!(parsed[0].kind, UpdateKind::Error(_)));
    bot.get_updates().offset(78).await.expect("confirm");

    let id = fake.inject_raw_body("{\"update_id\": 78, \"message\": ");
    assert_eq!(id, 78);
    let error = bot.get_updates().await.expect_err("the answer is not JSON");
    assert!(
        matches!(error, RequestError::InvalidJson { .. }),
        "{error:?}"
    );
    let response = reqwest::get(super::support::method_url(&fake, "getUpdates"))
        .await
        .expect("answer")
        .text()
        .await
        .expect("text");
    assert_eq!(
        response,
        "{\"ok\":true,\"result\":[{\"update_id\": 78, \"message\": ]}"
    );
    let (status, _) = post_json(&fake, "getUpdates", json!({ "offset": 79 })).await;
    assert_eq!(status, 200);
    assert_eq!(fake.pending_updates(), 0);
}

#[tokio::test]
async fn shutdown_ends_long_polls_and_stops_answering() {
    let (fake, bot) = start();
    let poll = tokio::spawn({
        let bot = bot.clone();
        async move { bot.get_updates().timeout(50).await }
    });
    fake.wait_until(PATIENCE, |view| view.waiting_polls() == 1)
        .await
        .expect("the poll waits");
    fake.shutdown();
    let ended = tokio::time::timeout(PATIENCE, poll)
        .await
        .expect("the poll ends at once")
        .expect("no panic")
        .expect("an empty answer");
    assert!(ended.is_empty());
    let refused = tokio::time::timeout(PATIENCE, bot.get_me())
        .await
        .expect("no hang");
    assert!(
        matches!(refused, Err(RequestError::Network(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn waiting_in_vain_reports_every_chat() {
    let (fake, _bot) = start();
    fake.send_text(&TestUser::alice(), "is anybody there?");
    let error = fake
        .wait_for_bot_text(1001, "hello", std::time::Duration::ZERO)
        .await
        .expect_err("the bot never answers");
    let report = format!("{error:#}");
    assert!(report.contains("chat 1001:"), "{report}");
    assert!(
        report.contains("#1 user: \"is anybody there?\""),
        "{report}"
    );
}
