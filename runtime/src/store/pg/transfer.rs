//! Moving a bot between the stores: a snapshot (`backup.rs`'s portable format) restored into
//! PostgreSQL, and a snapshot written from PostgreSQL — the same file either store writes and
//! reads, so moving a bot from redb to PostgreSQL and back is `botbox backup` then
//! `botbox restore`.
//!
//! Both go through a redb database that holds the snapshot's tables under the embedded store's
//! own definitions (`tables.rs`): the snapshot is read and checked by the backup code, and each
//! table is copied row by row with its types, so nothing here knows how redb encodes a record.
//! A restore is one PostgreSQL transaction: all of the snapshot, or nothing.

use std::collections::HashMap;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};
use tokio_postgres::{Transaction, types::ToSql};

use super::{PgStore, store::big, unit::part};
use crate::{
    Error, Result,
    store::{
        BROADCASTS, CONVERSATIONS, CRASHES, FILE_BYTES, FILES, INBOX, META, META_NEXT_SEQ,
        META_NEXT_TICKET, OUTBOX, OWNERS, PENDING, QUARANTINE, QUARANTINED_UPDATES, SEEN, TICKETS,
        TIMER_DUE, TIMERS, TimerRecord, records::Entry,
    },
};

/// The embedded store's tables this copies (besides the modules' `kv:<module>` namespaces).
const TABLES: [&str; 16] = [
    "inbox",
    "pending",
    "seen",
    "outbox",
    "tickets",
    "files",
    "file_bytes",
    "owners",
    "conversations",
    "meta",
    "quarantine",
    "quarantined_updates",
    "broadcasts",
    "timers",
    "timer_due",
    "crashes",
];

/// The tables a bot's data lives in on PostgreSQL (those a restore requires to be empty).
const PG_TABLES: [&str; 14] = [
    "botbox_kv",
    "botbox_seen",
    "botbox_inbox",
    "botbox_pending",
    "botbox_outbox",
    "botbox_tickets",
    "botbox_timers",
    "botbox_quarantine",
    "botbox_meta",
    "botbox_files",
    "botbox_file_bytes",
    "botbox_owners",
    "botbox_conversations",
    "botbox_broadcasts",
];

fn pg(e: tokio_postgres::Error) -> Error {
    match e.as_db_error() {
        Some(db) => Error::Postgres(format!("{} ({})", db.message(), db.code().code())),
        None => Error::Postgres(e.to_string()),
    }
}

/// What a restore into PostgreSQL copied: rows per table of the snapshot.
pub type Copied = HashMap<String, u64>;

/// Columns of one table, built row by row, inserted with one `unnest` statement.
struct Insert<'t, 'c> {
    tx: &'t Transaction<'c>,
    copied: &'t mut Copied,
}

impl Insert<'_, '_> {
    async fn rows(
        &mut self,
        table: &str,
        sql: &str,
        cols: &[&(dyn ToSql + Sync)],
        n: usize,
    ) -> Result<()> {
        if n > 0 {
            self.tx.execute(sql, cols).await.map_err(pg)?;
        }
        self.copied.insert(table.to_string(), n as u64);
        Ok(())
    }
}

fn text(what: &str, bytes: &[u8]) -> Result<String> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| Error::Corrupt(format!("{what} is not UTF-8 and cannot go into PostgreSQL")))
}

