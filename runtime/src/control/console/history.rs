//! The last hour of the bot's figures, for the console's charts: sampled every [`EVERY`] from
//! the same counters `/metrics` reads, kept in memory (a restart starts a new hour).

use std::{
    collections::VecDeque,
    sync::{
        Arc, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::broadcast::error::RecvError;

use parking_lot::Mutex;

use crate::{
    modules::registry::Registry,
    outbox::metrics::OutboxStats,
    store::{Committed, Committer},
};

/// How often a sample is taken.
pub const EVERY: Duration = Duration::from_secs(10);
/// Samples kept: one hour.
pub const KEEP: usize = 360;

/// One sample: rates over the interval before it, levels at its end.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// When, Unix seconds.
    pub at_secs: u64,
    /// Updates handled (durably) per second.
    pub updates_per_s: f64,
    /// The slowest module's recent handling time, p99, milliseconds.
    pub handle_p99_ms: f64,
    /// Messages waiting: callback answers, interactive, normal, bulk.
    pub queued: [u64; 4],
    /// Requests Telegram accepted per second.
    pub sent_per_s: f64,
    /// 429 answers in the interval.
    pub rate_limited: u64,
    /// Messages given up in the interval.
    pub failed: u64,
    /// Module calls that failed (errors and traps) in the interval.
    pub module_errors: u64,
}

/// The samples, oldest first, and what the next one is counted from.
pub struct History {
    samples: Mutex<VecDeque<Sample>>,
    handled: AtomicU64,
    registry: Arc<Registry>,
    outbox: Arc<OutboxStats>,
    last: Mutex<(Instant, Totals)>,
}

impl History {
    /// Starts sampling; the tasks end when the returned history is dropped.
    pub fn start(
        committer: &Committer,
        registry: Arc<Registry>,
        outbox: Arc<OutboxStats>,
    ) -> Arc<History> {
        let totals = Totals::read(&registry, &outbox, 0);
        let history = Arc::new(History {
            samples: Mutex::default(),
            handled: AtomicU64::new(0),
            registry,
            outbox,
            last: Mutex::new((Instant::now(), totals)),
        });
        let mut commits = committer.subscribe();
        let counting: Weak<History> = Arc::downgrade(&history);
        tokio::spawn(async move {
            loop {
                let n = match commits.recv().await {
                    Ok(Committed::Handled { .. }) => 1,
                    Err(RecvError::Lagged(n)) => n,
                    Err(RecvError::Closed) => return,
                };
                let Some(h) = counting.upgrade() else { return };
                h.handled.fetch_add(n, Ordering::Relaxed);
            }
        });
        let sampling = Arc::downgrade(&history);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(h) = sampling.upgrade() else { return };
                h.take_sample();
            }
        });
        history
    }

    /// Takes a sample now and keeps it.
    fn take_sample(&self) {
        let now = self.totals();
        let mut last = self.last.lock();
        let sample = now.sample_since(&last.1, last.0.elapsed(), &self.registry, &self.outbox);
        *last = (Instant::now(), now);
        drop(last);
        push(&mut self.samples.lock(), sample);
    }

    /// The figures since the last sample, not kept: the charts' newest point.
    pub fn current(&self) -> Sample {
        let now = self.totals();
        let last = self.last.lock();
        now.sample_since(&last.1, last.0.elapsed(), &self.registry, &self.outbox)
    }

    /// Every sample kept, oldest first, then the current figures.
    pub fn samples(&self) -> Vec<Sample> {
        let mut all: Vec<Sample> = self.samples.lock().iter().cloned().collect();
        all.push(self.current());
        all
    }

    fn totals(&self) -> Totals {
        Totals::read(
            &self.registry,
            &self.outbox,
            self.handled.load(Ordering::Relaxed),
        )
    }
}

/// Adds a sample, forgetting the oldest beyond [`KEEP`].
fn push(samples: &mut VecDeque<Sample>, sample: Sample) {
    if samples.len() == KEEP {
        samples.pop_front();
    }
    samples.push_back(sample);
}

/// Counters at one moment.
struct Totals {
    handled: u64,
    sent: u64,
    rate_limited: u64,
    failed: u64,
    module_errors: u64,
}

impl Totals {
    fn read(registry: &Registry, outbox: &OutboxStats, handled: u64) -> Totals {
        let module_errors = registry.list().iter().map(|m| m.errors + m.traps).sum();
        Totals {
            handled,
            sent: outbox.delivered.load(Ordering::Relaxed),
            rate_limited: outbox.rate_limited.load(Ordering::Relaxed),
            failed: outbox.failed.load(Ordering::Relaxed),
            module_errors,
        }
    }

    fn sample_since(
        &self,
        before: &Totals,
        elapsed: Duration,
        registry: &Registry,
        outbox: &OutboxStats,
    ) -> Sample {
        let secs = elapsed.as_secs_f64().max(0.5);
        let m = outbox.metrics();
        let handle_p99_ms = registry
            .list()
            .iter()
            .filter_map(|m| m.latency_p99_us)
            .max()
            .map_or(0.0, |us| f64::from(us) / 1000.0);
        Sample {
            at_secs: crate::clock::unix_secs(),
            updates_per_s: self.handled.saturating_sub(before.handled) as f64 / secs,
            handle_p99_ms,
            queued: [
                m.queued_callback,
                m.queued_interactive,
                m.queued_normal,
                m.queued_bulk,
            ],
            sent_per_s: self.sent.saturating_sub(before.sent) as f64 / secs,
            rate_limited: self.rate_limited.saturating_sub(before.rate_limited),
            failed: self.failed.saturating_sub(before.failed),
            module_errors: self.module_errors.saturating_sub(before.module_errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_is_kept_and_the_oldest_sample_goes_first() {
        let mut s = VecDeque::new();
        for i in 0..(KEEP as u64 + 5) {
            push(
                &mut s,
                Sample {
                    at_secs: i,
                    ..Sample::default()
                },
            );
        }
        assert_eq!(s.len(), KEEP);
        assert_eq!(s[0].at_secs, 5);
        assert_eq!(s.back().unwrap().at_secs, KEEP as u64 + 4);
    }
}
