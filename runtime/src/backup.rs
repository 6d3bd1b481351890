//! Consistent, verified, compressed snapshots of the database, and restoring from them.
//!
//! A snapshot is taken inside one read transaction, so it is consistent while the bot keeps
//! writing (redb readers never block the writer), and it copies every table whatever its
//! name: the runtime's own tables and every module's `kv:<module>` namespace. Restoring checks
//! the whole snapshot before it builds a new database file next to the current one, and swaps
//! the two with a rename only once that file is complete and on disk.
//!
//! # Format (version 1)
//!
//! A snapshot file (`.bbk`) is a 20-byte header, a zstd-compressed body, and a 56-byte
//! trailer; integers are little-endian. The header is the magic `BOTBOXBK`, the format version
//! (u32) and the creation time (u64, unix seconds). The body is a sequence of tagged items:
//! `T` starts a table and carries its name, its key type and its value type (redb's type names,
//! such as `u64` or `(u64,&str)`); `R` is a record of the latest table, its key and its value
//! exactly as redb stores them, so that copying needs no knowledge of what the bytes mean (should
//! redb ever change how it encodes one of these types, the format version changes too); `E` ends
//! the body. Strings and byte strings are a u32 length followed by the bytes. The trailer holds
//! the number of tables (u64), the number of records (u64), the SHA-256 of every byte of the
//! file before it (header, compressed body and the two counts), and the closing magic
//! `BBK-DONE`, whose absence marks a file that was cut short. The checksum catches damage and
//! truncation; it does not authenticate: anyone who can write the file can also recompute it.
//! A record's key is at most [`MAX_RECORD_KEY`] bytes and its value at most [`MAX_RECORD_VALUE`].
//!
//! With `backup.encrypt_to` or `backup.passphrase_file`, the whole file is sealed in the age
//! format ([`crypt`]); restoring opens it with the keys given before anything else.

pub mod crypt;
mod format;
pub mod newest;
pub(crate) mod schedule;
pub(crate) mod source;
pub mod telegram;
mod types;

#[cfg(test)]
mod tests;

use std::{
    fs::File,
    io::{BufReader, BufWriter, Read, Seek, Write},
    path::{Path, PathBuf},
};

use redb::{Database, DatabaseError, ReadOnlyDatabase, ReadableDatabase};

use crate::{Error, Result};
pub use crypt::{Keys, Seal};
pub use format::{MAX_RECORD_KEY, MAX_RECORD_VALUE};

/// The Bot API's size limit for a document sent by a bot; larger snapshots go in [`split`] parts.
pub const TELEGRAM_UPLOAD_LIMIT: usize = 50 * 1000 * 1000;

/// What a snapshot holds, as written or as found by [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SnapshotInfo {
    /// How many tables it holds, empty ones included.
    pub tables: u64,
    /// How many records (key-value pairs) it holds over all tables.
    pub records: u64,
    /// Its size in bytes, the whole file.
    pub bytes: u64,
    /// The SHA-256 recorded in its trailer, in lowercase hex.
    pub sha256: String,
    /// When it was taken, in unix seconds.
    pub created: u64,
}

/// Writes a snapshot of every table of `db` to `out`, consistent as of one moment.
///
/// The database stays fully usable meanwhile. A table whose key or value type the snapshot
/// format does not know is an error naming it, never silently left out.
pub fn write_snapshot(db: &Database, out: impl Write) -> Result<SnapshotInfo> {
    let txn = db.begin_read()?;
    let created = crate::clock::unix_secs();
    let mut writer = format::Writer::new(out, created).map_err(format::output_error)?;
    types::dump(&txn, &mut writer)?;
    writer.finish().map_err(format::output_error)
}

/// Reads a whole snapshot and checks its magic, version, framing, counts and checksum.
///
/// Any truncation or alteration is an error that says what is wrong.
pub fn verify(input: impl Read) -> Result<SnapshotInfo> {
    verify_with(input, &Keys::none())
}

/// [`verify`] for a snapshot that may be sealed: opened with `keys` first.
pub fn verify_with(input: impl Read, keys: &Keys) -> Result<SnapshotInfo> {
    format::read(crypt::open(input, keys)?, None)
}

