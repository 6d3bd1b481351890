//! Handing recorded updates to their modules: on arrival, and again at start for those recorded
//! before a stop and not handled yet.

use crate::{
    Result,
    modules::{Offered, Reason, Work, finish_unhandled, finish_unhandled_on},
    store::kv_txn::KvNamespace,
};

use super::Intake;

impl Intake {
    /// Updates recorded but not handled yet are handed to their modules again — except those
    /// found unfinished after `max_attempts` crashes, which are quarantined (see
    /// `store/crashes.rs`).
    pub(crate) async fn resume(&self, max_attempts: u32) -> Result<()> {
        let (crashed, crashes) = self.inner.db.start_counting_crashes()?;
        if crashed {
            self.record_first_for_a_while();
        }
        let crashes: std::collections::HashMap<u64, u32> = crashes.into_iter().collect();
        let pending = match (&self.inner.pg, &self.inner.owned) {
            // Those of the partitions this node holds, taken from whichever node recorded them
            // or took them before (`pickup.rs`); the rest is the other nodes' to resume.
            (Some(pg), Some(owned)) => super::pickup::take_all(pg, owned).await?,
            (Some(pg), None) => pg.pending_updates().await?,
            _ => self.inner.db.pending_updates()?,
        };
        if !pending.is_empty() {
            tracing::info!(
                count = pending.len(),
                "resuming updates recorded and not handled yet"
            );
        }
        for p in pending {
            if let Some(&n) = crashes.get(&p.update_id)
                && n >= max_attempts
            {
                self.quarantine_after_crashes(p.update_id, &p.modules, n);
                continue;
            }
            self.dispatch_owed(p).await?;
        }
        Ok(())
    }

    /// Hands an update recorded before to the modules that still owe it a handling, routed as
    /// the router routes it now; a module it is no longer routed to (a swap changed the
    /// routing) is finished without a handling.
    pub(super) async fn dispatch_owed(&self, p: crate::store::PendingUpdate) -> Result<()> {
        let parsed = serde_json::from_str::<serde_json::Value>(&p.raw)
            .ok()
            .and_then(|raw| Some((crate::bot_api::update_kinds::parse(&raw, &p.raw).ok()?, raw)));
        let Some((update, raw)) = parsed else {
            // Recorded, so it parsed once: a damaged record is finished without effect.
            for m in &p.modules {
                self.skip_for(m, p.update_id);
            }
            return Ok(());
        };
        let routes: Vec<_> = self
            .inner
            .registry
            .router()
            .route(&update, &raw)
            .into_iter()
            .filter(|(m, _)| p.modules.contains(m))
            .collect();
        for m in &p.modules {
            if !routes.iter().any(|(r, _)| r == m) {
                self.skip_for(m, p.update_id);
            }
        }
        self.dispatch(p.update_id, &raw, &update, routes).await
    }

    /// Hands a quarantined update back to its module (the operator's retry): recorded again,
    /// pending for that module alone, then offered as on arrival — routed as the router routes
    /// it now, or as an update the module asked for if the router no longer sends it there.
    pub async fn retry_quarantined(&self, module: &str, update_id: u64) -> Result<()> {
        if self.inner.registry.get(module).is_none() {
            return Err(crate::Error::NotFound(format!(
                "`{module}` is not running: enable or install it first"
            )));
        }
        if let Some(pg) = &self.inner.pg {
            return self.retry_shared(pg, module, update_id).await;
        }
        let db = self.inner.db.clone();
        let name = module.to_string();
        let raw = tokio::task::spawn_blocking(move || db.requeue_quarantined(&name, update_id))
            .await
            .map_err(|e| crate::Error::Corrupt(e.to_string()))??;
        let value: serde_json::Value = serde_json::from_str(&raw)
            .map_err(|e| crate::Error::Corrupt(format!("a kept update: {e}")))?;
        let update = crate::bot_api::update_kinds::parse(&value, &raw)
            .map_err(|e| crate::Error::Corrupt(format!("a kept update: {e}")))?;
        let mut routes: Vec<_> = self
            .inner
            .registry
            .router()
            .route(&update, &value)
            .into_iter()
            .filter(|(m, _)| m == module)
            .collect();
        if routes.is_empty() {
            routes.push((module.to_string(), Reason::Wanted));
        }
        tracing::info!(module, update = update_id, "quarantined update handed back");
        self.dispatch(update_id, &value, &update, routes).await
    }

