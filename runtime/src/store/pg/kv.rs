//! A module's KV namespace on PostgreSQL: the operations modules see, with the redb backend's
//! checks, errors and quota rules (see `store::kv`), in a SERIALIZABLE transaction per call.
//!
//! Reads go to PostgreSQL (after the call's buffered writes, in the same pipeline); writes are
//! buffered and travel with the next read that needs them or with the `COMMIT`. The namespace's
//! usage lives in rows of `botbox_kv_usage`, read in the transaction's snapshot when a write
//! grows the namespace and updated at commit, so two transactions that only fit the quota
//! one at a time cannot both commit (`usage.rs`; the check is in `kv/quota.rs`).

use std::sync::Arc;

use parking_lot::Mutex;

use super::{
    PgTxn, Pool,
    txn::{Last, conflict},
};
use crate::store::kv::{
    KvError, KvLimits, MAX_BATCH, Quota, Usage, Write, check_key, check_value, incremented, track,
};

mod finish;
mod quota;
mod scan;

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Committed: durable (with `synchronous_commit` on) and visible to every node.
    Committed,
    /// PostgreSQL refused it (it does not serialize with a concurrent one): run it again.
    Conflict,
}

/// One module's namespace in a PostgreSQL database shared by every node.
pub struct PgNamespace {
    module: Arc<str>,
    pool: Arc<Pool>,
    limits: KvLimits,
    quota: Mutex<Quota>,
    /// The partitions the node holds, when it runs under a lease: its units carry their
    /// chat's fence.
    owned: Option<Arc<super::Owned>>,
}

impl PgNamespace {
    /// The namespace of `module` (its usage rows are created if missing).
    pub async fn open(
        pool: Arc<Pool>,
        module: &str,
        limits: KvLimits,
        quota: Quota,
    ) -> Result<PgNamespace, KvError> {
        let conn = pool.get().await?;
        conn.client
            .execute(&conn.st.usage.open, &[&module, &super::usage::SLOTS])
            .await
            .map_err(|e| super::io(&e))?;
        pool.put(conn);
        Ok(PgNamespace {
            module: module.into(),
            pool,
            limits,
            quota: Mutex::new(quota),
            owned: None,
        })
    }

    /// The namespace as a node holding `owned` uses it: each unit of a chat is fenced.
    pub fn fenced_by(mut self, owned: Arc<super::Owned>) -> PgNamespace {
        self.owned = Some(owned);
        self
    }

    /// The fence a unit of `chat` carries: `None` for work of no chat, or outside a lease.
    pub fn fence_for(&self, chat: Option<i64>) -> Option<super::Fence> {
        Some(self.owned.as_ref()?.fence(chat?))
    }

    /// Whether a node holding partitions uses it (`fenced_by`): its units' messages to chats of
    /// other partitions are then left to their owners (`effects/pg.rs`).
    pub fn is_fenced(&self) -> bool {
        self.owned.is_some()
    }

    /// The connections it uses.
    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    /// The module's name.
    pub fn module(&self) -> &Arc<str> {
        &self.module
    }

    /// The quota.
    pub fn quota(&self) -> Quota {
        *self.quota.lock()
    }

    /// Changes the quota (once the module's manifest is known). Spares of the usage rows granted
    /// under a larger one are not relied on from then on (`usage.rs`).
    pub fn set_quota(&self, quota: Quota) {
        *self.quota.lock() = quota;
    }

    /// Starts a transaction (on a pooled connection; `BEGIN` goes with its first query).
    pub async fn begin(&self) -> Result<PgTxn, KvError> {
        Ok(PgTxn::new(self.pool.clone(), self.pool.get().await?))
    }

    /// Reads `key` as the transaction sees it.
    pub async fn get(&self, txn: &mut PgTxn, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        check_key(&self.limits, key)?;
        if let Some(v) = txn.writes.get(key) {
            return Ok(v.clone());
        }
        track(&mut txn.tracked, key.len())?;
        let rows = txn.send(&self.module, Last::Get(key)).await?;
        let value: Option<Vec<u8>> = match rows.first() {
            Some(row) => Some(row.try_get(0).map_err(|e| super::io(&e))?),
            None => None,
        };
        // Unless this transaction wrote it already, that is the size before it.
        txn.before
            .entry(key.to_vec())
            .or_insert(value.as_ref().map(Vec::len));
        Ok(value)
    }

