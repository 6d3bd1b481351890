//! Where a running bot's snapshots are read from: its redb file, or — when its store is
//! PostgreSQL (`[store] url`) — a copy of the PostgreSQL store spooled into a temporary redb
//! file by one consistent read (`PgStore::backup_into`), so the snapshot is the same portable
//! format either way and `botbox restore` reads it into either store.

use std::sync::Arc;

use crate::{
    Error, Result,
    store::{Db, pg::PgStore},
};

/// The database a snapshot is written from.
pub(crate) enum Source {
    /// The bot's own redb file.
    Local(Arc<Db>),
    /// A spooled copy of the PostgreSQL store, in a directory removed with it (after the
    /// copy is closed: fields drop in order).
    Spooled {
        /// The copy.
        copy: redb::Database,
        /// Its directory.
        _dir: tempfile::TempDir,
    },
}

impl Source {
    /// The bot's store as of now: `db` itself, or a copy of `pg` when the store is there.
    pub(crate) async fn of(db: &Arc<Db>, pg: Option<&PgStore>) -> Result<Source> {
        let Some(pg) = pg else {
            return Ok(Source::Local(db.clone()));
        };
        let spool = tempfile::tempdir().map_err(|e| Error::io("a temporary directory", e))?;
        let file = spool.path().join("snapshot.redb");
        let copy = redb::Database::create(&file)
            .map_err(|e| Error::Backup(format!("a spool file for the snapshot: {e}")))?;
        pg.backup_into(&copy).await?;
        Ok(Source::Spooled { copy, _dir: spool })
    }

    /// The database to read.
    pub(crate) fn raw(&self) -> &redb::Database {
        match self {
            Source::Local(db) => db.raw(),
            Source::Spooled { copy, .. } => copy,
        }
    }
}
