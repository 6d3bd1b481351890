//! Taking outbox rows in hand on PostgreSQL when several nodes serve one bot (issue 19).
//!
//! Each `botbox_outbox` row carries its chat's partition (`part`) and the epoch at which a node
//! took it in hand (`taken`, 0: nobody yet). A unit writes the rows of its own chat's partition
//! taken at its fence's epoch (its node sends them) and the others untaken (`unit.rs`). The
//! owner of a partition claims what is there for it: a claim sets `taken` to the epoch at which
//! the node holds the row's partition, and only where `botbox_partitions` still says that epoch
//! — a node whose view of its partitions is stale (another node claimed one since) claims
//! nothing of that partition.
//!
//! Three claims (`Claim`): the rows nobody took (every ~100 ms), the rows not taken at the
//! current epoch (those the last owner took before the partition moved, after this node's
//! partitions changed and every few seconds anyway), and every row of the partitions held (the
//! read at start, and partitions the process gains: a node restarted under the same name may
//! hold its partitions at the same epochs, and must send again the rows its earlier run took
//! and did not finish).

use super::{Fence, PgStore, timers::held_arrays};
use crate::Result;

/// Which rows of the partitions held a claim takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim<'a> {
    /// Those nobody took yet (`taken = 0`).
    Untaken,
    /// Those not taken at the epoch this node holds their partition at (untaken, or taken by
    /// an earlier owner), and every row of the partitions `whole` (partitions this process did
    /// not hold before: rows its node took at the same epoch in an earlier run are its again).
    NotMine {
        /// Partitions whose rows are all taken.
        whole: &'a [u32],
    },
    /// All of them (the read at start).
    All,
}

impl Claim<'_> {
    fn condition(self) -> &'static str {
        match self {
            Claim::Untaken => "AND o.taken = 0",
            Claim::NotMine { .. } => "AND (o.taken <> h.epoch OR h.part = ANY($3::int[]))",
            Claim::All => "",
        }
    }
}

/// One row claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// Its outbox sequence number.
    pub seq: u64,
    /// The chat it goes to.
    pub chat: i64,
    /// The entry, as stored (JSON).
    pub entry: Vec<u8>,
}

impl PgStore {
    /// Takes in hand the rows `which` of the partitions `held` (as `Owned::held` gives them:
    /// each partition at the epoch this node holds it at); answers them in sequence order.
    /// Rows of a partition whose epoch moved on are left alone.
    pub async fn claim_outbox(&self, held: &[Fence], which: Claim<'_>) -> Result<Vec<Claimed>> {
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let (parts, epochs) = held_arrays(held)?;
        let sql = format!(
            "UPDATE botbox_outbox o SET taken = h.epoch \
             FROM unnest($1::int[], $2::bigint[]) AS h(part, epoch), botbox_partitions pt \
             WHERE o.part = h.part {} AND pt.id = h.part AND pt.epoch = h.epoch \
             RETURNING o.seq, o.chat, o.entry",
            which.condition()
        );
        let rows = match which {
            Claim::NotMine { whole } => {
                let whole: Vec<i32> = whole.iter().map(|&p| p as i32).collect();
                self.query(&sql, &[&parts, &epochs, &whole]).await?
            }
            _ => self.query(&sql, &[&parts, &epochs]).await?,
        };
        let mut claimed: Vec<Claimed> = rows
            .iter()
            .map(|r| Claimed {
                seq: r.get::<_, i64>(0) as u64,
                chat: r.get(1),
                entry: r.get(2),
            })
            .collect();
        claimed.sort_unstable_by_key(|c| c.seq);
        Ok(claimed)
    }
}
