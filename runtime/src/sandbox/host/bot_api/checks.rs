//! The checks a `bot-api` call passes before anything is queued or sent, beyond the method and
//! the shape of its parameters (`crate::bot_api::check`): its files, and which chat and which
//! message it acts on.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::{bindings::bot_api as wit, bot_api::transport::FilePart, store::records::StoredFile};

/// Most files one call may upload (an album has at most 10 items).
const MAX_FILES: usize = 10;
/// Telegram's limit on photos bots upload.
pub(super) const MAX_PHOTO_BYTES: usize = 10 << 20;
/// Telegram's limit on other files bots upload.
pub(super) const MAX_FILE_BYTES: usize = 50 << 20;
/// Most bytes of files one call may upload, all parts together.
const MAX_FILE_BYTES_PER_CALL: usize = 64 << 20;
/// Longest JSON parameters one call may pass.
pub(super) const MAX_PARAMS_BYTES: usize = 1 << 20;

pub(super) fn invalid(m: impl Into<String>) -> wit::Error {
    wit::Error::InvalidParameter(m.into())
}

/// The parameters: a JSON object, or none.
pub(super) fn parse_params(text: &str) -> Result<Map<String, Value>, wit::Error> {
    // Module-controlled size: bounded before it is parsed.
    if text.len() > MAX_PARAMS_BYTES {
        return Err(invalid(format!(
            "the parameters are {} bytes of JSON, at most {MAX_PARAMS_BYTES}",
            text.len()
        )));
    }
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid("the parameters must be a JSON object")),
        Err(e) => Err(invalid(format!("the parameters are not JSON: {e}"))),
    }
}

