//! Whether a call's parameters have its method's shape: they deserialize into the method's
//! parameter type, and name no parameter the method does not have (a misspelt `chat_di` is an
//! error, not silently dropped).

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

/// What is wrong with a call's parameters, and which one.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Problem {
    /// The parameter's path: `chat_id`, `reply_markup.inline_keyboard[0][1].text`.
    pub parameter: String,
    pub problem: String,
}

/// Checks `parameters` (a JSON object) against the parameter type `P`.
pub(super) fn shaped<P: DeserializeOwned + Serialize>(parameters: &Value) -> Result<(), Problem> {
    let typed: P = deserialize(parameters).map_err(|problem| {
        // serde cannot say where inside a keyboard an untagged `reply_markup` went wrong; the
        // keyboard's own type can.
        match parameters.get("reply_markup") {
            Some(markup) if problem.parameter == "reply_markup" => {
                keyboard_problem(markup).unwrap_or(problem)
            }
            _ => problem,
        }
    })?;
    // What the type kept: a parameter given but not kept is one the method does not have.
    // (Parameters set to null are absent, as Telegram reads them.)
    let kept = serde_json::to_value(&typed).map_err(|e| Problem {
        parameter: String::new(),
        problem: e.to_string(),
    })?;
    let (Some(given), Some(kept)) = (parameters.as_object(), kept.as_object()) else {
        return Ok(());
    };
    match given
        .iter()
        .find(|(k, v)| !v.is_null() && !kept.contains_key(*k))
    {
        Some((unknown, _)) => Err(Problem {
            parameter: unknown.clone(),
            problem: "the method has no such parameter".into(),
        }),
        None => Ok(()),
    }
}

fn deserialize<T: DeserializeOwned>(value: &Value) -> Result<T, Problem> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let problem = e.inner().to_string();
        let parameter = match e.path().to_string().as_str() {
            // A missing field is reported at the object that lacks it.
            "." => missing_field(&problem).unwrap_or_default(),
            path => match missing_field(&problem) {
                Some(field) => format!("{path}.{field}"),
                None => path.to_string(),
            },
        };
        Problem { parameter, problem }
    })
}

/// What is wrong inside a `reply_markup`, by the keyboard type its key names.
fn keyboard_problem(markup: &Value) -> Option<Problem> {
    use frankenstein::types::{InlineKeyboardMarkup, ReplyKeyboardMarkup};
    let found = if markup.get("inline_keyboard").is_some() {
        deserialize::<InlineKeyboardMarkup>(markup).err()
    } else if markup.get("keyboard").is_some() {
        deserialize::<ReplyKeyboardMarkup>(markup).err()
    } else {
        None
    }?;
    Some(Problem {
        parameter: format!("reply_markup.{}", found.parameter),
        problem: found.problem,
    })
}

/// `chat_id` out of serde's "missing field `chat_id`".
fn missing_field(problem: &str) -> Option<String> {
    let rest = problem.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_string())
}
