//! A snapshot written from PostgreSQL: every row of the bot's tables copied into a redb
//! database under the embedded store's own table definitions (`tables.rs`), which the backup
//! code then writes as the usual portable snapshot (see `transfer.rs` for the other direction).

use redb::{Database, ReadableTable, TableDefinition};

use super::{PgStore, store::lost};
use crate::{
    Error, Result,
    store::{
        BROADCASTS, CONVERSATIONS, CRASHES, FILE_BYTES, FILES, INBOX, META, META_NEXT_SEQ,
        META_NEXT_TICKET, OUTBOX, OWNERS, PENDING, QUARANTINE, QUARANTINED_UPDATES, SEEN, TICKETS,
        TIMER_DUE, TIMERS, kv_table_name,
    },
};

fn pg(e: tokio_postgres::Error) -> Error {
    Error::Postgres(e.to_string())
}

/// A bigint column read back as the u64 redb stores.
fn u(row: &tokio_postgres::Row, i: usize) -> u64 {
    row.get::<_, i64>(i) as u64
}

impl PgStore {
    /// Copies the bot's rows into `db` (empty), one consistent read of the whole database
    /// (REPEATABLE READ, read only: the bot may keep running).
    pub async fn backup_into(&self, db: &Database) -> Result<u64> {
        let mut conn = self.pool().get().await.map_err(lost)?;
        let tx = conn
            .client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(pg)?;
        let q = async |sql: &str| tx.query(sql, &[]).await.map_err(pg);
        let w = db.begin_write()?;
        let mut rows = 0u64;
        {
            for r in q("SELECT DISTINCT ns FROM botbox_kv_usage").await? {
                w.open_table(TableDefinition::<&[u8], &[u8]>::new(&kv_table_name(
                    r.get(0),
                )))?;
            }
            for r in q("SELECT ns, k, v FROM botbox_kv").await? {
                let name = kv_table_name(r.get(0));
                let mut t = w.open_table(TableDefinition::<&[u8], &[u8]>::new(&name))?;
                t.insert(r.get::<_, &[u8]>(1), r.get::<_, &[u8]>(2))?;
                rows += 1;
            }
            let mut t = w.open_table(SEEN)?;
            for r in q("SELECT update_id, at_secs FROM botbox_seen").await? {
                t.insert(u(&r, 0), u(&r, 1))?;
                rows += 1;
            }
            let mut t = w.open_table(INBOX)?;
            for r in q("SELECT update_id, raw FROM botbox_inbox").await? {
                t.insert(u(&r, 0), r.get::<_, &str>(1).as_bytes())?;
                rows += 1;
            }
            let mut t = w.open_table(PENDING)?;
            for r in q("SELECT update_id, module FROM botbox_pending").await? {
                t.insert((u(&r, 0), r.get::<_, &str>(1)), ())?;
                rows += 1;
            }
            let mut t = w.open_table(OUTBOX)?;
            for r in q("SELECT seq, entry FROM botbox_outbox").await? {
                t.insert(u(&r, 0), r.get::<_, &[u8]>(1))?;
                rows += 1;
            }
            let mut t = w.open_table(TICKETS)?;
            for r in q("SELECT ticket, rec FROM botbox_tickets").await? {
                t.insert(u(&r, 0), r.get::<_, &[u8]>(1))?;
                rows += 1;
            }
            let (mut t, mut due) = (w.open_table(TIMERS)?, w.open_table(TIMER_DUE)?);
            for r in q("SELECT due_ms, id, rec FROM botbox_timers").await? {
                t.insert((u(&r, 0), u(&r, 1)), r.get::<_, &[u8]>(2))?;
                due.insert(u(&r, 1), u(&r, 0))?;
                rows += 2;
            }
            let (mut t, mut raws) = (
                w.open_table(QUARANTINE)?,
                w.open_table(QUARANTINED_UPDATES)?,
            );
            for r in q("SELECT module, update_id, reason, raw FROM botbox_quarantine").await? {
                let key = (r.get::<_, &str>(0), u(&r, 1));
                t.insert(key, r.get::<_, &str>(2))?;
                if let Some(raw) = r.get::<_, Option<&str>>(3) {
                    raws.insert(key, raw.as_bytes())?;
                    rows += 1;
                }
                rows += 1;
            }
            for (def, sql) in [
                (FILES, "SELECT k, v FROM botbox_files"),
                (FILE_BYTES, "SELECT k, v FROM botbox_file_bytes"),
            ] {
                let mut t = w.open_table(def)?;
                for r in q(sql).await? {
                    t.insert(r.get::<_, &str>(0), r.get::<_, &[u8]>(1))?;
                    rows += 1;
                }
            }
            for (def, sql) in [
                (OWNERS, "SELECT k, v FROM botbox_owners"),
                (CONVERSATIONS, "SELECT k, v FROM botbox_conversations"),
            ] {
                let mut t = w.open_table(def)?;
                for r in q(sql).await? {
                    t.insert(r.get::<_, &str>(0), r.get::<_, &str>(1))?;
                    rows += 1;
                }
            }
            let mut t = w.open_table(BROADCASTS)?;
            for r in q("SELECT first, rec FROM botbox_broadcasts").await? {
                t.insert(u(&r, 0), r.get::<_, &[u8]>(1))?;
                rows += 1;
            }
            let mut t = w.open_table(CRASHES)?;
            for r in q("SELECT update_id, starts FROM botbox_crashes").await? {
                let starts = u32::try_from(r.get::<_, i64>(1)).unwrap_or(u32::MAX);
                t.insert(u(&r, 0), starts)?;
                rows += 1;
            }
            let mut t = w.open_table(META)?;
            for r in q("SELECT k, v FROM botbox_meta").await? {
                t.insert(r.get::<_, &str>(0), r.get::<_, &[u8]>(1))?;
                rows += 1;
            }
            // The counters the sequences took over: written back when the sequence went past
            // what the rows show (or the snapshot had them).
            for (key, last, used) in [
                (
                    META_NEXT_SEQ,
                    "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM botbox_outbox_seq",
                    "SELECT max(seq) FROM botbox_outbox",
                ),
                (
                    META_NEXT_TICKET,
                    // Every id below `next` may have been handed out by some node.
                    "SELECT next - 1 FROM botbox_ids",
                    "SELECT greatest((SELECT max(ticket) FROM botbox_tickets), \
                     (SELECT max(id) FROM botbox_timers))",
                ),
            ] {
                let last = u(&q(last).await?[0], 0);
                let used = q(used).await?[0].get::<_, Option<i64>>(0).unwrap_or(0) as u64;
                let stored = t.get(key)?.and_then(|v| {
                    let bytes: [u8; 8] = v.value().try_into().ok()?;
                    Some(u64::from_be_bytes(bytes))
                });
                let next = match stored {
                    Some(n) => Some(n.max(last + 1)),
                    None => (last > used).then_some(last + 1),
                };
                if let Some(next) = next {
                    t.insert(key, next.to_be_bytes().as_slice())?;
                }
            }
        }
        w.commit()?;
        tx.commit().await.map_err(pg)?;
        self.pool().put(conn);
        Ok(rows)
    }
}
