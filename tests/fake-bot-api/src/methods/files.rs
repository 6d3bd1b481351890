//! sendDocument, getFile and file downloads.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};

use super::{admit, chat_id, check_not_blocked};
use crate::{
    error::ApiError,
    json,
    markup::{self, Parsed},
    model::{ChatEntry, ChatEvent, Document},
    params::Params,
    state::Shared,
    text,
};

/// A file the bot uploaded.
#[derive(Clone, Debug)]
pub(crate) struct StoredFile {
    pub(crate) document: Document,
    pub(crate) unique_id: String,
    pub(crate) path: String,
}

/// sendDocument: `document` is an upload, the `file_id` of an earlier one, or an HTTP URL
/// (which the fake does not fetch: the file is empty).
pub(super) fn send_document(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let chat_id = chat_id(params)?;
    let caption = params.str("caption").unwrap_or_default();
    let parse_mode = params.str("parse_mode").filter(|mode| !mode.is_empty());
    let formatted = text::format(&caption, parse_mode.as_deref())?;
    if text::utf16_len(&formatted.text) > 1024 {
        return Err(ApiError::bad_request("message caption is too long"));
    }
    let Parsed { echo, .. } = markup::parse(params)?.unwrap_or(Parsed {
        markup: None,
        echo: None,
    });
    let upload = params.upload("document").cloned();
    let named = params
        .str("document")
        .filter(|name| !name.starts_with("attach://"));
    if upload.is_none() && named.is_none() {
        return Err(ApiError::bad_request("there is no document in the request"));
    }
    let bot = json::bot_user(&shared.config);
    shared.write(|state| {
        check_not_blocked(state, chat_id)?;
        state.chat_mut(chat_id)?;
        let file = match (upload, named) {
            (Some(upload), _) => new_file(
                state.files.len(),
                upload.file_name,
                upload.content_type,
                upload.bytes,
            ),
            (None, Some(name)) => match state.files.get(&name) {
                Some(file) => file.clone(),
                None if name.starts_with("http://") || name.starts_with("https://") => {
                    let file_name = name.rsplit('/').next().map(str::to_owned);
                    new_file(state.files.len(), file_name, None, Bytes::new())
                }
                None => {
                    return Err(ApiError::bad_request(
                        "wrong file identifier/HTTP URL specified",
                    ));
                }
            },
            (None, None) => {
                return Err(ApiError::bad_request("there is no document in the request"));
            }
        };
        admit(state, chat_id)?;
        let mut document = json!({
            "file_id": file.document.file_id,
            "file_unique_id": file.unique_id,
            "file_size": file.document.bytes.len(),
        });
        if let Some(name) = &file.document.file_name {
            document["file_name"] = json!(name);
        }
        if let Some(mime) = &file.document.mime_type {
            document["mime_type"] = json!(mime);
        }
        let mut extra = json!({ "document": document });
        if !formatted.text.is_empty() {
            extra["caption"] = json!(formatted.text);
            if let Some(entities) = formatted.entities_json() {
                extra["caption_entities"] = entities;
            }
        }
        if let Some(echo) = echo {
            extra["reply_markup"] = echo;
        }
        let entry = ChatEntry {
            message_id: 0,
            from_bot: true,
            from_id: shared.config.bot_id(),
            text: formatted.text.clone(),
            document: Some(file.document.clone()),
            parse_mode,
            reply_markup: None,
            reply_to: None,
            edits: 0,
            deleted: false,
            silent: params.bool("disable_notification"),
        };
        state.files.insert(file.document.file_id.clone(), file);
        let chat = state.chat_mut(chat_id)?;
        let message = chat.add_message(entry, bot, extra);
        let id = message["message_id"].as_i64().unwrap_or_default();
        let entry = chat.messages[&id].entry.clone();
        state.counters.sends += 1;
        state.emit(ChatEvent::BotSent { chat_id, entry });
        Ok(message)
    })
}

fn new_file(
    n: usize,
    file_name: Option<String>,
    mime_type: Option<String>,
    bytes: Bytes,
) -> StoredFile {
    let extension = file_name
        .as_deref()
        .and_then(|name| name.rsplit_once('.'))
        .map(|(_, extension)| format!(".{extension}"))
        .unwrap_or_default();
    StoredFile {
        document: Document {
            file_id: format!("BQACAgIAAxkDAAIB{n:08}FakeDocument"),
            file_name,
            mime_type,
            bytes,
        },
        unique_id: format!("AgAD{n:08}"),
        path: format!("documents/file_{n}{extension}"),
    }
}

/// getFile.
pub(super) fn get_file(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let file_id = params
        .str("file_id")
        .ok_or_else(|| ApiError::bad_request("file_id is empty"))?;
    shared.read(|state| {
        let file = state
            .files
            .get(&file_id)
            .ok_or_else(|| ApiError::bad_request("invalid file_id"))?;
        Ok(json!({
            "file_id": file.document.file_id,
            "file_unique_id": file.unique_id,
            "file_size": file.document.bytes.len(),
            "file_path": file.path,
        }))
    })
}

/// The content of the file getFile named `path`, for `GET /file/bot<token>/<path>`.
pub(crate) fn download(shared: &Shared, path: &str) -> Option<Bytes> {
    shared.read(|state| {
        state
            .files
            .values()
            .find(|file| file.path == path)
            .map(|file| file.document.bytes.clone())
    })
}
