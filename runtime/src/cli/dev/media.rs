//! What `botbox dev` shows of messages that are not only text: media in words, with the files
//! the bot sent kept under `./botbox-dev/files/`, and the lines that send a photo or a file
//! from a path (`:photo <path> [caption]`, `:file <path> [caption]`).

use std::path::{Path, PathBuf};

use fake_bot_api::{FakeBotApi, TestUser};
use serde_json::Value;

/// Where the files the bot sends are kept.
pub(super) fn files_dir() -> PathBuf {
    PathBuf::from("botbox-dev").join("files")
}

fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MB", bytes as f64 / f64::from(1u32 << 20))
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}

/// Keeps `bytes` as `name` under `dir`; the path, or why not.
fn keep(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    match std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, bytes)) {
        Ok(()) => path.display().to_string(),
        Err(e) => format!("not kept: {e}"),
    }
}

/// The media of the bot's message `message_id` in `chat`, in words (`None` for plain text).
pub(super) fn describe(
    fake: &FakeBotApi,
    chat: i64,
    message_id: i64,
    dir: &Path,
) -> Option<String> {
    let message = fake
        .bot_messages(chat)
        .into_iter()
        .find(|m| m["message_id"].as_i64() == Some(message_id))?;
    if message.get("photo").is_some() {
        let photo = fake
            .photos(chat)
            .into_iter()
            .find(|p| p.message_id == message_id)?;
        let ext = if photo.bytes.starts_with(b"\x89PNG") {
            "png"
        } else {
            "jpg"
        };
        let path = keep(dir, &format!("{message_id}-photo.{ext}"), &photo.bytes);
        return Some(format!(
            "[photo {}×{}, {} → {path}]",
            photo.width,
            photo.height,
            size(photo.bytes.len() as u64)
        ));
    }
    if let Some(dice) = message.get("dice") {
        return Some(format!("[{} {}]", dice["emoji"].as_str()?, dice["value"]));
    }
    if let Some(poll) = message.get("poll") {
        let options: Vec<&str> = poll["options"]
            .as_array()?
            .iter()
            .filter_map(|o| o["text"].as_str())
            .collect();
        return Some(format!(
            "[poll: {} ({})]",
            poll["question"].as_str()?,
            options.join(" / ")
        ));
    }
    if let Some(at) = message.get("location") {
        return Some(format!(
            "[location {}, {}]",
            at["latitude"], at["longitude"]
        ));
    }
    if message.get("document").is_some() {
        let entry = fake
            .transcript(chat)
            .into_iter()
            .find(|e| e.message_id == message_id)?;
        let document = entry.document?;
        let name = document.file_name.clone().unwrap_or_else(|| "file".into());
        // Only the last path component: a module chooses the name.
        let name = Path::new(&name).file_name()?.to_string_lossy().into_owned();
        let path = keep(dir, &format!("{message_id}-{name}"), &document.bytes);
        return Some(format!(
            "[document {name}, {} → {path}]",
            size(document.bytes.len() as u64)
        ));
    }
    [
        "video",
        "audio",
        "voice",
        "animation",
        "sticker",
        "video_note",
    ]
    .iter()
    .find_map(|kind| {
        let media: &Value = message.get(*kind)?;
        let bytes = media["file_size"].as_u64().unwrap_or(0);
        Some(format!("[{} {}]", kind.replace('_', " "), size(bytes)))
    })
}

/// Sends what a `:photo` or `:file` line names as `user`; `Ok(false)` when `line` is not one.
pub(super) fn send_from_path(
    fake: &FakeBotApi,
    user: &TestUser,
    line: &str,
) -> anyhow::Result<bool> {
    let (photo, rest) = if let Some(rest) = line.strip_prefix(":photo ") {
        (true, rest)
    } else if let Some(rest) = line.strip_prefix(":file ") {
        (false, rest)
    } else {
        return Ok(false);
    };
    let rest = rest.trim();
    let (path, caption) = rest.split_once(' ').unwrap_or((rest, ""));
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            println!("botbox dev: cannot read {path}: {e}");
            return Ok(true);
        }
    };
    if photo {
        fake.send_photo(user, bytes, caption.trim());
    } else {
        let name = Path::new(path)
            .file_name()
            .map_or("file".into(), |n| n.to_string_lossy().into_owned());
        fake.send_document(user, &name, bytes, caption.trim());
    }
    Ok(true)
}
