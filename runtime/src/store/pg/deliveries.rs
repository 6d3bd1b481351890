//! The outbox's side of the PostgreSQL store: what the scheduler records when it is done with an
//! entry, and what it reads while it delivers (the files it uploads, by content).
//!
//! Finishing with an entry is what `Op::Delivered` does on redb (`store/commit.rs`), in one
//! statement of one SERIALIZABLE transaction: the entry's `botbox_outbox` row is removed; if it
//! was there, the references its files held are dropped (a file no queued entry needs any more
//! leaves `botbox_files` and its bytes `botbox_file_bytes`) and the file ids Telegram gave its
//! uploads are kept on the files' rows; the owners of what it sent are recorded
//! (`botbox_owners`), and its ticket's record stored (`botbox_tickets`). The references are
//! changed in SQL, on the stored JSON of `FileRow` (as `unit/extras.rs` adds them), so those a
//! concurrent unit adds are kept; SERIALIZABLE makes PostgreSQL refuse one of the two instead of
//! letting a release and an addition interleave (the caller records again).
//!
//! Recording twice is harmless: the second run finds no row to remove, so it drops no reference
//! again, and writes the same ticket and owners. So a record whose outcome is unknown (the
//! connection was lost around `COMMIT`) is simply sent again.

use std::collections::BTreeMap;

use tokio_postgres::types::ToSql;

use super::{
    PgStore, io,
    store::{big, lost},
    txn::BEGIN,
};
use crate::{
    Error, Result,
    store::{TicketRecord, files::FileRow},
};

/// Finishes with one outbox entry; see the module's documentation.
/// $1 seq, $2/$3 tickets and their records, $4/$5 uploads (SHA-256, file id), $6/$7 owners.
const FINISH: &str = "
WITH gone AS (
    DELETE FROM botbox_outbox WHERE seq = $1 RETURNING entry),
