//! editMessageMedia, getFile and file downloads.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};

use super::{
    admit, chat_id, check_not_blocked,
    file_sources::{self, Source},
    media::{self, MediaKind},
    message_id,
    messages::NOT_MODIFIED,
    outgoing::Body,
};
use crate::{
    error::ApiError,
    json,
    markup::{self, Parsed},
    model::{ChatEvent, Markup},
    params::Params,
    state::Shared,
};

/// The `Message` fields of media editMessageMedia may replace (and their flags).
const MEDIA_FIELDS: [&str; 7] = [
    "photo",
    "video",
    "animation",
    "audio",
    "document",
    "has_media_spoiler",
    "show_caption_above_media",
];

/// editMessageMedia: replaces the photo, video, animation, audio or document (and the
/// caption, which is removed if `media` has none) of a bot's media message with the file an
/// `InputMedia` names (`attach://<part>`, `file_id` or URL). As with the other edits, an
/// edit without `reply_markup` removes the inline keyboard.
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
    let Value::Object(media) = media else {
        return Err(cant_parse());
    };
    let kind = media
        .get("type")
        .and_then(Value::as_str)
        .and_then(MediaKind::of_input_media)
        .ok_or_else(|| ApiError::bad_request("unsupported media type specified"))?;
    let source = media
        .get("media")
        .and_then(Value::as_str)
        .filter(|source| !source.is_empty())
        .ok_or_else(|| ApiError::bad_request("media not specified"))?;
    let source = file_sources::media_source(params, source)
        .ok_or_else(|| ApiError::bad_request("wrong file identifier/HTTP URL specified"))?;
    file_sources::check_source(shared, &source, kind)?;
    let body = Body::caption(
        media.get("caption").and_then(Value::as_str).unwrap_or(""),
        media
            .get("parse_mode")
            .and_then(Value::as_str)
            .map(str::to_owned),
        media.get("caption_entities").cloned(),
    )?;
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
    let caption = body.caption_fields();
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
        let Some(current) = current_file_id(&stored.json) else {
            return Err(ApiError::bad_request(
                "there is no media in the message to edit",
            ));
        };
        if matches!(&source, Source::Named(name) if *name == current)
            && stored.json.get("caption") == caption.get("caption")
            && stored.json.get("caption_entities") == caption.get("caption_entities")
            && stored.entry.reply_markup == markup
        {
            return Err(ApiError::bad_request(NOT_MODIFIED));
        }
        let (mut file, origin) = file_sources::resolve(state, &source, kind)?;
        media::declare(&mut file, &media);
        admit(state, chat_id)?;
        let fields = media::message_fields(&file, &media);
        let document = (kind == MediaKind::Document).then(|| file.document.clone());
        file_sources::store(state, file, origin);
        let stored = state
            .chat_mut(chat_id)?
            .messages
            .get_mut(&message_id)
            .expect("checked above, under the same lock");
        let message = stored
            .json
            .as_object_mut()
            .expect("a stored message is a JSON object");
        for key in MEDIA_FIELDS
            .into_iter()
            .chain(["caption", "caption_entities"])
        {
            message.remove(key);
        }
        for fields in [fields, caption] {
            if let Value::Object(fields) = fields {
                message.extend(fields);
            }
        }
        match echo {
            Some(echo) => message.insert("reply_markup".to_owned(), echo),
            None => message.remove("reply_markup"),
        };
        message.insert("edit_date".to_owned(), json!(json::now()));
        stored.entry.text = body.formatted.text;
        stored.entry.parse_mode = body.parse_mode;
        stored.entry.document = document;
        stored.entry.reply_markup = markup;
        stored.entry.edits += 1;
        let (entry, message) = (stored.entry.clone(), stored.json.clone());
        state.counters.edits += 1;
        state.emit(ChatEvent::BotEdited { chat_id, entry });
        Ok(message)
    })
}

/// The `file_id` of the media of a message (a photo's largest size), if it has media.
fn current_file_id(message: &Value) -> Option<String> {
    let file = match message.get("photo") {
        Some(sizes) => sizes.as_array()?.last()?,
        None => ["video", "animation", "audio", "document"]
            .into_iter()
            .find_map(|key| message.get(key))?,
    };
    file["file_id"].as_str().map(str::to_owned)
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
