//! editMessageCaption.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{
    admit, chat_id, check_not_blocked, media_sends::merge, message_id, messages::NOT_MODIFIED,
    outgoing::Body,
};
use crate::{
    error::ApiError,
    json,
    markup::{self, Parsed},
    model::{ChatEvent, Markup},
    params::Params,
    state::Shared,
};

/// The `Message` fields of media that have a caption.
const CAPTIONED: [&str; 6] = ["photo", "video", "audio", "voice", "animation", "document"];

/// editMessageCaption: replaces (or, when `caption` is empty or absent, removes) the
/// caption of the bot's media message. As with the other edits, an edit without
/// `reply_markup` removes the inline keyboard.
pub(super) fn edit_caption(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    if params.has("inline_message_id") {
        return Err(ApiError::bad_request("MESSAGE_ID_INVALID"));
    }
    let chat_id = chat_id(params)?;
    let message_id = message_id(params)?;
    let body = Body::caption_of(params)?;
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
    let fields = body.caption_fields();
    shared.write(|state| {
        check_not_blocked(state, chat_id)?;
        let stored = state
            .chat_mut(chat_id)?
            .messages
            .get(&message_id)
            .filter(|stored| !stored.entry.deleted)
            .ok_or_else(|| ApiError::bad_request("message to edit not found"))?;
        if !stored.entry.from_bot {
            return Err(ApiError::bad_request("message can't be edited"));
        }
        if !CAPTIONED.iter().any(|key| stored.json.get(key).is_some()) {
            return Err(ApiError::bad_request(
                "there is no caption in the message to edit",
            ));
        }
        if stored.json.get("caption") == fields.get("caption")
            && stored.json.get("caption_entities") == fields.get("caption_entities")
            && stored.entry.reply_markup == markup
        {
            return Err(ApiError::bad_request(NOT_MODIFIED));
        }
        admit(state, chat_id)?;
        let stored = state
            .chat_mut(chat_id)?
            .messages
            .get_mut(&message_id)
            .expect("checked above, under the same lock");
        let message = &mut stored.json;
        if let Some(object) = message.as_object_mut() {
            object.remove("caption");
            object.remove("caption_entities");
            match echo {
                Some(echo) => object.insert("reply_markup".to_owned(), echo),
                None => object.remove("reply_markup"),
            };
        }
        merge(message, fields);
        message["edit_date"] = json!(json::now());
        stored.entry.text = body.formatted.text;
        stored.entry.parse_mode = body.parse_mode;
        stored.entry.reply_markup = markup;
        stored.entry.edits += 1;
        let (entry, message) = (stored.entry.clone(), stored.json.clone());
        state.counters.edits += 1;
        state.emit(ChatEvent::BotEdited { chat_id, entry });
        Ok(message)
    })
}
