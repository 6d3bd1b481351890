//! answerInlineQuery.

use std::{collections::HashSet, sync::Arc};

use serde_json::{Value, json};

use crate::{
    error::ApiError, inline::check_result, model::InlineAnswer, params::Params, state::Shared,
};

/// The most results one answer may carry.
const MAX_RESULTS: usize = 50;

/// answerInlineQuery: each query can be answered once, with at most 50 results of known
/// types, unique ids of 1-64 bytes and the fields their type needs.
pub(super) fn answer(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let id = params
        .str("inline_query_id")
        .ok_or_else(|| ApiError::bad_request("QUERY_ID_INVALID"))?;
    let results = match params.json("results") {
        Ok(Some(Value::Array(results))) => results,
        Ok(None) => return Err(ApiError::bad_request("RESULTS_EMPTY")),
        _ => {
            return Err(ApiError::bad_request(
                "can't parse inline query results JSON object",
            ));
        }
    };
    if results.len() > MAX_RESULTS {
        return Err(ApiError::bad_request("RESULTS_TOO_MUCH"));
    }
    let mut ids = HashSet::new();
    if results.iter().any(|r| !ids.insert(r["id"].to_string())) {
        return Err(ApiError::bad_request("RESULT_ID_DUPLICATE"));
    }
    if params.str("next_offset").is_some_and(|o| o.len() > 64) {
        return Err(ApiError::bad_request("NEXT_OFFSET_INVALID"));
    }
    let cache_time = params.int("cache_time")?.unwrap_or(300);
    let is_personal = params.bool("is_personal");
    shared.write(|state| {
        for result in &results {
            check_result(result, |file| state.files.contains_key(file))
                .map_err(|e| ApiError::bad_request(e.trim_start_matches("Bad Request: ")))?;
        }
        let pending = state
            .inline_queries
            .get_mut(&id)
            .filter(|pending| !pending.answered)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "query is too old and response timeout expired or query ID is invalid",
                )
            })?;
        pending.answered = true;
        let answer = InlineAnswer {
            query_id: id.clone(),
            user_id: pending.user_id,
            query: pending.query.clone(),
            results,
            cache_time,
            is_personal,
        };
        state.inline_answers.push(answer.clone());
        state.emit(crate::model::ChatEvent::InlineAnswered { answer });
        Ok(json!(true))
    })
}