/// Every `attach://name` the parameters name, with the media type of the album item (or
/// parameter) that names it.
fn attachments(params: &Map<String, Value>) -> Vec<(String, String)> {
    fn walk(kind: &str, v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::String(s) => {
                if let Some(name) = s.strip_prefix("attach://") {
                    out.push((name.to_string(), kind.to_string()));
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(kind, i, out)),
            Value::Object(map) => {
                let kind = map.get("type").and_then(Value::as_str).unwrap_or(kind);
                map.values().for_each(|i| walk(kind, i, out));
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (key, value) in params {
        // `media` of an album is JSON text in Telegram's form encoding; a module passes JSON.
        walk(key, value, &mut out);
    }
    out
}

/// Checks a call's files: names, sizes against Telegram's limits, and that each part is named
/// by the parameters and each `attach://` names a part. Returns them with their SHA-256.
pub(super) fn files(
    method: &str,
    params: &Map<String, Value>,
    parts: Vec<wit::FilePart>,
) -> Result<Vec<(StoredFile, FilePart)>, wit::Error> {
    // Module-controlled count and sizes: checked before any is hashed or kept.
    if parts.len() > MAX_FILES {
        return Err(invalid(format!(
            "a call uploads at most {MAX_FILES} files, this one {}",
            parts.len()
        )));
    }
    let total: usize = parts.iter().map(|p| p.bytes.len()).sum();
    if total > MAX_FILE_BYTES_PER_CALL {
        return Err(invalid(format!(
            "a call uploads at most {} MiB of files, this one {} MiB",
            MAX_FILE_BYTES_PER_CALL >> 20,
            total >> 20
        )));
    }
    let named = attachments(params);
    if let Some((name, _)) = named
        .iter()
        .find(|(n, _)| !parts.iter().any(|p| &p.name == n))
    {
        return Err(invalid(format!(
            "`attach://{name}` names no file part of the call"
        )));
    }
    let mut out: Vec<(StoredFile, FilePart)> = Vec::with_capacity(parts.len());
    for part in parts {
        let name_ok = (1..=64).contains(&part.name.len())
            && part
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !name_ok {
            return Err(invalid(format!(
                "file part name `{}`: 1-64 of a-z A-Z 0-9 _ -",
                crate::text::printable(&part.name, 64)
            )));
        }
        if out.iter().any(|(f, _)| f.name == part.name) {
            return Err(invalid(format!("two file parts are named `{}`", part.name)));
        }
        if part.file_name.is_empty()
            || part.file_name.len() > 255
            || part.file_name.chars().any(|c| c.is_control() || c == '/')
        {
            return Err(invalid(format!(
                "file part `{}`: its file name must be 1-255 bytes, without `/` or control characters",
                part.name
            )));
        }
        let Some((_, kind)) = named.iter().find(|(n, _)| *n == part.name) else {
            return Err(invalid(format!(
                "file part `{}` is not named by any parameter (`attach://{}`)",
                part.name, part.name
            )));
        };
        let photo = kind == "photo" || method == "sendPhoto";
        let limit = if photo {
            MAX_PHOTO_BYTES
        } else {
            MAX_FILE_BYTES
        };
        if part.bytes.len() > limit {
            return Err(invalid(format!(
                "file part `{}` has {} bytes; Telegram takes {} of at most {} MB from bots",
                part.name,
                part.bytes.len(),
                if photo { "photos" } else { "files" },
                limit >> 20
            )));
        }
        let sha256 = hex::encode(Sha256::digest(&part.bytes));
        out.push((
            StoredFile {
                name: part.name.clone(),
                file_name: part.file_name.clone(),
                sha256,
                size: part.bytes.len() as u64,
                shared_by: 1,
            },
            FilePart {
                name: part.name,
                file_name: part.file_name,
                bytes: part.bytes.into(),
            },
        ));
    }
    Ok(out)
}

/// A chat id parameter as a number (`@channel` names are not supported through the outbox).
pub(super) fn chat_param(
    params: &Map<String, Value>,
    key: &str,
) -> Result<Option<i64>, wit::Error> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .filter(|c| *c != 0)
            .map(Some)
            .ok_or_else(|| invalid(format!("`{key}` must be a chat id, not 0"))),
        Some(Value::String(s)) => match s.parse::<i64>() {
            Ok(c) if c != 0 => Ok(Some(c)),
            _ => Err(invalid(format!(
                "`{key}` must be a numeric chat id (channel @usernames are not supported yet)"
            ))),
        },
        Some(_) => Err(invalid(format!("`{key}` must be a chat id"))),
    }
}

/// The parameter that names the chat a message is taken from: `from_chat_id` for copies and
/// forwards, `chat_id` otherwise.
pub(super) fn source_chat_key(method: &str) -> &'static str {
    if method.starts_with("copyMessage") || method.starts_with("forwardMessage") {
        "from_chat_id"
    } else {
        "chat_id"
    }
}

/// Telegram's limit on `callback_data`, in bytes.
const MAX_CALLBACK_BYTES: usize = 64;

/// Prefixes every `callback_data` of an inline keyboard in `reply_markup` (the message's, or
/// an inline query result's) with the module's tag, so that a press comes back to the module
/// that drew the button, as for `outbox` keyboards; the data must leave room for the tag.
pub(super) fn tag_callbacks(params: &mut Map<String, Value>, tag: &str) -> Result<(), wit::Error> {
    fn walk(v: &mut Value, tag: &str) -> Result<(), wit::Error> {
        match v {
            Value::Object(map) => {
                if let Some(Value::Array(rows)) = map.get_mut("inline_keyboard") {
                    for button in rows.iter_mut().filter_map(Value::as_array_mut).flatten() {
                        if let Some(Value::String(data)) = button.get_mut("callback_data") {
                            let room = MAX_CALLBACK_BYTES - tag.len() - 1;
                            if data.len() > room {
                                return Err(invalid(format!(
                                    "`callback_data` has {} bytes, at most {room} fit (the host adds the module's tag)",
                                    data.len()
                                )));
                            }
                            *data = format!("{tag}:{data}");
                        }
                    }
                }
                map.values_mut().try_for_each(|v| walk(v, tag))
            }
            Value::Array(items) => items.iter_mut().try_for_each(|v| walk(v, tag)),
            _ => Ok(()),
        }
    }
    if tag.is_empty() {
        return Ok(());
    }
    for key in ["reply_markup", "results", "result"] {
        if let Some(v) = params.get_mut(key) {
            walk(v, tag)?;
        }
    }
    Ok(())
}

