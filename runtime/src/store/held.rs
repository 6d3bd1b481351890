//! An update's record held back so that it can be committed with the update's handling: one
//! transaction, one fsync, where the record alone and then the handling would be two.
//!
//! Intake makes a [`HeldRecord`] when it hands an update to a module that can handle it at once
//! (`intake/at_once.rs`). Whoever comes first sends it: the shard, with the handling's op in one
//! [`Op::Together`] ([`HeldRecord::send_with`]), or intake alone when the handling did not come
//! within its budget ([`HeldRecord::release`]). Either sends while holding the lock, so the
//! record reaches the committer before the handling does, whichever sent it: commit order is
//! arrival order, and an update is never marked handled before (or without) being recorded.
//! Intake acknowledges the update to Telegram only once the record's `done` said durable.
//!
//! The updates of one batch handed over at once are handled by different shards, in any order;
//! each record knows the one held before it in the batch ([`HeldRecord::after`]), and whoever
//! sends a record sends those still held before it first, in the same op. So a later update's
//! record is never durable before an earlier one's: at a restart polling resumes after the
//! highest update recorded, and an earlier update not recorded by then would be lost (a
//! click's reply never came after a kill -9 that way).

use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};

use super::{Committer, Op};
use crate::Result;

/// A record not sent to the committer yet.
pub struct HeldRecord {
    record: Mutex<Option<Op>>,
    /// The record held before this one in its batch, sent before this one.
    before: Option<Arc<HeldRecord>>,
}

impl HeldRecord {
    /// Holds `record` (an [`Op::Record`]).
    pub fn new(record: Op) -> HeldRecord {
        HeldRecord {
            record: Mutex::new(Some(record)),
            before: None,
        }
    }

    /// Holds `record`, to be sent after `before` (the previous update's of the same batch).
    pub fn after(record: Op, before: Option<Arc<HeldRecord>>) -> HeldRecord {
        HeldRecord {
            record: Mutex::new(Some(record)),
            before,
        }
    }

    /// Sends `then`, preceded by the record in the same transaction if it is still held (and by
    /// the records still held before it, in order).
    pub fn send_with(&self, committer: &Committer, then: Op) -> Result<()> {
        let (mut ops, _locked) = self.take_in_order();
        ops.push(then);
        committer.send(together(ops))
    }

    /// Whether the record is still held (not sent to the committer yet).
    pub fn is_held(&self) -> bool {
        self.record.lock().is_some()
    }

    /// Takes the record back if it is still held (the update was not handed over after all).
    /// Only for the last record of a chain, which nothing else sends.
    pub fn take(&self) -> Option<Op> {
        self.record.lock().take()
    }

    /// Adds `ids` to the ids the record marks seen, if it is still held; gives them back if it
    /// is not.
    pub fn add_skipped(&self, ids: Vec<u64>) -> std::result::Result<(), Vec<u64>> {
        match &mut *self.record.lock() {
            Some(Op::Record { skipped, .. }) => {
                skipped.extend(ids);
                Ok(())
            }
            _ => Err(ids),
        }
    }

    /// Sends the record alone (after those still held before it) if it is still held; returns
    /// whether it was.
    pub fn release(&self, committer: &Committer) -> Result<bool> {
        let (ops, _locked) = self.take_in_order();
        if ops.is_empty() {
            return Ok(false);
        }
        committer.send(together(ops)).map(|()| true)
    }

    /// This record and the ones still held before it, earliest first, taken; with their locks,
    /// to hold until the ops are sent (so nobody sends a handling before its record meanwhile).
    /// A record that was sent was sent after every one before it, so the walk stops there.
    /// Locks are taken from the later record to the earlier, always.
    fn take_in_order(&self) -> (Vec<Op>, Vec<MutexGuard<'_, Option<Op>>>) {
        let mut ops = Vec::new();
        let mut locked = Vec::new();
        let mut next = Some(self);
        while let Some(held) = next {
            let mut guard = held.record.lock();
            let Some(op) = guard.take() else { break };
            ops.push(op);
            locked.push(guard);
            next = held.before.as_deref();
        }
        ops.reverse();
        (ops, locked)
    }
}

/// One op for the committer: `ops` in one transaction, in their order.
fn together(mut ops: Vec<Op>) -> Op {
    if ops.len() == 1 {
        ops.pop().expect("one op")
    } else {
        Op::Together(ops)
    }
}

impl std::fmt::Debug for HeldRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_held() {
            "HeldRecord(held)"
        } else {
            "HeldRecord(sent)"
        })
    }
}
