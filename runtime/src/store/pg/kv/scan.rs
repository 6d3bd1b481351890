//! Scans and ranges of a namespace on PostgreSQL.

use super::{Last, PgNamespace, PgTxn};
use crate::store::kv::{KvError, Page, check_range, prefix_end, track};

impl PgNamespace {
    /// Lists up to `limit` entries with `prefix`, after `after` (see [`Self::range`]).
    pub async fn scan(
        &self,
        txn: &mut PgTxn,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: u32,
    ) -> Result<Page, KvError> {
        let end = prefix_end(prefix);
        self.range(txn, prefix, end.as_deref(), after, limit).await
    }

    /// Lists up to `limit` entries with `start <= key < end`, after `after`, as the transaction
    /// sees them (its buffered writes are sent first, in the same pipeline).
    pub async fn range(
        &self,
        txn: &mut PgTxn,
        start: &[u8],
        end: Option<&[u8]>,
        after: Option<&[u8]>,
        limit: u32,
    ) -> Result<Page, KvError> {
        let limit = check_range(&self.limits, start, end, after, limit)?;
        // The first key after `a` in byte order is `a` followed by a zero byte.
        let lower = match after {
            Some(a) if a >= start => [a, &[0]].concat(),
            _ => start.to_vec(),
        };
        if end.is_some_and(|end| lower.as_slice() >= end) {
            return Ok((Vec::new(), None));
        }
        track(&mut txn.tracked, lower.len() + end.map_or(0, <[u8]>::len))?;
        let want = i64::try_from(limit + 1).unwrap_or(i64::MAX);
        let rows = txn
            .send(&self.module, Last::Range(&lower, end, want))
            .await?;
        let mut entries = Vec::with_capacity(rows.len().min(limit));
        for row in &rows {
            let k: Vec<u8> = row.try_get(0).map_err(|e| crate::store::pg::io(&e))?;
            let v: Vec<u8> = row.try_get(1).map_err(|e| crate::store::pg::io(&e))?;
            entries.push((k, v));
        }
        let next = if entries.len() > limit {
            entries.truncate(limit);
            entries.last().map(|(k, _)| k.clone())
        } else {
            None
        };
        Ok((entries, next))
    }
}
