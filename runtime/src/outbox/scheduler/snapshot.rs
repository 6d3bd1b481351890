//! The scheduler's metrics snapshot, refreshed at most twice a second, and a log line a minute
//! while anything is queued.

use std::{
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use super::Scheduler;
use crate::outbox::metrics::{Metrics, OutboxStats};

impl Scheduler {
    /// Refreshes the metrics snapshot, at most twice a second (it looks at every chat's head
    /// for the oldest entry: O(chats) twice a second, not per send).
    pub(super) fn snapshot(&mut self, stats: &OutboxStats) {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last_snapshot.0);
        if elapsed < Duration::from_millis(500) {
            return;
        }
        let sent = stats.delivered.load(Ordering::Relaxed);
        let oldest = self
            .chats
            .values()
            .filter_map(|c| c.queue.front().map(|(_, e)| e.queued_at_ms))
            .chain(self.callbacks.front().map(|(_, e)| e.queued_at_ms))
            .min();
        let metrics = Metrics {
            queued_callback: self.depth[0],
            queued_interactive: self.depth[1],
            queued_normal: self.depth[2],
            queued_bulk: self.depth[3],
            oldest_age_ms: oldest.map_or(0, |t| crate::clock::unix_ms().saturating_sub(t)),
            sent_per_second: (sent - self.last_snapshot.1) as f64 / elapsed.as_secs_f64(),
            sent_total: sent,
            rate_limited_total: stats.rate_limited.load(Ordering::Relaxed),
            failed_total: stats.failed.load(Ordering::Relaxed),
        };
        let queued = metrics.queued_callback
            + metrics.queued_interactive
            + metrics.queued_normal
            + metrics.queued_bulk;
        if queued > 0 && now.duration_since(self.last_log) >= Duration::from_secs(60) {
            self.last_log = now;
            tracing::info!(
                queued_interactive = metrics.queued_interactive,
                queued_normal = metrics.queued_normal,
                queued_bulk = metrics.queued_bulk,
                oldest_age_ms = metrics.oldest_age_ms,
                sent_per_second = metrics.sent_per_second,
                rate_limited_total = metrics.rate_limited_total,
                "outbox"
            );
        }
        *stats.snapshot.lock() = metrics;
        self.last_snapshot = (now, sent);
    }
}
