//! What the store on PostgreSQL forgets, and when: the same rules as the embedded store's
//! (`store/retention.rs`, whose table of what is kept and why holds here too), in SQL. Each
//! rule deletes at most [`BATCH`] rows per statement, again until a statement deletes fewer,
//! so no transaction holds many row locks for long while nodes commit beside it.

use super::{PgStore, store::big};
use crate::{
    Result,
    store::retention::{BATCH, Pruned, QUARANTINE_PER_MODULE, SEEN_RETENTION, TICKET_RETENTION},
};

/// Update ids older than `$1` (Unix seconds), except the highest: it sets the polling offset.
const SEEN: &str = "DELETE FROM botbox_seen WHERE update_id IN (
    SELECT update_id FROM botbox_seen
    WHERE at_secs < $1 AND update_id < (SELECT max(update_id) FROM botbox_seen)
    LIMIT $2)";

/// Tickets delivered or given up before `$1`; queued ones (neither) are kept.
const TICKETS: &str = "DELETE FROM botbox_tickets WHERE ticket IN (
    SELECT ticket FROM botbox_tickets, LATERAL (SELECT convert_from(rec, 'UTF8')::jsonb AS j) r
    WHERE (j->'message_id' <> 'null' OR j->'failed' <> 'null')
      AND coalesce((j->>'settled_at_secs')::bigint, 0) < $1
    LIMIT $2)";

/// Quarantined updates past the newest `$1` of each module.
const QUARANTINE: &str = "DELETE FROM botbox_quarantine WHERE (module, update_id) IN (
    SELECT module, update_id FROM (
        SELECT module, update_id,
               row_number() OVER (PARTITION BY module ORDER BY update_id DESC) AS n
        FROM botbox_quarantine) q
    WHERE n > $1 LIMIT $2)";

/// Owners (`<unix seconds> <module>`) recorded before `$1`.
const OWNERS: &str = "DELETE FROM botbox_owners WHERE k IN (
    SELECT k FROM botbox_owners WHERE split_part(v, ' ', 1)::bigint < $1 LIMIT $2)";

/// Conversations (`<until> <module>`) whose expiry is `$1` or earlier.
const CONVERSATIONS: &str = "DELETE FROM botbox_conversations WHERE k IN (
    SELECT k FROM botbox_conversations WHERE split_part(v, ' ', 1)::bigint <= $1 LIMIT $2)";

/// The unfinished updates of a removed module `$1`, and those of them no other module owes.
const PENDING_OF: &str = "WITH gone AS (
    DELETE FROM botbox_pending WHERE module = $1 RETURNING update_id),
kept AS (
    DELETE FROM botbox_inbox i WHERE i.update_id IN (SELECT update_id FROM gone)
    AND NOT EXISTS (SELECT 1 FROM botbox_pending p
                    WHERE p.update_id = i.update_id AND p.module <> $1))
SELECT count(*) FROM gone";

impl PgStore {
    /// Forgets the unfinished updates of `module`, which is gone: no one would ever handle
    /// them. Returns how many.
    pub async fn forget_pending_of(&self, module: &str) -> Result<usize> {
        let rows = self.query(PENDING_OF, &[&module]).await?;
        Ok(rows.first().map_or(0, |r| r.get::<_, i64>(0) as usize))
    }

    /// Runs every rule with the default retentions; any node may (they delete the same rows).
    pub async fn prune(&self) -> Result<Pruned> {
        let now = crate::clock::unix_secs();
        let ago = |d: std::time::Duration| big(now.saturating_sub(d.as_secs()));
        Ok(Pruned {
            seen: self.prune_rows(SEEN, ago(SEEN_RETENTION)?).await?,
            tickets: self.prune_rows(TICKETS, ago(TICKET_RETENTION)?).await?,
            quarantine: (self.prune_rows(QUARANTINE, QUARANTINE_PER_MODULE as i64)).await?,
            owners: self.prune_rows(OWNERS, ago(TICKET_RETENTION)?).await?,
            conversations: self.prune_rows(CONVERSATIONS, big(now)?).await?,
            broadcasts: 0,
        })
    }

    /// Runs `sql` (`$1` = `arg`, `$2` = the batch) until a run deletes fewer than a batch.
    async fn prune_rows(&self, sql: &str, arg: i64) -> Result<usize> {
        let batch = BATCH as i64;
        let mut total = 0;
        loop {
            let conn = self.pool().get().await.map_err(super::store::lost)?;
            let n = conn.client.execute(sql, &[&arg, &batch]).await;
            self.pool().put(conn);
            let n = n.map_err(super::store::pg)? as usize;
            total += n;
            if n < BATCH {
                return Ok(total);
            }
        }
    }
}

/// The tables `/metrics` counts, as the embedded store's `table_sizes` names them, and the
/// outbox's.
const COUNTED: [(&str, &str); 9] = [
    ("inbox", "botbox_inbox"),
    ("pending", "botbox_pending"),
    ("seen", "botbox_seen"),
    ("tickets", "botbox_tickets"),
    ("quarantine", "botbox_quarantine"),
    ("crashes", "botbox_crashes"),
    ("files", "botbox_files"),
    ("owners", "botbox_owners"),
    ("outbox", "botbox_outbox"),
];

impl PgStore {
    /// Rows of each of the store's own tables, and of the outbox, in one statement (the same
    /// names as the embedded store's `table_sizes`, then `outbox`).
    pub async fn table_sizes(&self) -> Result<Vec<(&'static str, u64)>> {
        let sql = COUNTED
            .iter()
            .map(|(_, t)| format!("(SELECT count(*) FROM {t})"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = self.query(&format!("SELECT {sql}"), &[]).await?;
        let row = rows
            .first()
            .ok_or_else(|| crate::Error::Postgres("no answer to the tables' count".into()))?;
        Ok(COUNTED
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (*name, row.get::<_, i64>(i).max(0) as u64))
            .collect())
    }
}