/// Replaces the database in `data_dir` with the snapshot read from `input`.
///
/// Nothing is replaced unless the whole snapshot verifies: it is first copied to a temporary
/// file in `data_dir` and checked, then loaded into `botbox.redb.restoring`, which is renamed
/// over `botbox.redb`; the previous database stays as `botbox.redb.before-restore`. `data_dir`
/// is created if it does not exist (restoring onto a blank machine). The runtime must be
/// stopped; if it still holds the database this is an error and nothing changes.
pub fn restore(input: impl Read, data_dir: &Path) -> Result<SnapshotInfo> {
    restore_with(input, data_dir, &Keys::none(), None)
}

/// [`restore`] of a snapshot that may be sealed (opened with `keys`), and that must be the one
/// whose checksum is `expect_sha256` when that is given (a manifest's).
///
/// The file is read twice: first its framing and checksum are checked while it is spooled to
/// disk, without decompressing anything; only then is the body decompressed, record by record
/// (each capped, see [`MAX_RECORD_VALUE`]), into the new database file.
pub fn restore_with(
    input: impl Read,
    data_dir: &Path,
    keys: &Keys,
    expect_sha256: Option<&str>,
) -> Result<SnapshotInfo> {
    let input = crypt::open(input, keys)?;
    std::fs::create_dir_all(data_dir).map_err(|e| Error::io(data_dir, e))?;
    let current = data_dir.join("botbox.redb");
    let restoring = data_dir.join("botbox.redb.restoring");
    let before = data_dir.join("botbox.redb.before-restore");

    // Holding the current database open keeps a runtime from starting during the restore.
    let _lock = lock_current(&current)?;

    let mut spool = tempfile::Builder::new()
        .prefix("botbox.redb.incoming-")
        .tempfile_in(data_dir)
        .map_err(|e| Error::io(data_dir, e))?;
    let spool_path = spool.path().to_path_buf();
    let info = {
        let mut tee = format::Tee {
            input,
            copy: BufWriter::new(spool.as_file_mut()),
        };
        let info = format::check_sum(&mut tee)?;
        tee.copy.flush().map_err(|e| Error::io(&spool_path, e))?;
        info
    };
    if let Some(expected) = expect_sha256
        && expected != info.sha256
    {
        return Err(Error::Backup(format!(
            "the snapshot's checksum is {}, not the {expected} its manifest names; nothing was restored",
            info.sha256
        )));
    }
    spool.rewind().map_err(|e| Error::io(&spool_path, e))?;

    remove_if_present(&restoring)?;
    let info = match build(BufReader::new(spool.as_file()), &restoring) {
        Ok(info) => info,
        Err(e) => {
            let _ = std::fs::remove_file(&restoring);
            return Err(e);
        }
    };

    if current.exists() {
        remove_if_present(&before)?;
        // A hard link keeps `botbox.redb` in place until the rename below replaces it.
        if std::fs::hard_link(&current, &before).is_err() {
            std::fs::rename(&current, &before).map_err(|e| Error::io(&current, e))?;
        }
    }
    std::fs::rename(&restoring, &current).map_err(|e| Error::io(&restoring, e))?;
    sync_dir(data_dir)?;
    Ok(info)
}

/// Cuts a snapshot into parts of at most `part_size` bytes, for [`TELEGRAM_UPLOAD_LIMIT`].
///
/// # Panics
/// If `part_size` is 0.
pub fn split(snapshot: &[u8], part_size: usize) -> Vec<&[u8]> {
    snapshot.chunks(part_size).collect()
}

