//! copyMessage, forwardMessage, setMessageReaction and editMessageCaption.

use fake_bot_api::TestUser;
use serde_json::json;
use teloxide_core::{
    prelude::*,
    types::{InputFile, MessageId, MessageOrigin, ReactionType},
};

use super::support::{png, post_json, start};

#[tokio::test]
async fn copies_and_forwards() {
    let (fake, bot) = start();
    let (alice, bob) = (TestUser::alice(), TestUser::bob());
    fake.send_text(&alice, "/start");
    fake.open_chat(&bob);
    let copied = bot
        .copy_message(ChatId(bob.id), ChatId(alice.id), MessageId(1))
        .await
        .expect("copied");
    let forwarded = bot
        .forward_message(ChatId(bob.id), ChatId(alice.id), MessageId(1))
        .await
        .expect("forwarded");
    assert_ne!(copied, forwarded.id);
    assert_eq!(forwarded.text(), Some("/start"));
    match forwarded.forward_origin() {
        Some(MessageOrigin::User { sender_user, .. }) => {
            assert_eq!(sender_user.first_name, "Alice");
        }
        other => panic!("expected a user origin, got {other:?}"),
    }
    let messages = fake.bot_messages(bob.id);
    assert_eq!(messages.len(), 2);
    assert!(
        fake.view(|view| view.describe())
            .contains("#1 bot: \"/start\"")
    );
    assert_eq!(messages[0]["text"], "/start");
    assert!(messages[0].get("forward_origin").is_none());

    let (_, answer) = post_json(
        &fake,
        "copyMessage",
        json!({ "chat_id": bob.id, "from_chat_id": alice.id, "message_id": 99 }),
    )
    .await;
    assert_eq!(
        answer["description"],
        "Bad Request: message to copy not found"
    );
    let (_, answer) = post_json(
        &fake,
        "forwardMessage",
        json!({ "chat_id": bob.id, "message_id": 1 }),
    )
    .await;
    assert_eq!(
        answer["description"],
        "Bad Request: parameter \"from_chat_id\" is required"
    );
}

#[tokio::test]
async fn reactions_are_recorded_and_captions_edited() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.send_text(&alice, "nice");
    bot.set_message_reaction(ChatId(alice.id), MessageId(1))
        .reaction(vec![ReactionType::Emoji {
            emoji: "👍".to_owned(),
        }])
        .await
        .expect("reacted");
    assert_eq!(fake.bot_reaction_on(alice.id, 1), ["👍"]);
    let (status, answer) = post_json(
        &fake,
        "setMessageReaction",
        json!({
            "chat_id": alice.id,
            "message_id": 1,
            "reaction": [{ "type": "emoji", "emoji": "👍" }, { "type": "emoji", "emoji": "🔥" }],
        }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(answer["description"], "Bad Request: REACTIONS_TOO_MANY");
    let (_, answer) = post_json(
        &fake,
        "setMessageReaction",
        json!({ "chat_id": alice.id, "message_id": 42, "reaction": [] }),
    )
    .await;
    assert_eq!(
        answer["description"],
        "Bad Request: message to react not found"
    );

    let photo = bot
        .send_photo(ChatId(alice.id), InputFile::memory(png(2, 2, 0)))
        .caption("v1")
        .await
        .expect("sent");
    let edited = bot
        .edit_message_caption(ChatId(alice.id), photo.id)
        .caption("v2")
        .await
        .expect("edited");
    assert_eq!(edited.caption(), Some("v2"));
    assert!(edited.photo().is_some());
    assert_eq!(fake.photos(alice.id)[0].caption, "v2");
    let error = bot
        .edit_message_caption(ChatId(alice.id), photo.id)
        .caption("v2")
        .await
        .expect_err("not modified");
    assert!(error.to_string().contains("not modified"), "{error}");
    let text = bot
        .send_message(ChatId(alice.id), "plain")
        .await
        .expect("sent");
    let (_, answer) = post_json(
        &fake,
        "editMessageCaption",
        json!({ "chat_id": alice.id, "message_id": text.id.0, "caption": "x" }),
    )
    .await;
    assert_eq!(
        answer["description"],
        "Bad Request: there is no caption in the message to edit"
    );
}

#[tokio::test]
async fn a_copied_poll_is_a_new_poll_and_a_copied_photo_keeps_its_file() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let (_, poll) = post_json(
        &fake,
        "sendPoll",
        json!({ "chat_id": alice.id, "question": "Q?", "options": ["a", "b"] }),
    )
    .await;
    let photo = bot
        .send_photo(ChatId(alice.id), InputFile::memory(png(6, 7, 0)))
        .caption("original")
        .await
        .expect("sent");
    for id in [
        poll["result"]["message_id"].as_i64().expect("an id"),
        photo.id.0 as i64,
    ] {
        let (status, answer) = post_json(
            &fake,
            "copyMessage",
            json!({ "chat_id": alice.id, "from_chat_id": alice.id, "message_id": id, "caption": "copy" }),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
    }
    let messages = fake.bot_messages(alice.id);
    assert_eq!(messages.len(), 4);
    assert_ne!(messages[2]["poll"]["id"], messages[0]["poll"]["id"]);
    assert_eq!(messages[3]["caption"], "copy");
    assert_eq!(messages[3]["photo"], messages[1]["photo"]);
    assert!(fake.view(|view| view.describe()).contains("(photo)"));
}