released AS (
    SELECT f ->> 'sha256' AS k, count(*) AS n
    FROM gone, jsonb_array_elements(coalesce(
        convert_from(gone.entry, 'UTF8')::jsonb #> '{action,files}', '[]'::jsonb)) AS f
    GROUP BY 1),
learned AS (
    SELECT u.k, u.id FROM unnest($4::text[], $5::text[]) AS u(k, id)
    WHERE EXISTS (SELECT 1 FROM released)),
changed AS (
    SELECT f.k, convert_from(f.v, 'UTF8')::jsonb AS row,
           coalesce(r.n, 0) AS n, l.id
    FROM botbox_files f LEFT JOIN released r USING (k) LEFT JOIN learned l USING (k)
    WHERE f.k IN (SELECT k FROM released UNION SELECT k FROM learned)),
kept AS (
    UPDATE botbox_files f SET v = convert_to((c.row
        || jsonb_build_object('refs', coalesce((c.row ->> 'refs')::bigint, 0) - c.n)
        || CASE WHEN c.id IS NULL THEN '{}'::jsonb
                ELSE jsonb_build_object('file_id', c.id) END)::text, 'UTF8')
    FROM changed c
    WHERE f.k = c.k AND (c.n = 0 OR coalesce((c.row ->> 'refs')::bigint, 0) - c.n > 0)),
dropped AS (
    DELETE FROM botbox_files f USING changed c
    WHERE f.k = c.k AND c.n > 0 AND coalesce((c.row ->> 'refs')::bigint, 0) - c.n <= 0
    RETURNING f.k),
unstored AS (
    DELETE FROM botbox_file_bytes WHERE k IN (SELECT k FROM dropped)),
owned AS (
    INSERT INTO botbox_owners (k, v) SELECT * FROM unnest($6::text[], $7::text[])
    ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v)
INSERT INTO botbox_tickets (ticket, rec) SELECT * FROM unnest($2::bigint[], $3::bytea[])
ON CONFLICT (ticket) DO UPDATE SET rec = EXCLUDED.rec";

/// What the outbox leaves when it is done with an entry (delivered or given up): the fields of
/// redb's `Op::Delivered`.
#[derive(Debug, Clone, Default)]
pub struct Delivered {
    /// The entry's sequence number.
    pub seq: u64,
    /// The ticket record to store, if the entry had a ticket.
    pub ticket: Option<(u64, TicketRecord)>,
    /// File ids Telegram gave the entry's uploads: (SHA-256 hex, file id).
    pub uploaded: Vec<(String, String)>,
    /// What the delivered call made that later updates belong to: (owner key, module).
    pub owned: Vec<(String, String)>,
}

/// `pairs` with one value per key, the last one given (as redb's inserts in order leave it).
fn last_per_key(pairs: &[(String, String)]) -> (Vec<&str>, Vec<&str>) {
    let map: BTreeMap<&str, &str> = pairs.iter().map(|(k, v)| (&**k, &**v)).collect();
    map.into_iter().unzip()
}

impl PgStore {
    /// Records that the outbox is finished with an entry (see the module's documentation), and
    /// returns once that is durable. An error leaves nothing applied, or (the connection lost
    /// around `COMMIT`) an unknown outcome: either way, calling again is right.
    pub async fn finish_entry(&self, f: &Delivered) -> Result<()> {
        let (mut ids, mut recs) = (Vec::new(), Vec::new());
        if let Some((t, rec)) = &f.ticket {
            ids.push(big(*t)?);
            recs.push(serde_json::to_vec(rec).map_err(|e| Error::Corrupt(e.to_string()))?);
        }
        let (shas, file_ids) = last_per_key(&f.uploaded);
        // A row's value as redb's `store/owners.rs` writes it: `<unix seconds> <module>`.
        let now = crate::clock::unix_secs();
        let owned: Vec<(String, String)> = f
            .owned
            .iter()
            .map(|(k, m)| (k.clone(), format!("{now} {m}")))
            .collect();
        let (owner_keys, owner_rows) = last_per_key(&owned);
        let seq = big(f.seq)?;
        let params: [&(dyn ToSql + Sync); 7] = [
            &seq,
            &ids,
            &recs,
            &shas,
            &file_ids,
            &owner_keys,
            &owner_rows,
        ];
        self.serializable(FINISH, &params).await
    }

    /// Runs `sql` alone in a SERIALIZABLE transaction on a pooled connection: prepared first,
    /// then `BEGIN`, the statement and `COMMIT` in one round trip. After a failed statement
    /// `COMMIT` answers `ROLLBACK`, so the connection is outside any transaction either way.
    async fn serializable(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<()> {
        let conn = self.pool().get().await.map_err(lost)?;
        let c = &conn.client;
        let out = async {
            let st = c.prepare(sql).await?;
            let (begun, done, committed) = futures::join!(
                c.batch_execute(BEGIN),
                c.execute(&st, params),
                c.batch_execute("COMMIT"),
            );
            begun.and(done).and(committed)
        }
        .await;
        self.pool().put(conn);
        out.map_err(|e| lost(io(&e)))
    }

    /// Telegram's file id for the queued file with this SHA-256, once one copy was uploaded.
    pub async fn file_id(&self, sha256: &str) -> Result<Option<String>> {
        let rows = self
            .query("SELECT v FROM botbox_files WHERE k = $1", &[&sha256])
            .await?;
        match rows.first() {
            Some(r) => {
                let row: FileRow = serde_json::from_slice(r.get(0))
                    .map_err(|e| Error::Corrupt(format!("file {sha256}: {e}")))?;
                Ok(row.file_id)
            }
            None => Ok(None),
        }
    }

    /// The bytes of the queued file with this SHA-256 (hex).
    pub async fn file_bytes(&self, sha256: &str) -> Result<Option<bytes::Bytes>> {
        let rows = self
            .query("SELECT v FROM botbox_file_bytes WHERE k = $1", &[&sha256])
            .await?;
        Ok(rows
            .first()
            .map(|r| bytes::Bytes::copy_from_slice(r.get::<_, &[u8]>(0))))
    }
}
