//! Chats a test opens beforehand, and groups that become supergroups.

use std::time::Instant;

use fake_bot_api::TestUser;
use serde_json::json;
use teloxide_core::{
    ApiError, RequestError,
    prelude::*,
    types::{MessageId, UpdateKind},
};

use super::support::{post_json, start, updates};

#[tokio::test]
async fn an_opened_chat_takes_messages_without_an_update_being_queued() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    assert_eq!(fake.pending_updates(), 0);
    let sent = bot
        .send_message(ChatId(alice.id), "news")
        .await
        .expect("the chat exists");
    assert_eq!(sent.id, MessageId(1));
    assert_eq!(sent.chat.username(), Some("alice"));
    assert_eq!(fake.bot_texts(alice.id), ["news"]);
    let chat = bot.get_chat(ChatId(alice.id)).await.expect("getChat");
    assert!(chat.is_private());
}

#[tokio::test]
async fn ten_thousand_chats_open_at_once_in_well_under_a_second() {
    let (fake, bot) = start();
    let users: Vec<TestUser> = (1..=10_000)
        .map(|id| TestUser::new(1_000_000 + id, format!("R{id}")))
        .collect();
    let started = Instant::now();
    fake.open_chats(&users);
    let took = started.elapsed();
    assert!(took.as_secs_f64() < 1.0, "opening took {took:?}");
    assert_eq!(fake.view(|view| view.chat_ids().len()), 10_000);
    assert_eq!(fake.pending_updates(), 0);
    // Owned users work too; opening an open chat again changes nothing.
    fake.open_chats([TestUser::new(1_000_001, "R1")]);
    bot.send_message(ChatId(1_010_000), "the last one")
        .await
        .expect("open");
}

#[tokio::test]
async fn a_migrated_group_answers_migrate_to_chat_id_and_its_supergroup_takes_the_messages() {
    const OLD: i64 = -4_000_100;
    const NEW: i64 = -1_002_000_000_100;
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.send_text_in_group(OLD, "Friends", &alice, "hi all");
    let before = bot
        .send_message(ChatId(OLD), "before")
        .await
        .expect("a group");
    fake.migrate_group(OLD, NEW);

    let error = bot
        .send_message(ChatId(OLD), "after")
        .await
        .expect_err("migrated");
    assert!(
        matches!(error, RequestError::MigrateToChatId(ChatId(NEW))),
        "{error:?}"
    );
    let edit = bot
        .edit_message_text(ChatId(OLD), before.id, "edited")
        .await
        .expect_err("migrated");
    assert!(
        matches!(edit, RequestError::MigrateToChatId(ChatId(NEW))),
        "{edit:?}"
    );
    let (status, body) = post_json(
        &fake,
        "sendMessage",
        json!({ "chat_id": OLD, "text": "raw" }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({
            "ok": false,
            "error_code": 400,
            "description": "Bad Request: group chat was upgraded to a supergroup chat",
            "parameters": { "migrate_to_chat_id": NEW },
        })
    );

    let moved = bot
        .send_message(ChatId(NEW), "after")
        .await
        .expect("the supergroup exists");
    assert!(moved.chat.is_supergroup(), "{:?}", moved.chat);
    assert_eq!(moved.chat.title(), Some("Friends"));
    assert_eq!(fake.bot_texts(NEW), ["after"]);
    let old: Vec<String> = fake.transcript(OLD).into_iter().map(|e| e.text).collect();
    assert_eq!(
        old,
        ["hi all", "before"],
        "the old group keeps its messages"
    );

    fake.send_text_in_group(NEW, "Friends", &alice, "moved in");
    let updates = updates(&bot).await;
    let UpdateKind::Message(message) = &updates[1].kind else {
        panic!("expected a message, got {:?}", updates[1].kind);
    };
    assert!(message.chat.is_supergroup(), "{:?}", message.chat);
}

#[tokio::test]
async fn an_unknown_old_group_still_migrates() {
    let (fake, bot) = start();
    fake.migrate_group(-7, -8);
    let error = bot
        .send_message(ChatId(-7), "x")
        .await
        .expect_err("migrated");
    assert!(
        matches!(error, RequestError::MigrateToChatId(ChatId(-8))),
        "{error:?}"
    );
    let error = bot.get_chat(ChatId(-7)).await.expect_err("migrated");
    assert!(matches!(error, RequestError::MigrateToChatId(ChatId(-8))));
    bot.send_message(ChatId(-8), "x").await.expect("open");
    let error = bot
        .send_message(ChatId(-9), "x")
        .await
        .expect_err("never opened");
    assert!(matches!(error, RequestError::Api(ApiError::ChatNotFound)));
}