impl PgStore {
    /// Copies every table of `db` (a snapshot read into redb) into this database, which must
    /// hold no bot yet; in one transaction.
    pub async fn restore_from(&self, db: &Database) -> Result<Copied> {
        let txn = db.begin_read()?;
        let mut namespaces = Vec::new();
        for t in txn.list_tables()? {
            let name = t.name().to_string();
            match name.strip_prefix("kv:") {
                Some(module) => namespaces.push(module.to_string()),
                None if TABLES.contains(&name.as_str()) => {}
                None => {
                    return Err(Error::Backup(format!(
                        "the snapshot has a table `{name}` that the PostgreSQL store does not \
                         know; restore it with the botbox version that wrote it"
                    )));
                }
            }
        }
        let mut conn = self.pool().get().await.map_err(super::store::lost)?;
        let tx = conn.client.transaction().await.map_err(pg)?;
        for table in PG_TABLES {
            let n: i64 = tx
                .query_one(
                    &format!("SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT 1) t"),
                    &[],
                )
                .await
                .map_err(pg)?
                .get(0);
            if n > 0 {
                return Err(Error::Backup(format!(
                    "this PostgreSQL database holds a bot already ({table} is not empty); \
                     restore into an empty database, or drop the botbox_* tables first"
                )));
            }
        }
        let mut copied = Copied::new();
        let mut ins = Insert {
            tx: &tx,
            copied: &mut copied,
        };
        for module in &namespaces {
            let name = crate::store::kv_table_name(module);
            let t = txn.open_table(TableDefinition::<&[u8], &[u8]>::new(&name))?;
            let (mut k, mut v) = (Vec::new(), Vec::new());
            for row in t.iter()? {
                let (a, b) = row?;
                k.push(a.value().to_vec());
                v.push(b.value().to_vec());
            }
            let sql = "INSERT INTO botbox_kv (ns, k, v) SELECT $1, * FROM unnest($2::bytea[], $3::bytea[])";
            ins.rows(&name, sql, &[&module.as_str(), &k, &v], k.len())
                .await?;
        }
        // Every namespace gets its usage rows, an empty one too (it comes back on a backup);
        // the first slot holds the whole usage, no slot a spare (`usage.rs`). Rows left by a
        // namespace opened before (with nothing in it) are replaced.
        tx.execute(
            "DELETE FROM botbox_kv_usage WHERE ns = ANY($1::text[])",
            &[&namespaces],
        )
        .await
        .map_err(pg)?;
        tx.execute(
            "INSERT INTO botbox_kv_usage (ns, slot, bytes, keys) \
             SELECT ns, s, 0, 0 FROM unnest($1::text[]) AS ns, generate_series(0, $2::int - 1) AS s",
            &[&namespaces, &super::usage::SLOTS],
        )
        .await
        .map_err(pg)?;
        tx.execute(
            "UPDATE botbox_kv_usage AS u SET bytes = t.bytes, keys = t.keys \
             FROM (SELECT ns, sum(length(k) + length(v))::bigint AS bytes, count(*) AS keys \
                   FROM botbox_kv GROUP BY ns) AS t \
             WHERE u.ns = t.ns AND u.slot = 0",
            &[],
        )
        .await
        .map_err(pg)?;
        copy_records(&txn, &mut ins).await?;
        copy_rest(&txn, &mut ins).await?;
        tx.commit().await.map_err(pg)?;
        self.pool().put(conn);
        Ok(copied)
    }
}

