//! The Telegram objects the fake produces, shaped exactly as Telegram shapes them.

use serde_json::{Value, json};

use crate::{config::FakeConfig, model::TestUser};

/// Chats with an id at or below this are supergroups (`-100…`), other negative ids are groups.
const SUPERGROUP_IDS_BELOW: i64 = -1_000_000_000_000;

/// The `User` object of a person.
pub(crate) fn user(user: &TestUser) -> Value {
    let mut value = json!({
        "id": user.id,
        "is_bot": false,
        "first_name": user.first_name,
    });
    if let Some(username) = &user.username {
        value["username"] = json!(username);
    }
    value["language_code"] = json!("en");
    value
}

/// The `User` object of the bot, as the `from` of its messages.
pub(crate) fn bot_user(config: &FakeConfig) -> Value {
    json!({
        "id": config.bot_id(),
        "is_bot": true,
        "first_name": config.bot_first_name,
        "username": config.bot_username,
    })
}

/// What `getMe` returns.
pub(crate) fn me(config: &FakeConfig) -> Value {
    let mut value = bot_user(config);
    for (key, flag) in [
        ("can_join_groups", true),
        ("can_read_all_group_messages", false),
        ("supports_inline_queries", true),
        ("can_connect_to_business", false),
        ("has_main_web_app", false),
    ] {
        value[key] = json!(flag);
    }
    value
}

/// The `Chat` object of a private chat with `user`.
pub(crate) fn private_chat(user: &TestUser) -> Value {
    let mut value = json!({ "id": user.id, "first_name": user.first_name });
    if let Some(username) = &user.username {
        value["username"] = json!(username);
    }
    value["type"] = json!("private");
    value
}

/// The `Chat` object of a group (`-100…` ids are supergroups).
pub(crate) fn group_chat(id: i64, title: &str) -> Value {
    let kind = if id <= SUPERGROUP_IDS_BELOW {
        "supergroup"
    } else {
        "group"
    };
    json!({ "id": id, "title": title, "type": kind })
}

/// An `Update` with one payload field, e.g. `"message"`.
pub(crate) fn update(update_id: i64, kind: &str, payload: Value) -> Value {
    let mut value = json!({ "update_id": update_id });
    value[kind] = payload;
    value
}

/// The `chat_instance` of callback queries from a chat: stable per chat, opaque.
pub(crate) fn chat_instance(chat_id: i64) -> String {
    chat_id
        .wrapping_mul(-7_046_029_254_386_353_131)
        .wrapping_add(1_000_003)
        .to_string()
}

/// The current time as Telegram's `date` (Unix seconds).
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

/// The kind of an update: its first field other than `update_id`.
pub(crate) fn update_kind(update: &Value) -> Option<&str> {
    update
        .as_object()?
        .keys()
        .find(|key| *key != "update_id")
        .map(String::as_str)
}
