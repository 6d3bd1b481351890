//! pinChatMessage, unpinChatMessage, unpinAllChatMessages and getChat's `pinned_message`.

use fake_bot_api::TestUser;
use serde_json::json;
use teloxide_core::{
    ApiError, RequestError,
    prelude::*,
    types::{InputFile, MessageId},
};

use super::support::{post_json, start};

#[tokio::test]
async fn a_pinned_document_shows_in_get_chat_with_its_caption() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let chat = bot.get_chat(ChatId(alice.id)).await.expect("getChat");
    assert!(chat.pinned_message.is_none());

    let sent = bot
        .send_document(
            ChatId(alice.id),
            InputFile::memory(&b"manifest"[..]).file_name("manifest.txt"),
        )
        .caption("backup manifest")
        .await
        .expect("sent");
    bot.pin_chat_message(ChatId(alice.id), sent.id)
        .disable_notification(true)
        .await
        .expect("pinned");

    let chat = bot.get_chat(ChatId(alice.id)).await.expect("getChat");
    let pinned = chat.pinned_message.expect("a pinned message");
    assert_eq!(pinned.id, sent.id);
    assert_eq!(pinned.caption(), Some("backup manifest"));
    let document = pinned.document().expect("the document");
    assert_eq!(document.file_name.as_deref(), Some("manifest.txt"));
    assert_eq!(document.file.id, sent.document().expect("sent").file.id);

    let entry = fake.pinned_message(alice.id).expect("pinned");
    assert_eq!(entry.message_id, i64::from(sent.id.0));
    assert_eq!(entry.text, "backup manifest");
}

#[tokio::test]
async fn the_most_recent_pin_wins_and_unpinning_uncovers_the_previous_one() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let first = bot
        .send_message(ChatId(alice.id), "first")
        .await
        .expect("sent");
    let second = bot
        .send_message(ChatId(alice.id), "second")
        .await
        .expect("sent");
    bot.pin_chat_message(ChatId(alice.id), first.id)
        .await
        .expect("pinned");
    bot.pin_chat_message(ChatId(alice.id), second.id)
        .await
        .expect("pinned");
    let chat = bot.get_chat(ChatId(alice.id)).await.expect("getChat");
    assert_eq!(chat.pinned_message.expect("pinned").text(), Some("second"));
    let order: Vec<String> = fake
        .pinned_messages(alice.id)
        .into_iter()
        .map(|e| e.text)
        .collect();
    assert_eq!(order, ["second", "first"]);

    // Without message_id: the most recent pin.
    bot.unpin_chat_message(ChatId(alice.id))
        .await
        .expect("unpinned");
    let chat = bot.get_chat(ChatId(alice.id)).await.expect("getChat");
    assert_eq!(chat.pinned_message.expect("pinned").text(), Some("first"));

    bot.unpin_chat_message(ChatId(alice.id))
        .message_id(first.id)
        .await
        .expect("unpinned");
    let chat = bot.get_chat(ChatId(alice.id)).await.expect("getChat");
    assert!(chat.pinned_message.is_none());
    assert!(fake.pinned_message(alice.id).is_none());

    // Nothing left to unpin.
    let error = bot
        .unpin_chat_message(ChatId(alice.id))
        .await
        .expect_err("nothing pinned");
    assert!(
        matches!(&error, RequestError::Api(ApiError::Unknown(d)) if d == "Bad Request: message to unpin not found"),
        "{error:?}"
    );
}

#[tokio::test]
async fn unpin_all_and_deleting_a_pinned_message_clear_the_pin() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let a = bot.send_message(ChatId(alice.id), "a").await.expect("sent");
    let b = bot.send_message(ChatId(alice.id), "b").await.expect("sent");
    bot.pin_chat_message(ChatId(alice.id), a.id)
        .await
        .expect("pinned");
    bot.pin_chat_message(ChatId(alice.id), b.id)
        .await
        .expect("pinned");
    bot.unpin_all_chat_messages(ChatId(alice.id))
        .await
        .expect("unpinned");
    assert!(fake.pinned_messages(alice.id).is_empty());

    bot.pin_chat_message(ChatId(alice.id), a.id)
        .await
        .expect("pinned");
    bot.delete_message(ChatId(alice.id), a.id)
        .await
        .expect("deleted");
    let chat = bot.get_chat(ChatId(alice.id)).await.expect("getChat");
    assert!(chat.pinned_message.is_none());
}

#[tokio::test]
async fn pinning_a_missing_message_or_in_an_unknown_chat_fails_as_telegram_does() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let error = bot
        .pin_chat_message(ChatId(alice.id), MessageId(99))
        .await
        .expect_err("no such message");
    assert!(
        matches!(&error, RequestError::Api(ApiError::Unknown(d)) if d == "Bad Request: message to pin not found"),
        "{error:?}"
    );
    let error = bot
        .pin_chat_message(ChatId(4242), MessageId(1))
        .await
        .expect_err("no such chat");
    assert!(
        matches!(error, RequestError::Api(ApiError::ChatNotFound)),
        "{error:?}"
    );
    let error = bot
        .unpin_all_chat_messages(ChatId(4242))
        .await
        .expect_err("no such chat");
    assert!(
        matches!(error, RequestError::Api(ApiError::ChatNotFound)),
        "{error:?}"
    );

    let (status, body) = post_json(
        &fake,
        "pinChatMessage",
        json!({ "chat_id": alice.id, "message_id": 99 }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({
            "ok": false,
            "error_code": 400,
            "description": "Bad Request: message to pin not found",
        })
    );
}
