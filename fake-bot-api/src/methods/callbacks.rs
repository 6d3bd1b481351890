//! answerCallbackQuery.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::{
    error::ApiError,
    model::{AnsweredCallback, ChatEvent},
    params::Params,
    state::Shared,
};

/// The longest notification text, in characters.
const MAX_TEXT: usize = 200;

/// answerCallbackQuery: each press can be answered once; unknown and answered ids get
/// Telegram's "query is too old" error.
pub(super) fn answer(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let id = params
        .str("callback_query_id")
        .ok_or_else(|| ApiError::bad_request("query_id is empty"))?;
    let text = params.str("text").filter(|text| !text.is_empty());
    if text
        .as_ref()
        .is_some_and(|text| text.chars().count() > MAX_TEXT)
    {
        return Err(ApiError::bad_request("MESSAGE_TOO_LONG"));
    }
    let show_alert = params.bool("show_alert");
    let url = params.str("url").filter(|url| !url.is_empty());
    shared.write(|state| {
        let pending = state
            .callbacks
            .get_mut(&id)
            .filter(|pending| !pending.answered)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "query is too old and response timeout expired or query ID is invalid",
                )
            })?;
        pending.answered = true;
        let answer = AnsweredCallback {
            id: id.clone(),
            user_id: pending.user_id,
            chat_id: pending.chat_id,
            message_id: pending.message_id,
            data: pending.data.clone(),
            text,
            show_alert,
            url,
        };
        let chat_id = answer.chat_id;
        state.answered.push(answer.clone());
        state.emit(ChatEvent::CallbackAnswered { chat_id, answer });
        Ok(json!(true))
    })
}
