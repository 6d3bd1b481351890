//! An append-only record of what the downloader did, one JSON object per line, for operators
//! (and tests) to read.

use std::io::Write as _;
use std::path::PathBuf;

use std::sync::{Mutex, PoisonError};

use serde::Serialize;

/// One line of the journal.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Entry<'a> {
    /// A job was accepted, on the listener at `local_addr`.
    Accepted {
        job_id: &'a str,
        link: &'a str,
        quality: &'a str,
        local_addr: String,
    },
    /// A job was refused.
    Refused { job_id: &'a str, reason: &'a str },
    /// A job ended.
    Finished {
        job_id: &'a str,
        ok: bool,
        error: &'a str,
        path: &'a str,
        bytes: u64,
    },
    /// The downloader registered these addresses with the bot.
    Registered { addresses: &'a [String] },
}

/// The journal file, or nothing when none was asked for.
pub struct Journal {
    file: Option<Mutex<std::fs::File>>,
}

impl Journal {
    /// Opens (creates, appends to) `path`.
    pub fn open(path: Option<&PathBuf>) -> anyhow::Result<Self> {
        let file = match path {
            None => None,
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| anyhow::anyhow!("opening the journal {}: {e}", path.display()))?;
                Some(Mutex::new(file))
            }
        };
        Ok(Self { file })
    }

    /// Appends `entry` as one line; a failure is logged, never fatal.
    pub fn write(&self, entry: &Entry<'_>) {
        let Some(file) = &self.file else { return };
        let mut line = serde_json::to_vec(entry).expect("journal entries serialise");
        line.push(b'\n');
        if let Err(error) = file
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write_all(&line)
        {
            tracing::warn!(%error, "cannot write to the journal");
        }
    }
}
