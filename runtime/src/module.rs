//! A loaded module: its code, its manifest, its shards.
//!
//! Each shard is a task that owns one instance and handles its chats' updates one at a time, in
//! arrival order. A trap or a deadline discards the instance (a trapped instance cannot be
//! entered again); the next try gets a fresh one, which is cheap. An update that keeps failing
//! is tried `max_attempts` times, then quarantined and counted as handled, so one bad update
//! cannot stall its chat.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use tokio::sync::mpsc;

use crate::{
    bindings::types,
    config::SandboxConfig,
    sandbox::{CallError, Instance, ModuleCode, ModuleEnv, Sandbox},
    store::{Committer, Handled, Op, kv::Applied},
};

/// How many updates may wait in one shard's queue before intake waits.
const SHARD_QUEUE: usize = 4096;
/// A handler rerun this often because of KV conflicts is given up as a host bug.
const MAX_CONFLICT_RETRIES: u32 = 1000;

/// One update for one module.
pub struct Work {
    /// Telegram's update id.
    pub update_id: u64,
    /// The update in the contract's shape.
    pub update: types::Update,
    /// Its chat (picks the shard; replies there are interactive).
    pub chat_id: Option<i64>,
}

/// Counters of one module.
#[derive(Debug, Default)]
pub struct ModuleStats {
    /// Calls of `handle-update` (each try counts).
    pub calls: AtomicU64,
    /// Calls that returned an error value.
    pub errors: AtomicU64,
    /// Calls that trapped or ran out of time or memory.
    pub traps: AtomicU64,
    /// Updates given up after `max_attempts` failures.
    pub quarantined: AtomicU64,
    /// Reruns because another shard changed what the handler read.
    pub conflicts: AtomicU64,
}

