//! What the store forgets, and when, so that its tables and file stay flat however long the bot
//! runs:
//!
//! | table | kept | why |
//! |---|---|---|
//! | `seen` (update ids) | [`SEEN_RETENTION`] (2 days), and always the highest | Telegram redelivers for 24 hours; the highest sets the polling offset |
//! | `tickets` | [`TICKET_RETENTION`] (7 days) after delivery or giving up; queued ones always | a module reads its ticket soon after; a queued message's ticket is its only record |
//! | `quarantine` | the newest [`QUARANTINE_PER_MODULE`] (1,000) per module | enough to see what goes wrong and retry it; a module failing every update cannot grow it without bound |
//! | `pending`, `inbox`, `crashes` of a removed module | nothing | no one would ever handle those updates |
//! | `conversations` | until each one's expiry (at most 7 days) | an expired one routes nothing |
//!
//! Each prune deletes in batches of [`BATCH`] rows, one write transaction each, so it never
//! holds the database's writer for long; the runtime runs them at start and every hour.

use std::time::Duration;

use redb::ReadableTable;

use super::{
    Db, TicketRecord,
    tables::{
        CRASHES, FILES, INBOX, OWNERS, PENDING, QUARANTINE, QUARANTINED_UPDATES, SEEN, TICKETS,
    },
};
use crate::{Error, Result};

/// How long an update id is remembered for deduplication (Telegram redelivers for 24 hours).
pub const SEEN_RETENTION: Duration = Duration::from_secs(2 * 24 * 3600);
/// How long a delivered or given-up message's ticket stays readable.
pub const TICKET_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// How many quarantined updates are kept per module (the newest).
pub const QUARANTINE_PER_MODULE: usize = 1000;
/// The most rows one write transaction of a prune deletes.
pub const BATCH: usize = 10_000;

/// What one round of pruning forgot.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    /// Update ids.
    pub seen: usize,
    /// Tickets.
    pub tickets: usize,
    /// Quarantined updates.
    pub quarantine: usize,
    /// Owners of sent messages and polls (`store/owners.rs`).
    pub owners: usize,
    /// Expired conversations (`store/conversations.rs`).
    pub conversations: usize,
    /// Records of broadcasts (`store/broadcasts.rs`).
    pub broadcasts: usize,
}

impl Db {
    /// Runs every prune with the default retentions.
    pub fn prune(&self) -> Result<Pruned> {
        Ok(Pruned {
            seen: self.prune_seen(SEEN_RETENTION)?,
            tickets: self.prune_tickets(TICKET_RETENTION)?,
            quarantine: self.prune_quarantine(QUARANTINE_PER_MODULE)?,
            owners: self.prune_owners(TICKET_RETENTION)?,
            conversations: self.prune_conversations()?,
            broadcasts: self.prune_broadcasts(TICKET_RETENTION)?,
        })
    }

    /// Forgets update ids recorded more than `max_age` ago, except the highest (it sets the
    /// polling offset). Returns how many were forgotten.
    pub fn prune_seen(&self, max_age: Duration) -> Result<usize> {
        let cutoff = crate::clock::unix_secs().saturating_sub(max_age.as_secs());
        self.in_batches(|txn| {
            let mut seen = txn.open_table(SEEN)?;
            let last = seen.last()?.map(|(k, _)| k.value());
            let mut old = Vec::new();
            for row in seen.iter()? {
                let (k, v) = row?;
                // Ids grow with time: the first young one ends the old ones.
                if v.value() >= cutoff || Some(k.value()) == last || old.len() == BATCH {
                    break;
                }
                old.push(k.value());
            }
            for id in &old {
                seen.remove(*id)?;
            }
            Ok(old.len())
        })
    }

    /// Forgets the tickets of messages delivered or given up more than `max_age` ago; a queued
    /// message's ticket stays. Returns how many were forgotten.
    pub fn prune_tickets(&self, max_age: Duration) -> Result<usize> {
        let cutoff = crate::clock::unix_secs().saturating_sub(max_age.as_secs());
        self.in_batches(|txn| {
            let mut tickets = txn.open_table(TICKETS)?;
            let mut old = Vec::new();
            for row in tickets.iter()? {
                let (k, v) = row?;
                let rec: TicketRecord = serde_json::from_slice(v.value())
                    .map_err(|e| Error::Corrupt(format!("ticket {}: {e}", k.value())))?;
                let settled = rec.message_id.is_some() || rec.failed.is_some();
                if !settled {
                    continue;
                }
                // Tickets grow with time: the first one settled recently ends the old ones.
                // (Settled before this field existed: 0, old.)
                if rec.settled_at_secs >= cutoff || old.len() == BATCH {
                    break;
                }
                old.push(k.value());
            }
            for t in &old {
                tickets.remove(*t)?;
            }
            Ok(old.len())
        })
    }

