//! The backlog pump: hands over the updates left in the database while a module's queues were
//! full (see `modules/backlog.rs`), in update order, as the queues drain.

use std::{sync::Arc, time::Duration};

use tokio::sync::watch;

use super::{Intake, dispatch::work_for};
use crate::{
    modules::{BacklogRead, LoadedModule},
    store::PendingUpdate,
};

/// How often backlogged modules are looked at.
const EVERY: Duration = Duration::from_millis(100);
/// Most updates read back for one module per round.
const BATCH: usize = 256;

/// Runs until `shutdown` turns true.
pub(crate) async fn pump(intake: Intake, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = shutdown.changed() => return,
        }
        for module in intake.inner.registry.running() {
            if let Some(read) = module.backlog_read() {
                intake.pump_one(&module, read).await;
            }
        }
    }
}

impl Intake {
    /// One round for one backlogged module: the late updates first, then the next in order.
    async fn pump_one(&self, module: &Arc<LoadedModule>, read: BacklogRead) {
        let name = module.name().to_string();
        let db = self.inner.db.clone();
        let (from, late) = (read.from, read.late);
        let loaded = match self.inner.pg.clone() {
            // A bot on PostgreSQL: its backlog is there, what this node took of it.
            Some(pg) => {
                let held = (self.inner.owned.as_ref()).map_or_else(Vec::new, |o| o.held());
                async {
                    let mut late_rows = Vec::new();
                    for id in late {
                        let row = pg
                            .taken_updates_for(&name, id, &held, 1)
                            .await?
                            .into_iter()
                            .next();
                        late_rows.push((id, row.filter(|p| p.update_id == id)));
                    }
                    Ok((
                        late_rows,
                        pg.taken_updates_for(&name, from, &held, BATCH).await?,
                    ))
                }
                .await
            }
            None => tokio::task::spawn_blocking(move || -> crate::Result<_> {
                let mut late_rows = Vec::new();
                for id in late {
                    let row = db.pending_updates_for(&name, id, 1)?.into_iter().next();
                    late_rows.push((id, row.filter(|p| p.update_id == id)));
                }
                Ok((late_rows, db.pending_updates_for(&name, from, BATCH)?))
            })
            .await
            .map_err(crate::Error::from)
            .and_then(|r| r),
        };
        let (late, next) = match loaded {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(module = %module.name(), "cannot read the module's backlog: {e}");
                return;
            }
        };
        for (id, row) in late {
            match row {
                Some(p) => {
                    if !self.hand_over(module, p) {
                        return;
                    }
                }
                // Handled meanwhile: nothing to hand over.
                None => module.pass_backlogged(id),
            }
        }
        let exhausted = next.len() < BATCH;
        for p in next {
            if !self.hand_over(module, p) {
                return;
            }
        }
        if exhausted {
            module.end_backlog_if_caught_up();
        }
    }

    /// Hands one pending update to `module`; `false` when its queue is full again.
    fn hand_over(&self, module: &LoadedModule, p: PendingUpdate) -> bool {
        let Some((raw, update)) = serde_json::from_str::<serde_json::Value>(&p.raw)
            .ok()
            .and_then(|raw| {
                let update = crate::bot_api::update_kinds::parse(&raw, &p.raw).ok()?;
                Some((raw, update))
            })
        else {
            // Recorded, so it parsed once: a damaged record is finished without effect.
            self.skip_for(module.name(), p.update_id);
            module.pass_backlogged(p.update_id);
            return true;
        };
        let route = self.inner.registry.router().route(&update, &raw);
        let Some((_, reason)) = route.into_iter().find(|(m, _)| m == module.name()) else {
            // Its routing changed (a swap dropped the command): not this module's any more.
            self.skip_for(module.name(), p.update_id);
            module.pass_backlogged(p.update_id);
            return true;
        };
        module.offer_backlogged(work_for(p.update_id, &raw, &update, &reason))
    }
}
