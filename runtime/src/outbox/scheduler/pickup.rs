//! The outbox pickup (several nodes on PostgreSQL, issue 19): the rows of this node's partitions
//! that no node took in hand — a broadcast, a message a unit of another chat sent to one of them,
//! rows the last owner of a partition took and did not finish — claimed from `botbox_outbox`
//! and handed to the scheduler.
//!
//! Every [`EVERY`] the rows nobody took ([`Claim::Untaken`]) of the partitions this node holds
//! are claimed at the epochs it holds them at (`store/pg/outbox_pickup.rs`); when the partitions
//! held changed since the last such claim ([`Owned::generation`]: partitions gained, epochs moved
//! on after a takeover), and every [`FULL_EVERY`] anyway, the rows not taken at the current
//! epoch ([`Claim::NotMine`]) instead — and every row of a partition this process did not hold
//! at the last such claim (its first included): a node restarted under its name can find its
//! partitions at the epochs its earlier run held them at, with rows that run took and did not
//! finish. Nothing is claimed while the node is not sure its lease
//! holds. Each answer goes to the scheduler with the instant its query began, in sequence order;
//! the scheduler queues the rows it does not hold and did not finish lately (`seqs.rs`).

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::{mpsc, watch};

use super::{Deps, Scheduler};
use crate::{
    outbox::{Entry, queued::decode},
    store::pg::{Claim, Owned, PgStore},
};

/// How often the rows nobody took are claimed.
pub(super) const EVERY: Duration = Duration::from_millis(100);
/// How often at most the rows an earlier epoch took are claimed while the partitions held do
/// not change.
const FULL_EVERY: Duration = Duration::from_secs(5);
/// How long one claim may take.
const TRY_TIMEOUT: Duration = Duration::from_secs(30);

/// A claim's answer.
pub(super) struct Claims {
    /// When its query began.
    pub begun: Instant,
    /// The rows it took, in sequence order.
    pub rows: Vec<(u64, Entry)>,
}

/// Claims rows for the scheduler every [`EVERY`] until `stop` turns true or the scheduler is
/// gone.
pub(super) async fn run(
    pg: Arc<PgStore>,
    owned: Arc<Owned>,
    to_scheduler: mpsc::UnboundedSender<Claims>,
    mut stop: watch::Receiver<bool>,
) {
    // (generation, when) of the last claim of the rows an earlier epoch took, and the
    // partitions held then.
    let mut full: Option<(u64, Instant)> = None;
    let mut known: HashSet<u32> = HashSet::new();
    let mut failing = false;
    loop {
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if !owned.holds() {
            continue;
        }
        let generation = owned.generation();
        let held = owned.held();
        let gained: Vec<u32> = (held.iter().map(|f| f.partition))
            .filter(|p| !known.contains(p))
            .collect();
        let which = match full {
            Some((g, at)) if g == generation && at.elapsed() < FULL_EVERY => Claim::Untaken,
            _ => Claim::NotMine { whole: &gained },
        };
        let begun = Instant::now();
        let rows = match tokio::time::timeout(TRY_TIMEOUT, pg.claim_outbox(&held, which)).await {
            Ok(Ok(rows)) => rows,
            Ok(Err(e)) => {
                if !std::mem::replace(&mut failing, true) {
                    tracing::warn!("cannot pick up outbox rows (tried again every tick): {e}");
                }
                continue;
            }
            Err(_) => continue,
        };
        if std::mem::take(&mut failing) {
            tracing::info!("outbox rows are picked up again");
        }
        if which != Claim::Untaken {
            full = Some((generation, begun));
            known = held.iter().map(|f| f.partition).collect();
        }
        let rows = rows
            .into_iter()
            .filter_map(|c| match decode(c.seq, &c.entry) {
                Ok(e) => Some((c.seq, e)),
                Err(e) => {
                    tracing::error!("an outbox row cannot be read, it is left: {e}");
                    None
                }
            })
            .collect();
        if to_scheduler.send(Claims { begun, rows }).is_err() {
            return;
        }
    }
}

impl Scheduler {
    /// Queues a claim's rows this node does not hold and did not finish lately, then forgets
    /// the finishes its beginning makes safe to forget.
    pub(super) fn take_claims(&mut self, deps: &Deps, claims: Claims) {
        for (seq, e) in claims.rows {
            self.push(deps, seq, e);
        }
        self.seqs.claimed(claims.begun);
    }
}

/// The next claim's answer, or never when no pickup runs.
pub(super) async fn next(rx: &mut Option<mpsc::UnboundedReceiver<Claims>>) -> Option<Claims> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
