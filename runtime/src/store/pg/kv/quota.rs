//! The quota check of a namespace on PostgreSQL: against the own slot's spare if it holds the
//! growth, else against the namespace's whole usage, rebalancing the spares (`usage.rs`).

use super::{Last, PgNamespace, PgTxn};
use crate::store::{
    kv::{KvError, cap, check_quota},
    pg::{
        io,
        usage::{BYTES, KEYS, Slot, rebalance},
    },
};

impl PgNamespace {
    /// Whether the transaction, having changed the namespace by (`bytes`, `keys`) in all, fits
    /// the quota in the dimensions it grows; refuses exactly as the redb backend does (on the
    /// usage in the transaction's snapshot).
    pub(super) async fn check_quota(
        &self,
        txn: &mut PgTxn,
        bytes: i64,
        keys: i64,
        grows_bytes: bool,
        grows_keys: bool,
    ) -> Result<(), KvError> {
        let quota = self.quota();
        let limit = [cap(quota.max_bytes), cap(quota.max_keys)];
        let (delta, grows) = ([bytes, keys], [grows_bytes, grows_keys]);
        if txn.escrow.own.is_none()
            && let Some(all) = &txn.escrow.all
        {
            let slot = txn.escrow.slot;
            txn.escrow.own = all.iter().find(|r| r.slot == slot).copied();
        }
        if txn.escrow.own.is_none() && txn.escrow.plan.is_none() {
            let slot = txn.escrow.slot;
            let rows = txn.send(&self.module, Last::OwnSlot(slot)).await?;
            let own = Slot::all(&rows).map_err(|e| io(&e))?.pop();
            txn.escrow.own = Some(own.unwrap_or(Slot {
                slot,
                used: [0; 2],
                spare: [0; 2],
                quota: [0; 2],
            }));
        }
        if txn.escrow.fits_own(delta, grows, limit) {
            return Ok(());
        }
        let used = self.used(txn).await?;
        check_quota(
            quota,
            used[BYTES] + bytes,
            used[KEYS] + keys,
            grows_bytes,
            grows_keys,
        )?;
        let rows = txn.escrow.all.as_deref().unwrap_or_default();
        txn.escrow.plan = Some(rebalance(rows, txn.escrow.slot, delta, limit));
        Ok(())
    }

    /// The namespace's usage (bytes, keys) in the transaction's snapshot: the sum of its rows.
    pub(super) async fn used(&self, txn: &mut PgTxn) -> Result<[i64; 2], KvError> {
        if txn.escrow.all.is_none() {
            let rows = txn.send(&self.module, Last::Slots).await?;
            txn.escrow.all = Some(Slot::all(&rows).map_err(|e| io(&e))?);
        }
        let rows = txn.escrow.all.as_deref().unwrap_or_default();
        Ok([BYTES, KEYS].map(|d| rows.iter().map(|r| r.used[d]).sum()))
    }
}
