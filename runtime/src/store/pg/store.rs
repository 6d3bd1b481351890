//! The PostgreSQL store outside handler calls: recording updates (deduplicated across nodes),
//! the outbox's deliveries, and the reads the host makes at start and while it runs — the same
//! operations, with the same meaning, as the redb store's (`store.rs`, `store/due_timers.rs`).

use std::sync::Arc;

use tokio_postgres::types::ToSql;

use super::{Conn, Pool};
use crate::{
    Error, Result,
    store::{DueTimer, PendingUpdate, TicketRecord, kv::KvError},
};

/// The store of a bot on PostgreSQL, shared by every node.
pub struct PgStore {
    pool: Arc<Pool>,
}

pub(crate) fn pg(e: tokio_postgres::Error) -> Error {
    match e.as_db_error() {
        Some(db) => Error::Postgres(format!("{} ({})", db.message(), db.code().code())),
        None => Error::Postgres(e.to_string()),
    }
}

pub(crate) fn lost(e: KvError) -> Error {
    match e {
        KvError::Io(m) => Error::Postgres(m.trim_start_matches("PostgreSQL: ").to_string()),
        other => Error::Postgres(format!("{other:?}")),
    }
}

pub(crate) fn big(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::Postgres(format!("{v} does not fit PostgreSQL's bigint")))
}

/// Rows of (update id, raw JSON, modules) as the updates owed.
pub(super) fn pending_updates(rows: &[tokio_postgres::Row]) -> Vec<PendingUpdate> {
    rows.iter()
        .map(|r| PendingUpdate {
            update_id: r.get::<_, i64>(0) as u64,
            raw: r.get(1),
            modules: r.get(2),
        })
        .collect()
}

fn corrupt(what: &str, e: serde_json::Error) -> Error {
    Error::Corrupt(format!("{what}: {e}"))
}

/// An outbox entry done with: gone from the queue, its ticket's record stored (in one statement).
const DELIVERED: &str = "
WITH gone AS (DELETE FROM botbox_outbox WHERE seq = $1)
INSERT INTO botbox_tickets (ticket, rec) SELECT * FROM unnest($2::bigint[], $3::bytea[])
ON CONFLICT (ticket) DO UPDATE SET rec = EXCLUDED.rec";

impl PgStore {
    /// Connects to the database at `url` and creates the store's tables if they are missing.
    pub async fn open(url: &str) -> Result<PgStore> {
        Ok(PgStore {
            pool: Arc::new(Pool::open(url).await.map_err(lost)?),
        })
    }

    /// The connections, shared with the modules' KV namespaces.
    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    /// Runs `f` on a pooled connection, which goes back to the pool if it still works.
    async fn with<T>(&self, f: impl AsyncFnOnce(&Conn) -> Result<T>) -> Result<T> {
        let conn = self.pool.get().await.map_err(lost)?;
        let out = f(&conn).await;
        self.pool.put(conn);
        out
    }

    pub(crate) async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>> {
        self.with(async |c| c.client.query(sql, params).await.map_err(pg))
            .await
    }

    /// Whether `update_id` was recorded before (handled or not).
    pub async fn seen(&self, update_id: u64) -> Result<bool> {
        let rows = self
            .query(
                "SELECT 1 FROM botbox_seen WHERE update_id = $1",
                &[&big(update_id)?],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    /// Updates recorded but not yet handled, oldest first, each with the modules that owe it a
    /// handling.
    pub async fn pending_updates(&self) -> Result<Vec<PendingUpdate>> {
        let rows = self
            .query(
                "SELECT i.update_id, i.raw, \
                        coalesce(array_agg(p.module ORDER BY p.module) \
                                 FILTER (WHERE p.module IS NOT NULL), '{}') \
                 FROM botbox_inbox i LEFT JOIN botbox_pending p USING (update_id) \
                 GROUP BY i.update_id, i.raw ORDER BY i.update_id",
                &[],
            )
            .await?;
        Ok(pending_updates(&rows))
    }

    /// Queued outgoing requests, in queue order: (sequence number, JSON entry).
    pub async fn outbox(&self) -> Result<Vec<(u64, Vec<u8>)>> {
        let rows = self
            .query("SELECT seq, entry FROM botbox_outbox ORDER BY seq", &[])
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, i64>(0) as u64, r.get(1)))
            .collect())
    }

    /// The outbox is finished with entry `seq` (delivered or given up); `ticket` is the record
    /// to keep for the message it sent, if it had a ticket.
    pub async fn delivered(&self, seq: u64, ticket: Option<(u64, &TicketRecord)>) -> Result<()> {
        let (mut ids, mut recs) = (Vec::new(), Vec::new());
        if let Some((t, rec)) = ticket {
            ids.push(big(t)?);
            recs.push(serde_json::to_vec(rec).map_err(|e| corrupt("ticket", e))?);
        }
        self.query(DELIVERED, &[&big(seq)?, &ids, &recs]).await?;
        Ok(())
    }

    /// A ticket's delivery record.
    pub async fn ticket(&self, ticket: u64) -> Result<Option<TicketRecord>> {
        let rows = self
            .query(
                "SELECT rec FROM botbox_tickets WHERE ticket = $1",
                &[&big(ticket)?],
            )
            .await?;
        rows.first()
            .map(|r| serde_json::from_slice(r.get(0)).map_err(|e| corrupt("ticket", e)))
            .transpose()
    }

    /// Quarantined updates: (module, update id, reason), by module then update.
    pub async fn quarantined(&self) -> Result<Vec<(String, u64, String)>> {
        let rows = self
            .query(
                "SELECT module, update_id, reason FROM botbox_quarantine ORDER BY module, update_id",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get::<_, i64>(1) as u64, r.get(2)))
            .collect())
    }

    /// The update a module was given up on, as Telegram sent it.
    pub async fn quarantined_raw(&self, module: &str, update_id: u64) -> Result<Option<String>> {
        let rows = self
            .query(
                "SELECT raw FROM botbox_quarantine WHERE module = $1 AND update_id = $2",
                &[&module, &big(update_id)?],
            )
            .await?;
        Ok(rows.first().and_then(|r| r.get(0)))
    }

    /// Timers due at `now_ms` or earlier, oldest first, at most `limit`.
    pub async fn due_timers(&self, now_ms: u64, limit: usize) -> Result<Vec<DueTimer>> {
        let rows = self
            .query(
                "SELECT id, due_ms, rec FROM botbox_timers WHERE due_ms <= $1 \
                 ORDER BY due_ms, id LIMIT $2",
                &[&big(now_ms)?, &(limit as i64)],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let id = r.get::<_, i64>(0) as u64;
                Ok(DueTimer {
                    id,
                    due_ms: r.get::<_, i64>(1) as u64,
                    record: serde_json::from_slice(r.get(2))
                        .map_err(|e| corrupt(&format!("timer {id}"), e))?,
                })
            })
            .collect()
    }

    /// `n` new ids for tickets and timers, unique across nodes, consecutive (a node's
    /// tickets come from [`super::PgIds`], which reserves them in ranges the same way).
    pub async fn new_ids(&self, n: usize) -> Result<Vec<u64>> {
        Ok(super::ids::reserve(&self.pool, n as u64).await?.collect())
    }

    /// The store of the database `pool` connects to.
    pub fn with_pool(pool: Arc<Pool>) -> PgStore {
        PgStore { pool }
    }
}
