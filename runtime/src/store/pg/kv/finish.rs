//! How a transaction ends: committed in one pipeline, refused, or rolled back.

use super::{Last, Outcome, PgNamespace, PgTxn};
use crate::store::kv::KvError;
use crate::store::pg::{txn::Ended, unit::Rows};

impl PgNamespace {
    /// Commits the transaction: its buffered writes, the usage change and `COMMIT` travel in one
    /// pipeline. `Conflict`: PostgreSQL refused it, nothing of it was applied; run the call again.
    /// An error: the connection failed; if it failed after `COMMIT` was sent, the outcome is
    /// unknown (the unit of work carries the update's done mark, so running it again is safe).
    pub async fn commit(&self, txn: &mut PgTxn) -> Result<Outcome, KvError> {
        Ok(match self.end(txn, None).await? {
            Ended::Committed(_) => Outcome::Committed,
            Ended::Conflict | Ended::Refused(..) => Outcome::Conflict,
        })
    }

    /// Commits the transaction with a unit's `rows` if given (see `commit`).
    pub(crate) async fn end(&self, txn: &mut PgTxn, rows: Option<&Rows>) -> Result<Ended, KvError> {
        if txn.doomed {
            self.abort(txn).await;
            return Ok(Ended::Conflict);
        }
        if let Some(e) = txn.broken.clone() {
            txn.conn = None;
            return Err(e);
        }
        if rows.is_none() && !txn.begun && txn.writes.is_empty() {
            self.abort(txn).await;
            return Ok(Ended::Committed(Vec::new()));
        }
        let change = txn.escrow.change([txn.delta_bytes, txn.delta_keys]);
        let result = txn.send(&self.module, Last::Commit(&change, rows)).await;
        let conn = txn.conn.take();
        let give_back = |conn: Option<super::super::Conn>| {
            if let Some(c) = conn {
                self.pool.put(c);
            }
        };
        match result {
            Ok(rows) => {
                give_back(conn);
                Ok(Ended::Committed(rows))
            }
            Err(_) if txn.doomed => {
                give_back(conn);
                Ok(Ended::Conflict)
            }
            Err(e) => match txn.refused.take() {
                Some((refusal, why)) => {
                    give_back(conn);
                    Ok(Ended::Refused(refusal, why))
                }
                None => Err(e),
            },
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
