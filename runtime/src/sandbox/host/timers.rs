//! `timers`: durable timers, scheduled and cancelled in the call's commit.
//!
//! A module's pending timers are bounded (`sandbox.max_timers`, `sandbox.max_timer_bytes`). On
//! redb the committer counts them in memory (`Namespace::add_pending_timers`). On PostgreSQL
//! (the module's `ModuleEnv.kv`) the call counts them in its own SERIALIZABLE transaction, once
//! per call, less what it cancelled (`store/pg/timers.rs`): two nodes scheduling at once cannot
//! together pass the limit, PostgreSQL refuses one of the two commits and its call runs again.
//! Whose timer an id is is read there too: another node may have scheduled it.

use super::{Call, HostState};
use crate::{
    bindings::timers,
    store::{
        NewTimer, TimerRecord,
        kv::KvError,
        kv_txn::KvNamespace,
        pg::{TimerCount, kv::PgNamespace},
    },
};

/// Largest timer payload, in bytes.
const MAX_TIMER_PAYLOAD: usize = 4096;
/// Most timers one handler call may schedule.
const MAX_TIMERS_PER_CALL: usize = 100;
/// Furthest a timer may be scheduled ahead, in milliseconds (a year).
const MAX_TIMER_AHEAD_MS: u64 = 366 * 24 * 3600 * 1000;

impl HostState {
    async fn schedule(
        &mut self,
        due_ms: u64,
        chat_id: Option<i64>,
        payload: Vec<u8>,
    ) -> Result<u64, timers::Error> {
        if !self.env.capabilities.read().timers {
            return Err(timers::Error::NotAllowed(
                "the manifest does not declare timers, or the operator turned them off".into(),
            ));
        }
        let Some(call) = self.call.as_mut() else {
            return Err(timers::Error::NotInUpdate);
        };
        // Module-controlled sizes and counts, each bounded.
        if payload.len() > MAX_TIMER_PAYLOAD {
            return Err(timers::Error::Invalid(format!(
                "a payload has at most {MAX_TIMER_PAYLOAD} bytes"
            )));
        }
        let now = crate::clock::unix_ms();
        if due_ms > now.saturating_add(MAX_TIMER_AHEAD_MS) {
            return Err(timers::Error::Invalid(
                "a timer is at most a year away".into(),
            ));
        }
        if call.timers.len() >= MAX_TIMERS_PER_CALL {
            return Err(timers::Error::QuotaExceeded(format!(
                "at most {MAX_TIMERS_PER_CALL} timers per update"
            )));
        }
        let stored = match &self.env.kv {
            KvNamespace::Redb(_) => TimerCount {
                timers: self.env.namespace.pending_timers(),
                bytes: self.env.namespace.pending_timer_bytes(),
            },
            KvNamespace::Pg(ns) => Box::pin(stored_on_pg(call, ns)).await?,
        };
        let pending = stored.timers + call.timers.len() as u64;
        if pending >= self.env.max_timers {
            return Err(timers::Error::QuotaExceeded(format!(
                "at most {} timers pending",
                self.env.max_timers
            )));
        }
        let record = TimerRecord {
            module: self.env.name.to_string(),
            chat_id,
            payload_hex: hex::encode(payload),
        };
        // What the record will take in the store, counted as the commit counts it.
        let bytes = serde_json::to_vec(&record).map_or(0, |r| r.len() as u64);
        let queued: u64 = call.timers.iter().map(|t| t.bytes).sum();
        let taken = stored.bytes + queued;
        if taken + bytes > self.env.max_timer_bytes {
            return Err(timers::Error::QuotaExceeded(format!(
                "pending timers may take at most {} bytes (sandbox.max_timer_bytes); {taken} are taken",
                self.env.max_timer_bytes
            )));
        }
        let id = self.env.tickets.next().await;
        let Some(call) = self.call.as_mut() else {
            return Err(timers::Error::NotInUpdate);
        };
        call.timers.push(NewTimer {
            id,
            due_ms,
            record,
            bytes,
        });
        Ok(id)
    }
}

impl timers::Host for HostState {
    async fn schedule_after(
        &mut self,
        delay_ms: u64,
        chat_id: Option<i64>,
        payload: Vec<u8>,
    ) -> Result<u64, timers::Error> {
        let due = self.env.clock.now_ms().saturating_add(delay_ms);
        self.schedule(due, chat_id, payload).await
    }

    async fn schedule_at(
        &mut self,
        at_unix_ms: u64,
        chat_id: Option<i64>,
        payload: Vec<u8>,
    ) -> Result<u64, timers::Error> {
        self.schedule(at_unix_ms, chat_id, payload).await
    }

    async fn cancel(&mut self, id: u64) -> Result<bool, timers::Error> {
        if !self.env.capabilities.read().timers {
            return Err(timers::Error::NotAllowed(
                "the manifest does not declare timers, or the operator turned them off".into(),
            ));
        }
        let Some(call) = self.call.as_mut() else {
            return Err(timers::Error::NotInUpdate);
        };
        if let Some(i) = call.timers.iter().position(|t| t.id == id) {
            call.timers.remove(i);
            return Ok(true);
        }
        if call.cancel_timers.contains(&id) {
            return Ok(false);
        }
        // Only the module's own timers: another module's id is as good as unknown.
        let mine = match &self.env.kv {
            KvNamespace::Redb(_) => self
                .env
                .db
                .timer_module(id)
                .map_err(|e| timers::Error::Invalid(format!("cannot read timers: {e}")))?
                .is_some_and(|m| *m == *self.env.name),
            KvNamespace::Pg(ns) => Box::pin(cancel_on_pg(call, ns, id)).await?,
        };
        if mine {
            call.cancel_timers.push(id);
        }
        Ok(mine)
    }

    fn now_unix_ms(&mut self) -> u64 {
        self.env.clock.now_ms()
    }
}

/// A failure to read the timers on PostgreSQL, as the module sees it (after a conflict the call
/// is run again anyway).
fn unread(e: KvError) -> timers::Error {
    let why = match e {
        KvError::Io(m) => m,
        other => format!("{other:?}"),
    };
    timers::Error::Invalid(format!("cannot read timers: {why}"))
}

/// The module's pending timers in the store as `call`'s transaction sees them, less those the
/// call cancelled; counted at the call's first schedule, then kept up by its cancels.
async fn stored_on_pg(call: &mut Call, ns: &PgNamespace) -> Result<TimerCount, timers::Error> {
    if let Some(count) = call.stored_timers {
        return Ok(count);
    }
    let txn = call.txn.pg(ns).await.map_err(unread)?;
    let count = ns
        .pending_timers(txn, &call.cancel_timers)
        .await
        .map_err(unread)?;
    call.stored_timers = Some(count);
    Ok(count)
}

/// Whether timer `id` in the store is the module's own (as `call`'s transaction sees it); if
/// so, it no longer counts against the module's limits in this call.
async fn cancel_on_pg(call: &mut Call, ns: &PgNamespace, id: u64) -> Result<bool, timers::Error> {
    let txn = call.txn.pg(ns).await.map_err(unread)?;
    let owner = ns.timer_owner(txn, id).await.map_err(unread)?;
    let Some((_, bytes)) = owner.filter(|(m, _)| **m == **ns.module()) else {
        return Ok(false);
    };
    if let Some(count) = call.stored_timers.as_mut() {
        count.timers = count.timers.saturating_sub(1);
        count.bytes = count.bytes.saturating_sub(bytes);
    }
    Ok(true)
}
