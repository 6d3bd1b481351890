//! The kinds of update the Bot API sends (the field of an update besides `update_id`), which of
//! them Telegram sends only when asked, and which reach a module only from chats where the bot
//! is an administrator.

use serde_json::Value;

/// Every kind of update of the Bot API version this host speaks, as `allowed_updates` names
/// them (checked against the `frankenstein` crate's `AllowedUpdate` in the tests).
pub const KINDS: &[&str] = &[
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "guest_message",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
    "managed_bot",
    "subscription",
    "stopped_message_generation",
];

/// Kinds Telegram sends only when `allowed_updates` names them.
pub const ONLY_WHEN_ASKED: &[&str] = &["chat_member", "message_reaction", "message_reaction_count"];

/// Whether `kind` is a kind of update this host knows.
pub fn is_known(kind: &str) -> bool {
    KINDS.contains(&kind)
}

/// Whether the bot must be an administrator of a chat to get updates of `kind` from it.
pub fn needs_admin(kind: &str) -> bool {
    matches!(
        kind,
        "chat_member"
            | "chat_join_request"
            | "message_reaction"
            | "message_reaction_count"
            | "chat_boost"
            | "removed_chat_boost"
    )
}

/// The chat an update belongs to, which picks its shard and, on PostgreSQL, its partition (the
/// user for chat-less updates).
pub fn chat_of(u: &teloxide_core::types::Update) -> Option<i64> {
    use teloxide_core::types::UpdateKind;
    match &u.kind {
        UpdateKind::Message(m) | UpdateKind::EditedMessage(m) => Some(m.chat.id.0),
        UpdateKind::CallbackQuery(q) => match &q.message {
            Some(m) => Some(m.chat().id.0),
            None => i64::try_from(q.from.id.0).ok(),
        },
        _ => u.from().and_then(|f| i64::try_from(f.id.0).ok()),
    }
}

/// Reads an update (`raw`, and the same JSON as `text`) into teloxide's types. teloxide-core
/// 0.13 panics on shapes Telegram does not send but a damaged record could hold (found by the
/// `update_convert` fuzz target: a `poll_answer` with neither `user` nor `voter_chat`): those
/// are refused here first, and any other panic of the parser is caught and refused the same
/// way, so one odd update never takes intake down.
pub fn parse(raw: &Value, text: &str) -> Result<teloxide_core::types::Update, String> {
    if let Some(answer) = raw.get("poll_answer")
        && answer.get("user").is_none()
        && answer.get("voter_chat").is_none()
    {
        return Err("a poll_answer with neither `user` nor `voter_chat`".into());
    }
    match std::panic::catch_unwind(|| serde_json::from_str(text)) {
        Ok(parsed) => parsed.map_err(|e| e.to_string()),
        Err(_) => Err("the Bot API types' parser panicked on it".into()),
    }
}

/// The kind of a raw update: its field besides `update_id`.
pub fn kind_of(raw: &Value) -> Option<&str> {
    raw.as_object()?
        .keys()
        .map(String::as_str)
        .find(|k| *k != "update_id")
}

/// What decides which module an update belongs to, for kinds that belong to one: the poll it
/// is about (`poll:<id>`) or the message it reacts to (`msg:<chat>:<message>`).
pub fn owner_key(raw: &Value) -> Option<String> {
    let kind = kind_of(raw)?;
    let body = &raw[kind];
    match kind {
        "poll" => Some(format!("poll:{}", body.get("id")?.as_str()?)),
        "poll_answer" => Some(format!("poll:{}", body.get("poll_id")?.as_str()?)),
        "message_reaction" | "message_reaction_count" => Some(format!(
            "msg:{}:{}",
            body.get("chat")?.get("id")?.as_i64()?,
            body.get("message_id")?.as_i64()?
        )),
        _ => None,
    }
}

/// The owner keys a sent message's result creates: its message, and its poll.
pub fn owned_by_result(result: &Value) -> Vec<String> {
    let messages: Vec<&Value> = match result {
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    let mut keys = Vec::new();
    for m in messages {
        if let (Some(chat), Some(id)) = (
            m.get("chat")
                .and_then(|c| c.get("id"))
                .and_then(Value::as_i64),
            m.get("message_id").and_then(Value::as_i64),
        ) {
            keys.push(format!("msg:{chat}:{id}"));
        }
        if let Some(poll) = m
            .get("poll")
            .and_then(|p| p.get("id"))
            .and_then(Value::as_str)
        {
            keys.push(format!("poll:{poll}"));
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_kind_is_one_the_bot_api_types_know() {
        for kind in KINDS {
            let parsed: Result<frankenstein::types::AllowedUpdate, _> =
                serde_json::from_value(json!(kind));
            assert!(parsed.is_ok(), "{kind}");
        }
        assert!(!is_known("teleport"));
    }

    #[test]
    fn a_poll_answer_without_a_voter_is_refused_instead_of_panicking() {
        // The fuzzer's finding, minimized.
        let raw = json!({"update_id": 12, "poll_answer": {"poll_id": "5", "option_ids": [0]}});
        let err = parse(&raw, &raw.to_string()).unwrap_err();
        assert!(err.contains("poll_answer"), "{err}");
        let fine = json!({"update_id": 13, "poll_answer": {"poll_id": "5", "option_ids": [0],
            "user": {"id": 7, "is_bot": false, "first_name": "Ada"}}});
        assert!(parse(&fine, &fine.to_string()).is_ok());
    }

    #[test]
    fn polls_and_reactions_name_their_owner_and_sent_messages_make_the_keys() {
        let answer = json!({"update_id": 1, "poll_answer": {"poll_id": "P1", "option_ids": [0]}});
        assert_eq!(kind_of(&answer), Some("poll_answer"));
        assert_eq!(owner_key(&answer).as_deref(), Some("poll:P1"));
        let reaction = json!({"update_id": 2, "message_reaction": {
            "chat": {"id": 42, "type": "private"}, "message_id": 7, "date": 0,
            "old_reaction": [], "new_reaction": []}});
        assert_eq!(owner_key(&reaction).as_deref(), Some("msg:42:7"));
        let sent = json!({"message_id": 7, "chat": {"id": 42}, "poll": {"id": "P1"}});
        assert_eq!(owned_by_result(&sent), ["msg:42:7", "poll:P1"]);
        assert!(owner_key(&json!({"update_id": 3, "chat_member": {}})).is_none());
    }
}
