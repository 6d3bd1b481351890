//! `reply_markup`: parsed into [`Markup`] and checked as Telegram checks it.

use serde_json::{Value, json};

use crate::{
    error::ApiError,
    model::{InlineButton, Markup, ReplyKeyboard},
    params::Params,
};

/// Fields that give an inline button something to do; a button needs exactly one.
const INLINE_ACTIONS: [&str; 10] = [
    "callback_data",
    "url",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "web_app",
    "callback_game",
    "pay",
];

/// The largest `callback_data`, in bytes.
const MAX_CALLBACK_DATA: usize = 64;

/// A parsed `reply_markup` and the JSON a sent message echoes (inline keyboards only).
pub(crate) struct Parsed {
    pub(crate) markup: Option<Markup>,
    pub(crate) echo: Option<Value>,
}

/// Parses the request's `reply_markup`; `Ok(None)` if there is none.
pub(crate) fn parse(params: &Params) -> Result<Option<Parsed>, ApiError> {
    let value = params
        .json("reply_markup")
        .map_err(|()| cant_parse())?
        .filter(|value| !value.is_null());
    let Some(value) = value else {
        return Ok(None);
    };
    let object = value.as_object().ok_or_else(cant_parse)?;
    if let Some(rows) = object.get("inline_keyboard") {
        let rows = inline_rows(rows)?;
        if rows.iter().all(Vec::is_empty) {
            return Ok(Some(Parsed {
                markup: None,
                echo: None,
            }));
        }
        return Ok(Some(Parsed {
            markup: Some(Markup::Inline(rows)),
            echo: Some(json!({ "inline_keyboard": object["inline_keyboard"] })),
        }));
    }
    let markup = if let Some(rows) = object.get("keyboard") {
        let flag = |key: &str| object.get(key).and_then(Value::as_bool).unwrap_or(false);
        Markup::Keyboard(ReplyKeyboard {
            rows: reply_rows(rows)?,
            one_time: flag("one_time_keyboard"),
            resize: flag("resize_keyboard"),
        })
    } else if object.get("remove_keyboard") == Some(&Value::Bool(true)) {
        Markup::RemoveKeyboard
    } else if object.get("force_reply") == Some(&Value::Bool(true)) {
        Markup::ForceReply
    } else {
        return Err(cant_parse());
    };
    Ok(Some(Parsed {
        markup: Some(markup),
        echo: None,
    }))
}

fn cant_parse() -> ApiError {
    ApiError::bad_request("can't parse reply keyboard markup JSON object")
}

fn rows_of(value: &Value, field: &str) -> Result<Vec<Vec<Value>>, ApiError> {
    let not_array = || ApiError::bad_request(format!("field \"{field}\" must be an Array"));
    value
        .as_array()
        .ok_or_else(not_array)?
        .iter()
        .map(|row| row.as_array().cloned().ok_or_else(not_array))
        .collect()
}

fn inline_rows(value: &Value) -> Result<Vec<Vec<InlineButton>>, ApiError> {
    let cant =
        |what: &str| ApiError::bad_request(format!("can't parse inline keyboard button: {what}"));
    let mut rows = Vec::new();
    for row in rows_of(value, "inline_keyboard")? {
        let mut buttons = Vec::new();
        for button in row {
            let object = button
                .as_object()
                .ok_or_else(|| cant("InlineKeyboardButton must be an Object"))?;
            let text = object
                .get("text")
                .and_then(Value::as_str)
                .ok_or_else(|| cant("Field \"text\" must be of type String"))?;
            let actions = INLINE_ACTIONS
                .iter()
                .filter(|action| object.contains_key(**action))
                .count();
            if actions == 0 {
                return Err(ApiError::bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
                ));
            }
            let callback_data = object.get("callback_data").map(|data| match data {
                Value::String(data) => data.clone(),
                other => other.to_string(),
            });
            if callback_data
                .as_ref()
                .is_some_and(|data| data.is_empty() || data.len() > MAX_CALLBACK_DATA)
            {
                return Err(ApiError::bad_request("BUTTON_DATA_INVALID"));
            }
            let url = object.get("url").and_then(Value::as_str).map(str::to_owned);
            if url.as_ref().is_some_and(|url| !valid_url(url)) {
                return Err(ApiError::bad_request("BUTTON_URL_INVALID"));
            }
            buttons.push(InlineButton {
                text: text.to_owned(),
                callback_data,
                url,
                pay: object.get("pay").and_then(Value::as_bool) == Some(true),
            });
        }
        rows.push(buttons);
    }
    Ok(rows)
}

fn valid_url(url: &str) -> bool {
    ["http://", "https://", "tg://"]
        .iter()
        .any(|scheme| url.len() > scheme.len() && url.to_ascii_lowercase().starts_with(scheme))
}

fn reply_rows(value: &Value) -> Result<Vec<Vec<String>>, ApiError> {
    rows_of(value, "keyboard")?
        .into_iter()
        .map(|row| {
            row.iter()
                .map(|button| match button {
                    Value::String(text) => Ok(text.clone()),
                    Value::Object(object) => object
                        .get("text")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .ok_or_else(|| {
                            ApiError::bad_request(
                                "can't parse keyboard button: Field \"text\" must be of type String",
                            )
                        }),
                    _ => Err(ApiError::bad_request(
                        "can't parse keyboard button: KeyboardButton must be a String or an Object",
                    )),
                })
                .collect()
        })
        .collect()
}
