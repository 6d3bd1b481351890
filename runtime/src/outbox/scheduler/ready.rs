//! The scheduler's index of chats with something to send: which may send now, and when the
//! others may.
//!
//! Every chat whose queue has a head that is not in flight is filed in exactly one of two
//! places, and filed again whenever its state changes (an entry arrives, a request ends, a 429,
//! a backoff, a migration):
//! - **ready**, when the chat's own limits (its 429 or backoff wait, its token bucket and window,
//!   its group's window) allow the head now. Ready chats sit in *lanes*, one per set of bot-wide
//!   limits a head waits for (for the scheduler: the global or the paid-broadcast limiter or
//!   none, and the module's quota), each lane ordered by (priority, queue sequence, chat id).
//!   A chat's own limits only open with time, so a ready chat stays ready until its state
//!   changes.
//! - **waiting**, in a min-heap by the instant its own limits allow the head. That instant holds
//!   until the chat's state changes; then the chat is filed again, and the heap entry of the
//!   earlier filing is skipped when it comes up (each filing has a ticket).
//!
//! Picking asks each lane holding ready chats whether its bot-wide limits are open, and takes
//! the first chat of the open lanes, and the first chat with a bulk head (bulk ranks last, so
//! that is one range look-up per lane).
//!
//! Costs, with n filed chats and l lanes holding ready chats (a few per module): filing or
//! removing a chat O(log n); a waiting chat whose time came O(log n) to take out (and to file
//! again); picking O(l log n).

use std::{
    cmp::Reverse,
    collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap},
    time::Instant,
};

use crate::outbox::Priority;

/// A ready chat's rank: its head's priority and queue sequence, then the chat id; lower goes
/// first.
pub(super) type Key = (Priority, u64, i64);

/// The lowest key with a bulk head (bulk ranks after every other priority).
const FIRST_BULK: Key = (Priority::Bulk, 0, i64::MIN);

/// Chats with something to send: the ready ones by lane and rank, the others by when they will
/// be ready. `L` names a lane.
pub(super) struct ReadyIndex<L> {
    lanes: BTreeMap<L, BTreeSet<Key>>,
    /// (when, ticket of the filing, chat), earliest first; entries of earlier filings included.
    waiting: BinaryHeap<Reverse<(Instant, u64, i64)>>,
    /// Where each filed chat is.
    filed: HashMap<i64, Filed<L>>,
    next_ticket: u64,
}

/// Where a chat is filed.
enum Filed<L> {
    Ready(L, Key),
    Waiting { at: Instant, ticket: u64 },
}

/// The chats [`ReadyIndex::best`] found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Best {
    /// The first ready chat of the open lanes.
    pub first: Option<Key>,
    /// The first ready chat with a bulk head of the open lanes.
    pub bulk: Option<Key>,
}

impl<L: Ord + Clone> ReadyIndex<L> {
    /// An empty index.
    pub fn new() -> Self {
        ReadyIndex {
            lanes: BTreeMap::new(),
            waiting: BinaryHeap::new(),
            filed: HashMap::new(),
            next_ticket: 0,
        }
    }

    /// Files `chat` in place of its earlier filing: ready in `lane` under `key` when `ready_at`
    /// is not after `now`, else waiting until `ready_at`.
    pub fn file(&mut self, chat: i64, lane: L, key: Key, ready_at: Instant, now: Instant) {
        if ready_at <= now {
            if matches!(self.filed.get(&chat), Some(Filed::Ready(l, k)) if *l == lane && *k == key)
            {
                return;
            }
            self.remove(chat);
            self.lanes.entry(lane.clone()).or_default().insert(key);
            self.filed.insert(chat, Filed::Ready(lane, key));
        } else {
            if matches!(self.filed.get(&chat), Some(Filed::Waiting { at, .. }) if *at == ready_at) {
                return;
            }
            self.remove(chat);
            let ticket = self.next_ticket;
            self.next_ticket += 1;
            self.waiting.push(Reverse((ready_at, ticket, chat)));
            self.filed.insert(
                chat,
                Filed::Waiting {
                    at: ready_at,
                    ticket,
                },
            );
            self.compact();
        }
    }

    /// Takes `chat` out of the index (nothing of it may go: its queue is empty or its head is in
    /// flight).
    pub fn remove(&mut self, chat: i64) {
        if let Some(Filed::Ready(lane, key)) = self.filed.remove(&chat)
            && let Some(keys) = self.lanes.get_mut(&lane)
        {
            keys.remove(&key);
            if keys.is_empty() {
                self.lanes.remove(&lane);
            }
        }
    }

    /// Moves the waiting chats whose time came by `now` out of the index into `due`; the caller
    /// files each again (its limits are asked once more: they may want a moment longer).
    pub fn take_due(&mut self, now: Instant, due: &mut Vec<i64>) {
        while let Some(&Reverse((at, ticket, chat))) = self.waiting.peek() {
            if at > now {
                break;
            }
            self.waiting.pop();
            if self.is_current(chat, ticket) {
                self.filed.remove(&chat);
                due.push(chat);
            }
        }
    }

    /// When the first waiting chat's time comes.
    pub fn next_due(&mut self) -> Option<Instant> {
        while let Some(&Reverse((at, ticket, chat))) = self.waiting.peek() {
            if self.is_current(chat, ticket) {
                return Some(at);
            }
            self.waiting.pop();
        }
        None
    }

    /// The first ready chat, and the first with a bulk head, of the lanes `open` accepts; `open`
    /// is asked once for each lane holding ready chats.
    pub fn best(&self, mut open: impl FnMut(&L) -> bool) -> Best {
        let mut best = Best::default();
        for (lane, keys) in &self.lanes {
            let Some(first) = keys.first() else { continue };
            if !open(lane) {
                continue;
            }
            best.first = Some(best.first.map_or(*first, |b| b.min(*first)));
            if let Some(bulk) = keys.range(FIRST_BULK..).next() {
                best.bulk = Some(best.bulk.map_or(*bulk, |b| b.min(*bulk)));
            }
        }
        best
    }

    /// Whether the heap entry (`chat`, `ticket`) is the chat's current filing.
    fn is_current(&self, chat: i64, ticket: u64) -> bool {
        matches!(self.filed.get(&chat), Some(Filed::Waiting { ticket: t, .. }) if *t == ticket)
    }

    /// Drops the heap entries of earlier filings once they could outnumber the filed chats
    /// (amortised O(1) a filing).
    fn compact(&mut self) {
        if self.waiting.len() <= 2 * self.filed.len() + 1024 {
            return;
        }
        let current: Vec<_> = self
            .filed
            .iter()
            .filter_map(|(&chat, filed)| match filed {
                Filed::Waiting { at, ticket } => Some(Reverse((*at, *ticket, chat))),
                Filed::Ready(..) => None,
            })
            .collect();
        self.waiting = BinaryHeap::from(current);
    }
}

#[cfg(test)]
mod tests;
