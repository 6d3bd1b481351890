//! One flush per update where it can be: an update a module can handle at once is handed to it
//! before its record is committed, and the record goes in the same transaction as the handling
//! (`store/held.rs`). Recording first and handling after costs two fsyncs in a row; this costs
//! one, and the update is still acknowledged to Telegram only once its record is durable.
//!
//! "At once" means: routed to exactly one module, whose shard for the update's chat holds
//! nothing else, that is not backlogged and did not give up its last update
//! (`LoadedModule::offer_at_once`), and no host command in the batch. A batch is taken from
//! the front while its updates can be; from the first that cannot on, the rest is recorded in
//! one commit and dispatched once it is durable, as before — a later update of a chat never
//! overtakes an earlier one. The records handed over are then released first (`intake.rs`), so
//! no later record is durable before an earlier one (polling resumes after the highest). Among
//! the records handed over, each is sent after those before it (`store/held.rs`), whichever
//! shard ends first; the ids only marked seen go with the last record sent.
//! The handling has a budget (`telegram.handle_at_once_ms`): a record not committed with its
//! handling by then is committed alone (the handling follows in a later commit), so the
//! acknowledgement is never held by a slow module.
//!
//! A crash before the combined commit leaves nothing: the update was not acknowledged, Telegram
//! sends it again, and it is handled once. But an update whose handling kills the process at
//! once would then never be recorded, so never counted by `store/crashes.rs` nor quarantined.
//! So after a start that follows a crash, updates are recorded first for [`AFTER_CRASH`]:
//! Telegram's redelivery is then recorded, counted and, after `max_attempts`, quarantined.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::oneshot;

use super::{Intake, Parsed, dispatch::work_for};
use crate::{
    Result,
    store::{HeldRecord, Op},
};

/// How long after a start that follows a crash every update is recorded before it is handled.
pub(super) const AFTER_CRASH: Duration = Duration::from_secs(300);

/// An update's record and when it is durable.
pub(super) type Durable = oneshot::Receiver<std::result::Result<(), String>>;

/// A record held back for the handling of its update.
pub(super) type Held = (Arc<HeldRecord>, Durable);

/// (update id, raw JSON, modules), as an [`Op::Record`] holds them.
pub(super) type Record = (u64, String, Vec<String>);

impl Intake {
    /// Whether updates may be handled before they are recorded now (not just after a crash).
    pub(super) fn at_once_allowed(&self) -> bool {
        if self.inner.telegram.handle_at_once_ms == 0 {
            return false;
        }
        let mut until = self.inner.record_first_until.lock();
        match *until {
            Some(t) if Instant::now() < t => false,
            Some(_) => {
                *until = None;
                true
            }
            None => true,
        }
    }

    /// Records every update first for a while (called at a start that follows a crash).
    pub(super) fn record_first_for_a_while(&self) {
        *self.inner.record_first_until.lock() = Some(Instant::now() + AFTER_CRASH);
    }

    /// Hands the leading updates of a batch that can be handled at once to their modules, each
    /// with its record held, sent after the one before it (`store/held.rs`). Returns them, and
    /// the rest of the batch (records, parsed) to record and dispatch as before. Returns the
    /// batch whole when the first update cannot be handled at once. When every update was
    /// handed over, `skipped` goes with the last record, if it is still held: ids marked seen
    /// are then never durable before an earlier update's record. Otherwise they stay in
    /// `skipped`, for the caller to record after every record handed over.
    pub(super) fn hand_at_once(
        &self,
        records: Vec<Record>,
        parsed: Vec<Parsed>,
        skipped: &mut Vec<u64>,
    ) -> (Vec<Held>, Vec<Record>, Vec<Parsed>) {
        let mut held: Vec<Held> = Vec::new();
        let mut rest_records = Vec::new();
        let mut rest_parsed = Vec::new();
        let mut open = self.at_once_allowed();
        for (record, p) in records.into_iter().zip(parsed) {
            if open {
                let before = held.last().map(|(h, _)| h.clone());
                match self.try_at_once(record, &p, before) {
                    Ok(h) => {
                        held.push(h);
                        continue;
                    }
                    Err(record) => {
                        open = false;
                        rest_records.push(record);
                    }
                }
            } else {
                rest_records.push(record);
            }
            rest_parsed.push(p);
        }
        if rest_records.is_empty()
            && !skipped.is_empty()
            && let Some((last, _)) = held.last()
            && let Err(back) = last.add_skipped(std::mem::take(skipped))
        {
            *skipped = back;
        }
        (held, rest_records, rest_parsed)
    }

    /// Hands one update over with its record held, or gives the record back.
    fn try_at_once(
        &self,
        record: Record,
        (id, raw, update, routes): &Parsed,
        before: Option<Arc<HeldRecord>>,
    ) -> std::result::Result<Held, Record> {
        let [(name, reason)] = routes.as_slice() else {
            return Err(record);
        };
        let Some(module) = self.inner.registry.get(name) else {
            return Err(record);
        };
        let (tx, rx) = oneshot::channel();
        let held = Arc::new(HeldRecord::after(
            Op::Record {
                updates: vec![record],
                skipped: Vec::new(),
                done: Some(tx),
            },
            before,
        ));
        let mut work = work_for(*id, raw, update, reason);
        work.record = Some(held.clone());
        self.unblock(work.chat_id);
        match module.offer_at_once(work) {
            true => Ok((held, rx)),
            false => {
                // Nothing else holds it: taking it back sends none of those before it.
                let Some(Op::Record { mut updates, .. }) = held.take() else {
                    unreachable!("not handed over, so still held")
                };
                Err(updates.pop().expect("one update"))
            }
        }
    }
}

/// Waits until every record is durable: each held one with its handling, or — past the
/// budget — alone, then every record sent as before.
pub(super) async fn durable(
    intake: &Intake,
    held: Vec<Held>,
    recorded: Option<Durable>,
) -> Result<()> {
    let budget = Duration::from_millis(intake.inner.telegram.handle_at_once_ms);
    let deadline = tokio::time::Instant::now() + budget;
    let mut late = Vec::new();
    let mut waiting = held.into_iter();
    for (record, mut rx) in waiting.by_ref() {
        match tokio::time::timeout_at(deadline, &mut rx).await {
            Ok(done) => super::committed(done)?,
            Err(_) => {
                late.push((record, rx));
                break;
            }
        }
    }
    late.extend(waiting);
    // Past the budget: what is still held goes alone, in one group.
    for (record, _) in &late {
        record.release(&intake.inner.committer)?;
    }
    for (_, rx) in late {
        super::committed(rx.await)?;
    }
    if let Some(rx) = recorded {
        super::committed(rx.await)?;
    }
    Ok(())
}
