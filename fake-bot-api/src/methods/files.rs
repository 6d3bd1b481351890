//! sendDocument, editMessageMedia, getFile and file downloads.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};

use super::{admit, chat_id, check_not_blocked, message_id, messages::NOT_MODIFIED};
use crate::{
    error::ApiError,
    json,
    markup::{self, Parsed},
    model::{ChatEntry, ChatEvent, Document, Markup},
    params::{Params, Upload},
    state::{Shared, State},
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
    if let Some(upload) = &upload {
        check_upload(shared, upload)?;
    }
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
        let mut extra = json!({ "document": document_json(&file) });
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

/// 413 for an upload over [`FileLimits::upload_max`](crate::FileLimits::upload_max).
fn check_upload(shared: &Shared, upload: &Upload) -> Result<(), ApiError> {
    if upload.bytes.len() > shared.config.file_limits.upload_max {
        return Err(ApiError::too_large());
    }
    Ok(())
}

/// The `Document` object of a message.
pub(crate) fn document_json(file: &StoredFile) -> Value {
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
    document
}

/// The file `media` names: an upload (`attach://<name>`), a known `file_id`, or an HTTP URL
/// (not fetched: the file is empty).
fn resolve(state: &State, params: &Params, media: &str) -> Result<StoredFile, ApiError> {
    if let Some(name) = media.strip_prefix("attach://") {
        let upload = params
            .attached(name)
            .ok_or_else(|| ApiError::bad_request("wrong file identifier/HTTP URL specified"))?;
        return Ok(new_file(
            state.files.len(),
            upload.file_name.clone(),
            upload.content_type.clone(),
            upload.bytes.clone(),
        ));
    }
    match state.files.get(media) {
        Some(file) => Ok(file.clone()),
        None if media.starts_with("http://") || media.starts_with("https://") => {
            let file_name = media.rsplit('/').next().map(str::to_owned);
            Ok(new_file(state.files.len(), file_name, None, Bytes::new()))
        }
        None => Err(ApiError::bad_request(
            "wrong file identifier/HTTP URL specified",
        )),
    }
}

/// editMessageMedia with an `InputMediaDocument`: replaces the document (and the caption,
/// which is removed if `media` has none) of a bot's document message. As with the other
/// edits, an edit without `reply_markup` removes the inline keyboard.
pub(super) fn edit_media(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    if params.has("inline_message_id") {
        return Err(ApiError::bad_request("MESSAGE_ID_INVALID"));
    }
    let chat_id = chat_id(params)?;
    let message_id = message_id(params)?;
    let cant_parse = || ApiError::bad_request("can't parse InputMedia JSON object");
    let media = params
        .json("media")
        .map_err(|()| cant_parse())?
        .ok_or_else(|| ApiError::bad_request("media not specified"))?;
    if !media.is_object() {
        return Err(cant_parse());
    }
    match media["type"].as_str() {
        Some("document") => {}
        Some("photo" | "video" | "animation" | "audio") => {
            return Err(ApiError::bad_request(
                "the fake Bot API supports only documents in editMessageMedia",
            ));
        }
        _ => return Err(ApiError::bad_request("unsupported media type specified")),
    }
    let source = media["media"]
        .as_str()
        .filter(|source| !source.is_empty())
        .ok_or_else(|| ApiError::bad_request("media not specified"))?
        .to_owned();
    if let Some(upload) = source
        .strip_prefix("attach://")
        .and_then(|name| params.attached(name))
    {
        check_upload(shared, upload)?;
    }
    let caption = media["caption"].as_str().unwrap_or_default();
    let parse_mode = media["parse_mode"]
        .as_str()
        .filter(|mode| !mode.is_empty())
        .map(str::to_owned);
    let formatted = text::format(caption, parse_mode.as_deref())?;
    if text::utf16_len(&formatted.text) > 1024 {
        return Err(ApiError::bad_request("message caption is too long"));
    }
    let Parsed { markup, echo } = markup::parse(params)?.unwrap_or(Parsed {
        markup: None,
        echo: None,
    });
    if markup
        .as_ref()
        .is_some_and(|m| !matches!(m, Markup::Inline(_)))
    {
        return Err(ApiError::bad_request("inline keyboard expected"));
    }
    shared.write(|state| {
        check_not_blocked(state, chat_id)?;
        let chat = state.chat_mut(chat_id)?;
        let stored = chat
            .messages
            .get(&message_id)
            .filter(|stored| !stored.entry.deleted)
            .ok_or_else(|| ApiError::bad_request("message to edit not found"))?;
        if !stored.entry.from_bot {
            return Err(ApiError::bad_request("message can't be edited"));
        }
        let Some(current) = stored.entry.document.as_ref() else {
            return Err(ApiError::bad_request(
                "there is no media in the message to edit",
            ));
        };
        if current.file_id == source
            && stored.entry.text == formatted.text
            && stored.json.get("caption_entities") == formatted.entities_json().as_ref()
            && stored.entry.reply_markup == markup
        {
            return Err(ApiError::bad_request(NOT_MODIFIED));
        }
        let file = resolve(state, params, &source)?;
        admit(state, chat_id)?;
        state
            .files
            .insert(file.document.file_id.clone(), file.clone());
        let chat = state.chat_mut(chat_id)?;
        let stored = chat
            .messages
            .get_mut(&message_id)
            .expect("checked above, under the same lock");
        let message = stored
            .json
            .as_object_mut()
            .expect("a stored message is a JSON object");
        message.insert("document".to_owned(), document_json(&file));
        message.remove("caption");
        message.remove("caption_entities");
        if !formatted.text.is_empty() {
            message.insert("caption".to_owned(), json!(formatted.text));
            if let Some(entities) = formatted.entities_json() {
                message.insert("caption_entities".to_owned(), entities);
            }
        }
        match echo {
            Some(echo) => message.insert("reply_markup".to_owned(), echo),
            None => message.remove("reply_markup"),
        };
        message.insert("edit_date".to_owned(), json!(json::now()));
        stored.entry.text = formatted.text;
        stored.entry.parse_mode = parse_mode;
        stored.entry.document = Some(file.document);
        stored.entry.reply_markup = markup;
        stored.entry.edits += 1;
        let (entry, message) = (stored.entry.clone(), stored.json.clone());
        state.counters.edits += 1;
        state.emit(ChatEvent::BotEdited { chat_id, entry });
        Ok(message)
    })
}

pub(crate) fn new_file(
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
        if file.document.bytes.len() > shared.config.file_limits.download_max {
            return Err(ApiError::bad_request("file is too big"));
        }
        Ok(json!({
            "file_id": file.document.file_id,
            "file_unique_id": file.unique_id,
            "file_size": file.document.bytes.len(),
            "file_path": file.path,
        }))
    })
}

/// The content of the file getFile named `path`, for `GET /file/bot<token>/<path>`; none for
/// a file over the download limit.
pub(crate) fn download(shared: &Shared, path: &str) -> Option<Bytes> {
    let max = shared.config.file_limits.download_max;
    shared.read(|state| {
        state
            .files
            .values()
            .find(|file| file.path == path && file.document.bytes.len() <= max)
            .map(|file| file.document.bytes.clone())
    })
}
