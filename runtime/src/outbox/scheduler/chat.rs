//! One chat's queue and its own limits, and how the scheduler's index files it.

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

use super::ready::Key;
use crate::{
    config::OutboxConfig,
    outbox::{
        Entry, Priority,
        limits::{SlidingWindow, TokenBucket},
    },
};

/// A chat's pending entries (oldest first, each with its outbox sequence) and its own limits.
pub(super) struct ChatQueue {
    pub queue: VecDeque<(u64, Entry)>,
    /// The head is in flight.
    pub busy: bool,
    /// Nothing goes before this instant (a 429's `retry_after`, a backoff).
    pub blocked_until: Option<Instant>,
    pub bucket: TokenBucket,
    pub window: SlidingWindow,
    /// The group's window, for a group or supergroup (negative id).
    pub group: Option<SlidingWindow>,
    pub failures: u32,
    /// When the head entry's first transient failure happened; it is given up once that is
    /// `retry_for_secs` ago.
    pub failing_since: Option<Instant>,
    /// The request in flight took from the limiters: `Some(true)` from the paid-broadcast one,
    /// `Some(false)` from the global one. Its end is recorded in them (see
    /// [`crate::outbox::limits`]).
    pub limited_in_flight: Option<bool>,
}

/// The bot-wide limits a chat's head waits for, once its chat's own limits allow it: which
/// bot-wide limiter it takes from, and its module's quota. The index keeps ready chats per lane.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Lane {
    pub limiter: Limiter,
    /// The module whose quota applies (if it has one).
    pub module: String,
}

/// The bot-wide limiter a head takes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Limiter {
    /// None: the head does not count against Telegram's limits (deletions).
    Unlimited,
    /// The global limit (`global_per_second`).
    Global,
    /// The paid-broadcast limit: bulk while `paid_broadcast` is on.
    Paid,
}

impl ChatQueue {
    /// An empty queue with full limiters.
    pub fn new(cfg: &OutboxConfig, chat_id: i64, now: Instant) -> ChatQueue {
        ChatQueue {
            queue: VecDeque::new(),
            busy: false,
            blocked_until: None,
            bucket: TokenBucket::new(f64::from(cfg.chat_burst), cfg.chat_per_second, now),
            window: SlidingWindow::new(cfg.chat_burst, Duration::from_secs(1)),
            group: (chat_id < 0)
                .then(|| SlidingWindow::new(cfg.group_per_minute, Duration::from_secs(60))),
            failures: 0,
            failing_since: None,
            limited_in_flight: None,
        }
    }

    /// How the index files the chat: its head's lane and rank, and the instant the chat's own
    /// limits allow the head (`now` if they do); `None` while nothing of it may go (the queue
    /// is empty or the head is in flight). `paid`: bulk goes as paid broadcasts.
    pub fn filing(
        &mut self,
        chat_id: i64,
        paid: bool,
        now: Instant,
    ) -> Option<(Lane, Key, Instant)> {
        if self.busy {
            return None;
        }
        let (seq, head) = self.queue.front()?;
        let mut at = now;
        if let Some(until) = self.blocked_until {
            if until > now {
                at = until;
            } else {
                self.blocked_until = None;
            }
        }
        let limiter = if head.is_limited() {
            at = at
                .max(self.bucket.ready_at(now))
                .max(self.window.ready_at(now));
            if let Some(g) = &mut self.group {
                at = at.max(g.ready_at(now));
            }
            if paid && head.priority == Priority::Bulk {
                Limiter::Paid
            } else {
                Limiter::Global
            }
        } else {
            Limiter::Unlimited
        };
        let lane = Lane {
            limiter,
            module: head.module.clone(),
        };
        Some((lane, (head.priority, *seq, chat_id), at))
    }

    /// Whether the chat holds nothing a new one would not (it can be forgotten).
    pub fn is_idle(&mut self, now: Instant) -> bool {
        self.queue.is_empty()
            && !self.busy
            && self.bucket.is_full(now)
            && self.window.is_idle(now)
            && self.group.as_mut().is_none_or(|g| g.is_idle(now))
    }
}
