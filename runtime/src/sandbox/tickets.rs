//! Tickets: the ids of queued messages, also those of timers and of a broadcast's consecutive
//! block. Unique for the life of the database, whichever node hands them out.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::store::pg::PgIds;

/// Hands out tickets: on redb from the process's counter (one process owns the file), on
/// PostgreSQL from ranges each node reserves in the database (`store/pg/ids.rs`).
pub enum TicketCounter {
    /// Continues the redb store's last ticket; an atomic add per ticket.
    Local(AtomicU64),
    /// Ranges reserved in PostgreSQL, refilled in the background.
    Shared(PgIds),
}

impl TicketCounter {
    /// Continues after `last` (redb: the store's last ticket).
    pub fn new(last: u64) -> Self {
        TicketCounter::Local(AtomicU64::new(last + 1))
    }

    /// Draws from the ranges `ids` reserves in PostgreSQL.
    pub fn shared(ids: PgIds) -> Self {
        TicketCounter::Shared(ids)
    }

    /// A ticket. Ready at the first poll on redb, and on PostgreSQL while the node's range
    /// lasts (a refill starts before it runs out); otherwise waits for a fresh range.
    pub(crate) async fn next(&self) -> u64 {
        self.block(1).await
    }

    /// `n` consecutive tickets, the first returned (a broadcast's chats: its tickets are one
    /// range, which is how its progress is read back).
    pub(crate) async fn block(&self, n: u64) -> u64 {
        match self {
            TicketCounter::Local(next) => next.fetch_add(n, Ordering::Relaxed),
            TicketCounter::Shared(ids) => match ids.try_take(n) {
                Some(first) => first,
                // Boxed: the reservation's future is large, the redb arm's stays small.
                None => Box::pin(ids.block(n)).await,
            },
        }
    }
}
