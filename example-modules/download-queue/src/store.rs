//! What the module keeps in its KV namespace, and the indexes beside it.
//!
//! - `link/<id>`: a queued [`Link`]; `due/<due ms>/<id>` and `own/<owner>/<id>` index it (empty
//!   values; numbers zero-padded so keys sort like the numbers);
//! - `job/<job id>`: a [`Job`] a downloader accepted and has not reported yet;
//! - `dl/<name>`: a registered [`Downloader`];
//! - `batch/<ticket>`: how many queued links an insertion status message still speaks for;
//! - `rate/<user>`: a user's links in the current minute; `seq`: the last link id; `tick`: the
//!   dispatch timer.

use botbox_sdk::kv::{self, Write};
use botbox_sdk::outbox::Ticket;
use serde::{Deserialize, Serialize};

/// A link waiting in the queue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Link {
    /// The link's number, unique for the module's life.
    pub id: u64,
    /// The http(s) URL.
    pub url: String,
    /// The chosen quality.
    pub quality: String,
    /// When it is due to go to a downloader (Unix ms).
    pub due_ms: u64,
    /// Who queued it (Telegram user id) and their first name.
    pub owner: i64,
    /// The owner's first name, for admins' lists.
    pub owner_name: String,
    /// The chat it was queued in.
    pub chat: i64,
    /// The bot's message about it, with the keyboard.
    pub message: Option<Ticket>,
    /// The insertion status message of the user's message that held it.
    pub status: Option<Ticket>,
    /// Failed tries so far.
    #[serde(default)]
    pub attempts: u32,
    /// The latest failure, as the user sees it.
    #[serde(default)]
    pub last_error: Option<String>,
}

/// A link a downloader accepted, until it reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// The link as it was when sent.
    pub link: Link,
    /// The downloader that took it.
    pub downloader: String,
}

/// A registered downloader.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Downloader {
    /// Its name.
    pub name: String,
    /// Base URLs of its `Downloader` service.
    pub addresses: Vec<String>,
    /// When the module last heard from it (Unix ms).
    pub seen_ms: u64,
}

/// The dispatch timer.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Tick {
    /// The pending timer.
    pub timer: u64,
    /// When it is due (Unix ms).
    pub due_ms: u64,
}

pub const SEQ: &str = "seq";
pub const TICK: &str = "tick";

pub fn link_key(id: u64) -> String {
    format!("link/{id:020}")
}
fn due_key(link: &Link) -> String {
    format!("due/{:020}/{:020}", link.due_ms, link.id)
}
fn own_key(link: &Link) -> String {
    format!("own/{}/{:020}", link.owner, link.id)
}
pub fn job_key(job_id: &str) -> String {
    format!("job/{job_id}")
}
pub fn downloader_key(name: &str) -> String {
    format!("dl/{name}")
}
pub fn batch_key(ticket: Ticket) -> String {
    format!("batch/{}", ticket.to_raw())
}
pub fn rate_key(user: i64) -> String {
    format!("rate/{user}")
}

/// The writes that store `link` with its indexes (all or nothing, in a [`kv::batch`]).
pub fn put_link(link: &Link) -> Result<Vec<Write>, kv::Error> {
    Ok(vec![
        Write::set_json(link_key(link.id), link)?,
        Write::set(due_key(link), b""),
        Write::set(own_key(link), b""),
    ])
}

/// Stores `link`, replacing `old` (whose due index is dropped).
pub fn update_link(old: &Link, link: &Link) -> Result<(), kv::Error> {
    let mut writes = vec![Write::delete(due_key(old))];
    writes.extend(put_link(link)?);
    kv::batch(writes)
}

/// Removes `link` and its indexes.
pub fn remove_link(link: &Link) -> Result<(), kv::Error> {
    kv::batch([
        Write::delete(link_key(link.id)),
        Write::delete(due_key(link)),
        Write::delete(own_key(link)),
    ])
}

/// The link `id`, if queued.
pub fn link(id: u64) -> Result<Option<Link>, kv::Error> {
    kv::get_json(link_key(id))
}

/// Links due at `now_ms` or earlier, soonest first, at most `limit`.
pub fn due_links(now_ms: u64, limit: usize) -> Result<Vec<Link>, kv::Error> {
    let end = format!("due/{:020}0", now_ms);
    let mut links = Vec::new();
    for entry in kv::range("due/", Some(end.as_bytes())).limit(limit) {
        if let Some(link) = link(id_at_end(&entry?.key))? {
            links.push(link);
        }
    }
    Ok(links)
}

/// `user`'s links (every link when `user` is `None`), oldest first, at most `limit`.
pub fn links_of(user: Option<i64>, limit: usize) -> Result<Vec<Link>, kv::Error> {
    let prefix = match user {
        Some(user) => format!("own/{user}/"),
        None => "link/".into(),
    };
    let mut links = Vec::new();
    for entry in kv::scan(prefix).limit(limit) {
        if let Some(link) = link(id_at_end(&entry?.key))? {
            links.push(link);
        }
    }
    Ok(links)
}

fn id_at_end(key: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(key);
    text.rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .unwrap_or(0)
}

/// Every registered downloader, by name.
pub fn downloaders() -> Result<Vec<Downloader>, kv::Error> {
    kv::scan("dl/")
        .limit(1000)
        .map(|entry| {
            let entry = entry?;
            serde_json::from_slice(&entry.value).map_err(|e| kv::Error::Decode {
                key: String::from_utf8_lossy(&entry.key).into_owned(),
                reason: e.to_string(),
            })
        })
        .collect()
}
