//! copyMessage and forwardMessage: a message of any chat the bot sees, sent again.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{
    media_sends::merge,
    message_id,
    outgoing::{Body, Outgoing},
};
use crate::{error::ApiError, model::Document, params::Params, state::Shared};

/// The fields of a `Message` that belong to the message rather than to its content.
const NOT_CONTENT: [&str; 10] = [
    "message_id",
    "from",
    "chat",
    "date",
    "edit_date",
    "reply_to_message",
    "reply_markup",
    "media_group_id",
    "forward_origin",
    "sender_chat",
];

/// The message to copy or forward: its content fields, visible text, document, sender and
/// date.
struct Original {
    content: Value,
    text: String,
    document: Option<Document>,
    /// The `forward_origin` a forward gets: the original's own, if it is a forward itself.
    origin: Value,
}

/// copyMessage: sends the content of message `message_id` of `from_chat_id` to `chat_id`
/// without a link to the original; `caption` (even empty) replaces a caption. Answers
/// `{"message_id":…}`.
pub(super) fn copy_message(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let outgoing = Outgoing::parse(params)?;
    let (from_chat_id, message_id) = source_ids(params)?;
    let caption = if params.has("caption") {
        Some(Body::caption_of(params)?)
    } else {
        None
    };
    shared.write(|state| {
        let original = original(state, from_chat_id, message_id, "message to copy not found")?;
        let mut content = original.content;
        let body = match caption {
            Some(caption) => {
                if let Some(object) = content.as_object_mut() {
                    object.remove("caption");
                    object.remove("caption_entities");
                }
                merge(&mut content, caption.caption_fields());
                caption
            }
            None => Body::plain(original.text),
        };
        if content.get("poll").is_some() {
            // A copied poll is a new poll, with no votes.
            content["poll"]["id"] = json!(state.next_poll_id());
            content["poll"]["total_voter_count"] = json!(0);
            if let Some(options) = content["poll"]["options"].as_array_mut() {
                options
                    .iter_mut()
                    .for_each(|option| option["voter_count"] = json!(0));
            }
        }
        let message = outgoing.send(shared, state, body, original.document, content)?;
        Ok(json!({ "message_id": message["message_id"] }))
    })
}

/// forwardMessage: sends message `message_id` of `from_chat_id` to `chat_id` as a forward,
/// with `forward_origin` naming the original sender. Answers the new `Message`.
pub(super) fn forward_message(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let outgoing = Outgoing::parse_without_markup(params)?;
    let (from_chat_id, message_id) = source_ids(params)?;
    shared.write(|state| {
        let original = original(
            state,
            from_chat_id,
            message_id,
            "message to forward not found",
        )?;
        let mut content = original.content;
        content["forward_origin"] = original.origin;
        let body = Body::plain(original.text);
        outgoing.send(shared, state, body, original.document, content)
    })
}

/// The required `from_chat_id` and `message_id`.
fn source_ids(params: &Params) -> Result<(i64, i64), ApiError> {
    if !params.has("from_chat_id") {
        return Err(ApiError::bad_request(
            "parameter \"from_chat_id\" is required",
        ));
    }
    let from_chat_id = params
        .int("from_chat_id")
        .ok()
        .flatten()
        .ok_or_else(ApiError::chat_not_found)?;
    Ok((from_chat_id, message_id(params)?))
}

fn original(
    state: &crate::state::State,
    chat_id: i64,
    message_id: i64,
    not_found: &str,
) -> Result<Original, ApiError> {
    let stored = state
        .chat(chat_id)?
        .messages
        .get(&message_id)
        .filter(|stored| !stored.entry.deleted)
        .ok_or_else(|| ApiError::bad_request(not_found))?;
    let mut content = stored.json.clone();
    let origin = stored
        .json
        .get("forward_origin")
        .cloned()
        .unwrap_or_else(|| {
            json!({
                "type": "user",
                "sender_user": stored.json["from"],
                "date": stored.json["date"],
            })
        });
    if let Some(object) = content.as_object_mut() {
        for key in NOT_CONTENT {
            object.remove(key);
        }
    }
    Ok(Original {
        content,
        text: stored.entry.text.clone(),
        document: stored.entry.document.clone(),
        origin,
    })
}
