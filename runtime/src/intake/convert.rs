//! From teloxide's Bot API types to the contract's types.

use teloxide_core::types::{
    self as tg, ChatKind, MaybeInaccessibleMessage, PublicChatKind, UpdateKind,
};

use crate::bindings::types;

pub use crate::bot_api::update_kinds::chat_of;

/// The Bot API field name of an update kind (`message`, `poll`, ...).
pub fn kind_name(raw: &serde_json::Value) -> String {
    raw.as_object()
        .and_then(|o| o.keys().find(|k| *k != "update_id").cloned())
        .unwrap_or_else(|| "unknown".into())
}

fn user(u: &tg::User) -> types::User {
    types::User {
        id: i64::try_from(u.id.0).unwrap_or(i64::MAX),
        is_bot: u.is_bot,
        first_name: u.first_name.clone(),
        last_name: u.last_name.clone(),
        username: u.username.clone(),
        language_code: u.language_code.clone(),
    }
}

fn chat(c: &tg::Chat) -> types::Chat {
    let kind = match &c.kind {
        ChatKind::Private(_) => types::ChatKind::Private,
        ChatKind::Public(p) => match p.kind {
            PublicChatKind::Group => types::ChatKind::Group,
            PublicChatKind::Supergroup(_) => types::ChatKind::Supergroup,
            PublicChatKind::Channel(_) => types::ChatKind::Channel,
        },
    };
    types::Chat {
        id: c.id.0,
        kind,
        title: c.title().map(str::to_string),
        username: c.username().map(str::to_string),
        first_name: c.first_name().map(str::to_string),
    }
}

/// A message in the contract's shape.
pub fn message(m: &tg::Message) -> types::Message {
    types::Message {
        message_id: m.id.0,
        chat: chat(&m.chat),
        from: m.from.as_ref().map(user),
        date: m.date.timestamp(),
        text: m.text().map(str::to_string),
        caption: m.caption().map(str::to_string),
        reply_to_message_id: m.reply_to_message().map(|r| r.id.0),
    }
}

/// The update in the contract's shape. `callback_data` is the button data with the routing
/// tag removed; `command` the matched command and its arguments.
pub fn update(
    u: &tg::Update,
    raw: &serde_json::Value,
    callback_data: Option<&str>,
    command: Option<(&str, &str)>,
) -> types::Update {
    let kind = match &u.kind {
        UpdateKind::Message(m) => types::UpdateKind::Message(message(m)),
        UpdateKind::EditedMessage(m) => types::UpdateKind::EditedMessage(message(m)),
        UpdateKind::CallbackQuery(q) => types::UpdateKind::CallbackQuery(types::CallbackQuery {
            id: q.id.0.clone(),
            from: user(&q.from),
            message: match &q.message {
                Some(MaybeInaccessibleMessage::Regular(m)) => Some(message(m)),
                _ => None,
            },
            data: callback_data.unwrap_or_default().to_string(),
        }),
        _ => types::UpdateKind::Other(kind_name(raw)),
    };
    types::Update {
        update_id: i64::from(u.id.0),
        kind,
        raw_json: raw.to_string(),
        command: command.map(|(c, _)| c.to_string()),
        command_args: command.map(|(_, a)| a.to_string()).unwrap_or_default(),
    }
}
