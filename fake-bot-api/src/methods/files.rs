//! editMessageMedia, getFile and file downloads.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::{
    admit, chat_id, check_not_blocked,
    media::{self, MediaKind, Source, StoredFile},
    message_id,
    messages::NOT_MODIFIED,
};
use crate::{
    error::ApiError,
    json,
    markup::{self, Parsed},
    model::{ChatEvent, Markup},
    params::Params,
    state::Shared,
    text,
};

/// The `Document` object of a message.
fn document_json(file: &StoredFile) -> Value {
    media::message_fields(file, &Map::new())["document"].take()
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
    let source = media::media_source(params, &source)
        .ok_or_else(|| ApiError::bad_request("wrong file identifier/HTTP URL specified"))?;
    media::check_source(shared, &source, MediaKind::Document)?;
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
        if matches!(&source, Source::Named(name) if *name == current.file_id)
            && stored.entry.text == formatted.text
            && stored.json.get("caption_entities") == formatted.entities_json().as_ref()
            && stored.entry.reply_markup == markup
        {
            return Err(ApiError::bad_request(NOT_MODIFIED));
        }
        let (file, origin) =
            media::resolve(state, &source, MediaKind::Document, state.files.len())?;
        admit(state, chat_id)?;
        media::store(state, file.clone(), origin);
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
