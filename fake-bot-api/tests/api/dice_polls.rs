//! sendDice, sendPoll, stopPoll and sendLocation.

use fake_bot_api::TestUser;
use serde_json::json;
use teloxide_core::{
    prelude::*,
    types::{DiceEmoji, InputPollOption},
};

use super::support::{post_json, start};

#[tokio::test]
async fn dice_values_stay_in_each_dices_range_and_vary() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    for (emoji, max) in [
        (DiceEmoji::Dice, 6),
        (DiceEmoji::Darts, 6),
        (DiceEmoji::Basketball, 5),
        (DiceEmoji::Football, 5),
        (DiceEmoji::Bowling, 6),
        (DiceEmoji::SlotMachine, 64),
    ] {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..20 {
            let sent = bot
                .send_dice(ChatId(alice.id))
                .emoji(emoji)
                .await
                .expect("sent");
            let dice = sent.dice().expect("a dice");
            assert_eq!(dice.emoji, emoji);
            assert!((1..=max).contains(&dice.value), "{emoji:?} {}", dice.value);
            seen.insert(dice.value);
        }
        assert!(seen.len() > 1, "{emoji:?} always gave {seen:?}");
    }
    let rolled = fake.dice(alice.id);
    assert_eq!(rolled.len(), 120);
    assert_eq!(rolled[0].0, "🎲");

    fake.queue_dice_values([4, 99]);
    let (_, first) = post_json(&fake, "sendDice", json!({ "chat_id": alice.id })).await;
    assert_eq!(
        first["result"]["dice"],
        json!({ "emoji": "🎲", "value": 4 })
    );
    let (_, second) = post_json(
        &fake,
        "sendDice",
        json!({ "chat_id": alice.id, "emoji": "🏀" }),
    )
    .await;
    assert_eq!(second["result"]["dice"]["value"], 5, "clamped into 1–5");
    let (_, third) = post_json(
        &fake,
        "sendDice",
        json!({ "chat_id": alice.id, "emoji": "\u{26bd}\u{fe0f}" }),
    )
    .await;
    assert_eq!(third["result"]["dice"]["emoji"], "⚽", "{third}");
    let (status, answer) = post_json(
        &fake,
        "sendDice",
        json!({ "chat_id": alice.id, "emoji": "🍕" }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(answer["description"], "Bad Request: EMOTICON_INVALID");
}

#[tokio::test]
async fn a_poll_is_sent_and_stopped() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let sent = bot
        .send_poll(
            ChatId(alice.id),
            "Lunch?",
            ["Pizza", "Soup"].map(InputPollOption::new),
        )
        .await
        .expect("sent");
    let poll = sent.poll().expect("a poll");
    assert_eq!(poll.question, "Lunch?");
    assert_eq!(poll.options.len(), 2);
    assert!(!poll.is_closed);
    let stopped = bot
        .stop_poll(ChatId(alice.id), sent.id)
        .await
        .expect("stopped");
    assert!(stopped.is_closed);
    assert_eq!(fake.bot_messages(alice.id)[0]["poll"]["is_closed"], true);
    let (_, answer) = post_json(
        &fake,
        "stopPoll",
        json!({ "chat_id": alice.id, "message_id": sent.id.0 }),
    )
    .await;
    assert_eq!(
        answer["description"],
        "Bad Request: poll has already been closed"
    );

    let (status, answer) = post_json(
        &fake,
        "sendPoll",
        json!({ "chat_id": alice.id, "question": "One?", "options": [{ "text": "only" }] }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["description"],
        "Bad Request: poll must have at least 2 option"
    );
    let (_, answer) = post_json(
        &fake,
        "sendPoll",
        json!({ "chat_id": alice.id, "options": ["a", "b"] }),
    )
    .await;
    assert_eq!(
        answer["description"],
        "Bad Request: poll question must be non-empty"
    );
    let thirteen: Vec<String> = (0..13).map(|n| n.to_string()).collect();
    let (_, answer) = post_json(
        &fake,
        "sendPoll",
        json!({ "chat_id": alice.id, "question": "Many?", "options": thirteen }),
    )
    .await;
    assert_eq!(
        answer["description"],
        "Bad Request: poll can't have more than 12 options"
    );
}

#[tokio::test]
async fn a_location_is_sent() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let sent = bot
        .send_location(ChatId(alice.id), 52.52, 13.405)
        .await
        .expect("sent");
    let location = sent.location().expect("a location");
    assert!((location.latitude - 52.52).abs() < 1e-9);
    let (_, answer) = post_json(&fake, "sendLocation", json!({ "chat_id": alice.id })).await;
    assert_eq!(answer["description"], "Bad Request: latitude is empty");
}
