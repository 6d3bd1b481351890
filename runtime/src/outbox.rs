//! The durable outbox: everything modules ask to send, delivered within Telegram's limits.
//!
//! Entries enter the outbox in the same redb transaction as the update that produced them (see
//! [`crate::store::Op::Handled`]); the [`scheduler`] delivers them and records each delivery (or
//! give-up) durably before it sends the next message of that chat. So after a crash, an entry
//! is delivered again only if Telegram accepted it and the process died before the delivery was
//! committed: at most one message per chat, the one in flight.
//!
//! On PostgreSQL (issue 19) the same holds: entries enter `botbox_outbox` with their handler's
//! unit of work (`store/pg/unit.rs`) and reach the scheduler through
//! `Committer::committed_elsewhere`; deliveries are recorded there (`scheduler/shared.rs`,
//! `store/pg/deliveries.rs`), tried again until they land while PostgreSQL is away. With several
//! nodes, a node sends the entries of the chats of the partitions it holds: those its own units
//! wrote taken reach it that way, the others it claims from `botbox_outbox`
//! (`scheduler/pickup.rs`); it drops those of a chat whose partition moved away
//! (`scheduler/share.rs`), and sends at its share of the bot-wide limits (docs/outbox.md).

pub mod checkouts;
pub mod limits;
pub mod metrics;
mod queued;
pub mod scheduler;

pub use crate::store::records::{Action, Entry, Priority, Target};
pub(crate) use queued::queued;

/// The bytes of text and keyboards each module has waiting in the outbox, kept by the
/// scheduler as entries arrive and leave, and read by the sandbox before a module queues more
/// (`outbox.module_max_queued_bytes`): a module cannot make the host hold its queue in memory
/// without bound while Telegram is slow or the module's quota is low.
#[derive(Debug, Default)]
pub struct QueuedBytes(parking_lot::Mutex<std::collections::HashMap<String, u64>>);

impl QueuedBytes {
    /// Counts an entry of `module` arriving.
    pub fn add(&self, module: &str, bytes: u64) {
        if bytes > 0 {
            *self.0.lock().entry(module.to_string()).or_default() += bytes;
        }
    }

    /// Counts an entry of `module` leaving (delivered, merged or given up).
    pub fn remove(&self, module: &str, bytes: u64) {
        let mut map = self.0.lock();
        if let Some(n) = map.get_mut(module) {
            *n = n.saturating_sub(bytes);
            if *n == 0 {
                map.remove(module);
            }
        }
    }

    /// The bytes `module` has waiting.
    pub fn of(&self, module: &str) -> u64 {
        self.0.lock().get(module).copied().unwrap_or(0)
    }
}

/// Messages per minute each module may send, for modules with a quota. Changes as modules are
/// added, swapped and removed; the scheduler picks changes up at its next wake-up.
#[derive(Debug, Default)]
pub struct Quotas {
    map: parking_lot::RwLock<std::collections::HashMap<String, u32>>,
    generation: std::sync::atomic::AtomicU64,
}

impl Quotas {
    /// Sets (or with `None` removes) a module's quota.
    pub fn set(&self, module: &str, per_minute: Option<u32>) {
        let mut map = self.map.write();
        let changed = match per_minute {
            Some(q) => map.insert(module.to_string(), q) != Some(q),
            None => map.remove(module).is_some(),
        };
        if changed {
            self.generation
                .fetch_add(1, std::sync::atomic::Ordering::Release);
        }
    }

    /// The quotas, with their generation.
    pub fn snapshot(&self) -> (u64, std::collections::HashMap<String, u32>) {
        let map = self.map.read();
        (
            self.generation.load(std::sync::atomic::Ordering::Acquire),
            map.clone(),
        )
    }

    /// The generation (it changes with every change).
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }
}
