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

use parking_lot::Mutex;

use super::{Committer, Op};
use crate::Result;

/// A record not sent to the committer yet.
pub struct HeldRecord(Mutex<Option<Op>>);

impl HeldRecord {
    /// Holds `record` (an [`Op::Record`]).
    pub fn new(record: Op) -> HeldRecord {
        HeldRecord(Mutex::new(Some(record)))
    }

    /// Sends `then`, preceded by the record in the same transaction if it is still held.
    pub fn send_with(&self, committer: &Committer, then: Op) -> Result<()> {
        let mut held = self.0.lock();
        match held.take() {
            Some(record) => committer.send(Op::Together(vec![record, then])),
            None => committer.send(then),
        }
    }

    /// Whether the record is still held (not sent to the committer yet).
    pub fn is_held(&self) -> bool {
        self.0.lock().is_some()
    }

    /// Takes the record back if it is still held (the update was not handed over after all).
    pub fn take(&self) -> Option<Op> {
        self.0.lock().take()
    }

    /// Sends the record alone if it is still held; returns whether it was.
    pub fn release(&self, committer: &Committer) -> Result<bool> {
        let mut held = self.0.lock();
        match held.take() {
            Some(record) => committer.send(record).map(|()| true),
            None => Ok(false),
        }
    }
}

impl std::fmt::Debug for HeldRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.lock().is_some() {
            "HeldRecord(held)"
        } else {
            "HeldRecord(sent)"
        })
    }
}
