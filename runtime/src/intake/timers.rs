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

use std::{collections::HashSet, sync::Arc, time::Duration};

use tokio::sync::watch;

use crate::{
    bindings::types,
    modules::registry::Registry,
    modules::{Offered, Work},
    store::{Db, DueRead, DueTimer},
};

/// How often due timers are looked for: the timers' resolution.
pub const TICK: Duration = Duration::from_millis(100);
/// Most timers handed over per tick.
const BATCH: usize = 1000;
/// How due timers are read each tick: a share per module, so no module's backlog of due
/// timers holds back another's, and a bounded scan (timers of modules not running are skipped).
const FAIR: DueRead = DueRead {
    limit: BATCH + 1000,
    per_module: 250,
    scan: 50_000,
};

/// Runs until `shutdown` turns true.
pub(crate) async fn run(
    db: Arc<Db>,
    registry: Arc<Registry>,
    clock: crate::clock::Clock,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut in_hand: HashSet<u64> = HashSet::new();
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
        let read = {
            let (db, held) = (db.clone(), in_hand.clone());
            tokio::task::spawn_blocking(move || {
                // Those no longer pending were committed: they are out of our hands.
                let still = db.pending_timers(held)?;
                Ok::<_, crate::Error>((still, db.due_timers_fair(now, &running, FAIR)?))
            })
            .await
        };
        let (still, due) = match read.map_err(crate::Error::from).and_then(|r| r) {
            Ok(read) => read,
            Err(e) => {
                tracing::error!("cannot read timers: {e}");
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

fn work(t: DueTimer, now: u64) -> Work {
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
