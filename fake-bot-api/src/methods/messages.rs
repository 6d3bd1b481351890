//! sendMessage, the edits and the deletes.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{admit, chat_id, check_not_blocked, message_id};
use crate::{
    error::ApiError,
    json,
    markup::{self, Parsed},
    model::{ChatEntry, ChatEvent, Markup},
    params::Params,
    state::Shared,
    text::{self, Formatted},
};

/// The longest text of a message, in UTF-16 code units.
const MAX_TEXT: usize = 4096;

pub(super) const NOT_MODIFIED: &str = "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message";

/// The formatted `text` of a send or edit; `too_long` is the description when it exceeds 4096.
fn message_text(params: &Params, too_long: &str) -> Result<(Formatted, Option<String>), ApiError> {
    let text = params.str("text").unwrap_or_default();
    let parse_mode = params.str("parse_mode").filter(|mode| !mode.is_empty());
    let formatted = text::format(&text, parse_mode.as_deref())?;
    if formatted.text.trim().is_empty() {
        return Err(ApiError::bad_request("message text is empty"));
    }
    if text::utf16_len(&formatted.text) > MAX_TEXT {
        return Err(ApiError::bad_request(too_long));
    }
    Ok((formatted, parse_mode))
}

/// The message to reply to: `reply_parameters` or the older `reply_to_message_id`, and whether
/// sending without it is allowed.
pub(super) fn reply_target(params: &Params) -> Result<Option<(i64, bool)>, ApiError> {
    let parameters = params
        .json("reply_parameters")
        .map_err(|()| ApiError::bad_request("can't parse reply parameters JSON object"))?;
    if let Some(parameters) = parameters {
        let id = parameters["message_id"]
            .as_i64()
            .ok_or_else(|| ApiError::bad_request("message to be replied not found"))?;
        let allow = parameters["allow_sending_without_reply"].as_bool() == Some(true);
        return Ok(Some((id, allow)));
    }
    let allow = params.bool("allow_sending_without_reply");
    Ok(params.int("reply_to_message_id")?.map(|id| (id, allow)))
}

/// sendMessage.
pub(super) fn send_message(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let chat_id = chat_id(params)?;
    let (formatted, parse_mode) = message_text(params, "message is too long")?;
    let markup = markup::parse(params)?;
    let reply = reply_target(params)?;
    let silent = params.bool("disable_notification");
    let bot = json::bot_user(&shared.config);
    shared.write(|state| {
        check_not_blocked(state, chat_id)?;
        let chat = state.chat_mut(chat_id)?;
        let reply_to = match reply {
            Some((id, allow)) => {
                let exists = chat.messages.get(&id).is_some_and(|m| !m.entry.deleted);
                if !exists && !allow {
                    return Err(ApiError::bad_request("message to be replied not found"));
                }
                exists.then_some(id)
            }
            None => None,
        };
        admit(state, chat_id)?;
        let Parsed { markup, echo } = markup.unwrap_or(Parsed {
            markup: None,
            echo: None,
        });
        let entry = ChatEntry {
            message_id: 0,
            from_bot: true,
            from_id: shared.config.bot_id(),
            text: formatted.text.clone(),
            document: None,
            parse_mode,
            reply_markup: markup.clone(),
            reply_to,
            edits: 0,
            deleted: false,
            silent,
        };
        let chat = state.chat_mut(chat_id)?;
        let message = chat.add_message(entry, bot, formatted.fields(echo));
        match markup {
            Some(Markup::Keyboard(keyboard)) => chat.reply_keyboard = Some(keyboard),
            Some(Markup::RemoveKeyboard) => chat.reply_keyboard = None,
            _ => {}
        }
        let id = message["message_id"].as_i64().unwrap_or_default();
        let entry = chat.messages[&id].entry.clone();
        state.counters.sends += 1;
        state.emit(ChatEvent::BotSent { chat_id, entry });
        Ok(message)
    })
}