macro_rules! read_table {
    ($txn:expr, $def:expr, |$k:ident, $v:ident| $push:block) => {{
        let mut n = 0usize;
        match $txn.open_table($def) {
            Ok(t) => {
                for row in t.iter()? {
                    let (a, b) = row?;
                    let ($k, $v) = (a.value(), b.value());
                    $push;
                    n += 1;
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(e.into()),
        }
        n
    }};
}

/// The tables of updates, messages, tickets and timers.
async fn copy_records(txn: &redb::ReadTransaction, ins: &mut Insert<'_, '_>) -> Result<()> {
    let (mut ids, mut at) = (Vec::new(), Vec::new());
    let n = read_table!(txn, SEEN, |k, v| {
        ids.push(big(k)?);
        at.push(big(v)?);
    });
    let sql = "INSERT INTO botbox_seen SELECT * FROM unnest($1::bigint[], $2::bigint[])";
    ins.rows("seen", sql, &[&ids, &at], n).await?;

    let (mut ids, mut raws) = (Vec::new(), Vec::new());
    let mut update_parts = std::collections::HashMap::new();
    let n = read_table!(txn, INBOX, |k, v| {
        ids.push(big(k)?);
        let raw = text(&format!("update {k}"), v)?;
        update_parts.insert(k, part(chat_of_raw(&raw).unwrap_or(0)));
        raws.push(raw);
    });
    let sql = "INSERT INTO botbox_inbox SELECT * FROM unnest($1::bigint[], $2::text[])";
    ins.rows("inbox", sql, &[&ids, &raws], n).await?;

    // Each owed update under its chat's partition, taken by nobody: the owner picks it up.
    let (mut ids, mut modules, mut parts) = (Vec::new(), Vec::new(), Vec::new());
    let n = read_table!(txn, PENDING, |k, _v| {
        ids.push(big(k.0)?);
        modules.push(k.1.to_string());
        parts.push(update_parts.get(&k.0).copied().unwrap_or_else(|| part(0)));
    });
    let sql = "INSERT INTO botbox_pending (update_id, module, part) \
               SELECT * FROM unnest($1::bigint[], $2::text[], $3::int[])";
    ins.rows("pending", sql, &[&ids, &modules, &parts], n)
        .await?;

    // Each row under its chat's partition, taken by nobody: the partition's owner picks it up.
    let (mut seqs, mut chats, mut entries, mut parts) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let n = read_table!(txn, OUTBOX, |k, v| {
        let entry: Entry = serde_json::from_slice(v)
            .map_err(|e| Error::Corrupt(format!("outbox entry {k}: {e}")))?;
        seqs.push(big(k)?);
        chats.push(entry.chat_id);
        parts.push(part(entry.chat_id));
        entries.push(v.to_vec());
    });
    let sql = "INSERT INTO botbox_outbox (seq, chat, entry, part) \
               SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::int[])";
    ins.rows("outbox", sql, &[&seqs, &chats, &entries, &parts], n)
        .await?;

    let (mut ids, mut recs) = (Vec::new(), Vec::new());
    let n = read_table!(txn, TICKETS, |k, v| {
        ids.push(big(k)?);
        recs.push(v.to_vec());
    });
    let sql = "INSERT INTO botbox_tickets SELECT * FROM unnest($1::bigint[], $2::bytea[])";
    ins.rows("tickets", sql, &[&ids, &recs], n).await?;

    let (mut ids, mut dues, mut modules, mut recs, mut parts) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let n = read_table!(txn, TIMERS, |k, v| {
        let record: TimerRecord =
            serde_json::from_slice(v).map_err(|e| Error::Corrupt(format!("timer {}: {e}", k.1)))?;
        ids.push(big(k.1)?);
        dues.push(big(k.0)?);
        parts.push(part(record.chat_id.unwrap_or(0)));
        modules.push(record.module);
        recs.push(v.to_vec());
    });
    let sql = "INSERT INTO botbox_timers (id, due_ms, module, rec, part) \
               SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bytea[], \
                                    $5::int[])";
    ins.rows("timers", sql, &[&ids, &dues, &modules, &recs, &parts], n)
        .await?;
    // `timer_due` is the same timers by id: PostgreSQL's primary key on `id`.
    let n = read_table!(txn, TIMER_DUE, |_k, _v| {});
    ins.copied.insert("timer_due".into(), n as u64);

    let mut raw_of = HashMap::new();
    let n_raw = read_table!(txn, QUARANTINED_UPDATES, |k, v| {
        raw_of.insert((k.0.to_string(), k.1), text("a quarantined update", v)?);
    });
    let (mut modules, mut ids, mut reasons, mut raws) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let n = read_table!(txn, QUARANTINE, |k, v| {
        raws.push(raw_of.remove(&(k.0.to_string(), k.1)));
        modules.push(k.0.to_string());
        ids.push(big(k.1)?);
        reasons.push(v.to_string());
    });
    if let Some(((m, id), _)) = raw_of.into_iter().next() {
        return Err(Error::Corrupt(format!(
            "update {id} of `{m}` is kept as quarantined, but not listed as quarantined"
        )));
    }
    let sql = "INSERT INTO botbox_quarantine \
               SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[])";
    ins.rows("quarantine", sql, &[&modules, &ids, &reasons, &raws], n)
        .await?;
    ins.copied
        .insert("quarantined_updates".into(), n_raw as u64);
    Ok(())
}

/// Files, owners, conversations, broadcasts, crashes and the metadata (with the counters that
/// become sequences).
async fn copy_rest(txn: &redb::ReadTransaction, ins: &mut Insert<'_, '_>) -> Result<()> {
    for (table, def, sql) in [
        (
            "files",
            FILES,
            "INSERT INTO botbox_files SELECT * FROM unnest($1::text[], $2::bytea[])",
        ),
        (
            "file_bytes",
            FILE_BYTES,
            "INSERT INTO botbox_file_bytes SELECT * FROM unnest($1::text[], $2::bytea[])",
        ),
    ] {
        let (mut ks, mut vs) = (Vec::new(), Vec::new());
        let n = read_table!(txn, def, |k, v| {
            ks.push(k.to_string());
            vs.push(v.to_vec());
        });
        ins.rows(table, sql, &[&ks, &vs], n).await?;
    }
    for (table, def, sql) in [
        (
            "owners",
            OWNERS,
            "INSERT INTO botbox_owners SELECT * FROM unnest($1::text[], $2::text[])",
        ),
        (
            "conversations",
            CONVERSATIONS,
            "INSERT INTO botbox_conversations SELECT * FROM unnest($1::text[], $2::text[])",
        ),
    ] {
        let (mut ks, mut vs) = (Vec::new(), Vec::new());
        let n = read_table!(txn, def, |k, v| {
            ks.push(k.to_string());
            vs.push(v.to_string());
        });
        ins.rows(table, sql, &[&ks, &vs], n).await?;
    }
    let (mut ids, mut recs) = (Vec::new(), Vec::new());
    let n = read_table!(txn, BROADCASTS, |k, v| {
        ids.push(big(k)?);
        recs.push(v.to_vec());
    });
    let sql = "INSERT INTO botbox_broadcasts SELECT * FROM unnest($1::bigint[], $2::bytea[])";
    ins.rows("broadcasts", sql, &[&ids, &recs], n).await?;
    let (mut ids, mut starts) = (Vec::new(), Vec::new());
    let n = read_table!(txn, CRASHES, |k, v| {
        ids.push(big(k)?);
        starts.push(i64::from(v));
    });
    let sql = "INSERT INTO botbox_crashes SELECT * FROM unnest($1::bigint[], $2::bigint[])";
    ins.rows("crashes", sql, &[&ids, &starts], n).await?;

    let (mut ks, mut vs) = (Vec::new(), Vec::new());
    let counter = |bytes: &[u8]| bytes.try_into().ok().map(u64::from_be_bytes);
    let (mut next_seq, mut next_ticket) = (None, None);
    let n = read_table!(txn, META, |k, v| {
        match k {
            META_NEXT_SEQ => next_seq = counter(v),
            META_NEXT_TICKET => next_ticket = counter(v),
            _ => {}
        }
        ks.push(k.to_string());
        vs.push(v.to_vec());
    });
    let sql = "INSERT INTO botbox_meta SELECT * FROM unnest($1::text[], $2::bytea[])";
    ins.rows("meta", sql, &[&ks, &vs], n).await?;
    // The outbox's sequence and the ids (`botbox_ids`) continue after what the snapshot used, whichever is higher: the counter
    // or the rows.
    for (set_last, next, rows) in [
        (
            "SELECT setval('botbox_outbox_seq', $1)",
            next_seq,
            "SELECT max(seq) FROM botbox_outbox",
        ),
        (
            "UPDATE botbox_ids SET next = greatest(next, $1::bigint + 1)",
            next_ticket,
            "SELECT greatest((SELECT max(ticket) FROM botbox_tickets), (SELECT max(id) FROM botbox_timers))",
        ),
    ] {
        let used: Option<i64> = ins.tx.query_one(rows, &[]).await.map_err(pg)?.get(0);
        let last = next
            .map(|n| n.saturating_sub(1))
            .map(big)
            .transpose()?
            .max(used);
        if let Some(last) = last.filter(|l| *l > 0) {
            ins.tx.execute(set_last, &[&last]).await.map_err(pg)?;
        }
    }
    Ok(())
}

/// The chat of a recorded update's JSON (its partition decides which node handles it).
fn chat_of_raw(raw: &str) -> Option<i64> {
    let value: serde_json::Value = serde_json::from_str(raw).ok()?;
    let update = crate::bot_api::update_kinds::parse(&value, raw).ok()?;
    crate::bot_api::update_kinds::chat_of(&update)
}
