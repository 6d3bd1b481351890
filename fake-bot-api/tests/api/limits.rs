//! Telegram's limits as the fake enforces them: per chat, per group, overall; edits count like
//! sends; button answers are free; every 429 is counted.

use std::time::Duration;

use fake_bot_api::{Failure, FakeBotApi, FakeConfig, Limits, TestUser};
use teloxide_core::{
    Bot, RequestError,
    prelude::*,
    types::{InlineKeyboardButton, InlineKeyboardMarkup, Message, UpdateKind},
};

use super::support::{start_with, updates};

/// Limits with long windows, so that nothing leaves a window during a test.
fn strict(limits: Limits) -> (FakeBotApi, Bot) {
    start_with(FakeConfig {
        limits,
        ..FakeConfig::default()
    })
}

const HOUR: Duration = Duration::from_secs(3600);

fn is_429(result: Result<Message, RequestError>) -> bool {
    matches!(result, Err(RequestError::RetryAfter(_)))
}

#[tokio::test]
async fn the_defaults_are_telegrams() {
    assert_eq!(
        Limits::default(),
        Limits {
            chat_burst: 3,
            chat_window: Duration::from_secs(1),
            group_per_minute: 20,
            global_per_second: 30,
        }
    );
}

#[tokio::test]
async fn edits_count_like_sends_and_button_answers_are_never_limited() {
    let (fake, bot) = strict(Limits {
        chat_burst: 2,
        chat_window: HOUR,
        ..Limits::default()
    });
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let keyboard = InlineKeyboardMarkup::new([[InlineKeyboardButton::callback("Press", "press")]]);
    let sent = bot
        .send_message(ChatId(alice.id), "v1")
        .reply_markup(keyboard.clone())
        .await
        .expect("first");
    bot.edit_message_text(ChatId(alice.id), sent.id, "v2")
        .reply_markup(keyboard.clone())
        .await
        .expect("second");
    assert!(is_429(
        bot.edit_message_text(ChatId(alice.id), sent.id, "v3")
            .reply_markup(keyboard)
            .await
    ));
    assert!(is_429(bot.send_message(ChatId(alice.id), "v4").await));

    for _ in 0..5 {
        fake.press_inline_label(&alice, alice.id, "Press")
            .expect("a button");
    }
    for update in updates(&bot).await {
        let UpdateKind::CallbackQuery(query) = update.kind else {
            continue;
        };
        bot.answer_callback_query(query.id)
            .await
            .expect("answers are not limited");
    }
    assert_eq!(fake.answered_callbacks().len(), 5);
    assert_eq!(fake.counters().too_many_requests, 2);
    assert_eq!(fake.too_many_requests_in(alice.id), 2);
}

#[tokio::test]
async fn the_global_window_spans_all_chats_and_groups_have_their_own_minute() {
    let (fake, bot) = strict(Limits {
        group_per_minute: 2,
        global_per_second: 4,
        ..Limits::default()
    });
    let users: Vec<TestUser> = (1..=5)
        .map(|id| TestUser::new(id, format!("U{id}")))
        .collect();
    fake.open_chats(&users);
    let alice = TestUser::alice();
    fake.send_text_in_group(-50, "Group", &alice, "hi");
    bot.send_message(ChatId(-50), "g1").await.expect("group 1");
    bot.send_message(ChatId(-50), "g2").await.expect("group 2");
    // The group's minute is full, though its chat window (3 per second) is not.
    assert!(is_429(bot.send_message(ChatId(-50), "g3").await));
    for user in &users[..2] {
        bot.send_message(ChatId(user.id), "hi")
            .await
            .expect("within the global second");
    }
    // 4 accepted in this second, across chats: the fifth chat waits.
    assert!(is_429(bot.send_message(ChatId(users[4].id), "hi").await));
    assert_eq!(fake.counters().too_many_requests, 2);
    assert_eq!(fake.too_many_requests_in(-50), 1);
    assert_eq!(fake.too_many_requests_in(users[4].id), 1);
    assert_eq!(fake.too_many_requests_in(users[0].id), 0);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    bot.send_message(ChatId(users[4].id), "hi")
        .await
        .expect("a new second");
    // Forced 429s count too, for the chat they name.
    fake.fail_next("sendMessage", 1, Failure::RetryAfter(1));
    assert!(is_429(bot.send_message(ChatId(users[3].id), "hi").await));
    assert_eq!(fake.counters().too_many_requests, 3);
    assert_eq!(fake.too_many_requests_in(users[3].id), 1);
}

#[tokio::test]
async fn unlimited_limits_are_never_reached() {
    let (fake, bot) = strict(Limits::unlimited());
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    for n in 0..50 {
        bot.send_message(ChatId(alice.id), format!("#{n}"))
            .await
            .expect("unlimited");
    }
    assert_eq!(fake.counters().too_many_requests, 0);
}
