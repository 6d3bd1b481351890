//! The first step of [`Intake::submit`]: each update of a batch parsed, checked against those
//! in flight and (on redb) those seen before, and routed — to its modules, to the host's own
//! commands, or skipped.

use super::{Intake, Parsed};
use crate::{Result, bot_api::update_kinds};

/// A batch of updates, sorted out.
pub(super) struct Batch {
    /// (update id, raw JSON, modules) of the updates routed to modules.
    pub(super) records: Vec<(u64, String, Vec<String>)>,
    /// Ids to mark seen only: malformed, routed nowhere, or an operator's command.
    pub(super) skipped: Vec<u64>,
    /// The routed updates, parsed, in the order of `records`.
    pub(super) parsed: Vec<Parsed>,
    /// Operators' commands to the host, with their updates' ids.
    pub(super) operator_commands: Vec<(u64, super::HostCommand)>,
}

impl Intake {
    /// Sorts `updates` out. An id in flight (a redelivery while its first copy is being
    /// recorded) is dropped; with `check_seen` so is one the redb store recorded before (on
    /// PostgreSQL the record itself tells, `shared_record.rs`). The ids of the batch are in
    /// flight once this returns, until the caller's record settles.
    pub(super) async fn classify(
        &self,
        updates: Vec<serde_json::Value>,
        check_seen: bool,
    ) -> Result<Batch> {
        let inner = &self.inner;
        let mut records: Vec<(u64, String, Vec<String>)> = Vec::new();
        let mut skipped: Vec<u64> = Vec::new();
        let mut parsed = Vec::new();
        let mut operator_commands = Vec::new();
        let router = inner.registry.router();
        {
            for raw in updates {
                let Some(id) = raw.get("update_id").and_then(serde_json::Value::as_u64) else {
                    tracing::warn!(update = %crate::text::cut_bytes(&raw.to_string(), 200), "malformed update without update_id skipped");
                    continue;
                };
                // A redelivery while the first copy is still being recorded, or after it was.
                if !inner.in_flight.lock().insert(id) {
                    tracing::debug!(update = id, "duplicate update dropped");
                    continue;
                }
                let seen = match if check_seen {
                    inner.db.seen(id)
                } else {
                    Ok(false)
                } {
                    Ok(seen) => seen,
                    Err(e) => {
                        let mut in_flight = inner.in_flight.lock();
                        in_flight.remove(&id);
                        for r in &records {
                            in_flight.remove(&r.0);
                        }
                        for s in &skipped {
                            in_flight.remove(s);
                        }
                        return Err(e);
                    }
                };
                if seen {
                    inner.in_flight.lock().remove(&id);
                    tracing::debug!(update = id, "duplicate update dropped");
                    continue;
                }
                // From text, not from the Value: teloxide's UpdateKind wants borrowed keys.
                let text = raw.to_string();
                match update_kinds::parse(&raw, &text) {
                    Ok(update) => {
                        if let Some(cmd) = self.host_command(&update) {
                            skipped.push(id);
                            operator_commands.push((id, cmd));
                            continue;
                        }
                        let routes = self
                            .to_owner(router.route(&update, &raw), &update, &raw)
                            .await;
                        tracing::debug!(update = id, ?routes, "routed");
                        self.watch_checkout(&raw, !routes.is_empty());
                        if routes.is_empty() {
                            skipped.push(id);
                            continue;
                        }
                        let modules = routes.iter().map(|(m, _)| m.clone()).collect();
                        records.push((id, text, modules));
                        parsed.push((id, raw, update, routes));
                    }
                    Err(e) => {
                        tracing::warn!(update = id, error = %e, raw = %crate::text::cut_bytes(&raw.to_string(), 200), "malformed update skipped");
                        skipped.push(id);
                    }
                }
            }
        }
        Ok(Batch {
            records,
            skipped,
            parsed,
            operator_commands,
        })
    }
}
