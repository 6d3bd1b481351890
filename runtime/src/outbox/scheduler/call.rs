//! Delivering a call a module made through `bot-api`: the message it acts on filled in from its
//! ticket, its files read from the store (or sent by the file id an earlier copy got), and
//! Telegram's result kept on the ticket.

use serde_json::Value;

use super::{Deps, SEND_TIMEOUT, shared};
use crate::{
    bot_api::transport::{Failure, FilePart},
    outbox::{Action, Entry, checkouts::Answerer},
    store::TicketRecord,
};

/// Most bytes of Telegram's result kept on a ticket.
const MAX_RESULT_BYTES: usize = 64 << 10;

/// What a delivered call leaves: Telegram's result, the message id it names, and the file
/// ids its uploads got.
pub(super) struct Sent {
    pub(super) result: Value,
    pub(super) message_id: Option<i32>,
    pub(super) uploaded: Vec<(String, String)>,
    /// What later updates belong to the module: its messages and polls (owner keys).
    pub(super) owned: Vec<(String, String)>,
}

impl Sent {
    /// The result as kept on the ticket (bounded).
    pub(super) fn result_text(&self) -> String {
        let text = self.result.to_string();
        if text.len() > MAX_RESULT_BYTES {
            serde_json::json!({ "message_id": self.message_id, "truncated": true }).to_string()
        } else {
            text
        }
    }
}

/// Sends the call `e` (an [`Action::Call`]); `resolved` is the message id of the ticket it
/// acts on when the scheduler already knows it.
pub(super) async fn send(
    deps: &Deps,
    e: &Entry,
    resolved: Option<i32>,
    paid: bool,
) -> Result<Sent, Failure> {
    let Action::Call {
        name,
        params,
        files,
        acting_on,
    } = &e.action
    else {
        unreachable!("only calls come here")
    };
    let (answer, query_param) = crate::bot_api::payments::ANSWER_PRE_CHECKOUT;
    if name == answer
        && let Some(query) = params.get(query_param).and_then(Value::as_str)
        && !deps.checkouts.claim(query, Answerer::Module)
    {
        return Err(Failure::Api {
            code: 400,
            description: format!(
                "the host already declined pre-checkout query {query}: the module's answer came after `payments.answer_within_ms`"
            ),
        });
    }
    let mut params = params.clone();
    if let Some((chat, ticket)) = acting_on {
        let id = match resolved {
            Some(id) => id,
            None => match shared::ticket(deps, *ticket).await {
                Ok(Some(TicketRecord {
                    message_id: Some(id),
                    ..
                })) => id,
                Err(why) => return Err(Failure::Network(why)),
                Ok(_) => {
                    return Err(Failure::Api {
                        code: 400,
                        description: format!(
                            "Bad Request: the message of ticket {ticket} was not delivered"
                        ),
                    });
                }
            },
        };
        let key = if name.starts_with("copyMessage") || name.starts_with("forwardMessage") {
            "from_chat_id"
        } else {
            "chat_id"
        };
        params.insert(key.into(), Value::from(*chat));
        params.insert("message_id".into(), Value::from(id));
    }
    if paid && name.starts_with("send") {
        params.insert("allow_paid_broadcast".into(), Value::Bool(true));
    }
    // Files without an id yet: upload each once, whatever other copies are in flight.
    let mut unknown: Vec<&str> = Vec::new();
    for f in files {
        if shared::file_id(deps, &f.sha256).await.is_none() {
            unknown.push(&f.sha256);
        }
    }
    unknown.sort_unstable();
    unknown.dedup();
    let mut guards = Vec::with_capacity(unknown.len());
    for sha in unknown {
        guards.push(deps.uploads.lock(sha).await);
    }
    let mut parts = Vec::new();
    for f in files {
        let reference = format!("attach://{}", f.name);
        match shared::file_id(deps, &f.sha256).await {
            Some(file_id) => replace_string(&mut params, &reference, &file_id),
            None => {
                let bytes = shared::file_bytes(deps, &f.sha256)
                    .await
                    .map_err(|e| Failure::Network(format!("cannot read a queued file: {e}")))?
                    .ok_or_else(|| Failure::Api {
                        code: 400,
                        description: format!("the queued file `{}` is gone", f.name),
                    })?;
                parts.push((
                    f,
                    FilePart {
                        name: f.name.clone(),
                        file_name: f.file_name.clone(),
                        bytes,
                    },
                ));
            }
        }
    }
    let upload: Vec<FilePart> = parts.iter().map(|(_, p)| p.clone()).collect();
    let result = deps
        .transport
        .call(name, &params, &upload, SEND_TIMEOUT)
        .await?;
    let uploaded: Vec<(String, String)> = parts
        .iter()
        .filter_map(|(f, _)| {
            file_id_for(&params, &result, &f.name).map(|id| (f.sha256.clone(), id))
        })
        .collect();
    for (sha, id) in &uploaded {
        deps.uploads.learned(sha, id);
    }
    drop(guards);
    deps.uploads.tidy();
    let message_id = result
        .get("message_id")
        .or_else(|| result.get(0).and_then(|m| m.get("message_id")))
        .and_then(Value::as_i64)
        .and_then(|id| i32::try_from(id).ok());
    let mut owned: Vec<(String, String)> = crate::bot_api::update_kinds::owned_by_result(&result)
        .into_iter()
        .map(|k| (k, e.module.clone()))
        .collect();
    // A copy's result is its id alone (`MessageId`): the message is in the entry's chat.
    if owned.is_empty()
        && result.get("chat").is_none()
        && let Some(id) = message_id
    {
        owned.push((
            crate::store::message_key(e.chat_id, i64::from(id)),
            e.module.clone(),
        ));
    }
    Ok(Sent {
        result,
        message_id,
        uploaded,
        owned,
    })
}

