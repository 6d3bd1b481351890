//! Deduplication's memory: update ids older than Telegram's redelivery window are forgotten at
//! start and every hour, so the `seen` table stays small.

use std::sync::Arc;

use tokio::sync::watch;

use crate::{Result, store::Db};

/// How long an update id is remembered for deduplication (Telegram redelivers for 24 hours).
pub(crate) const SEEN_RETENTION: std::time::Duration =
    std::time::Duration::from_secs(2 * 24 * 3600);

pub(crate) async fn prune_hourly(db: Arc<Db>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
            _ = shutdown.changed() => return,
        }
        let db = db.clone();
        match tokio::task::spawn_blocking(move || db.prune_seen(SEEN_RETENTION)).await {
            Ok(Ok(n)) if n > 0 => tracing::info!(pruned = n, "forgot old update ids"),
            Ok(Err(e)) => tracing::warn!("cannot prune old update ids: {e}"),
            _ => {}
        }
    }
}

/// Forgets old update ids now (at start).
pub(crate) fn prune_now(db: &Db) -> Result<()> {
    let pruned = db.prune_seen(SEEN_RETENTION)?;
    if pruned > 0 {
        tracing::info!(pruned, "forgot old update ids");
    }
    Ok(())
}
