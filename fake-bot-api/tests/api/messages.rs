//! sendMessage, edits and deletes.

use fake_bot_api::{ChatEvent, InlineButton, Markup, TestUser};
use teloxide_core::{
    ApiError, RequestError,
    prelude::*,
    types::{
        InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, KeyboardMarkup, KeyboardRemove,
        MessageEntityKind, MessageId, ParseMode, ReplyParameters,
    },
};

use super::support::{PATIENCE, start};

#[tokio::test]
async fn send_message_returns_the_full_message_from_the_bot() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.send_text(&alice, "hi");
    let sent = bot
        .send_message(ChatId(alice.id), "hello Alice")
        .await
        .expect("sent");
    assert_eq!(sent.id, MessageId(2), "after Alice's message 1");
    assert_eq!(sent.text(), Some("hello Alice"));
    assert_eq!(sent.chat.id, ChatId(alice.id));
    let from = sent.from.as_ref().expect("from the bot");
    assert!(from.is_bot);
    assert_eq!(from.username.as_deref(), Some("botbox_test_bot"));
    let again = bot
        .send_message(ChatId(alice.id), "again")
        .await
        .expect("sent");
    assert_eq!(again.id, MessageId(3));
    assert_eq!(fake.bot_texts(alice.id), ["hello Alice", "again"]);
    assert_eq!(fake.counters().sends, 2);
}

#[tokio::test]
async fn sending_to_a_chat_nobody_wrote_in_is_chat_not_found() {
    let (_fake, bot) = start();
    let error = bot
        .send_message(ChatId(42), "anyone?")
        .await
        .expect_err("unknown chat");
    assert!(
        matches!(error, RequestError::Api(ApiError::ChatNotFound)),
        "{error:?}"
    );
}

#[tokio::test]
async fn empty_and_too_long_texts_are_refused() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.send_text(&alice, "hi");
    let empty = bot
        .send_message(ChatId(alice.id), "  ")
        .await
        .expect_err("empty");
    assert!(
        matches!(empty, RequestError::Api(ApiError::MessageTextIsEmpty)),
        "{empty:?}"
    );
    let long = bot
        .send_message(ChatId(alice.id), "x".repeat(4097))
        .await
        .expect_err("too long");
    assert!(
        matches!(long, RequestError::Api(ApiError::MessageIsTooLong)),
        "{long:?}"
    );
    bot.send_message(ChatId(alice.id), "x".repeat(4096))
        .await
        .expect("4096 is fine");
}

#[tokio::test]
async fn an_inline_keyboard_is_echoed_and_parsed_back() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.send_text(&alice, "menu");
    let keyboard = InlineKeyboardMarkup::new([[
        InlineKeyboardButton::callback("Yes", "answer:yes"),
        InlineKeyboardButton::url("Docs", "https://example.com/docs".parse().expect("url")),
    ]]);
    let sent = bot
        .send_message(ChatId(alice.id), "Sure?")
        .reply_markup(keyboard.clone())
        .await
        .expect("sent");
    assert_eq!(sent.reply_markup(), Some(&keyboard));
    let entry = fake.last_bot_message(alice.id).expect("the bot's message");
    assert_eq!(
        entry.inline_button("Yes"),
        Some(&InlineButton {
            text: "Yes".to_owned(),
            callback_data: Some("answer:yes".to_owned()),
            url: None,
            pay: false,
        })
    );
    assert_eq!(
        entry.inline_button("Docs").and_then(|b| b.url.as_deref()),
        Some("https://example.com/docs")
    );
}

#[tokio::test]
async fn callback_data_over_64_bytes_is_button_data_invalid() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.send_text(&alice, "menu");
    let keyboard =
        InlineKeyboardMarkup::new([[InlineKeyboardButton::callback("Big", "d".repeat(65))]]);
    let error = bot
        .send_message(ChatId(alice.id), "Sure?")
        .reply_markup(keyboard)
        .await
        .expect_err("too much data");
    assert!(
        matches!(error, RequestError::Api(ApiError::ButtonDataInvalid)),
        "{error:?}"
    );
    assert!(fake.bot_texts(alice.id).is_empty(), "nothing was delivered");
}

