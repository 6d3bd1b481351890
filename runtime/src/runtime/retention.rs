//! Runs the store's retention (see [`crate::store::retention`]) at start and every hour, off
//! the async executor, and says what it forgot.

use std::{sync::Arc, time::Duration};

use tokio::sync::watch;

use crate::{
    Result,
    store::{Db, pg::PgStore},
};

/// How often the store forgets what it keeps no longer.
const EVERY: Duration = Duration::from_secs(3600);

/// Prunes now (at start, before anything else writes).
pub(crate) fn prune_now(db: &Db) -> Result<()> {
    report(db.prune()?);
    Ok(())
}

/// Prunes the store on PostgreSQL, when the bot's store is there: at start, then with the
/// hourly prunes. A failure is logged (the next round tries again).
async fn prune_shared(pg: Option<&PgStore>) {
    if let Some(pg) = pg {
        match pg.prune().await {
            Ok(pruned) => report(pruned),
            Err(e) => tracing::warn!("cannot prune the store on PostgreSQL: {e}"),
        }
    }
}

/// Prunes every hour until shutdown (and the store on PostgreSQL once at once); a failure is
/// logged and tried again the next hour.
pub(crate) async fn prune_hourly(
    db: Arc<Db>,
    pg: Option<Arc<PgStore>>,
    mut shutdown: watch::Receiver<bool>,
) {
    prune_shared(pg.as_deref()).await;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = shutdown.changed() => return,
        }
        prune_shared(pg.as_deref()).await;
        let db = db.clone();
        match tokio::task::spawn_blocking(move || db.prune()).await {
            Ok(Ok(pruned)) => report(pruned),
            Ok(Err(e)) => tracing::warn!("cannot prune the store: {e}"),
            Err(e) => tracing::warn!("the store's pruning stopped: {e}"),
        }
    }
}

fn report(p: crate::store::retention::Pruned) {
    if p != Default::default() {
        tracing::info!(
            update_ids = p.seen,
            tickets = p.tickets,
            quarantined = p.quarantine,
            "forgot what the store keeps no longer"
        );
    }
}