/// editMessageText (`with_text`) and editMessageReplyMarkup. As with Telegram, an edit without
/// `reply_markup` removes the inline keyboard.
pub(super) fn edit_message(
    shared: &Arc<Shared>,
    params: &Params,
    with_text: bool,
) -> Result<Value, ApiError> {
    if params.has("inline_message_id") {
        return Err(ApiError::bad_request("MESSAGE_ID_INVALID"));
    }
    let chat_id = chat_id(params)?;
    let message_id = message_id(params)?;
    let text = if with_text {
        Some(message_text(params, "MESSAGE_TOO_LONG")?)
    } else {
        None
    };
    let Parsed { markup, echo } = markup::parse(params)?.unwrap_or(Parsed {
        markup: None,
        echo: None,
    });
    if markup
        .as_ref()
        .is_some_and(|m| !matches!(m, Markup::Inline(_)))
    {
        return Err(ApiError::bad_request("inline keyboard expected"));
    }
    shared.write(|state| {
        check_not_blocked(state, chat_id)?;
        let chat = state.chat_mut(chat_id)?;
        let stored = chat
            .messages
            .get(&message_id)
            .filter(|stored| !stored.entry.deleted)
            .ok_or_else(|| ApiError::bad_request("message to edit not found"))?;
        if !stored.entry.from_bot {
            return Err(ApiError::bad_request("message can't be edited"));
        }
        let same_text = text.as_ref().is_none_or(|(formatted, _)| {
            stored.json.get("text") == Some(&json!(formatted.text))
                && stored.json.get("entities") == formatted.entities_json().as_ref()
        });
        if same_text && stored.entry.reply_markup == markup {
            return Err(ApiError::bad_request(NOT_MODIFIED));
        }
        admit(state, chat_id)?;
        let chat = state.chat_mut(chat_id)?;
        let stored = chat
            .messages
            .get_mut(&message_id)
            .expect("checked above, under the same lock");
        let message = stored
            .json
            .as_object_mut()
            .expect("a stored message is a JSON object");
        if let Some((formatted, parse_mode)) = text {
            stored.entry.text = formatted.text.clone();
            stored.entry.parse_mode = parse_mode;
            message.remove("entities");
            if let Value::Object(fields) = formatted.fields(None) {
                message.extend(fields);
            }
        }
        match echo {
            Some(echo) => message.insert("reply_markup".to_owned(), echo),
            None => message.remove("reply_markup"),
        };
        message.insert("edit_date".to_owned(), json!(json::now()));
        stored.entry.reply_markup = markup;
        stored.entry.edits += 1;
        let (entry, message) = (stored.entry.clone(), stored.json.clone());
        state.counters.edits += 1;
        state.emit(ChatEvent::BotEdited { chat_id, entry });
        Ok(message)
    })
}

/// deleteMessage. The bot may delete any message of a private chat, and only its own in groups.
pub(super) fn delete_message(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let chat_id = chat_id(params)?;
    let message_id = message_id(params)?;
    shared.write(|state| {
        let chat = state.chat_mut(chat_id)?;
        let stored = chat
            .messages
            .get_mut(&message_id)
            .filter(|stored| !stored.entry.deleted)
            .ok_or_else(|| ApiError::bad_request("message to delete not found"))?;
        if chat_id < 0 && !stored.entry.from_bot {
            return Err(ApiError::bad_request("message can't be deleted"));
        }
        stored.entry.deleted = true;
        let entry = stored.entry.clone();
        chat.pinned.retain(|&id| id != message_id);
        state.emit(ChatEvent::BotDeleted { chat_id, entry });
        Ok(json!(true))
    })
}

/// deleteMessages: deletes those of `message_ids` that can be deleted and skips the rest.
pub(super) fn delete_messages(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let chat_id = chat_id(params)?;
    let ids = params
        .json("message_ids")
        .ok()
        .flatten()
        .and_then(|ids| {
            ids.as_array()
                .map(|ids| ids.iter().filter_map(Value::as_i64).collect::<Vec<_>>())
        })
        .ok_or_else(|| ApiError::bad_request("message identifiers are not specified"))?;
    shared.write(|state| {
        let chat = state.chat_mut(chat_id)?;
        let mut deleted = Vec::new();
        for id in ids {
            if let Some(stored) = chat.messages.get_mut(&id)
                && !stored.entry.deleted
                && (chat_id > 0 || stored.entry.from_bot)
            {
                stored.entry.deleted = true;
                deleted.push(stored.entry.clone());
                chat.pinned.retain(|&pinned| pinned != id);
            }
        }
        for entry in deleted {
            state.emit(ChatEvent::BotDeleted { chat_id, entry });
        }
        Ok(json!(true))
    })
}
