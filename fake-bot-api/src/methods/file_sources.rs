//! Where a send's file comes from (an upload, an earlier `file_id`, an HTTP URL), Telegram's
//! limits on uploads, and keeping the files.

use bytes::Bytes;

use super::media::{MediaKind, StoredFile};
use crate::{
    error::ApiError,
    params::{Params, Upload},
    state::{Shared, State},
};

/// The largest photo Telegram accepts (the Bot API docs: "at most 10 MB").
const PHOTO_MAX: usize = 10 * 1024 * 1024;

/// Where a send's file comes from, as the request names it.
#[derive(Clone, Debug)]
pub(crate) enum Source {
    /// A multipart part (the field itself, or the part `attach://<name>` names).
    Upload(Upload),
    /// A `file_id` (looked up under the lock) or an HTTP(S) URL.
    Named(String),
}

/// How a file reached a message, for the counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    Uploaded,
    ByFileId,
    ByUrl,
}

/// The file parameter `kind.field()` of a send; `there is no photo in the request` (Telegram's
/// words, also for an `attach://` naming no part) when it is missing.
pub(crate) fn source(params: &Params, kind: MediaKind) -> Result<Source, ApiError> {
    let missing = || {
        let what = kind.field().replace('_', " ");
        ApiError::bad_request(format!("there is no {what} in the request"))
    };
    if let Some(upload) = params.upload(kind.field()) {
        return Ok(Source::Upload(upload.clone()));
    }
    match params.str(kind.field()) {
        Some(named) if named.starts_with("attach://") || named.trim().is_empty() => Err(missing()),
        Some(named) => Ok(Source::Named(named)),
        None => Err(missing()),
    }
}

/// The `media` of an `InputMedia` object; `None` for an `attach://` naming no part.
pub(crate) fn media_source(params: &Params, media: &str) -> Option<Source> {
    match media.strip_prefix("attach://") {
        Some(name) => params.attached(name).cloned().map(Source::Upload),
        None if media.trim().is_empty() => None,
        None => Some(Source::Named(media.to_owned())),
    }
}

/// Telegram's limits on an upload: `413 Request Entity Too Large` over
/// [`FileLimits::upload_max`](crate::FileLimits::upload_max) (50 MB) for any file.
///
/// Photos have their own limits, which Telegram's MTProto layer enforces and the Bot API
/// passes on as is: over 10 MB `400 Bad Request: PHOTO_SAVE_FILE_INVALID`, and a width plus
/// height over 10000 or a side over 20 times the other `PHOTO_INVALID_DIMENSIONS`.
pub(crate) fn check_source(
    shared: &Shared,
    source: &Source,
    kind: MediaKind,
) -> Result<(), ApiError> {
    let Source::Upload(upload) = source else {
        return Ok(());
    };
    if upload.bytes.len() > shared.config.file_limits.upload_max {
        return Err(ApiError::too_large());
    }
    if kind == MediaKind::Photo {
        if upload.bytes.len() > PHOTO_MAX {
            return Err(ApiError::bad_request("PHOTO_SAVE_FILE_INVALID"));
        }
        if let Ok(size) = imagesize::blob_size(&upload.bytes) {
            let (long, short) = (
                size.width.max(size.height),
                size.width.min(size.height).max(1),
            );
            if size.width + size.height > 10_000 || long > 20 * short {
                return Err(ApiError::bad_request("PHOTO_INVALID_DIMENSIONS"));
            }
        }
    }
    Ok(())
}

/// The file `source` names, as a message of `kind` would carry it; a new one (an upload, a
/// URL) is not yet stored (see [`store`]).
pub(crate) fn resolve(
    state: &mut State,
    source: &Source,
    kind: MediaKind,
) -> Result<(StoredFile, Origin), ApiError> {
    match source {
        Source::Upload(upload) => {
            let file = StoredFile::new(
                state.next_file_number(),
                kind,
                upload.file_name.clone(),
                upload.content_type.clone(),
                upload.bytes.clone(),
            );
            Ok((file, Origin::Uploaded))
        }
        Source::Named(name) => match state.files.get(name) {
            Some(file) if file.kind != kind => Err(ApiError::bad_request(format!(
                "can't use file of type {} as {}",
                file.kind.type_name(),
                kind.type_name()
            ))),
            Some(file) => Ok((file.clone(), Origin::ByFileId)),
            None if name.starts_with("http://") || name.starts_with("https://") => {
                let file_name = name.rsplit('/').next().map(str::to_owned);
                let n = state.next_file_number();
                let file = StoredFile::new(n, kind, file_name, None, Bytes::new());
                Ok((file, Origin::ByUrl))
            }
            None => Err(ApiError::bad_request(
                "wrong file identifier/HTTP URL specified",
            )),
        },
    }
}

/// Keeps `file` for getFile and later sends by id, and counts how it came.
pub(crate) fn store(state: &mut State, file: StoredFile, origin: Origin) {
    let counters = &mut state.counters;
    match origin {
        Origin::Uploaded => {
            counters.uploads += 1;
            counters.upload_bytes += file.document.bytes.len() as u64;
        }
        Origin::ByFileId => counters.sent_by_file_id += 1,
        Origin::ByUrl => counters.sent_by_url += 1,
    }
    state.files.insert(file.document.file_id.clone(), file);
}
