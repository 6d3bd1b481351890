//! Durable state in one redb file: updates in flight, module KV namespaces, the outbox, tickets.
//!
//! Every change goes through the [`Committer`] (one writer thread, group commit), so a handler's
//! KV writes, its outgoing messages and its update's "done" mark are one atomic transaction.

pub mod broadcasts;
mod commit;
pub mod conversations;
mod crashes;
pub mod disk_full;
mod due_timers;
mod files;
mod held;
pub mod kv;
pub mod kv_txn;
mod owners;
mod patient_file;
pub mod pg;
mod private;
pub mod quarantine;
pub mod records;
pub mod retention;
mod tables;
pub mod views;

use std::{path::Path, sync::Arc};

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata};

pub use commit::{Committed, Committer, Handled, Op};
pub use disk_full::DiskFull;
pub use due_timers::DueRead;
pub use held::HeldRecord;
pub use owners::message_key;
pub(crate) use tables::*;

use crate::{Error, Result};

/// redb's page cache when none is chosen (`store.cache_mib`), MiB: see `config/store.rs`.
pub const DEFAULT_CACHE_MIB: u64 = 32;

/// An update that was recorded but not yet handled by every module it was routed to.
#[derive(Debug, Clone)]
pub struct PendingUpdate {
    /// Telegram's update id.
    pub update_id: u64,
    /// The update as Telegram sent it.
    pub raw: String,
    /// The modules that still have to handle it.
    pub modules: Vec<String>,
}

/// The database: one redb file in the data directory.
pub struct Db {
    db: Arc<Database>,
    disk: Arc<DiskFull>,
}

impl Db {
    /// Opens (or creates) `<data_dir>/botbox.redb` with the default page cache (what commands
    /// that act on a stopped bot use).
    pub fn open(data_dir: &Path) -> Result<Db> {
        Self::open_with_cache(data_dir, (DEFAULT_CACHE_MIB << 20) as usize)
    }