/// Replaces every string `from` inside `params` with `to`.
fn replace_string(params: &mut serde_json::Map<String, Value>, from: &str, to: &str) {
    fn walk(v: &mut Value, from: &str, to: &str) {
        match v {
            Value::String(s) if s == from => *s = to.to_string(),
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, from, to)),
            Value::Object(map) => map.values_mut().for_each(|i| walk(i, from, to)),
            _ => {}
        }
    }
    params.values_mut().for_each(|v| walk(v, from, to));
}

/// The file id Telegram gave the upload named `part`: the sent message's media (the largest
/// photo size), or for an album the media of the message at the item's position.
fn file_id_for(
    params: &serde_json::Map<String, Value>,
    result: &Value,
    part: &str,
) -> Option<String> {
    let reference = format!("attach://{part}");
    let message = match params.get("media").and_then(Value::as_array) {
        Some(items) => {
            let i = items
                .iter()
                .position(|m| m.get("media").and_then(Value::as_str) == Some(&reference))?;
            result.get(i)?
        }
        None => {
            // Only the main file: a thumbnail's id is not in the message.
            let main = params
                .iter()
                .find(|(k, v)| *k != "thumbnail" && v.as_str() == Some(&reference));
            main?;
            result
        }
    };
    media_file_id(message)
}

/// The file id of a message's media.
fn media_file_id(message: &Value) -> Option<String> {
    if let Some(sizes) = message.get("photo").and_then(Value::as_array) {
        return sizes.last()?.get("file_id")?.as_str().map(str::to_string);
    }
    [
        "document",
        "video",
        "audio",
        "voice",
        "animation",
        "sticker",
        "video_note",
    ]
    .iter()
    .find_map(|k| {
        message
            .get(*k)?
            .get("file_id")?
            .as_str()
            .map(str::to_string)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn uploads_are_matched_to_the_file_ids_telegram_gave_them() {
        let params = json!({"chat_id": 1, "photo": "attach://p"});
        let result = json!({"message_id": 5, "photo": [
            {"file_id": "small", "width": 90}, {"file_id": "large", "width": 800}]});
        assert_eq!(
            file_id_for(params.as_object().unwrap(), &result, "p").as_deref(),
            Some("large")
        );
        let album = json!({"chat_id": 1, "media": [
            {"type": "photo", "media": "attach://a"}, {"type": "document", "media": "attach://b"}]});
        let messages = json!([
            {"message_id": 1, "photo": [{"file_id": "A"}]},
            {"message_id": 2, "document": {"file_id": "B"}}]);
        let album = album.as_object().unwrap();
        assert_eq!(file_id_for(album, &messages, "b").as_deref(), Some("B"));
        assert_eq!(file_id_for(album, &messages, "a").as_deref(), Some("A"));
        let mut p = album.clone();
        replace_string(&mut p, "attach://a", "A");
        assert_eq!(p["media"][0]["media"], "A");
    }
}