/// Puts parts made by [`split`] back together, in the order given.
pub fn join(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// The file name of a scheduled backup taken at `unix` seconds: `botbox-<unix>.bbk`.
pub fn backup_file_name(unix: u64) -> String {
    format!("botbox-{unix}.bbk")
}

/// Writes a snapshot of `db` into `dir` as [`backup_file_name`] of its creation time, sealed
/// with `seal` (see [`crypt`]).
///
/// The file appears under that name only once it is complete and on disk, so a crash mid-way
/// leaves at most a `*.bbk.part` file, which [`prune_backups`] ignores. It is private (0600):
/// a snapshot holds every module's data.
pub fn write_backup_file(
    db: &Database,
    dir: &Path,
    seal: &Seal,
) -> Result<(PathBuf, SnapshotInfo)> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let part = tempfile::Builder::new()
        .prefix("botbox-")
        .suffix(".bbk.part")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    let info = {
        let mut out = seal.wrap(BufWriter::new(part.as_file()))?;
        let info = write_snapshot(db, &mut out)?;
        out.finish()
            .and_then(|mut w| w.flush())
            .map_err(|e| Error::io(part.path(), e))?;
        info
    };
    part.as_file()
        .sync_all()
        .map_err(|e| Error::io(part.path(), e))?;
    let path = dir.join(backup_file_name(info.created));
    part.persist(&path).map_err(|e| Error::io(&path, e.error))?;
    sync_dir(dir)?;
    Ok((path, info))
}

/// The backups in `dir` (files named as [`backup_file_name`] makes them), oldest first.
pub(crate) fn backups_in(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut backups = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if let Some(unix) = entry.file_name().to_str().and_then(backup_time)
            && is_file
        {
            backups.push((unix, entry.path()));
        }
    }
    backups.sort();
    Ok(backups)
}

/// The newest backup in `dir`, if there is one (what to restore when the database is damaged).
pub fn newest_backup(dir: &Path) -> Option<PathBuf> {
    backups_in(dir).ok()?.pop().map(|(_, path)| path)
}

/// Deletes all but the newest `keep` backups in `dir`, returning the deleted files, oldest first.
///
/// Only files named as [`backup_file_name`] makes them count; nothing else is touched.
pub fn prune_backups(dir: &Path, keep: usize) -> Result<Vec<PathBuf>> {
    let backups = backups_in(dir)?;
    let excess = backups.len().saturating_sub(keep);
    let mut deleted = Vec::with_capacity(excess);
    for (_, path) in backups.into_iter().take(excess) {
        std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        deleted.push(path);
    }
    Ok(deleted)
}

/// The time in a name made by [`backup_file_name`].
fn backup_time(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("botbox-")?.strip_suffix(".bbk")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Loads a verified snapshot into a new database file at `path`.
fn build(input: impl Read, path: &Path) -> Result<SnapshotInfo> {
    let db = Database::create(path)?;
    let txn = db.begin_write()?;
    let info = format::read(input, Some(&txn))?;
    txn.commit()?;
    Ok(info)
}

/// Reads a snapshot that may be sealed (opened with `keys`) into a new database file at
/// `path`, checked whole as [`restore`] checks it: for moving a bot into another store.
pub fn read_into_new(
    input: impl Read,
    keys: &Keys,
    path: &Path,
) -> Result<(SnapshotInfo, Database)> {
    let db = Database::create(path).map_err(|e| Error::Database(e.into()))?;
    let txn = db.begin_write()?;
    let info = format::read(crypt::open(input, keys)?, Some(&txn))?;
    txn.commit()?;
    Ok((info, db))
}

/// Reads a snapshot into a new in-memory database, as [`restore`] builds its file (for the
/// fuzz target: `fuzzing.rs`).
pub(crate) fn read_into_empty(input: impl Read) -> Result<(SnapshotInfo, Database)> {
    let db = Database::builder().create_with_backend(redb::backends::InMemoryBackend::new())?;
    let txn = db.begin_write()?;
    let info = format::read(input, Some(&txn))?;
    txn.commit()?;
    Ok((info, db))
}

/// Opens the current database read-only, if there is one, to hold a lock that keeps a runtime
/// from opening it; refuses if a runtime has it open already.
///
/// Read-only opening never modifies the file. A database that does not open for another reason
/// (a damaged one may be why the operator restores) does not stop the restore.
fn lock_current(path: &Path) -> Result<Option<ReadOnlyDatabase>> {
    if !path.exists() {
        return Ok(None);
    }
    match Database::builder()
        .set_cache_size(1 << 20)
        .open_read_only(path)
    {
        Ok(db) => Ok(Some(db)),
        Err(DatabaseError::DatabaseAlreadyOpen) => Err(Error::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::ResourceBusy,
                "the database is in use by a running botbox; stop it before restoring",
            ),
        )),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "the current database does not open; restoring over it");
            Ok(None)
        }
    }
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    }
}

/// Makes renames in `dir` durable.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}
