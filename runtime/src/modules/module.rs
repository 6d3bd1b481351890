//! A module in service: its current version, its shards.
//!
//! Each shard is a task that owns one instance and handles its chats' updates one at a time, in
//! arrival order. A trap or a deadline discards the instance (a trapped instance cannot be
//! entered again); the next try gets a fresh one, which is cheap. An update that keeps failing
//! is tried `max_attempts` times, then quarantined and counted as handled, so one bad update
//! cannot stall its chat. `breaker_quarantines` quarantines in a row trip the circuit breaker:
//! the registry is told and stops the module.
//!
//! A swap sends the new version down every shard's queue like an update: what was queued before
//! it is handled by the old version (calls in flight finish there), what comes after by the new
//! one. A chat always maps to the same shard, so its order holds across the switch and each
//! update is handled by exactly one version.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize},
    },
    time::Instant,
};

use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::{
    backlog::Backlog,
    http_request::HttpPool,
    shard::{Msg, Shard},
};
use crate::{
    bindings::types,
    config::SandboxConfig,
    sandbox::{Instance, ModuleCode, ModuleEnv, Sandbox},
    store::Committer,
};

/// One update for one module.
pub struct Work {
    /// Telegram's update id.
    pub update_id: u64,
    /// The update in the contract's shape.
    pub update: types::Update,
    /// Its chat (picks the shard; replies there are interactive).
    pub chat_id: Option<i64>,
    /// The timer whose firing this is (`update_id` is then 0).
    pub timer_id: Option<u64>,
    /// The update's record, when intake held it back to commit it with the handling
    /// (`intake/at_once.rs`); `None` when the update is recorded already.
    pub record: Option<Arc<crate::store::HeldRecord>>,
}

impl Work {
    /// The update id to mark handled: none for a timer.
    pub(super) fn update(&self) -> Option<u64> {
        self.timer_id.is_none().then_some(self.update_id)
    }
}

/// Counters of one module, across its versions.
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
    /// Updates quarantined since the last one handled (the circuit breaker's count).
    pub quarantined_in_a_row: AtomicU64,
    /// Handling time of recent calls, for percentiles.
    latency: Mutex<LatencyRing>,
}

/// The last [`LATENCY_SAMPLES`] handling times, in microseconds.
#[derive(Debug, Default)]
struct LatencyRing {
    samples: Vec<u32>,
    next: usize,
}

const LATENCY_SAMPLES: usize = 1024;

impl ModuleStats {
    pub(super) fn record_latency(&self, started: Instant) {
        let us = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
        let mut ring = self.latency.lock();
        if ring.samples.len() < LATENCY_SAMPLES {
            ring.samples.push(us);
        } else {
            let i = ring.next;
            ring.samples[i] = us;
        }
        ring.next = (ring.next + 1) % LATENCY_SAMPLES;
    }

    /// (p50, p99) of the recent handling times in microseconds, from the start of the call to
    /// its effects being queued for the commit; `None` before the first call.
    pub fn latency_us(&self) -> Option<(u32, u32)> {
        let mut s = self.latency.lock().samples.clone();
        if s.is_empty() {
            return None;
        }
        s.sort_unstable();
        let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
        Some((at(0.5), at(0.99)))
    }
}

/// One version of a module: its code, its environment, its manifest.
pub struct Version {
    /// Its code.
    pub code: ModuleCode,
    /// What its instances share (the module's namespace, tag and log stay across versions).
    pub env: Arc<ModuleEnv>,
    /// Its manifest.
    pub manifest: types::Manifest,
}

/// What a module tells the registry.
#[derive(Debug)]
pub enum ModuleEvent {
    /// `breaker_quarantines` updates in a row were quarantined.
    BreakerTripped {
        /// The module.
        module: String,
        /// The last failure.
        reason: String,
    },
}

/// Why work was not queued.
pub(super) enum NotQueued {
    /// The shard's queue has no room.
    Full,
    /// The module has stopped (removed, disabled, swapped out at shutdown).
    Stopped,
    /// The shard's task died without being stopped: the work must not count as handled.
    Dead,
}

/// A module in service.
pub struct LoadedModule {
    name: Arc<str>,
    current: Mutex<Arc<Version>>,
    /// Counters.
    pub stats: Arc<ModuleStats>,
    pub(super) shards: parking_lot::RwLock<Vec<ShardQueue>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// What the shards use; HTTP requests use it too.
    pub(super) deps: ShardDeps,
    /// Idle instances serving HTTP requests.
    pub(super) http_pool: HttpPool,
    /// Updates left in the database while its queues were full.
    pub(super) backlog: Backlog,
    /// Set by [`LoadedModule::stop`]: a closed shard queue is then expected, not a death.
    stopping: std::sync::atomic::AtomicBool,
}

