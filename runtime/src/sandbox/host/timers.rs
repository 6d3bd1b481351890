//! `timers`: durable timers, scheduled and cancelled in the call's commit.

use super::HostState;
use crate::{
    bindings::timers,
    store::{NewTimer, TimerRecord},
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
        let pending = self.env.namespace.pending_timers() + call.timers.len() as u64;
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
        let taken = self.env.namespace.pending_timer_bytes() + queued;
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

    fn cancel(&mut self, id: u64) -> Result<bool, timers::Error> {
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
        let mine = self
            .env
            .db
            .timer_module(id)
            .map_err(|e| timers::Error::Invalid(format!("cannot read timers: {e}")))?
            .is_some_and(|m| *m == *self.env.name);
        if mine {
            call.cancel_timers.push(id);
        }
        Ok(mine)
    }

    fn now_unix_ms(&mut self) -> u64 {
        self.env.clock.now_ms()
    }
}
