//! Read-only views of the store's own tables for the operator (the console's outbox and
//! backups pages): recent give-ups with Telegram's reason, and the timers coming due.

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};

use super::{Db, TICKETS, TIMERS, TicketRecord, TimerRecord};
use crate::{Error, Result};

/// How many tickets, newest first, a look for give-ups reads at most.
const FAILED_SCAN: usize = 50_000;

/// A message given up.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FailedTicket {
    /// Its ticket.
    pub ticket: u64,
    /// The module that sent it.
    pub module: String,
    /// The chat.
    pub chat_id: i64,
    /// Why, as Telegram (or the host) said it.
    pub reason: String,
    /// When it was given up, Unix seconds.
    pub at_secs: u64,
}

/// A timer not fired yet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TimerView {
    /// When it is due, Unix milliseconds.
    pub due_ms: u64,
    /// The module that set it.
    pub module: String,
    /// Its chat, if it names one.
    pub chat_id: Option<i64>,
}

impl Db {
    /// The newest `limit` messages given up, newest first (among the last tickets kept).
    pub fn failed_tickets(&self, limit: usize) -> Result<Vec<FailedTicket>> {
        let txn = self.raw().begin_read()?;
        let tickets = txn.open_table(TICKETS)?;
        let mut out = Vec::new();
        for row in tickets.iter()?.rev().take(FAILED_SCAN) {
            let (k, v) = row?;
            let rec: TicketRecord = serde_json::from_slice(v.value())
                .map_err(|e| Error::Corrupt(format!("ticket {}: {e}", k.value())))?;
            if let Some(reason) = rec.failed {
                out.push(FailedTicket {
                    ticket: k.value(),
                    module: rec.module,
                    chat_id: rec.chat_id,
                    reason,
                    at_secs: rec.settled_at_secs,
                });
                if out.len() == limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// The `limit` timers due soonest, and how many are pending in all.
    pub fn next_timers(&self, limit: usize) -> Result<(Vec<TimerView>, u64)> {
        let txn = self.raw().begin_read()?;
        let timers = txn.open_table(TIMERS)?;
        let total = timers.len()?;
        let mut out = Vec::new();
        for row in timers.iter()?.take(limit) {
            let (k, v) = row?;
            let (due_ms, _) = k.value();
            let rec: TimerRecord = serde_json::from_slice(v.value())
                .map_err(|e| Error::Corrupt(format!("timer: {e}")))?;
            out.push(TimerView {
                due_ms,
                module: rec.module,
                chat_id: rec.chat_id,
            });
        }
        Ok((out, total))
    }
}