/// The queue of one shard and how much work it holds.
#[derive(Clone)]
pub(super) struct ShardQueue {
    pub(super) tx: mpsc::Sender<Msg>,
    /// Works queued or being handled (the shard counts down as it finishes each).
    pub(super) load: Arc<AtomicUsize>,
}

/// What the shards of every module share.
#[derive(Clone)]
pub struct ShardDeps {
    /// The engine.
    pub sandbox: Arc<Sandbox>,
    /// The limits.
    pub limits: SandboxConfig,
    /// The committer.
    pub committer: Committer,
    /// Where the circuit breaker reports.
    pub events: mpsc::UnboundedSender<ModuleEvent>,
    /// Where a shard that died is reported (the process cannot go on without it).
    pub health: crate::health::Health,
}

impl LoadedModule {
    /// Starts the shard tasks of a module whose `init` already succeeded on `first`.
    pub fn start(
        deps: &ShardDeps,
        version: Arc<Version>,
        first: Instance,
        stats: Arc<ModuleStats>,
    ) -> LoadedModule {
        let mut first = Some(first);
        let mut tasks = Vec::new();
        let senders = (0..deps.limits.shards)
            .map(|_| {
                let (tx, rx) = mpsc::channel(deps.limits.shard_queue);
                let load = Arc::new(AtomicUsize::new(0));
                let shard = Shard {
                    deps: deps.clone(),
                    version: version.clone(),
                    instance: first.take(),
                    stats: stats.clone(),
                    load: load.clone(),
                };
                tasks.push(tokio::spawn(shard.run(rx)));
                ShardQueue { tx, load }
            })
            .collect();
        LoadedModule {
            name: version.env.name.clone(),
            current: Mutex::new(version),
            stats,
            shards: parking_lot::RwLock::new(senders),
            tasks: Mutex::new(tasks),
            deps: deps.clone(),
            http_pool: HttpPool::default(),
            backlog: Backlog::default(),
            stopping: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The version new updates go to.
    pub fn current(&self) -> Arc<Version> {
        self.current.lock().clone()
    }

    /// Switches to `version`: updates queued before this are handled by the old version, later
    /// ones by the new. Returns once every shard has the switch in its queue.
    pub async fn switch(&self, version: Arc<Version>) {
        *self.current.lock() = version.clone();
        let shards = self.shards.read().clone();
        for s in shards {
            let _ = s.tx.send(Msg::Switch(version.clone())).await;
        }
    }

    /// Stops taking work and waits until every shard finished what it had queued.
    pub async fn stop(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::Release);
        self.shards.write().clear();
        let tasks = std::mem::take(&mut *self.tasks.lock());
        for t in tasks {
            let _ = t.await;
        }
    }

    /// The module's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Queues `work` on the shard of its chat without waiting. Callers go through
    /// [`LoadedModule::offer`], which keeps a chat's order when a queue is full.
    pub(super) fn try_queue(&self, work: Work) -> Result<(), NotQueued> {
        let shards = self.shards.read();
        let Some(shard) = shard_of(&shards, work.chat_id) else {
            return Err(NotQueued::Stopped);
        };
        shard.load.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        shard
            .tx
            .try_send(Msg::Work(Box::new(work)))
            .inspect_err(|_| {
                shard.load.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => NotQueued::Full,
                mpsc::error::TrySendError::Closed(_)
                    if self.stopping.load(std::sync::atomic::Ordering::Acquire) =>
                {
                    NotQueued::Stopped
                }
                mpsc::error::TrySendError::Closed(_) => {
                    self.deps.health.fail(format!(
                        "a shard of module `{}` died; its updates stay recorded for the restart",
                        self.name
                    ));
                    NotQueued::Dead
                }
            })
    }

    /// The number of shards.
    pub fn shard_count(&self) -> usize {
        self.shards.read().len()
    }
}

/// The shard of `chat` (a chat always maps to the same one); `None` once stopped.
pub(super) fn shard_of(shards: &[ShardQueue], chat: Option<i64>) -> Option<&ShardQueue> {
    if shards.is_empty() {
        return None;
    }
    // Fibonacci hashing spreads consecutive chat ids over the shards.
    let key = chat.unwrap_or(0).unsigned_abs();
    let n = shards.len() as u64;
    Some(&shards[((key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % n) as usize])
}
