//! Backups kept in a Telegram chat: the snapshot is sent as documents to the operators' chat,
//! and a blank machine rebuilds its data from there with nothing but the bot token.
//!
//! A snapshot larger than [`PART_BYTES`] is sent in parts. Then a manifest message (a line of
//! text and a JSON object: format, time, size, SHA-256 and the file ids of the parts, in order)
//! is sent and pinned. A bot cannot read a chat's history, but `getChat` returns the pinned
//! message: that is how [`fetch`] finds the newest backup, downloads its parts with `getFile`
//! and joins them. Parts are at most 20 MB because that is the most a bot may download (uploads
//! may be 50 MB, downloads not).

use std::future::IntoFuture;

use serde::{Deserialize, Serialize};
use teloxide_core::{
    Bot,
    net::Download,
    payloads::{PinChatMessageSetters, SendDocumentSetters},
    prelude::Requester,
    types::{ChatId, FileId, InputFile},
};

use sha2::{Digest, Sha256};

use super::SnapshotInfo;
use crate::{Error, Result};

/// The largest part, in bytes: the Bot API's download limit for bots.
pub const PART_BYTES: usize = 20 * 1000 * 1000;

/// The first line of a manifest message.
const HEADER: &str = "botbox backup";

/// What the pinned manifest message says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The snapshot format version.
    pub format: u32,
    /// When the snapshot was taken, Unix seconds.
    pub created: u64,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its SHA-256, hex (of the content before the trailer, as in the file's trailer).
    pub sha256: String,
    /// The file ids of its parts, in order.
    pub parts: Vec<String>,
    /// How many tables and records it holds (0 in manifests of older botbox versions).
    #[serde(default)]
    pub tables: u64,
    /// See `tables`.
    #[serde(default)]
    pub records: u64,
    /// Whether the parts are sealed with age (`backup.encrypt_to` or `backup.passphrase_file`).
    #[serde(default)]
    pub encrypted: bool,
    /// The SHA-256, hex, of the bytes sent (the sealed file when encrypted): checked as soon as
    /// the parts are joined, before anything is decrypted or decompressed. Absent from manifests
    /// of older botbox versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_sha256: Option<String>,
}

/// Runs a Bot API request, waiting out 429s (the operators' chat has Telegram's per-chat limit
/// too: about one message a second) and retrying network errors a few times.
async fn patiently<T, F, Fut>(mut request: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, teloxide_core::RequestError>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match request().await {
            Ok(v) => return Ok(v),
            Err(teloxide_core::RequestError::RetryAfter(s)) if tries < 20 => {
                tokio::time::sleep(s.duration()).await;
            }
            Err(teloxide_core::RequestError::Network(_)) if tries < 5 => {
                tokio::time::sleep(std::time::Duration::from_secs(1 << tries)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn telegram(e: impl std::fmt::Display) -> Error {
    Error::Corrupt(format!("backup in Telegram: {e}"))
}

/// Sends `snapshot` (a snapshot file, sealed or not; `info` describes the plain one) to
/// `chat_id` in parts of at most `part_bytes`, then pins its manifest. Returns the manifest.
pub async fn send(
    bot: &Bot,
    chat_id: i64,
    snapshot: &[u8],
    info: &SnapshotInfo,
    part_bytes: usize,
) -> Result<Manifest> {
    let parts = super::split(snapshot, part_bytes.clamp(1, PART_BYTES));
    let n = parts.len();
    let mut ids = Vec::with_capacity(n);
    for (i, part) in parts.into_iter().enumerate() {
        let name = format!("botbox-{}.bbk.{}of{n}", info.created, i + 1);
        let data = bytes::Bytes::copy_from_slice(part);
        let caption = format!("botbox backup {} part {} of {n}", info.created, i + 1);
        let msg = patiently(|| {
            bot.send_document(
                ChatId(chat_id),
                InputFile::memory(data.clone()).file_name(name.clone()),
            )
            .caption(caption.clone())
            .disable_notification(true)
            .into_future()
        })
        .await?;
        let doc = msg
            .document()
            .ok_or_else(|| telegram("Telegram answered a document upload without the document"))?;
        ids.push(doc.file.id.0.clone());
    }
    let manifest = Manifest {
        format: 1,
        created: info.created,
        bytes: snapshot.len() as u64,
        sha256: info.sha256.clone(),
        parts: ids,
        tables: info.tables,
        records: info.records,
        encrypted: super::crypt::is_sealed(snapshot),
        sent_sha256: Some(hex::encode(Sha256::digest(snapshot))),
    };
    let text = format!(
        "{HEADER}\n{}",
        serde_json::to_string(&manifest).map_err(telegram)?
    );
    let msg = patiently(|| {
        bot.send_message(ChatId(chat_id), text.clone())
            .into_future()
    })
    .await?;
    patiently(|| {
        bot.pin_chat_message(ChatId(chat_id), msg.id)
            .disable_notification(true)
            .into_future()
    })
    .await?;
    Ok(manifest)
}

/// Finds the pinned backup manifest in `chat_id`, downloads its parts and joins them.
pub async fn fetch(bot: &Bot, chat_id: i64) -> Result<(Manifest, Vec<u8>)> {
    let chat = patiently(|| bot.get_chat(ChatId(chat_id)).into_future()).await?;
    let pinned = chat
        .pinned_message
        .ok_or_else(|| telegram(format!("chat {chat_id} has no pinned message")))?;
    let text = pinned.text().unwrap_or_default();
    let json = text.strip_prefix(HEADER).ok_or_else(|| {
        telegram(format!(
            "the pinned message of chat {chat_id} is not a botbox backup manifest"
        ))
    })?;
    let manifest: Manifest = serde_json::from_str(json.trim()).map_err(telegram)?;
    let mut parts = Vec::with_capacity(manifest.parts.len());
    for id in &manifest.parts {
        let file = patiently(|| bot.get_file(FileId(id.clone())).into_future()).await?;
        let mut bytes = Vec::new();
        bot.download_file(&file.path, &mut bytes)
            .await
            .map_err(telegram)?;
        parts.push(bytes);
    }
    let snapshot = super::join(&parts);
    if snapshot.len() as u64 != manifest.bytes {
        return Err(telegram(format!(
            "the parts make {} bytes, the manifest says {}",
            snapshot.len(),
            manifest.bytes
        )));
    }
    if let Some(expected) = &manifest.sent_sha256 {
        let got = hex::encode(Sha256::digest(&snapshot));
        if &got != expected {
            return Err(telegram(format!(
                "the parts' SHA-256 is {got}, the manifest says {expected}: a part was replaced \
                 or damaged; nothing was restored"
            )));
        }
    }
    Ok((manifest, snapshot))
}
