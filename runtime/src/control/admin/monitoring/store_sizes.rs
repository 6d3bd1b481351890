//! The store's sizes `/metrics` shows: from the redb file, or, on a PostgreSQL bot, from the
//! bot's tables there (the same on every node).

use redb::{ReadableDatabase, ReadableTableMetadata};

use crate::store::{Db, INBOX, OUTBOX, QUARANTINE};

/// Table sizes, read in one transaction.
#[derive(Default)]
pub(super) struct Tables {
    pub(super) unfinished: u64,
    pub(super) quarantined: u64,
    pub(super) outbox: u64,
    /// Rows of each of the store's tables (their retention keeps them flat).
    pub(super) rows: Vec<(&'static str, u64)>,
}

pub(super) fn tables(db: &Db) -> crate::Result<Tables> {
    let rows = db.table_sizes()?;
    let txn = db.raw().begin_read()?;
    Ok(Tables {
        unfinished: txn.open_table(INBOX)?.len()?,
        quarantined: txn.open_table(QUARANTINE)?.len()?,
        outbox: txn.open_table(OUTBOX)?.len()?,
        rows,
    })
}

/// The same sizes from the bot's tables on PostgreSQL (every node sees the bot's).
pub(super) async fn shared_tables(pg: &crate::store::pg::PgStore) -> crate::Result<Tables> {
    let mut rows = pg.table_sizes().await?;
    let count = |name: &str| rows.iter().find(|r| r.0 == name).map_or(0, |r| r.1);
    let tables = Tables {
        unfinished: count("inbox"),
        quarantined: count("quarantine"),
        outbox: count("outbox"),
        rows: Vec::new(),
    };
    rows.retain(|r| r.0 != "outbox");
    Ok(Tables { rows, ..tables })
}