    /// Opens (or creates) `<data_dir>/botbox.redb`, keeping at most `cache_bytes` of pages in
    /// memory.
    pub fn open_with_cache(data_dir: &Path, cache_bytes: usize) -> Result<Db> {
        private::create_dir(data_dir)?;
        let path = data_dir.join("botbox.redb");
        let disk = Arc::new(DiskFull::new(&path));
        let file = private::open_file(&path)?;
        // What `Builder::create` does, with writes that wait for room (see `patient_file`).
        let backend = patient_file::PatientFile::new(file, disk.clone())?;
        // redb's default page cache is 1 GiB; the smallest VPS botbox targets has 1 GiB of RAM.
        let db = match Database::builder()
            .set_cache_size(cache_bytes)
            .create_with_backend(backend)
        {
            Ok(db) => db,
            // Someone has it open (the running bot, for a command): not damage.
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(Error::Database(
                    redb::DatabaseError::DatabaseAlreadyOpen.into(),
                ));
            }
            Err(e) => {
                return Err(Error::DamagedDatabase {
                    path,
                    reason: e.to_string(),
                });
            }
        };
        let txn = db.begin_write()?;
        {
            txn.open_table(INBOX)?;
            txn.open_table(PENDING)?;
            txn.open_table(SEEN)?;
            txn.open_table(OUTBOX)?;
            txn.open_table(TICKETS)?;
            txn.open_table(META)?;
            txn.open_table(QUARANTINE)?;
            txn.open_table(TIMERS)?;
            txn.open_table(TIMER_DUE)?;
            txn.open_table(CRASHES)?;
            txn.open_table(FILES)?;
            txn.open_table(FILE_BYTES)?;
            txn.open_table(OWNERS)?;
            txn.open_table(CONVERSATIONS)?;
            owners::mark_since(&txn)?;
        }
        txn.commit()?;
        Ok(Db {
            db: Arc::new(db),
            disk,
        })
    }

    /// The underlying database, for readers.
    pub fn raw(&self) -> &Arc<Database> {
        &self.db
    }

    /// Whether the disk holding the database is full (see [`disk_full`]).
    pub fn disk(&self) -> &Arc<DiskFull> {
        &self.disk
    }

    /// Updates recorded but not yet handled, oldest first (to resume after a restart).
    pub fn pending_updates(&self) -> Result<Vec<PendingUpdate>> {
        let txn = self.db.begin_read()?;
        let inbox = txn.open_table(INBOX)?;
        let pending = txn.open_table(PENDING)?;
        let mut out = Vec::new();
        for row in inbox.iter()? {
            let (id, raw) = row?;
            let update_id = id.value();
            let mut modules = Vec::new();
            for p in pending.range((update_id, "")..(update_id + 1, ""))? {
                modules.push(p?.0.value().1.to_string());
            }
            out.push(PendingUpdate {
                update_id,
                raw: String::from_utf8_lossy(raw.value()).into_owned(),
                modules,
            });
        }
        Ok(out)
    }

    /// Up to `limit` updates still pending for `module`, from update id `from` on, in order.
    pub fn pending_updates_for(
        &self,
        module: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<PendingUpdate>> {
        let txn = self.db.begin_read()?;
        let inbox = txn.open_table(INBOX)?;
        let pending = txn.open_table(PENDING)?;
        let mut out = Vec::new();
        for row in inbox.range(from..)? {
            if out.len() >= limit {
                break;
            }
            let (id, raw) = row?;
            let update_id = id.value();
            if pending.get((update_id, module))?.is_some() {
                out.push(PendingUpdate {
                    update_id,
                    raw: String::from_utf8_lossy(raw.value()).into_owned(),
                    modules: vec![module.to_string()],
                });
            }
        }
        Ok(out)
    }

    /// How many updates are recorded but not yet handled (without reading them).
    pub fn pending_update_count(&self) -> Result<u64> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(INBOX)?.len()?)
    }

    /// Whether `update_id` was recorded before (handled or not).
    pub fn seen(&self, update_id: u64) -> Result<bool> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(SEEN)?.get(update_id)?.is_some())
    }

    /// The highest update id ever recorded.
    pub fn last_seen(&self) -> Result<Option<u64>> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(SEEN)?.last()?.map(|(k, _)| k.value()))
    }

    /// A value from the metadata table.
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(META)?.get(key)?.map(|v| v.value().to_vec()))
    }

    /// Writes a value of the metadata table (durably).
    pub fn set_meta(&self, key: &str, value: &[u8]) -> Result<()> {
        let txn = self.db.begin_write()?;
        txn.open_table(META)?.insert(key, value)?;
        txn.commit()?;
        Ok(())
    }

    /// Queued outgoing messages, in queue order.
    pub fn outbox(&self) -> Result<Vec<(u64, Vec<u8>)>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(OUTBOX)?;
        t.iter()?
            .map(|r| {
                let (k, v) = r?;
                Ok((k.value(), v.value().to_vec()))
            })
            .collect()
    }

    /// The highest ticket ever stored, to continue numbering after a restart.
    pub fn last_ticket(&self) -> Result<u64> {
        let txn = self.db.begin_read()?;
        let last = txn.open_table(TICKETS)?.last()?.map(|(k, _)| k.value());
        let meta = txn
            .open_table(META)?
            .get(META_NEXT_TICKET)?
            .and_then(|v| v.value().try_into().ok().map(u64::from_be_bytes));
        Ok(last.unwrap_or(0).max(meta.unwrap_or(1).saturating_sub(1)))
    }

    /// The module a pending timer belongs to.
    pub fn timer_module(&self, id: u64) -> Result<Option<String>> {
        let txn = self.db.begin_read()?;
        let Some(due) = txn.open_table(TIMER_DUE)?.get(id)?.map(|v| v.value()) else {
            return Ok(None);
        };
        let t = txn.open_table(TIMERS)?;
        let Some(v) = t.get((due, id))? else {
            return Ok(None);
        };
        let record: TimerRecord = serde_json::from_slice(v.value())
            .map_err(|e| Error::Corrupt(format!("timer {id}: {e}")))?;
        Ok(Some(record.module))
    }

    /// Pending timers per module: how many, and the bytes of their records.
    pub fn timer_counts(&self) -> Result<std::collections::HashMap<String, (u64, u64)>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(TIMERS)?;
        let mut counts = std::collections::HashMap::new();
        for row in t.iter()? {
            let (_, v) = row?;
            let record: TimerRecord = serde_json::from_slice(v.value())
                .map_err(|e| Error::Corrupt(format!("timer: {e}")))?;
            let (n, bytes) = counts.entry(record.module).or_insert((0, 0));
            *n += 1;
            *bytes += v.value().len() as u64;
        }
        Ok(counts)
    }

    /// A ticket's delivery record.
    pub fn ticket(&self, ticket: u64) -> Result<Option<TicketRecord>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(TICKETS)?;
        match t.get(ticket)? {
            Some(v) => Ok(Some(
                serde_json::from_slice(v.value()).map_err(|e| Error::Corrupt(e.to_string()))?,
            )),
            None => Ok(None),
        }
    }

    /// Quarantined updates: (module, update id, reason).
    pub fn quarantined(&self) -> Result<Vec<(String, u64, String)>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(QUARANTINE)?;
        t.iter()?
            .map(|r| {
                let (k, v) = r?;
                let (m, id) = k.value();
                Ok((m.to_string(), id, v.value().to_string()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_forgets_old_update_ids_but_keeps_the_highest_and_recent_ones() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let now = crate::clock::unix_secs();
        let txn = db.raw().begin_write().unwrap();
        {
            let mut seen = txn.open_table(SEEN).unwrap();
            seen.insert(1, now - 3 * 86_400).unwrap();
            seen.insert(2, now - 3 * 86_400).unwrap();
            seen.insert(3, now - 60).unwrap();
            seen.insert(4, now - 3 * 86_400).unwrap();
        }
        txn.commit().unwrap();
        let pruned = db
            .prune_seen(std::time::Duration::from_secs(2 * 86_400))
            .unwrap();
        assert_eq!(pruned, 2);
        assert!(!db.seen(1).unwrap() && !db.seen(2).unwrap());
        assert!(db.seen(3).unwrap(), "recent");
        assert_eq!(
            db.last_seen().unwrap(),
            Some(4),
            "the highest id stays for the offset"
        );
    }
}

/// A pending timer.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct TimerRecord {
    /// The module that scheduled it.
    pub module: String,
    /// The chat it was scheduled for.
    pub chat_id: Option<i64>,
    /// Its payload, hex.
    pub payload_hex: String,
}

/// A timer scheduled by a handler call, committed with it.
#[derive(Debug, Clone)]
pub struct NewTimer {
    /// Its id.
    pub id: u64,
    /// When it is due, Unix ms.
    pub due_ms: u64,
    /// What it carries.
    pub record: TimerRecord,
    /// The record's size in the store, counted against the module's timer bytes.
    pub bytes: u64,
}

/// A timer that is due.
#[derive(Debug, Clone)]
pub struct DueTimer {
    /// Its id.
    pub id: u64,
    /// When it was due, Unix ms.
    pub due_ms: u64,
    /// What it carries.
    pub record: TimerRecord,
}

/// What the host knows of a message sent through the outbox.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct TicketRecord {
    /// The module that sent it.
    pub module: String,
    /// Its chat.
    pub chat_id: i64,
    /// Telegram's message id, once delivered.
    pub message_id: Option<i32>,
    /// Why it was not delivered, if it was given up.
    pub failed: Option<String>,
    /// When it was delivered or given up, Unix seconds (0 while it is queued): kept
    /// [`retention::TICKET_RETENTION`] after that.
    #[serde(default)]
    pub settled_at_secs: u64,
    /// Telegram's `result` for a call made through `bot-api` (the sent message with its file
    /// ids, an album's messages, `true`), as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}
