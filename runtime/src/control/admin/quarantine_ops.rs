//! Quarantined updates for operators, wherever the bot keeps them: its redb file, or its
//! PostgreSQL database (`[store] url`), which every node reads and changes alike. The admin
//! API (`/v1/quarantine/...`) and the console both come here; handing an update back goes
//! through intake (`Intake::retry_quarantined`), which knows where the update is handled.

use std::sync::Arc;

use crate::{
    Error, Result,
    store::{Db, pg::PgStore, quarantine::Quarantined},
};

/// Reads and drops quarantined updates.
pub struct QuarantineOps {
    db: Arc<Db>,
    pg: Option<Arc<PgStore>>,
}

/// Runs `f` on the redb file off the async threads.
async fn blocking<T: Send + 'static>(
    db: &Arc<Db>,
    f: impl FnOnce(&Db) -> Result<T> + Send + 'static,
) -> Result<T> {
    let db = db.clone();
    tokio::task::spawn_blocking(move || f(&db))
        .await
        .map_err(|e| Error::Join(e.to_string()))?
}

impl QuarantineOps {
    /// The quarantine of the bot whose store is `db`, or `pg` when it is on PostgreSQL.
    pub fn new(db: Arc<Db>, pg: Option<Arc<PgStore>>) -> QuarantineOps {
        QuarantineOps { db, pg }
    }

    /// Every quarantined update: (module, update id, reason), by module then update.
    pub async fn list(&self) -> Result<Vec<(String, u64, String)>> {
        match &self.pg {
            Some(pg) => pg.quarantined().await,
            None => blocking(&self.db, Db::quarantined).await,
        }
    }

    /// Every quarantined update with its JSON.
    pub async fn list_with_updates(&self) -> Result<Vec<Quarantined>> {
        let mut out = Vec::new();
        for (module, id, _) in self.list().await? {
            // Handed back or dropped since the list was read: left out.
            if let Some(q) = self.show(&module, id).await? {
                out.push(q);
            }
        }
        Ok(out)
    }

    /// One quarantined update, with its JSON.
    pub async fn show(&self, module: &str, update_id: u64) -> Result<Option<Quarantined>> {
        match &self.pg {
            Some(pg) => pg.quarantined_update(module, update_id).await,
            None => {
                let m = module.to_string();
                blocking(&self.db, move |db| db.quarantined_update(&m, update_id)).await
            }
        }
    }

    /// Forgets a quarantined update for good (`NotFound` when it is not quarantined).
    pub async fn forget(&self, module: &str, update_id: u64) -> Result<()> {
        match &self.pg {
            Some(pg) => pg.drop_quarantined(module, update_id).await,
            None => {
                let m = module.to_string();
                blocking(&self.db, move |db| db.drop_quarantined(&m, update_id)).await
            }
        }
    }
}