/// Methods that act on messages of every module at once.
pub(super) fn acts_on_every_module(method: &str) -> bool {
    matches!(
        method,
        "unpinAllChatMessages" | "unpinAllForumTopicMessages" | "unpinAllGeneralForumTopicMessages"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(name: &str, len: usize) -> wit::FilePart {
        wit::FilePart {
            name: name.into(),
            file_name: format!("{name}.png"),
            bytes: vec![7; len],
        }
    }

    fn params(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn parts_and_attachments_must_match_and_sizes_follow_telegram() {
        let p = params(serde_json::json!({"chat_id": 1, "photo": "attach://a"}));
        let ok = files("sendPhoto", &p, vec![part("a", 10)]).unwrap();
        assert_eq!(ok[0].0.size, 10);
        assert_eq!(ok[0].0.sha256.len(), 64);
        let unnamed = files("sendPhoto", &p, vec![part("a", 1), part("b", 1)]).unwrap_err();
        assert!(
            format!("{unnamed:?}").contains("`b` is not named"),
            "{unnamed:?}"
        );
        let missing = files("sendPhoto", &p, vec![]).unwrap_err();
        assert!(format!("{missing:?}").contains("`attach://a` names no file part"));
        let big = files("sendPhoto", &p, vec![part("a", MAX_PHOTO_BYTES + 1)]).unwrap_err();
        assert!(
            format!("{big:?}").contains("photos of at most 10 MB"),
            "{big:?}"
        );
        let doc = params(serde_json::json!({"chat_id": 1, "document": "attach://a"}));
        assert!(files("sendDocument", &doc, vec![part("a", MAX_PHOTO_BYTES + 1)]).is_ok());
        let album = params(serde_json::json!({"chat_id": 1, "media": [
            {"type": "photo", "media": "attach://a"},
            {"type": "document", "media": "attach://b"}]}));
        let e = files(
            "sendMediaGroup",
            &album,
            vec![part("a", MAX_PHOTO_BYTES + 1), part("b", 1)],
        )
        .unwrap_err();
        assert!(format!("{e:?}").contains("photos"), "{e:?}");
        let slash = params(serde_json::json!({"chat_id": 1, "photo": "attach://a/b"}));
        let bad_name = files("sendPhoto", &slash, vec![part("a/b", 1)]).unwrap_err();
        assert!(format!("{bad_name:?}").contains("1-64 of"));
    }

    #[test]
    fn callback_data_gets_the_module_s_tag_and_must_leave_room_for_it() {
        let mut p = params(
            serde_json::json!({"chat_id": 1, "reply_markup": {"inline_keyboard": [
            [{"text": "a", "callback_data": "one"}, {"text": "b", "url": "https://x.example/"}]]}}),
        );
        tag_callbacks(&mut p, "m7").unwrap();
        assert_eq!(
            p["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
            "m7:one"
        );
        assert!(
            p["reply_markup"]["inline_keyboard"][0][1]
                .get("callback_data")
                .is_none()
        );
        let mut long = params(serde_json::json!({"reply_markup": {"inline_keyboard": [
            [{"text": "a", "callback_data": "x".repeat(62)}]]}}));
        let e = tag_callbacks(&mut long, "m7").unwrap_err();
        assert!(format!("{e:?}").contains("at most 61 fit"), "{e:?}");
    }

    #[test]
    fn parameters_are_a_bounded_json_object_and_chat_ids_numbers() {
        assert!(parse_params("").unwrap().is_empty());
        assert!(parse_params("[1]").is_err());
        assert!(parse_params(&"x".repeat(MAX_PARAMS_BYTES + 1)).is_err());
        let p = parse_params(r#"{"chat_id": "-100", "from_chat_id": "@news"}"#).unwrap();
        assert_eq!(chat_param(&p, "chat_id").unwrap(), Some(-100));
        assert!(chat_param(&p, "from_chat_id").is_err());
        assert_eq!(chat_param(&p, "user_id").unwrap(), None);
    }
}
