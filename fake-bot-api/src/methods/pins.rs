//! pinChatMessage, unpinChatMessage and unpinAllChatMessages.
//!
//! A chat remembers its pinned messages, the most recently pinned first; `getChat` shows the
//! first as `pinned_message`. The service message Telegram adds to the chat when a message is
//! pinned is not modelled (the bot gets no update for it anyway).

use std::sync::Arc;

use serde_json::{Value, json};

use super::{chat_id, check_not_blocked, message_id};
use crate::{error::ApiError, params::Params, state::Shared};

/// pinChatMessage: pinning a pinned message again makes it the most recent pin.
pub(super) fn pin(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let chat_id = chat_id(params)?;
    let message_id = message_id(params)?;
    shared.write(|state| {
        check_not_blocked(state, chat_id)?;
        let chat = state.chat_mut(chat_id)?;
        if chat
            .messages
            .get(&message_id)
            .is_none_or(|stored| stored.entry.deleted)
        {
            return Err(ApiError::bad_request("message to pin not found"));
        }
        chat.pinned.retain(|&id| id != message_id);
        chat.pinned.insert(0, message_id);
        Ok(json!(true))
    })
}

/// unpinChatMessage: `message_id`, or the most recently pinned message if it is absent.
pub(super) fn unpin(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let chat_id = chat_id(params)?;
    let message_id = params.int("message_id")?;
    shared.write(|state| {
        check_not_blocked(state, chat_id)?;
        let chat = state.chat_mut(chat_id)?;
        let not_found = || ApiError::bad_request("message to unpin not found");
        let message_id = match message_id {
            Some(id) => {
                if chat
                    .messages
                    .get(&id)
                    .is_none_or(|stored| stored.entry.deleted)
                {
                    return Err(not_found());
                }
                id
            }
            None => chat
                .pinned_message()
                .map(|stored| stored.entry.message_id)
                .ok_or_else(not_found)?,
        };
        // Unpinning a message that is not pinned changes nothing, and succeeds.
        chat.pinned.retain(|&id| id != message_id);
        Ok(json!(true))
    })
}

/// unpinAllChatMessages.
pub(super) fn unpin_all(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let chat_id = chat_id(params)?;
    shared.write(|state| {
        check_not_blocked(state, chat_id)?;
        state.chat_mut(chat_id)?.pinned.clear();
        Ok(json!(true))
    })
}
