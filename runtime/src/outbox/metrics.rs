//! What the outbox reports about itself.

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use serde::Serialize;

/// Counters, updated as things happen.
#[derive(Debug, Default)]
pub struct OutboxStats {
    /// Requests Telegram accepted.
    pub delivered: AtomicU64,
    /// 429 answers received.
    pub rate_limited: AtomicU64,
    /// Entries given up (400, blocked chats, too many network errors).
    pub failed: AtomicU64,
    /// Edits merged into a later edit of the same message.
    pub coalesced: AtomicU64,
    /// The latest queue snapshot.
    pub snapshot: Mutex<Metrics>,
}

/// A snapshot of the queue, refreshed at most every half second by the scheduler.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Queued answers to button presses.
    pub queued_callback: u64,
    /// Queued interactive messages.
    pub queued_interactive: u64,
    /// Queued normal messages.
    pub queued_normal: u64,
    /// Queued bulk messages.
    pub queued_bulk: u64,
    /// Age of the oldest queued message, in milliseconds.
    pub oldest_age_ms: u64,
    /// Requests Telegram accepted per second, over the last snapshot interval.
    pub sent_per_second: f64,
    /// Requests Telegram accepted since start.
    pub sent_total: u64,
    /// 429 answers since start.
    pub rate_limited_total: u64,
    /// Entries given up since start.
    pub failed_total: u64,
}

impl OutboxStats {
    /// The latest snapshot.
    pub fn metrics(&self) -> Metrics {
        self.snapshot.lock().clone()
    }

    pub(crate) fn count(&self, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
