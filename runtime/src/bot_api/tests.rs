use serde_json::json;

use super::*;

fn refused(name: &str, parameters: Value) -> String {
    check(name, &parameters)
        .expect_err("the call is refused")
        .to_string()
}

#[test]
fn a_well_formed_send_is_an_outbox_call() {
    let method = check(
        "sendPhoto",
        &json!({"chat_id": 42, "photo": "AgACAgIAAxkBAAI", "caption": "hi"}),
    )
    .unwrap();
    assert_eq!(method.class, Class::Outbox);
    assert!(!method.touches_messages);
    // A channel's username is a chat id too.
    check("sendMessage", &json!({"chat_id": "@news", "text": "x"})).unwrap();
}

#[test]
fn a_missing_parameter_is_named() {
    assert_eq!(
        refused("sendPhoto", json!({"chat_id": 42})),
        "`sendPhoto`: parameter `photo`: missing field `photo`"
    );
    assert_eq!(
        refused("sendMessage", json!({})),
        "`sendMessage`: parameter `chat_id`: missing field `chat_id`"
    );
}

#[test]
fn a_parameter_of_the_wrong_type_is_named_with_its_path() {
    let e = refused("sendDice", json!({"chat_id": [1, 2]}));
    assert!(e.starts_with("`sendDice`: parameter `chat_id`:"), "{e}");
    let e = refused(
        "sendMessage",
        json!({"chat_id": 1, "text": "x", "reply_markup": {"inline_keyboard": [[{"text": 5, "callback_data": "a"}]]}}),
    );
    assert!(
        e.contains("parameter `reply_markup.inline_keyboard[0][0].text`"),
        "{e}"
    );
}

#[test]
fn a_parameter_the_method_does_not_have_is_named() {
    assert_eq!(
        refused(
            "sendMessage",
            json!({"chat_id": 1, "text": "x", "chat_di": 2})
        ),
        "`sendMessage`: parameter `chat_di`: the method has no such parameter"
    );
    // Null is absent, as Telegram reads it.
    check(
        "sendMessage",
        &json!({"chat_id": 1, "text": "x", "parse_mode": null}),
    )
    .unwrap();
}

#[test]
fn unknown_and_host_methods_are_refused_by_name() {
    assert_eq!(
        refused("sendTelepathy", json!({})),
        "unknown Bot API method `sendTelepathy` (not in the Bot API version this host knows)"
    );
    for host in [
        "getUpdates",
        "setWebhook",
        "deleteWebhook",
        "logOut",
        "close",
    ] {
        assert_eq!(
            refused(host, json!({"url": "https://evil.example"})),
            format!("`{host}` is the host's own: modules cannot call it")
        );
    }
}

#[test]
fn parameters_must_be_an_object_and_methods_without_any_take_none() {
    assert_eq!(
        refused("sendMessage", json!([1, "x"])),
        "`sendMessage`: the parameters must be a JSON object"
    );
    assert_eq!(
        check("getAvailableGifts", &Value::Null).unwrap().class,
        Class::Direct
    );
    assert_eq!(
        refused("getAvailableGifts", json!({"x": 1})),
        "`getAvailableGifts` takes no parameters"
    );
}

#[test]
fn each_kind_of_call_has_its_class() {
    let class = |name: &str| lookup(name).unwrap().class;
    assert_eq!(class("answerCallbackQuery"), Class::Answer);
    assert_eq!(class("answerPreCheckoutQuery"), Class::Answer);
    assert_eq!(class("getChatMember"), Class::Direct);
    assert_eq!(class("getFile"), Class::Direct);
    assert_eq!(class("sendChatAction"), Class::Ephemeral);
    assert_eq!(class("banChatMember"), Class::Outbox);
    assert_eq!(class("setMyCommands"), Class::Granted(Grant::BotSettings));
    assert_eq!(class("refundStarPayment"), Class::Granted(Grant::Stars));
    assert_eq!(class("getMyStarBalance"), Class::Granted(Grant::Stars));
    assert_eq!(class("getManagedBotToken"), Class::Host);
}

#[test]
fn edits_deletes_pins_and_copies_touch_messages_and_reactions_do_not() {
    for name in [
        "editMessageText",
        "editMessageMedia",
        "editMessageCaption",
        "editMessageReplyMarkup",
        "deleteMessage",
        "deleteMessages",
        "pinChatMessage",
        "stopPoll",
        "copyMessage",
        "forwardMessages",
    ] {
        assert!(lookup(name).unwrap().touches_messages, "{name}");
    }
    for name in ["setMessageReaction", "sendMessage", "deleteChatPhoto"] {
        assert!(!lookup(name).unwrap().touches_messages, "{name}");
    }
}

#[test]
fn the_table_names_each_method_once_and_the_whole_api() {
    let mut names: Vec<&str> = all().iter().map(|m| m.name).collect();
    let count = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), count, "a method is listed twice");
    assert!(count >= 180, "{count} methods");
}
