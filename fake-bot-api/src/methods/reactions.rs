//! setMessageReaction: the bot's reaction to a message, recorded for tests.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{chat_id, message_id};
use crate::{error::ApiError, model::BotReaction, params::Params, state::Shared};

/// setMessageReaction: `reaction` is a JSON array of `ReactionType` (`emoji`,
/// `custom_emoji` or `paid`); empty or absent removes the bot's reaction. Like a non-premium
/// user, a bot may set one reaction per message (`REACTIONS_TOO_MANY` beyond). The fake
/// accepts any emoji (Telegram allows only those of its reaction list: `REACTION_INVALID`).
pub(super) fn set_reaction(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let chat_id = chat_id(params)?;
    let message_id = message_id(params)?;
    let reaction = match params
        .json("reaction")
        .map_err(|()| ApiError::bad_request("can't parse reaction types JSON object"))?
    {
        None => Vec::new(),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(ApiError::bad_request("expected an Array of ReactionType")),
    };
    for reaction_type in &reaction {
        check_type(reaction_type)
            .map_err(|error| ApiError::bad_request(format!("can't parse ReactionType: {error}")))?;
    }
    if reaction.len() > 1 {
        return Err(ApiError::bad_request("REACTIONS_TOO_MANY"));
    }
    let is_big = params.bool("is_big");
    shared.write(|state| {
        state
            .chat(chat_id)?
            .messages
            .get(&message_id)
            .filter(|stored| !stored.entry.deleted)
            .ok_or_else(|| ApiError::bad_request("message to react not found"))?;
        state.reactions.push(BotReaction {
            chat_id,
            message_id,
            reaction,
            is_big,
        });
        Ok(json!(true))
    })
}

/// Checks one `ReactionType`, with TDLib's words.
fn check_type(reaction_type: &Value) -> Result<(), &'static str> {
    if !reaction_type.is_object() {
        return Err("expected an Object");
    }
    let field = |key: &str| reaction_type.get(key).and_then(Value::as_str);
    match field("type") {
        Some("emoji") if field("emoji").is_some_and(|e| !e.is_empty()) => Ok(()),
        Some("emoji") => Err("field \"emoji\" must be of type String"),
        Some("custom_emoji") if field("custom_emoji_id").is_some() => Ok(()),
        Some("custom_emoji") => Err("field \"custom_emoji_id\" must be of type String"),
        Some("paid") => Ok(()),
        Some(_) => Err("invalid reaction type specified"),
        None => Err("field \"type\" must be of type String"),
    }
}