    pub(crate) async fn dispatch(
        &self,
        update_id: u64,
        raw: &serde_json::Value,
        update: &teloxide_core::types::Update,
        routes: Vec<(String, Reason)>,
    ) -> Result<()> {
        self.unblock(super::convert::chat_of(update));
        for (name, reason) in routes {
            let Some(module) = self.inner.registry.get(&name) else {
                self.skip_for(&name, update_id);
                continue;
            };
            let work = work_for(update_id, raw, update, &reason);
            if let Offered::Stopped = module.offer(work) {
                // Removed or disabled between routing and now.
                self.skip_for(&name, update_id);
            }
        }
        Ok(())
    }

    /// A user who blocked the bot and writes again has unblocked it.
    pub(super) fn unblock(&self, chat: Option<i64>) {
        if let Some(chat) = chat {
            let mut blocked = self.inner.blocked_chats.lock();
            if !blocked.is_empty() {
                blocked.remove(&chat);
            }
        }
    }

    /// Gives up an update that was unfinished at `crashes` crashes in a row.
    fn quarantine_after_crashes(&self, update_id: u64, modules: &[String], crashes: u32) {
        let reason = format!(
            "the process stopped {crashes} times while this update was unfinished (its handling may be what stops it); quarantined instead of resumed"
        );
        for module in modules {
            tracing::error!(module = %module, update = update_id, "{reason}");
            self.finish_for(module, update_id, Some(reason.clone()));
        }
    }

    /// Marks an update routed to a module that is no longer running as handled by it, so it
    /// is not resumed forever.
    pub(super) fn skip_for(&self, module: &str, update_id: u64) {
        tracing::info!(
            module,
            update = update_id,
            "update skipped: the module is not running"
        );
        self.finish_for(module, update_id, None);
    }

    /// Finishes `update_id` for `module` without a handling (quarantined for `reason`), in the
    /// store its KV is in. On PostgreSQL the unit commits on a task of its own (a round trip;
    /// it reruns on a conflict, and a failure leaves the update owed, resumed at the next start).
    fn finish_for(&self, module: &str, update_id: u64, reason: Option<String>) {
        let committer = &self.inner.committer;
        match self.inner.registry.kv_namespace(module) {
            Some(KvNamespace::Redb(ns)) => {
                finish_unhandled(committer, &ns, Some(update_id), None, reason);
            }
            Some(KvNamespace::Pg(ns)) => {
                let committer = committer.clone();
                tokio::spawn(async move {
                    finish_unhandled_on(&committer, &ns, Some(update_id), None, reason).await;
                });
            }
            None => {}
        }
    }
}

/// The work of `update` for a module it was routed to for `reason`.
pub(super) fn work_for(
    update_id: u64,
    raw: &serde_json::Value,
    update: &teloxide_core::types::Update,
    reason: &Reason,
) -> Work {
    let (callback, command) = match reason {
        Reason::Callback(d) => (Some(d.as_str()), None),
        Reason::Command(c, a) => (None, Some((c.as_str(), a.as_str()))),
        Reason::Wanted | Reason::Payment => (None, None),
    };
    // A payment's update is delivered with the payload as the module wrote it.
    let untagged;
    let raw = if *reason == Reason::Payment {
        untagged = crate::bot_api::payments::untagged(raw);
        &untagged
    } else {
        raw
    };
    Work {
        update_id,
        update: super::convert::update(update, raw, callback, command),
        chat_id: super::convert::chat_of(update),
        timer_id: None,
        record: None,
    }
}