#[tokio::test]
async fn a_reply_keyboard_is_shown_until_the_bot_removes_it() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.send_text(&alice, "/start");
    let keyboard = KeyboardMarkup::new([[KeyboardButton::new("Red"), KeyboardButton::new("Blue")]])
        .resize_keyboard()
        .one_time_keyboard();
    let sent = bot
        .send_message(ChatId(alice.id), "Pick a colour")
        .reply_markup(keyboard)
        .await
        .expect("sent");
    assert_eq!(sent.reply_markup(), None, "reply keyboards are not echoed");
    let shown = fake.current_reply_keyboard(alice.id).expect("a keyboard");
    assert_eq!(shown.rows, [["Red", "Blue"]]);
    assert!(shown.one_time && shown.resize);

    bot.send_message(ChatId(alice.id), "Thanks")
        .reply_markup(KeyboardRemove::new())
        .await
        .expect("sent");
    assert_eq!(fake.current_reply_keyboard(alice.id), None);
    assert_eq!(
        fake.last_bot_message(alice.id)
            .and_then(|entry| entry.reply_markup),
        Some(Markup::RemoveKeyboard)
    );
}

#[tokio::test]
async fn a_reply_carries_the_message_it_replies_to() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.send_text(&alice, "what time is it?");
    let sent = bot
        .send_message(ChatId(alice.id), "noon")
        .reply_parameters(ReplyParameters::new(MessageId(1)))
        .disable_notification(true)
        .await
        .expect("sent");
    let replied = sent.reply_to_message().expect("a reply");
    assert_eq!(replied.text(), Some("what time is it?"));
    let entry = fake.last_bot_message(alice.id).expect("sent");
    assert_eq!(entry.reply_to, Some(1));
    assert!(entry.silent);

    let missing = bot
        .send_message(ChatId(alice.id), "to nothing")
        .reply_parameters(ReplyParameters::new(MessageId(99)))
        .await
        .expect_err("no such message");
    assert!(
        matches!(missing, RequestError::Api(ApiError::MessageToReplyNotFound)),
        "{missing:?}"
    );
}

#[tokio::test]
async fn html_becomes_entities_and_bad_markdown_v2_is_refused() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.send_text(&alice, "hi");
    let sent = bot
        .send_message(ChatId(alice.id), "<b>Bold</b> &amp; plain")
        .parse_mode(ParseMode::Html)
        .await
        .expect("sent");
    assert_eq!(sent.text(), Some("Bold & plain"));
    assert_eq!(
        sent.entities().expect("entities")[0].kind,
        MessageEntityKind::Bold
    );
    assert_eq!(fake.bot_texts(alice.id), ["Bold & plain"]);

    let error = bot
        .send_message(ChatId(alice.id), "Done.")
        .parse_mode(ParseMode::MarkdownV2)
        .await
        .expect_err("an unescaped dot");
    assert!(
        matches!(error, RequestError::Api(ApiError::CantParseEntities(_))),
        "{error:?}"
    );
}

