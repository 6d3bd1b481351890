//! How a transaction ends: committed in one pipeline, refused, or rolled back.

use super::{Last, Outcome, PgNamespace, PgTxn};
use crate::store::kv::KvError;

impl PgNamespace {
    /// Commits the transaction: its buffered writes, the usage change and `COMMIT` travel in one
    /// pipeline. `Conflict`: PostgreSQL refused it, nothing of it was applied; run the call again.
    /// An error: the connection failed; if it failed after `COMMIT` was sent, the outcome is
    /// unknown (the unit of work carries the update's done mark, so running it again is safe).
    pub async fn commit(&self, txn: &mut PgTxn) -> Result<Outcome, KvError> {
        if txn.doomed {
            self.abort(txn).await;
            return Ok(Outcome::Conflict);
        }
        if let Some(e) = txn.broken.clone() {
            txn.conn = None;
            return Err(e);
        }
        if !txn.begun && txn.writes.is_empty() {
            self.abort(txn).await;
            return Ok(Outcome::Committed);
        }
        let (db, dk) = (txn.delta_bytes, txn.delta_keys);
        let result = txn.send(&self.module, Last::Commit(db, dk)).await;
        let conn = txn.conn.take();
        match result {
            Ok(_) => {
                if let Some(c) = conn {
                    self.pool.put(c);
                }
                Ok(Outcome::Committed)
            }
            Err(_) if txn.doomed => {
                if let Some(c) = conn {
                    self.pool.put(c);
                }
                Ok(Outcome::Conflict)
            }
            Err(e) => Err(e),
        }
    }

    /// Ends a transaction without applying it.
    pub async fn abort(&self, txn: &mut PgTxn) {
        let Some(conn) = txn.conn.take() else {
            return;
        };
        if txn.broken.is_some() {
            return;
        }
        if !txn.begun || conn.client.batch_execute("ROLLBACK").await.is_ok() {
            self.pool.put(conn);
        }
    }
}
