//! Which node owns which partition of the chats, under leases kept in database time.
//!
//! A node joins with a lease on itself (`botbox_nodes`), renews it while it runs, and claims
//! partitions that have no owner or whose owner's lease ran out; each claim increments the
//! partition's epoch, which every unit of work of that partition's chats carries and
//! `botbox_fence` checks at commit (`schema.rs`). A node that stops renewing (killed, paused, cut
//! off) loses its partitions to the next claim, and whatever it still tries to commit is refused.

use std::time::Duration;

use super::{PgStore, unit::Fence};
use crate::{Error, Result};

/// Partitions of the chats (the same on every node and every version).
pub const PARTITIONS: u32 = 1024;

/// The partition of a chat, out of `partitions` (the same on every node and every version:
/// it decides who handles the chat).
pub fn partition_of(chat: i64, partitions: u32) -> u32 {
    // SplitMix64's finaliser: consecutive chat ids spread over all partitions.
    let mut z = chat as u64;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z % u64::from(partitions.max(1))) as u32
}

fn millis(lease: Duration) -> Result<f64> {
    match lease.as_millis() {
        0 => Err(Error::Config("a lease must be longer than 0 ms".into())),
        ms => Ok(ms as f64),
    }
}

fn fences(rows: &[tokio_postgres::Row]) -> Vec<Fence> {
    let mut out: Vec<Fence> = rows
        .iter()
        .map(|r| Fence {
            partition: r.get::<_, i32>(0) as u32,
            epoch: r.get::<_, i64>(1) as u64,
        })
        .collect();
    out.sort_by_key(|f| f.partition);
    out
}

impl PgStore {
    /// Enters `node` with a lease of `lease`, and makes sure the `partitions` exist (the first
    /// node creates them; the count must be the same on every node). The partitions `node`
    /// still owns from before (it was killed and came back within its lease) move to a new
    /// epoch: what its last run took in hand is taken again, and that run's late commits, if any
    /// process of it still runs, are refused.
    pub async fn join(&self, node: &str, partitions: u32, lease: Duration) -> Result<()> {
        let count = i32::try_from(partitions)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| Error::Config(format!("{partitions} partitions: 1 to 2^31")))?;
        self.query(
            "INSERT INTO botbox_partitions (id) SELECT generate_series(0, $1 - 1) \
             ON CONFLICT DO NOTHING",
            &[&count],
        )
        .await?;
        self.renew(node, lease).await?;
        self.query(
            "UPDATE botbox_partitions SET epoch = epoch + 1 WHERE owner = $1",
            &[&node],
        )
        .await?;
        Ok(())
    }

    /// Extends the lease of `node` to `lease` from now (database time). If its lease had run
    /// out (the node was paused or cut off) the partitions it still owns move to a new epoch,
    /// so the work it took in hand before is taken again (`pickup.rs`) and its units begun
    /// before are refused; answers whether that happened.
    pub async fn renew(&self, node: &str, lease: Duration) -> Result<bool> {
        let rows = self
            .query(
                "WITH prior AS (SELECT lease_until < clock_timestamp() AS lapsed \
                                FROM botbox_nodes WHERE node = $1), \
                      renewed AS (INSERT INTO botbox_nodes (node, lease_until) \
                         VALUES ($1, clock_timestamp() + $2 * interval '1 millisecond') \
                         ON CONFLICT (node) DO UPDATE SET lease_until = EXCLUDED.lease_until), \
                      moved AS (UPDATE botbox_partitions SET epoch = epoch + 1 \
                         WHERE owner = $1 AND (SELECT lapsed FROM prior) RETURNING 1) \
                 SELECT coalesce((SELECT lapsed FROM prior), false), \
                        (SELECT count(*) FROM moved)",
                &[&node, &millis(lease)?],
            )
            .await?;
        Ok(rows.first().is_some_and(|r| r.get::<_, bool>(0)))
    }

    /// How many nodes hold a lease now (database time), `node` counted even if its lease ran
    /// out a moment ago.
    pub async fn live_nodes(&self, node: &str) -> Result<u32> {
        let rows = self
            .query(
                "SELECT count(*) FROM botbox_nodes \
                 WHERE lease_until >= clock_timestamp() OR node = $1",
                &[&node],
            )
            .await?;
        Ok(rows.first().map_or(1, |r| r.get::<_, i64>(0).max(1) as u32))
    }

    /// Takes up to `want` partitions that have no owner or whose owner's lease ran out, each at
    /// a new epoch. A partition whose row is locked by a commit in flight is left for later.
    pub async fn claim(&self, node: &str, want: usize) -> Result<Vec<Fence>> {
        let rows = self
            .query(
                "UPDATE botbox_partitions p SET owner = $1, epoch = p.epoch + 1 \
                 WHERE p.id IN ( \
                    SELECT pt.id FROM botbox_partitions pt \
                    LEFT JOIN botbox_nodes n ON n.node = pt.owner \
                    WHERE pt.owner IS NULL OR n.lease_until IS NULL \
                       OR n.lease_until < clock_timestamp() \
                    ORDER BY pt.id LIMIT $2 FOR UPDATE OF pt SKIP LOCKED) \
                 RETURNING p.id, p.epoch",
                &[&node, &(want as i64)],
            )
            .await?;
        Ok(fences(&rows))
    }

    /// The partitions `node` owns, with their epochs (a node that was paused finds out here
    /// which ones it lost).
    pub async fn owned(&self, node: &str) -> Result<Vec<Fence>> {
        let rows = self
            .query(
                "SELECT id, epoch FROM botbox_partitions WHERE owner = $1",
                &[&node],
            )
            .await?;
        Ok(fences(&rows))
    }

    /// Gives partitions back (a node draining or leaving); the next claim takes them.
    pub async fn release(&self, node: &str, partitions: &[u32]) -> Result<()> {
        let ids: Vec<i32> = partitions.iter().map(|&p| p as i32).collect();
        self.query(
            "UPDATE botbox_partitions SET owner = NULL WHERE owner = $1 AND id = ANY($2)",
            &[&node, &ids],
        )
        .await?;
        Ok(())
    }
}