#[tokio::test]
async fn editing_text_updates_the_transcript_and_drops_an_omitted_keyboard() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.send_text(&alice, "count");
    let keyboard = InlineKeyboardMarkup::new([[InlineKeyboardButton::callback("+1", "inc")]]);
    let sent = bot
        .send_message(ChatId(alice.id), "0")
        .reply_markup(keyboard.clone())
        .await
        .expect("sent");
    let edited = bot
        .edit_message_text(ChatId(alice.id), sent.id, "1")
        .reply_markup(keyboard)
        .await
        .expect("edited");
    assert_eq!(edited.text(), Some("1"));
    assert!(edited.edit_date().is_some());
    assert!(edited.reply_markup().is_some());

    let same = bot
        .edit_message_text(ChatId(alice.id), sent.id, "1")
        .reply_markup(InlineKeyboardMarkup::new([[
            InlineKeyboardButton::callback("+1", "inc"),
        ]]))
        .await
        .expect_err("nothing changes");
    assert!(
        matches!(same, RequestError::Api(ApiError::MessageNotModified)),
        "{same:?}"
    );

    let bare = bot
        .edit_message_text(ChatId(alice.id), sent.id, "2")
        .await
        .expect("edited");
    assert_eq!(
        bare.reply_markup(),
        None,
        "Telegram drops a keyboard the edit omits"
    );
    let entry = fake.last_bot_message(alice.id).expect("the message");
    assert_eq!(
        (entry.text.as_str(), entry.edits, entry.reply_markup),
        ("2", 2, None)
    );

    let markup_only = bot
        .edit_message_reply_markup(ChatId(alice.id), sent.id)
        .reply_markup(InlineKeyboardMarkup::new([[
            InlineKeyboardButton::callback("reset", "reset"),
        ]]))
        .await
        .expect("edited");
    assert_eq!(markup_only.text(), Some("2"));
    assert_eq!(fake.counters().edits, 3);

    let not_mine = bot
        .edit_message_text(ChatId(alice.id), MessageId(1), "hacked")
        .await
        .expect_err("Alice's message");
    assert!(
        matches!(not_mine, RequestError::Api(ApiError::MessageCantBeEdited)),
        "{not_mine:?}"
    );
}

#[tokio::test]
async fn a_deleted_message_stays_in_the_transcript_marked_deleted() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.send_text(&alice, "hi");
    let sent = bot
        .send_message(ChatId(alice.id), "short-lived")
        .await
        .expect("sent");
    bot.delete_message(ChatId(alice.id), sent.id)
        .await
        .expect("deleted");
    let transcript = fake.transcript(alice.id);
    assert!(transcript[1].deleted);
    assert!(fake.bot_texts(alice.id).is_empty());

    let again = bot
        .delete_message(ChatId(alice.id), sent.id)
        .await
        .expect_err("gone");
    assert!(
        matches!(again, RequestError::Api(ApiError::MessageToDeleteNotFound)),
        "{again:?}"
    );
    let edit = bot
        .edit_message_text(ChatId(alice.id), sent.id, "back?")
        .await
        .expect_err("gone");
    assert!(
        matches!(edit, RequestError::Api(ApiError::MessageToEditNotFound)),
        "{edit:?}"
    );
}

#[tokio::test]
async fn subscribers_see_what_the_bot_does_and_waiters_wake_up() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.send_text(&alice, "hi");
    let mut events = fake.subscribe();
    let sender = tokio::spawn({
        let bot = bot.clone();
        async move {
            let sent = bot.send_message(ChatId(1001), "first").await.expect("sent");
            bot.edit_message_text(ChatId(1001), sent.id, "second")
                .await
                .expect("edited");
        }
    });
    let entry = fake
        .wait_for_bot_text(alice.id, "second", PATIENCE)
        .await
        .expect("the bot edits");
    assert_eq!(entry.edits, 1);
    sender.await.expect("no panic");
    match events.recv().await.expect("an event") {
        ChatEvent::BotSent { chat_id, entry } => {
            assert_eq!((chat_id, entry.text.as_str()), (1001, "first"))
        }
        other => panic!("expected BotSent, got {other:?}"),
    }
    assert!(matches!(
        events.recv().await,
        Ok(ChatEvent::BotEdited { .. })
    ));
}

#[tokio::test]
async fn commands_set_by_the_bot_are_read_back() {
    let (_fake, bot) = start();
    let commands = [teloxide_core::types::BotCommand::new("start", "Say hello")];
    bot.set_my_commands(commands.clone()).await.expect("set");
    assert_eq!(bot.get_my_commands().await.expect("get"), commands);
    bot.delete_my_commands().await.expect("deleted");
    assert!(bot.get_my_commands().await.expect("get").is_empty());
}
