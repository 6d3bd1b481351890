//! sendMediaGroup: albums of photos and videos, of documents, or of audio files.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::{
    admit,
    file_sources::{self, Source},
    media::{self, MediaKind},
    media_sends::merge,
    outgoing::{Body, Outgoing},
};
use crate::{error::ApiError, params::Params, state::Shared};

/// One checked `InputMedia` item.
struct Item {
    kind: MediaKind,
    source: Source,
    body: Body,
    declared: Map<String, Value>,
    flags: Value,
}

/// sendMediaGroup: `media` is a JSON array of 2–10 `InputMediaPhoto`, `InputMediaVideo`,
/// `InputMediaDocument` or `InputMediaAudio`, each with its own `media` (`attach://<part>`,
/// `file_id` or URL) and caption. Documents and audio files are grouped only with their own
/// kind. Answers the array of the sent messages, which share a `media_group_id`. As with
/// Telegram, `reply_markup` is not accepted for albums (it is ignored). The album counts
/// once against the rate limits, and each of its messages in `Counters::sends`.
pub(super) fn send_media_group(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    // In Telegram's order: the media, then the chat and the rest.
    if !params.has("media") {
        return Err(ApiError::bad_request("parameter \"media\" is required"));
    }
    let list = params
        .json("media")
        .map_err(|()| ApiError::bad_request("can't parse media JSON object"))?
        .unwrap_or(Value::Null);
    let Value::Array(list) = list else {
        return Err(ApiError::bad_request("expected an Array of InputMedia"));
    };
    let items = list
        .iter()
        .map(|media| item(params, media))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| ApiError::bad_request(format!("can't parse InputMedia: {error}")))?;
    if !(2..=10).contains(&items.len()) {
        // The Bot API documents 2–10 items; the wording of this answer is the fake's own.
        return Err(ApiError::bad_request("media must include 2-10 items"));
    }
    let alone = |kind| {
        items.iter().any(|item| item.kind == kind) && items.iter().any(|item| item.kind != kind)
    };
    if alone(MediaKind::Document) || alone(MediaKind::Audio) {
        // Telegram refuses such albums; this wording is the fake's own.
        return Err(ApiError::bad_request(
            "documents and audio files can be grouped only with their own kind",
        ));
    }
    for item in &items {
        file_sources::check_source(shared, &item.source, item.kind)?;
    }
    let outgoing = Outgoing::parse_without_markup(params)?;
    shared.write(|state| {
        let reply_to = outgoing.check(state)?;
        let mut files = Vec::new();
        for item in &items {
            let (mut file, origin) = file_sources::resolve(state, &item.source, item.kind)?;
            media::declare(&mut file, &item.declared);
            files.push((file, origin));
        }
        admit(state, outgoing.chat_id)?;
        let group_id = state.next_media_group_id();
        let mut messages = Vec::new();
        for (item, (file, origin)) in items.into_iter().zip(files) {
            let mut extra = media::message_fields(&file, &item.declared);
            merge(&mut extra, item.body.caption_fields());
            merge(&mut extra, item.flags);
            extra["media_group_id"] = json!(group_id);
            let document = (item.kind == MediaKind::Document).then(|| file.document.clone());
            messages.push(outgoing.add(shared, state, reply_to, item.body, document, extra));
            file_sources::store(state, file, origin);
        }
        Ok(Value::Array(messages))
    })
}

/// Checks one `InputMedia`; errors are TDLib's words, after `can't parse InputMedia: `.
fn item(params: &Params, media: &Value) -> Result<Item, String> {
    let Value::Object(object) = media else {
        return Err("expected an Object".to_owned());
    };
    let kind_name = object
        .get("type")
        .and_then(Value::as_str)
        .ok_or("field \"type\" must be of type String")?;
    let kind = MediaKind::of_input_media(kind_name)
        .ok_or_else(|| format!("type \"{kind_name}\" is unsupported"))?;
    if kind == MediaKind::Animation {
        return Err(format!(
            "type \"{kind_name}\" can't be used in sendMediaGroup"
        ));
    }
    let source = object
        .get("media")
        .and_then(Value::as_str)
        .and_then(|name| file_sources::media_source(params, name))
        .ok_or("media not found")?;
    let caption = object.get("caption").and_then(Value::as_str).unwrap_or("");
    let parse_mode = object
        .get("parse_mode")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let entities = object.get("caption_entities").cloned();
    let body = Body::caption(caption, parse_mode, entities).map_err(|error| {
        error
            .description
            .trim_start_matches("Bad Request: ")
            .to_owned()
    })?;
    let mut flags = json!({});
    if object.get("has_spoiler").and_then(Value::as_bool) == Some(true)
        && matches!(kind, MediaKind::Photo | MediaKind::Video)
    {
        flags["has_media_spoiler"] = json!(true);
    }
    if object
        .get("show_caption_above_media")
        .and_then(Value::as_bool)
        == Some(true)
    {
        flags["show_caption_above_media"] = json!(true);
    }
    Ok(Item {
        kind,
        source,
        body,
        declared: object.clone(),
        flags,
    })
}
