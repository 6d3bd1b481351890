//! What this node holds of the bot on PostgreSQL: the partitions it took, each at its epoch,
//! and until when (by this machine's monotonic clock) its lease surely holds.
//!
//! A unit of work of a chat carries its partition's fence from here (`effects/pg.rs`), so a
//! node that lost the partition — it was paused past its lease, another node took over —
//! commits nothing more for that chat. And before sending, the outbox asks [`Owned::holds`]:
//! after a pause the monotonic clock has moved on (it runs while the process is stopped), so a
//! thawed node sends nothing until a renewal tells it whether it still holds its partitions.

use std::time::{Duration, Instant};

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
}

impl Owned {
    /// Holds nothing yet, out of `partitions`.
    pub fn new(partitions: u32) -> Owned {
        Owned {
            partitions,
            epochs: RwLock::new(vec![0; partitions as usize]),
            until: RwLock::new(Some(Instant::now())),
        }
    }

    /// The partitions held are `fences`, as read from the database.
    pub fn set(&self, fences: &[Fence]) {
        let mut epochs = self.epochs.write();
        epochs.iter_mut().for_each(|e| *e = 0);
        for f in fences {
            if let Some(e) = epochs.get_mut(f.partition as usize) {
                *e = f.epoch;
            }
        }
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
