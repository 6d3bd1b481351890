//! The files queued calls upload: their bytes kept once per content (SHA-256) while any queued
//! entry needs them, and the file id Telegram gave the first upload, so that the copies a
//! broadcast sends after it go by id instead of uploading the bytes again.
//!
//! A handler's commit stores the bytes of its calls' files and counts one reference per entry
//! that names them; an entry's delivery (or give-up) drops its references in the same
//! transaction that removes it, and the last one removes the bytes. So the disk holds a file
//! exactly as long as something queued will send it.

use redb::{ReadableDatabase, ReadableTable, Table};
use serde::{Deserialize, Serialize};

use super::{
    Db,
    records::{Action, Entry},
    tables::{FILE_BYTES, FILES},
};
use crate::{Error, Result};

/// What the store knows of one file's content.
/// (Also the value of `botbox_files` on PostgreSQL, `pg/unit/extras.rs`.)
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct FileRow {
    /// Queued entries that send it.
    pub(super) refs: u64,
    /// Telegram's id for it, once uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) file_id: Option<String>,
}

fn read_row(table: &Table<'_, &str, &[u8]>, sha: &str) -> Result<Option<FileRow>> {
    match table.get(sha)? {
        Some(v) => Ok(Some(
            serde_json::from_slice(v.value()).map_err(|e| Error::Corrupt(e.to_string()))?,
        )),
        None => Ok(None),
    }
}

fn write_row(table: &mut Table<'_, &str, &[u8]>, sha: &str, row: &FileRow) -> Result<()> {
    let bytes = serde_json::to_vec(row).map_err(|e| Error::Corrupt(e.to_string()))?;
    table.insert(sha, bytes.as_slice())?;
    Ok(())
}

/// Stores `blobs` (SHA-256 hex → bytes) not stored yet and counts the references of `entries`.
pub(super) fn add(
    txn: &redb::WriteTransaction,
    blobs: &[(String, bytes::Bytes)],
    entries: &[Entry],
) -> Result<()> {
    let files_of = |e: &Entry| match &e.action {
        Action::Call { files, .. } => files.len(),
        _ => 0,
    };
    if blobs.is_empty() && entries.iter().all(|e| files_of(e) == 0) {
        return Ok(());
    }
    let mut rows = txn.open_table(FILES)?;
    let mut bytes = txn.open_table(FILE_BYTES)?;
    for (sha, data) in blobs {
        if bytes.get(sha.as_str())?.is_none() {
            bytes.insert(sha.as_str(), data.as_ref())?;
        }
    }
    for entry in entries {
        if let Action::Call { files, .. } = &entry.action {
            for f in files {
                let mut row = read_row(&rows, &f.sha256)?.unwrap_or_default();
                row.refs += 1;
                write_row(&mut rows, &f.sha256, &row)?;
            }
        }
    }
    Ok(())
}

/// Drops the references of the entry whose JSON is `removed` (just taken out of the outbox),
/// and records the file ids Telegram gave its uploads.
pub(super) fn release(
    txn: &redb::WriteTransaction,
    removed: &[u8],
    uploaded: &[(String, String)],
) -> Result<()> {
    let Ok(Entry {
        action: Action::Call { files, .. },
        ..
    }) = serde_json::from_slice::<Entry>(removed)
    else {
        return Ok(());
    };
    if files.is_empty() {
        return Ok(());
    }
    let mut rows = txn.open_table(FILES)?;
    let mut bytes = txn.open_table(FILE_BYTES)?;
    for (sha, file_id) in uploaded {
        if let Some(mut row) = read_row(&rows, sha)? {
            row.file_id = Some(file_id.clone());
            write_row(&mut rows, sha, &row)?;
        }
    }
    for f in files {
        let Some(mut row) = read_row(&rows, &f.sha256)? else {
            continue;
        };
        row.refs = row.refs.saturating_sub(1);
        if row.refs == 0 {
            rows.remove(f.sha256.as_str())?;
            bytes.remove(f.sha256.as_str())?;
        } else {
            write_row(&mut rows, &f.sha256, &row)?;
        }
    }
    Ok(())
}

impl Db {
    /// The bytes of the queued file with this SHA-256 (hex).
    pub fn file_bytes(&self, sha256: &str) -> Result<Option<bytes::Bytes>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(FILE_BYTES)?;
        Ok(t.get(sha256)?
            .map(|v| bytes::Bytes::copy_from_slice(v.value())))
    }

    /// Telegram's file id for the queued file with this SHA-256, once one copy was uploaded.
    pub fn file_id(&self, sha256: &str) -> Result<Option<String>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(FILES)?;
        match t.get(sha256)? {
            Some(v) => {
                let row: FileRow =
                    serde_json::from_slice(v.value()).map_err(|e| Error::Corrupt(e.to_string()))?;
                Ok(row.file_id)
            }
            None => Ok(None),
        }
    }

    /// How many distinct files are stored and their bytes (for `/metrics` and the tests).
    pub fn stored_files(&self) -> Result<(u64, u64)> {
        use redb::ReadableTableMetadata;
        let txn = self.db.begin_read()?;
        let t = txn.open_table(FILE_BYTES)?;
        let mut bytes = 0u64;
        for item in t.iter()? {
            bytes += item?.1.value().len() as u64;
        }
        Ok((t.len()?, bytes))
    }
}
