//! A shard: a task that owns one instance of a module and handles its chats' updates one at a
//! time, in arrival order (see [`super::module`] for retries, quarantine and switches).

use std::{
    sync::{Arc, atomic::Ordering},
    time::Instant,
};

use tokio::sync::mpsc;

use super::{
    effects::{Lost, commit_call, finish_unhandled_after},
    module::{ModuleEvent, ModuleStats, ShardDeps, Version, Work},
};
use crate::{
    sandbox::{CallError, Instance},
    store::kv::Applied,
};

/// A handler rerun this often because of KV conflicts is given up as a host bug.
pub(super) const MAX_CONFLICT_RETRIES: u32 = 1000;

/// What a shard's queue carries.
pub(super) enum Msg {
    Work(Box<Work>),
    Switch(Arc<Version>),
}

pub(super) struct Shard {
    pub(super) deps: ShardDeps,
    pub(super) version: Arc<Version>,
    pub(super) instance: Option<Instance>,
    pub(super) stats: Arc<ModuleStats>,
    /// Works queued or being handled on this shard (`module.rs`, `at_once.rs`).
    pub(super) load: Arc<std::sync::atomic::AtomicUsize>,
}

impl Shard {
    pub(super) async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Work(work) => {
                    self.handle(*work).await;
                    self.load.fetch_sub(1, Ordering::AcqRel);
                }
                Msg::Switch(v) => {
                    self.version = v;
                    self.instance = None;
                }
            }
        }
    }

    /// A ready instance: the current one, or a fresh one that passed `init`.
    async fn instance(&mut self) -> Result<&mut Instance, String> {
        if self.instance.is_none() {
            let mut fresh = self
                .deps
                .sandbox
                .instantiate(&self.version.code, self.version.env.clone())
                .await
                .map_err(|e| e.to_string())?;
            fresh.init().await.map_err(|e| format!("init {e}"))?;
            self.instance = Some(fresh);
        }
        Ok(self.instance.as_mut().expect("set above"))
    }

    async fn handle(&mut self, work: Work) {
        let env = self.version.env.clone();
        let module = env.name.clone();
        let stats = self.stats.clone();
        let max_attempts = self.deps.limits.max_attempts;
        let mut failures = 0;
        let mut conflicts = 0;
        let mut lost = Lost::default();
        loop {
            let instance = match self.instance().await {
                Ok(i) => i,
                Err(e) => {
                    failures += 1;
                    tracing::error!(module = %module, update = work.update_id, "cannot start an instance: {e}");
                    if failures >= max_attempts {
                        self.quarantine(&work, format!("no instance: {e}")).await;
                        return;
                    }
                    continue;
                }
            };
            stats.calls.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let (result, mut out) = instance.handle(&work.update, work.chat_id).await;
            stats.record_latency(started);
            match result {
                Ok(()) => {
                    let applied = commit_call(
                        &self.deps.committer,
                        &env,
                        &mut out,
                        work.update(),
                        work.timer_id,
                        None,
                        work.record.as_deref(),
                        &mut lost,
                    );
                    match applied.await {
                        Ok(Applied::Ok(..)) => {
                            stats.quarantined_in_a_row.store(0, Ordering::Relaxed);
                            return;
                        }
                        Ok(Applied::Conflict) => {
                            stats.conflicts.fetch_add(1, Ordering::Relaxed);
                            conflicts += 1;
                            if conflicts >= MAX_CONFLICT_RETRIES {
                                self.finish(&work, Some("endless KV conflicts".into()))
                                    .await;
                                return;
                            }
                        }
                        // Left owed in the store: resumed later (at the next start, or by
                        // another node).
                        Err(e) => {
                            tracing::error!(module = %module, update = work.update_id, "{e}");
                            env.log
                                .host_event(&format!("update {}: {e}", work.update_id));
                            return;
                        }
                    }
                }
                Err(CallError::Refused(msg)) => {
                    env.kv.abort(&mut out.txn).await;
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                    stats.quarantined_in_a_row.store(0, Ordering::Relaxed);
                    tracing::warn!(module = %module, update = work.update_id, "handler returned an error: {msg}");
                    env.log
                        .line("warn", &format!("handler returned an error: {msg}"));
                    self.finish(&work, None).await;
                    return;
                }
                Err(CallError::Trap(msg)) => {
                    env.kv.abort(&mut out.txn).await;
                    self.instance = None;
                    stats.traps.fetch_add(1, Ordering::Relaxed);
                    failures += 1;
                    tracing::error!(
                        module = %module,
                        update = work.update_id,
                        attempt = failures,
                        "module stopped: {msg}"
                    );
                    if failures >= max_attempts {
                        env.log.host_event(&format!(
                            "update {} quarantined after {failures} failed tries: {msg}",
                            work.update_id
                        ));
                        self.quarantine(&work, msg).await;
                        return;
                    }
                }
            }
        }
    }

    /// Quarantines the update (the future holds no borrow of the shard: an instance is not
    /// `Sync`).
    fn quarantine(&self, work: &Work, reason: String) -> impl Future<Output = ()> + Send + use<> {
        self.stats.quarantined.fetch_add(1, Ordering::Relaxed);
        let in_a_row = self
            .stats
            .quarantined_in_a_row
            .fetch_add(1, Ordering::Relaxed)
            + 1;
        let breaker = u64::from(self.deps.limits.breaker_quarantines);
        if breaker > 0 && in_a_row == breaker {
            let _ = self.deps.events.send(ModuleEvent::BreakerTripped {
                module: self.version.env.name.to_string(),
                reason: reason.clone(),
            });
        }
        self.finish(work, Some(reason))
    }

    /// Marks the update handled with no effects (quarantined when `reason` is given).
    fn finish(
        &self,
        work: &Work,
        reason: Option<String>,
    ) -> impl Future<Output = ()> + Send + use<> {
        let committer = self.deps.committer.clone();
        let env = self.version.env.clone();
        let (update, timer, record) = (work.update(), work.timer_id, work.record.clone());
        async move {
            finish_unhandled_after(&committer, &env, update, timer, reason, record.as_deref())
                .await;
        }
    }
}