/// A module in service.
pub struct LoadedModule {
    /// What it shares across instances.
    pub env: Arc<ModuleEnv>,
    /// Its manifest.
    pub manifest: types::Manifest,
    /// Its code.
    pub code: ModuleCode,
    /// Counters.
    pub stats: Arc<ModuleStats>,
    /// Its outbox quota in messages per minute (manifest narrowed by the operator).
    pub outbox_per_minute: Option<u32>,
    shards: Vec<mpsc::Sender<Work>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl LoadedModule {
    /// Starts `shards` shard tasks for a module whose `init` already succeeded on `first`.
    pub fn start(
        sandbox: Arc<Sandbox>,
        code: ModuleCode,
        env: Arc<ModuleEnv>,
        manifest: types::Manifest,
        first: Instance,
        limits: &SandboxConfig,
        committer: Committer,
    ) -> LoadedModule {
        let stats = Arc::new(ModuleStats::default());
        let mut first = Some(first);
        let mut tasks = Vec::new();
        let max_attempts = limits.max_attempts;
        let senders = (0..limits.shards)
            .map(|_| {
                let (tx, rx) = mpsc::channel(SHARD_QUEUE);
                let shard = Shard {
                    sandbox: sandbox.clone(),
                    code: code.clone(),
                    env: env.clone(),
                    instance: first.take(),
                    max_attempts,
                    committer: committer.clone(),
                    stats: stats.clone(),
                };
                tasks.push(tokio::spawn(shard.run(rx)));
                tx
            })
            .collect();
        LoadedModule {
            env,
            manifest,
            code,
            stats,
            outbox_per_minute: None,
            shards: senders,
            tasks,
        }
    }

    /// Stops taking work and waits until every shard finished what it had queued.
    pub async fn stop(self) {
        drop(self.shards);
        for t in self.tasks {
            let _ = t.await;
        }
    }

    /// The module's name.
    pub fn name(&self) -> &str {
        &self.env.name
    }

    /// Queues `work` on the shard of its chat; waits while that shard's queue is full.
    pub async fn submit(&self, work: Work) -> crate::Result<()> {
        let key = work.chat_id.unwrap_or(0).unsigned_abs();
        // Fibonacci hashing spreads consecutive chat ids over the shards.
        let n = self.shards.len() as u64;
        let shard = (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % n;
        self.shards[shard as usize]
            .send(work)
            .await
            .map_err(|_| crate::Error::ShuttingDown)
    }
}

struct Shard {
    sandbox: Arc<Sandbox>,
    code: ModuleCode,
    env: Arc<ModuleEnv>,
    instance: Option<Instance>,
    max_attempts: u32,
    committer: Committer,
    stats: Arc<ModuleStats>,
}

impl Shard {
    async fn run(mut self, mut rx: mpsc::Receiver<Work>) {
        while let Some(work) = rx.recv().await {
            self.handle(work).await;
        }
    }

    /// A ready instance: the current one, or a fresh one that passed `init`.
    async fn instance(&mut self) -> Result<&mut Instance, String> {
        if self.instance.is_none() {
            let mut fresh = self
                .sandbox
                .instantiate(&self.code, self.env.clone())
                .await
                .map_err(|e| e.to_string())?;
            fresh.init().await.map_err(|e| format!("init {e}"))?;
            self.instance = Some(fresh);
        }
        Ok(self.instance.as_mut().expect("set above"))
    }

    async fn handle(&mut self, work: Work) {
        let module = self.env.name.clone();
        let ns = self.env.namespace.clone();
        let stats = self.stats.clone();
        let mut failures = 0;
        let mut conflicts = 0;
        loop {
            let instance = match self.instance().await {
                Ok(i) => i,
                Err(e) => {
                    failures += 1;
                    tracing::error!(module = %module, update = work.update_id, "cannot start an instance: {e}");
                    if failures >= self.max_attempts {
                        self.finish(work.update_id, Some(format!("no instance: {e}")));
                        return;
                    }
                    continue;
                }
            };
            stats.calls.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(module = %module, update = work.update_id, "handling");
            let (result, mut out) = instance.handle(&work.update, work.chat_id).await;
            tracing::debug!(module = %module, update = work.update_id, ok = result.is_ok(), requests = out.outbox.len(), "handled");
            match result {
                Ok(()) => {
                    let committer = &self.committer;
                    let env = &self.env;
                    let applied = ns.validate_and_apply(&mut out.txn, |seq, writes| {
                        {
                            let mut recent = env.recent_tickets.lock();
                            for e in &out.outbox {
                                if let Some(t) = e.ticket {
                                    recent.insert(t, e.chat_id);
                                }
                            }
                        }
                        committer.send(Op::Handled(Box::new(Handled {
                            namespace: ns.clone(),
                            update_id: Some(work.update_id),
                            writes,
                            kv_seq: seq,
                            outbox: std::mem::take(&mut out.outbox),
                            quarantine: None,
                            tickets: Some(env.clone()),
                            done: None,
                        })))
                    });
                    match applied {
                        Applied::Ok(..) => return,
                        Applied::Conflict => {
                            self.stats.conflicts.fetch_add(1, Ordering::Relaxed);
                            conflicts += 1;
                            if conflicts >= MAX_CONFLICT_RETRIES {
                                self.finish(work.update_id, Some("endless KV conflicts".into()));
                                return;
                            }
                        }
                    }
                }
                Err(CallError::Refused(msg)) => {
                    ns.abort(&mut out.txn);
                    self.stats.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(module = %module, update = work.update_id, "handler returned an error: {msg}");
                    self.finish(work.update_id, None);
                    return;
                }
                Err(CallError::Trap(msg)) => {
                    ns.abort(&mut out.txn);
                    self.instance = None;
                    self.stats.traps.fetch_add(1, Ordering::Relaxed);
                    failures += 1;
                    tracing::error!(
                        module = %module,
                        update = work.update_id,
                        attempt = failures,
                        "module stopped: {msg}"
                    );
                    if failures >= self.max_attempts {
                        self.stats.quarantined.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(module = %module, update = work.update_id, "update quarantined after {failures} failed tries");
                        self.finish(work.update_id, Some(msg));
                        return;
                    }
                }
            }
        }
    }

    /// Marks the update handled with no effects (quarantined when `reason` is given).
    fn finish(&self, update_id: u64, reason: Option<String>) {
        let _ = self.committer.send(Op::Handled(Box::new(Handled {
            namespace: self.env.namespace.clone(),
            update_id: Some(update_id),
            writes: Vec::new(),
            kv_seq: 0,
            outbox: Vec::new(),
            quarantine: reason,
            tickets: None,
            done: None,
        })));
    }
}
