//! The durable outbox: everything modules ask to send, delivered within Telegram's limits.
//!
//! Entries enter the outbox in the same redb transaction as the update that produced them (see
//! [`crate::store::Op::Handled`]); the [`scheduler`] delivers them and records each delivery (or
//! give-up) durably before it sends the next message of that chat. So after a crash, an entry
//! is delivered again only if Telegram accepted it and the process died before the delivery was
//! committed: at most one message per chat, the one in flight.

pub mod limits;
pub mod metrics;
pub mod scheduler;

pub use crate::store::records::{Action, Entry, Priority, Target};

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
