//! Broadcasts as the operator follows them: each one's record (module, chats, when) is written
//! with the handling that queued it, and its progress is read from its chats' tickets, which
//! are one consecutive range starting at the record's key. A broadcast is forgotten with its
//! tickets ([`super::retention::TICKET_RETENTION`] after it started).

use redb::{ReadableDatabase, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{BROADCASTS, Db, TICKETS, TicketRecord};
use crate::{Error, Result};

/// What is kept of a broadcast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastRecord {
    /// The module that sent it.
    pub module: String,
    /// How many chats it goes to.
    pub chats: u32,
    /// When it was queued, Unix milliseconds.
    pub started_ms: u64,
}

/// A broadcast and how far it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BroadcastProgress {
    /// Its first ticket (its id).
    pub first_ticket: u64,
    /// What was kept of it.
    #[serde(flatten)]
    pub record: BroadcastRecord,
    /// Chats it reached.
    pub delivered: u32,
    /// Chats given up, by Telegram's reason (most frequent first, at most 5 reasons).
    pub failed: u32,
    /// The reasons, with how many chats each.
    pub reasons: Vec<(String, u32)>,
}

impl BroadcastProgress {
    /// Chats still waiting.
    pub fn waiting(&self) -> u32 {
        self.record
            .chats
            .saturating_sub(self.delivered + self.failed)
    }
}

/// Records the broadcasts a handling queued, in its transaction.
pub(super) fn record(txn: &WriteTransaction, module: &str, queued: &[(u64, u32)]) -> Result<()> {
    if queued.is_empty() {
        return Ok(());
    }
    let mut table = txn.open_table(BROADCASTS)?;
    let started_ms = crate::clock::unix_ms();
    for &(first, chats) in queued {
        let rec = BroadcastRecord {
            module: module.to_string(),
            chats,
            started_ms,
        };
        let bytes = serde_json::to_vec(&rec).map_err(|e| Error::Corrupt(e.to_string()))?;
        table.insert(first, bytes.as_slice())?;
    }
    Ok(())
}

impl Db {
    /// The newest `limit` broadcasts with their progress, newest first.
    pub fn broadcasts(&self, limit: usize) -> Result<Vec<BroadcastProgress>> {
        let txn = self.raw().begin_read()?;
        let table = txn.open_table(BROADCASTS)?;
        let tickets = txn.open_table(TICKETS)?;
        let mut out = Vec::new();
        for row in table.iter()?.rev().take(limit) {
            let (k, v) = row?;
            let record: BroadcastRecord = serde_json::from_slice(v.value())
                .map_err(|e| Error::Corrupt(format!("broadcast: {e}")))?;
            let first = k.value();
            let mut progress = BroadcastProgress {
                first_ticket: first,
                delivered: 0,
                failed: 0,
                reasons: Vec::new(),
                record,
            };
            let end = first + u64::from(progress.record.chats);
            for t in tickets.range(first..end)? {
                let (_, v) = t?;
                let Ok(rec) = serde_json::from_slice::<TicketRecord>(v.value()) else {
                    continue;
                };
                if let Some(why) = rec.failed {
                    progress.failed += 1;
                    match progress.reasons.iter_mut().find(|(r, _)| *r == why) {
                        Some((_, n)) => *n += 1,
                        None => progress.reasons.push((why, 1)),
                    }
                } else if rec.message_id.is_some() || rec.result.is_some() {
                    progress.delivered += 1;
                }
            }
            progress.reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
            progress.reasons.truncate(5);
            out.push(progress);
        }
        Ok(out)
    }

    /// Forgets broadcasts started more than `max_age` ago. Returns how many.
    pub fn prune_broadcasts(&self, max_age: std::time::Duration) -> Result<usize> {
        let cutoff = crate::clock::unix_ms().saturating_sub(max_age.as_millis() as u64);
        let txn = self.raw().begin_write()?;
        let old = {
            let mut table = txn.open_table(BROADCASTS)?;
            let mut old = Vec::new();
            for row in table.iter()? {
                let (k, v) = row?;
                let started = serde_json::from_slice::<BroadcastRecord>(v.value())
                    .map_or(0, |r| r.started_ms);
                if started < cutoff {
                    old.push(k.value());
                }
            }
            for k in &old {
                table.remove(*k)?;
            }
            old.len()
        };
        txn.commit()?;
        Ok(old)
    }
}
