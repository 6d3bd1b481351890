//! The pickup, on PostgreSQL: this node takes the updates owed in the partitions it holds that
//! it did not take when they were recorded — recorded by another node (a webhook reaching any
//! node, the poller's batch), or taken by the partition's last owner and not finished before it
//! died or gave the partition up — and hands them to its modules (`store/pg/owed.rs`).
//!
//! Each round takes the rows nobody took (cheap: a partial index). When the partitions held
//! changed (a takeover, a share handed over, a renewal after a pause moved the epochs) and
//! every few seconds anyway, a round takes the rows taken at an older epoch too.
//!
//! The order of a chat holds as on one node: the rows come oldest first, and a module whose
//! queues are full leaves them in the database for its backlog (`modules/backlog.rs`), which
//! reads back what this node took, in order.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::watch;

use super::Intake;
use crate::{
    Result,
    store::{
        PendingUpdate,
        pg::{Owned, PgStore},
    },
};

/// How often the partitions are looked at.
const EVERY: Duration = Duration::from_millis(100);
/// How often at the least rows taken at an older epoch are looked for.
const STALE_EVERY: Duration = Duration::from_secs(5);
/// Most rows taken in one round.
const BATCH: usize = 500;

/// Takes every update owed in the partitions `owned` holds (the resume at start).
pub(super) async fn take_all(pg: &PgStore, owned: &Owned) -> Result<Vec<PendingUpdate>> {
    let held = owned.held();
    let mut all = Vec::new();
    loop {
        let rows = pg.take_owed(&held, true, BATCH).await?;
        let more = rows.len() >= BATCH;
        all.extend(rows);
        if !more {
            break;
        }
    }
    all.sort_by_key(|p| p.update_id);
    Ok(all)
}

/// Runs until `shutdown` turns true (on a bot on PostgreSQL; returns at once otherwise).
pub(crate) async fn pump(intake: Intake, mut shutdown: watch::Receiver<bool>) {
    let (Some(pg), Some(owned)) = (intake.inner.pg.clone(), intake.inner.owned.clone()) else {
        return;
    };
    let mut looked = Looked {
        generation: owned.generation(),
        at: Instant::now(),
    };
    let mut failing = false;
    loop {
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            _ = shutdown.changed() => return,
        }
        loop {
            match round(&intake, &pg, &owned, &mut looked).await {
                Ok(more) => {
                    failing = false;
                    if !more {
                        break;
                    }
                }
                Err(e) => {
                    if !failing {
                        tracing::error!(
                            "cannot take the updates owed in this node's partitions: {e}"
                        );
                    }
                    failing = true;
                    break;
                }
            }
        }
    }
}

/// When the rows taken at older epochs were last looked for.
struct Looked {
    generation: u64,
    at: Instant,
}

/// One round; answers whether it took a full batch (another round follows at once).
async fn round(
    intake: &Intake,
    pg: &Arc<PgStore>,
    owned: &Arc<Owned>,
    looked: &mut Looked,
) -> Result<bool> {
    if !owned.holds() {
        return Ok(false);
    }
    let generation = owned.generation();
    let stale = generation != looked.generation || looked.at.elapsed() >= STALE_EVERY;
    let rows = pg.take_owed(&owned.held(), stale, BATCH).await?;
    let more = rows.len() >= BATCH;
    if stale && !more {
        *looked = Looked {
            generation,
            at: Instant::now(),
        };
    }
    if !rows.is_empty() {
        tracing::debug!(count = rows.len(), stale, "owed updates taken");
    }
    for p in rows {
        intake.dispatch_owed(p).await?;
    }
    Ok(more)
}
