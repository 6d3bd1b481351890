//! Button presses and answerCallbackQuery.

use fake_bot_api::{ChatEvent, TestUser};
use teloxide_core::{
    ApiError, RequestError,
    prelude::*,
    types::{CallbackQueryId, InlineKeyboardButton, InlineKeyboardMarkup, UpdateKind},
};

use super::support::{start, updates};

#[tokio::test]
async fn a_pressed_button_arrives_as_a_callback_query_that_can_be_answered_once() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.send_text(&alice, "menu");
    let sent = bot
        .send_message(ChatId(alice.id), "Choose")
        .reply_markup(InlineKeyboardMarkup::new([[
            InlineKeyboardButton::callback("Tea", "drink:tea"),
            InlineKeyboardButton::callback("Coffee", "drink:coffee"),
        ]]))
        .await
        .expect("sent");
    assert!(
        fake.press_button(&alice, alice.id, i64::from(sent.id.0), "drink:beer")
            .is_err()
    );
    let by_data = fake
        .press_button(&alice, alice.id, i64::from(sent.id.0), "drink:tea")
        .expect("the button exists");
    let by_label = fake
        .press_inline_label(&alice, alice.id, "Coffee")
        .expect("the button exists");
    assert_eq!(by_label, by_data + 1);

    let updates = updates(&bot).await;
    let UpdateKind::CallbackQuery(query) = &updates[1].kind else {
        panic!("expected a callback query, got {:?}", updates[1].kind);
    };
    assert_eq!(query.data.as_deref(), Some("drink:tea"));
    assert_eq!(query.from.id, UserId(1001));
    let message = query
        .regular_message()
        .expect("the message with the button");
    assert_eq!(message.id, sent.id);
    assert_eq!(message.text(), Some("Choose"));

    let mut events = fake.subscribe();
    bot.answer_callback_query(query.id.clone())
        .text("Tea it is")
        .await
        .expect("answered");
    let twice = bot
        .answer_callback_query(query.id.clone())
        .await
        .expect_err("answered before");
    assert!(
        matches!(twice, RequestError::Api(ApiError::Unknown(ref d)) if d.contains("query ID is invalid")),
        "{twice:?}"
    );

    let answered = fake.answered_callbacks();
    assert_eq!(answered.len(), 1);
    assert_eq!(
        (answered[0].data.as_str(), answered[0].text.as_deref()),
        ("drink:tea", Some("Tea it is"))
    );
    assert!(matches!(
        events.recv().await,
        Ok(ChatEvent::CallbackAnswered { chat_id: 1001, .. })
    ));
}

#[tokio::test]
async fn an_unknown_callback_query_id_is_too_old() {
    let (_fake, bot) = start();
    let error = bot
        .answer_callback_query(CallbackQueryId("123".to_owned()))
        .await
        .expect_err("never pressed");
    let RequestError::Api(ApiError::Unknown(description)) = error else {
        panic!("expected Telegram's description, got {error:?}");
    };
    assert_eq!(
        description,
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    );
}

#[tokio::test]
async fn pressing_needs_a_bot_message_with_that_button() {
    let (fake, _bot) = start();
    let alice = TestUser::alice();
    fake.send_text(&alice, "hi");
    assert!(
        fake.press_button(&alice, alice.id, 1, "x").is_err(),
        "a user message has no buttons"
    );
    assert!(fake.press_inline_label(&alice, alice.id, "Nope").is_err());
    assert!(
        fake.press_button(&alice, 555, 1, "x").is_err(),
        "no such chat"
    );
}
