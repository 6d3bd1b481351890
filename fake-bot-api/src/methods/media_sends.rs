//! sendPhoto, sendVideo, sendAudio, sendVoice, sendAnimation, sendSticker, sendVideoNote
//! and sendDocument: one path for every single-file send.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::{
    file_sources,
    media::{self, MediaKind},
    outgoing::{Body, Outgoing},
};
use crate::{error::ApiError, params::Params, state::Shared};

/// The parameters that describe the file rather than the message.
const DECLARED: [&str; 6] = [
    "width",
    "height",
    "duration",
    "length",
    "title",
    "performer",
];

/// Sends one file of `kind`: the parameter named like the kind (`photo`, `video_note`, ...)
/// is an upload, an `attach://<part>`, the `file_id` of an earlier file of the same kind, or
/// an HTTP(S) URL (not fetched: the file is empty). Answers the `Message`.
pub(super) fn send_media(
    shared: &Arc<Shared>,
    params: &Params,
    kind: MediaKind,
) -> Result<Value, ApiError> {
    // In Telegram's order: the file, the caption, then the chat and the rest.
    let source = file_sources::source(params, kind)?;
    file_sources::check_source(shared, &source, kind)?;
    let body = if kind.has_caption() {
        Body::caption_of(params)?
    } else {
        Body::empty()
    };
    let outgoing = Outgoing::parse(params)?;
    let mut declared = Map::new();
    for key in DECLARED
        .into_iter()
        .chain((kind == MediaKind::Sticker).then_some("emoji"))
    {
        if let Some(value) = params.str(key) {
            declared.insert(key.to_owned(), json!(value));
        }
    }
    let flags = flags(params, kind);
    shared.write(|state| {
        outgoing.check(state)?;
        let (mut file, origin) = file_sources::resolve(state, &source, kind)?;
        media::declare(&mut file, &declared);
        let mut extra = media::message_fields(&file, &declared);
        merge(&mut extra, body.caption_fields());
        merge(&mut extra, flags);
        let document = (kind == MediaKind::Document).then(|| file.document.clone());
        let message = outgoing.send(shared, state, body, document, extra)?;
        file_sources::store(state, file, origin);
        Ok(message)
    })
}

/// `has_media_spoiler` and `show_caption_above_media` as the message shows them.
pub(crate) fn flags(params: &Params, kind: MediaKind) -> Value {
    let mut flags = json!({});
    if params.bool("has_spoiler")
        && matches!(
            kind,
            MediaKind::Photo | MediaKind::Video | MediaKind::Animation
        )
    {
        flags["has_media_spoiler"] = json!(true);
    }
    if params.bool("show_caption_above_media") && kind.has_caption() {
        flags["show_caption_above_media"] = json!(true);
    }
    flags
}

/// Adds the fields of the object `more` to the object `into`.
pub(crate) fn merge(into: &mut Value, more: Value) {
    if let (Some(into), Value::Object(more)) = (into.as_object_mut(), more) {
        into.extend(more);
    }
}