    /// Keeps the newest `keep` quarantined updates of each module. Returns how many were
    /// forgotten.
    pub fn prune_quarantine(&self, keep: usize) -> Result<usize> {
        self.in_batches(|txn| {
            let mut quarantine = txn.open_table(QUARANTINE)?;
            let mut kept_updates = txn.open_table(QUARANTINED_UPDATES)?;
            let mut counts: Vec<(String, Vec<u64>)> = Vec::new();
            for row in quarantine.iter()? {
                let (k, _) = row?;
                let (module, id) = k.value();
                match counts.last_mut() {
                    Some((m, ids)) if m == module => ids.push(id),
                    _ => counts.push((module.to_string(), vec![id])),
                }
            }
            let mut removed = 0;
            for (module, ids) in counts {
                let excess = ids.len().saturating_sub(keep);
                for id in ids.into_iter().take(excess.min(BATCH - removed)) {
                    quarantine.remove((module.as_str(), id))?;
                    kept_updates.remove((module.as_str(), id))?;
                    removed += 1;
                }
                if removed == BATCH {
                    break;
                }
            }
            Ok(removed)
        })
    }

    /// Forgets the unfinished updates of a module that is gone: its `pending` rows, and the
    /// update and its crash count once no other module still has to handle it. Returns how many
    /// of its updates were forgotten.
    pub fn forget_pending_of(&self, module: &str) -> Result<usize> {
        self.in_batches(|txn| {
            let mut pending = txn.open_table(PENDING)?;
            let mut inbox = txn.open_table(INBOX)?;
            let mut crashes = txn.open_table(CRASHES)?;
            let mut ids = Vec::new();
            for row in pending.iter()? {
                let (k, _) = row?;
                let (id, m) = k.value();
                if m == module {
                    ids.push(id);
                    if ids.len() == BATCH {
                        break;
                    }
                }
            }
            for id in &ids {
                pending.remove((*id, module))?;
                let more = pending.range((*id, "")..(*id + 1, ""))?.next().is_some();
                if !more {
                    inbox.remove(*id)?;
                    crashes.remove(*id)?;
                }
            }
            Ok(ids.len())
        })
    }

    /// The number of rows of each of the store's own tables, for soaks and `/metrics`.
    pub fn table_sizes(&self) -> Result<Vec<(&'static str, u64)>> {
        use redb::{ReadableDatabase, ReadableTableMetadata};
        let txn = self.db.begin_read()?;
        Ok(vec![
            ("inbox", txn.open_table(INBOX)?.len()?),
            ("pending", txn.open_table(PENDING)?.len()?),
            ("seen", txn.open_table(SEEN)?.len()?),
            ("tickets", txn.open_table(TICKETS)?.len()?),
            ("quarantine", txn.open_table(QUARANTINE)?.len()?),
            ("crashes", txn.open_table(CRASHES)?.len()?),
            ("files", txn.open_table(FILES)?.len()?),
            ("owners", txn.open_table(OWNERS)?.len()?),
        ])
    }

    /// Runs `batch` in write transactions until one deletes fewer than [`BATCH`] rows; returns
    /// the total.
    /// Removes, in batches, the rows of `table` (text keys and values) whose value `is_old`
    /// says are past; returns how many.
    pub(super) fn prune_text_rows(
        &self,
        table: redb::TableDefinition<'_, &str, &str>,
        is_old: impl Fn(&str) -> bool,
    ) -> Result<usize> {
        self.in_batches(|txn| {
            let mut t = txn.open_table(table)?;
            let mut old = Vec::new();
            for item in t.iter()? {
                let (k, v) = item?;
                if is_old(v.value()) {
                    old.push(k.value().to_string());
                    if old.len() == BATCH {
                        break;
                    }
                }
            }
            for k in &old {
                t.remove(k.as_str())?;
            }
            Ok(old.len())
        })
    }

    pub(super) fn in_batches(
        &self,
        mut batch: impl FnMut(&redb::WriteTransaction) -> Result<usize>,
    ) -> Result<usize> {
        let mut total = 0;
        loop {
            let txn = self.db.begin_write()?;
            let n = batch(&txn)?;
            txn.commit()?;
            total += n;
            if n < BATCH {
                return Ok(total);
            }
        }
    }
}

#[cfg(test)]
mod tests;