    /// Counts a write of `key` (`None`: a delete) against the quota, as the redb backend does.
    async fn account(
        &self,
        txn: &mut PgTxn,
        key: &[u8],
        new: Option<usize>,
        check: bool,
    ) -> Result<(), KvError> {
        let before = match txn.before.get(key) {
            Some(b) => *b,
            None => {
                let b = self.get(txn, key).await?.map(|v| v.len());
                txn.before.insert(key.to_vec(), b);
                b
            }
        };
        let current = txn.sizes.get(key).copied().unwrap_or(before);
        let size = |s: Option<usize>| s.map_or((0i64, 0i64), |l| ((key.len() + l) as i64, 1));
        let ((cb, ck), (nb, nk)) = (size(current), size(new));
        let (bytes, keys) = (txn.delta_bytes - cb + nb, txn.delta_keys - ck + nk);
        if check && (nb > cb || nk > ck) {
            self.check_quota(txn, bytes, keys, nb > cb, nk > ck).await?;
        }
        txn.delta_bytes = bytes;
        txn.delta_keys = keys;
        txn.sizes.insert(key.to_vec(), new);
        Ok(())
    }

    /// Buffers a write.
    pub async fn set(&self, txn: &mut PgTxn, key: &[u8], value: &[u8]) -> Result<(), KvError> {
        check_key(&self.limits, key)?;
        check_value(&self.limits, value)?;
        track(&mut txn.tracked, key.len() + value.len())?;
        self.account(txn, key, Some(value.len()), true).await?;
        txn.writes.insert(key.to_vec(), Some(value.to_vec()));
        Ok(())
    }

    /// Buffers a delete; says whether the key existed.
    pub async fn delete(&self, txn: &mut PgTxn, key: &[u8]) -> Result<bool, KvError> {
        let existed = self.get(txn, key).await?.is_some();
        track(&mut txn.tracked, key.len())?;
        self.account(txn, key, None, true).await?;
        txn.writes.insert(key.to_vec(), None);
        Ok(existed)
    }

    /// Replaces the value of `key` by `new` if it currently is `expected`.
    pub async fn compare_and_swap(
        &self,
        txn: &mut PgTxn,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, KvError> {
        if self.get(txn, key).await?.as_deref() != expected {
            return Ok(false);
        }
        match new {
            Some(v) => self.set(txn, key, v).await?,
            None => {
                self.delete(txn, key).await?;
            }
        }
        Ok(true)
    }

    /// Applies every write or none; the quota is checked on what the writes do together.
    pub async fn batch(&self, txn: &mut PgTxn, writes: &[Write]) -> Result<(), KvError> {
        // Module-controlled count: bounded.
        if writes.len() > MAX_BATCH {
            return Err(KvError::ValueTooLarge(format!(
                "a batch has at most {MAX_BATCH} writes, this one {}",
                writes.len()
            )));
        }
        for (k, v) in writes {
            check_key(&self.limits, k)?;
            if let Some(v) = v {
                check_value(&self.limits, v)?;
            }
        }
        let bytes = writes
            .iter()
            .map(|(k, v)| k.len() + v.as_ref().map_or(0, Vec::len))
            .sum();
        track(&mut txn.tracked, bytes)?;
        let saved = txn.save();
        let mut result = Ok(());
        for (k, v) in writes {
            result = self.account(txn, k, v.as_ref().map(Vec::len), false).await;
            if result.is_err() {
                break;
            }
            txn.writes.insert(k.clone(), v.clone());
        }
        if result.is_ok() {
            let grows_bytes = txn.delta_bytes > saved.delta_bytes;
            let grows_keys = txn.delta_keys > saved.delta_keys;
            if grows_bytes || grows_keys {
                let (b, k) = (txn.delta_bytes, txn.delta_keys);
                result = self.check_quota(txn, b, k, grows_bytes, grows_keys).await;
            }
        }
        if result.is_err() && !txn.doomed && txn.broken.is_none() {
            txn.restore(saved);
        }
        result
    }

    /// The namespace's usage as the transaction sees it.
    pub async fn usage(&self, txn: &mut PgTxn) -> Result<Usage, KvError> {
        let [bytes, keys] = self.used(txn).await?;
        Ok(Usage {
            bytes: (bytes + txn.delta_bytes).max(0) as u64,
            keys: (keys + txn.delta_keys).max(0) as u64,
            quota: self.quota(),
        })
    }

    /// Adds `delta` to the big-endian i64 under `key`.
    pub async fn increment(&self, txn: &mut PgTxn, key: &[u8], delta: i64) -> Result<i64, KvError> {
        let current = self.get(txn, key).await?;
        let next = incremented(current.as_deref(), delta)?;
        self.set(txn, key, &next.to_be_bytes()).await?;
        Ok(next)
    }
}

impl std::fmt::Debug for PgNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgNamespace")
            .field("module", &self.module)
            .finish_non_exhaustive()
    }
}

/// For the error a call gets after its transaction was refused.
pub fn conflict_error() -> KvError {
    conflict()
}
