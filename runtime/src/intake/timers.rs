//! Fires the modules' durable timers.
//!
//! Timers live in the database (`timers`, by due time; `timer_due`, by id), written in the same
//! transaction as the handling that scheduled or cancelled them. Every [`TICK`] this task reads
//! the timers that are due and hands each to its module as an update of kind `timer`, on the
//! shard of the timer's chat. The firing's handling deletes the timer in its own commit,
//! whatever the handler's outcome (an error or a quarantine counts as fired), so each timer
//! fires once. A timer handed over but not committed yet is not handed over again; after a
//! crash nothing is in hand, so the uncommitted ones fire again, late. Due timers are read
//! fairly (see `store/due_timers.rs`): a module's pile of due timers that it cannot take never
//! holds back another module's.
//!
//! On PostgreSQL (`[store] url`) the timers are rows of `botbox_timers`, shared by every node:
//! they are read there (`store/pg/timers.rs`, with the same fairness), and a timer in hand is
//! out of hand once its row is gone, whichever node fired or cancelled it. A node reads the
//! timers of the partitions it holds only ([`Owned::held`], at their epochs), and none while it
//! is not sure its lease holds; were two nodes still to hand over the same timer (a view of the
//! partitions that just went stale), its firing's done mark (`botbox_timer_fired`) lets one
//! commit.

use std::{collections::HashSet, sync::Arc, time::Duration};

use tokio::sync::watch;

use crate::{
    bindings::types,
    modules::registry::Registry,
    modules::{Offered, Work},
    store::{
        Db, DueRead, DueTimer,
        pg::{Fence, Owned, PgStore},
    },
};

/// How often due timers are looked for: the timers' resolution.
pub const TICK: Duration = Duration::from_millis(100);
/// Most timers handed over per tick.
const BATCH: usize = 1000;
/// How due timers are read each tick: a share per module, so no module's backlog of due
/// timers holds back another's, and a bounded scan (timers of modules not running are skipped).
pub(crate) const FAIR: DueRead = DueRead {
    limit: BATCH + 1000,
    per_module: 250,
    scan: 50_000,
};

/// Runs until `shutdown` turns true. `pg`: the bot's store is PostgreSQL, its timers are there;
/// `owned`: the partitions this node holds there (`None`: every timer is this node's).
pub(crate) async fn run(
    db: Arc<Db>,
    pg: Option<Arc<PgStore>>,
    owned: Option<Arc<Owned>>,
    registry: Arc<Registry>,
    clock: crate::clock::Clock,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut in_hand: HashSet<u64> = HashSet::new();
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = shutdown.changed() => return,
        }
        let now = clock.now_ms();
        let running: HashSet<String> = registry
            .running()
            .iter()
            .map(|m| m.name().to_string())
            .collect();
        let held = owned.as_deref().map(held);
        let pg = pg.as_deref().map(|pg| (pg, held.as_deref()));
        let (still, due) = match read(&db, pg, &in_hand, now, running).await {
            Ok(read) => {
                if std::mem::take(&mut failing) {
                    tracing::info!("timers are read again");
                }
                read
            }
            // Said once per outage (PostgreSQL restarting fails every tick for a while).
            Err(e) if failing => {
                tracing::debug!("cannot read timers: {e}");
                continue;
            }
            Err(e) => {
                failing = true;
                tracing::error!("cannot read timers (tried again every tick): {e}");
                continue;
            }
        };
        in_hand.retain(|id| still.contains(id));
        let mut handed = 0;
        for t in due {
            if handed >= BATCH || in_hand.contains(&t.id) {
                continue;
            }
            let Some(module) = registry.get(&t.record.module) else {
                // Not running (disabled, or not loaded): it fires once the module is back.
                continue;
            };
            let id = t.id;
            in_hand.insert(id);
            handed += 1;
            match module.offer(work(t, now)) {
                Offered::Queued => {}
                // No room (the timer fires at a later tick) or the module stopped.
                Offered::Left | Offered::Stopped => {
                    in_hand.remove(&id);
                }
            }
        }
    }
}

/// The partitions whose timers this node fires now: those it holds, none while it is not sure
/// its lease holds.
fn held(owned: &Owned) -> Vec<Fence> {
    match owned.holds() {
        true => owned.held(),
        false => Vec::new(),
    }
}

/// Which of the timers `in_hand` are still pending (those no longer pending were committed:
/// they are out of our hands), and the timers due at `now` of the `running` modules (on
/// PostgreSQL, of the partitions `held` if given).
async fn read(
    db: &Arc<Db>,
    pg: Option<(&PgStore, Option<&[Fence]>)>,
    in_hand: &HashSet<u64>,
    now: u64,
    running: HashSet<String>,
) -> crate::Result<(HashSet<u64>, Vec<DueTimer>)> {
    if let Some((pg, held)) = pg {
        let still = pg.pending_timers(in_hand.iter().copied()).await?;
        return Ok((still, pg.due_timers_fair(now, &running, FAIR, held).await?));
    }
    let (db, held) = (db.clone(), in_hand.clone());
    tokio::task::spawn_blocking(move || {
        let still = db.pending_timers(held)?;
        Ok::<_, crate::Error>((still, db.due_timers_fair(now, &running, FAIR)?))
    })
    .await?
}

/// The update a due timer is handed to its module as.
pub(crate) fn work(t: DueTimer, now: u64) -> Work {
    let payload = hex::decode(&t.record.payload_hex).unwrap_or_default();
    Work {
        update_id: 0,
        update: types::Update {
            update_id: 0,
            kind: types::UpdateKind::Timer(types::TimerFired {
                id: t.id,
                chat_id: t.record.chat_id,
                payload,
                due_unix_ms: t.due_ms,
                late_ms: now.saturating_sub(t.due_ms),
            }),
            raw_json: "{}".into(),
            command: None,
            command_args: String::new(),
        },
        chat_id: t.record.chat_id,
        timer_id: Some(t.id),
        record: None,
    }
}

#[cfg(test)]
mod pg_held_tests;
#[cfg(test)]
mod pg_tests;
