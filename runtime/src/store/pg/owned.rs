//! What this node holds of the bot on PostgreSQL: the partitions it took, each at its epoch,
//! and until when (by this machine's monotonic clock) its lease surely holds.
//!
//! A unit of work of a chat carries its partition's fence from here (`effects/pg.rs`), so a
//! node that lost the partition — it was paused past its lease, another node took over —
//! commits nothing more for that chat. And before sending, the outbox asks [`Owned::holds`]:
//! after a pause the monotonic clock has moved on (it runs while the process is stopped), so a
//! thawed node sends nothing until a renewal tells it whether it still holds its partitions.

use std::{
    sync::atomic::{AtomicU32, AtomicU64, Ordering},
    time::{Duration, Instant},
};

use parking_lot::RwLock;

use super::{leases::partition_of, unit::Fence};

/// How much sooner than the database's lease this node stops counting on it: the renewal's
/// round trip and the two clocks' drift.
const MARGIN: Duration = Duration::from_secs(2);

/// The partitions this node holds and how long it may act on them.
pub struct Owned {
    partitions: u32,
    /// Epoch per partition; 0 where this node holds none.
    epochs: RwLock<Vec<u64>>,
    /// Until when the lease surely holds; `None` once the node knows it lost partitions.
    until: RwLock<Option<Instant>>,
    /// Nodes running the bot, this one included, at the last renewal (the share of the bot's
    /// rate limit this node sends at is one of them).
    nodes: AtomicU32,
    /// Grows each time the partitions held or their epochs change.
    generation: AtomicU64,
}

impl Owned {
    /// Holds nothing yet, out of `partitions`.
    pub fn new(partitions: u32) -> Owned {
        Owned {
            partitions,
            epochs: RwLock::new(vec![0; partitions as usize]),
            until: RwLock::new(Some(Instant::now())),
            nodes: AtomicU32::new(1),
            generation: AtomicU64::new(0),
        }
    }

    /// The partitions held are `fences`, as read from the database.
    pub fn set(&self, fences: &[Fence]) {
        let mut next = vec![0; self.partitions as usize];
        for f in fences {
            if let Some(e) = next.get_mut(f.partition as usize) {
                *e = f.epoch;
            }
        }
        let mut epochs = self.epochs.write();
        if *epochs != next {
            *epochs = next;
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// The partitions held, each at its epoch, in partition order.
    pub fn held(&self) -> Vec<Fence> {
        let epochs = self.epochs.read();
        (epochs.iter().enumerate())
            .filter(|(_, e)| **e != 0)
            .map(|(p, e)| Fence {
                partition: p as u32,
                epoch: *e,
            })
            .collect()
    }

    /// Grows each time [`Owned::held`] changes: a reader that saw one generation knows
    /// whether to look again at what the partitions hold.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// How many partitions there are.
    pub fn partitions(&self) -> u32 {
        self.partitions
    }

    /// The partition of `chat`.
    pub fn partition(&self, chat: i64) -> u32 {
        partition_of(chat, self.partitions)
    }

    /// Whether this node holds `partition` and may act on it now.
    pub fn holds_partition(&self, partition: u32) -> bool {
        self.holds()
            && self
                .epochs
                .read()
                .get(partition as usize)
                .is_some_and(|e| *e != 0)
    }

    /// Whether this node holds the partition of `chat` and may act on it now (work of no chat
    /// belongs to the partition of chat 0).
    pub fn owns(&self, chat: Option<i64>) -> bool {
        self.holds_partition(self.partition(chat.unwrap_or(0)))
    }

    /// The nodes running the bot are `n` (at least this one).
    pub fn set_nodes(&self, n: u32) {
        self.nodes.store(n.max(1), Ordering::Release);
    }

    /// The nodes running the bot at the last renewal, this one included.
    pub fn nodes(&self) -> u32 {
        self.nodes.load(Ordering::Acquire)
    }

    /// A renewal of `lease` that began at `asked` succeeded.
    pub fn renewed(&self, asked: Instant, lease: Duration) {
        let mut until = self.until.write();
        if until.is_some() {
            *until = Some(asked + lease.saturating_sub(MARGIN));
        }
    }

    /// The node lost partitions: it holds nothing from now on.
    pub fn lost(&self) {
        *self.until.write() = None;
        self.set(&[]);
    }

    /// Whether the node may act on its partitions now.
    pub fn holds(&self) -> bool {
        self.until.read().is_some_and(|u| Instant::now() < u)
    }

    /// The fence of `chat`'s partition: its epoch if this node holds it, else epoch 0, which
    /// the database refuses.
    pub fn fence(&self, chat: i64) -> Fence {
        let partition = partition_of(chat, self.partitions);
        let epoch = self.epochs.read().get(partition as usize).copied();
        Fence {
            partition,
            epoch: epoch.unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_s_fence_is_its_partition_s_epoch_and_a_lost_node_holds_nothing() {
        let owned = Owned::new(8);
        let chat = 42;
        let p = partition_of(chat, 8);
        assert_eq!(
            owned.fence(chat),
            Fence {
                partition: p,
                epoch: 0
            }
        );
        owned.set(&[Fence {
            partition: p,
            epoch: 3,
        }]);
        assert_eq!(owned.fence(chat).epoch, 3);
        assert!(!owned.holds(), "not renewed yet");
        owned.renewed(Instant::now(), Duration::from_secs(15));
        assert!(owned.holds());
        owned.renewed(
            Instant::now() - Duration::from_secs(20),
            Duration::from_secs(15),
        );
        assert!(
            !owned.holds(),
            "a renewal that began before a long pause has run out"
        );
        owned.lost();
        owned.renewed(Instant::now(), Duration::from_secs(15));
        assert!(!owned.holds(), "lost stays lost");
        assert_eq!(owned.fence(chat).epoch, 0);
    }
}
