//! Reading the timers that are due, fairly across modules.
//!
//! Timers are kept in due order for all modules together. Reading "the N oldest" let the timers
//! of a module that cannot take them (disabled, or its queues full) stand first in line for
//! ever and hold back everyone else's. So the read skips modules that are not running, takes at
//! most a share per module, and stops after a bounded scan.

use std::collections::HashSet;

use redb::{ReadableDatabase, ReadableTable};

use super::{Db, DueTimer, TIMER_DUE, TIMERS};
use crate::{Error, Result};

/// How a due-timer read is bounded.
#[derive(Debug, Clone, Copy)]
pub struct DueRead {
    /// Most timers returned.
    pub limit: usize,
    /// Most timers of one module returned.
    pub per_module: usize,
    /// Most rows looked at (timers of modules not running are looked at and skipped).
    pub scan: usize,
}

impl Db {
    /// Timers due at `now_ms` or earlier, oldest first, whatever their module, at most `limit`.
    pub fn due_timers(&self, now_ms: u64, limit: usize) -> Result<Vec<DueTimer>> {
        let txn = self.raw().begin_read()?;
        let t = txn.open_table(TIMERS)?;
        let mut out = Vec::new();
        for row in t.range((0, 0)..=(now_ms, u64::MAX))?.take(limit) {
            let (k, v) = row?;
            let (due_ms, id) = k.value();
            let record = serde_json::from_slice(v.value())
                .map_err(|e| Error::Corrupt(format!("timer {id}: {e}")))?;
            out.push(DueTimer { id, due_ms, record });
        }
        Ok(out)
    }

    /// Timers due at `now_ms` or earlier, oldest first, of the modules in `running`, at most
    /// `read.per_module` of each and `read.limit` in all, within `read.scan` rows.
    pub fn due_timers_fair(
        &self,
        now_ms: u64,
        running: &HashSet<String>,
        read: DueRead,
    ) -> Result<Vec<DueTimer>> {
        let txn = self.raw().begin_read()?;
        let t = txn.open_table(TIMERS)?;
        let mut out = Vec::new();
        let mut taken: std::collections::HashMap<String, usize> = Default::default();
        for row in t.range((0, 0)..=(now_ms, u64::MAX))?.take(read.scan) {
            if out.len() >= read.limit {
                break;
            }
            let (k, v) = row?;
            let (due_ms, id) = k.value();
            let record: super::TimerRecord = serde_json::from_slice(v.value())
                .map_err(|e| Error::Corrupt(format!("timer {id}: {e}")))?;
            if !running.contains(&record.module) {
                continue;
            }
            let n = taken.entry(record.module.clone()).or_default();
            if *n >= read.per_module {
                continue;
            }
            *n += 1;
            out.push(DueTimer { id, due_ms, record });
        }
        Ok(out)
    }

    /// Which of `ids` are still pending (not yet fired and committed, nor cancelled).
    pub fn pending_timers(&self, ids: impl IntoIterator<Item = u64>) -> Result<HashSet<u64>> {
        let txn = self.raw().begin_read()?;
        let due = txn.open_table(TIMER_DUE)?;
        let mut out = HashSet::new();
        for id in ids {
            if due.get(id)?.is_some() {
                out.insert(id);
            }
        }
        Ok(out)
    }

    /// Deletes every pending timer of `module` (it was removed); returns how many.
    pub fn delete_timers_of(&self, module: &str) -> Result<usize> {
        let txn = self.raw().begin_write()?;
        let mut n = 0;
        {
            let mut timers = txn.open_table(TIMERS)?;
            let mut due = txn.open_table(TIMER_DUE)?;
            let mut doomed = Vec::new();
            for row in timers.iter()? {
                let (k, v) = row?;
                let record: super::TimerRecord = serde_json::from_slice(v.value())
                    .map_err(|e| Error::Corrupt(format!("timer {}: {e}", k.value().1)))?;
                if record.module == module {
                    doomed.push(k.value());
                }
            }
            for (at, id) in doomed {
                timers.remove((at, id))?;
                due.remove(id)?;
                n += 1;
            }
        }
        txn.commit()?;
        Ok(n)
    }
}
