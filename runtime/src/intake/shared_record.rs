//! Recording updates on PostgreSQL (`[store] url`): one statement records a batch, and answers
//! which of its updates are new — recorded by no node before — so an update that two nodes
//! receive (a webhook's retry reaching another node) or that one receives twice is routed
//! once. Only the new ones are handed to their modules and only the new operators' commands
//! run. The record is durable when PostgreSQL answers: then polling moves its offset past the
//! batch and the webhook answers 200.
//!
//! With several nodes, the record also says which updates the recording node takes: those of
//! the partitions it holds. The others wait in the database for their partition's owner
//! (`pickup.rs`).
//!
//! An update is always recorded before it is handled here (the redb store's "handle at once"
//! overlaps the record's flush with the handling, `at_once.rs`; on PostgreSQL the handling's
//! unit commits in its own transaction, which must find the update's pending row).

use std::collections::HashMap;

use super::{Batch, Intake};
use crate::{
    Result,
    store::pg::{PgStore, ToRecord},
};

impl Intake {
    /// Whether this node may take updates in: always on redb; on PostgreSQL while it surely
    /// holds its lease (`store/pg/owned.rs`).
    pub(super) fn holds(&self) -> bool {
        self.inner.owned.as_ref().is_none_or(|o| o.holds())
    }

    /// Whether this node polls the Bot API: always on redb; on PostgreSQL the node that holds
    /// partition 0, while it surely holds it.
    pub(super) fn polls(&self) -> bool {
        (self.inner.owned.as_ref()).is_none_or(|o| o.holds_partition(0))
    }

    /// Records `batch` in `pg`, then passes on its new operators' commands and hands its new
    /// updates to their modules, in update order. A failure (PostgreSQL unreachable) records
    /// nothing that is not also answered as an error: the caller leaves the updates at Telegram.
    pub(super) async fn record_shared(&self, pg: &PgStore, batch: Batch) -> Result<()> {
        let inner = &self.inner;
        let ids: Vec<u64> = (batch.records.iter().map(|r| r.0))
            .chain(batch.skipped.iter().copied())
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        // Recorded by a node that lost the bot, they would be owed with no one to handle them.
        let recorded = match inner.owned.as_ref().filter(|_| self.holds()) {
            Some(owned) => {
                let parts: Vec<u32> = (batch.parsed.iter())
                    .map(|(_, _, update, _)| owned.partition(super::convert::chat_of(update).unwrap_or(0)))
                    .collect();
                let updates: Vec<ToRecord<'_>> = (batch.records.iter().zip(&parts))
                    .map(|((id, raw, modules), part)| ToRecord {
                        id: *id,
                        raw,
                        modules,
                        part: *part,
                    })
                    .collect();
                pg.record_taking(&updates, &batch.skipped, &owned.held()).await
            }
            None => Err(crate::Error::Postgres(
                "this node is not sure it still holds its partitions (its lease is being renewed): the updates stay at Telegram".into(),
            )),
        };
        {
            let mut in_flight = inner.in_flight.lock();
            for id in &ids {
                in_flight.remove(id);
            }
        }
        let recorded: HashMap<u64, bool> = recorded?.into_iter().collect();
        for (id, cmd) in batch.operator_commands {
            if recorded.contains_key(&id) {
                let _ = inner.host_commands.send(cmd);
            }
        }
        for (id, raw, update, routes) in batch.parsed {
            match recorded.get(&id) {
                Some(true) => self.dispatch(id, &raw, &update, routes).await?,
                // Its partition is another node's (or moving): the owner takes it (`pickup.rs`).
                Some(false) => {
                    tracing::debug!(update = id, "recorded for the node that holds its chat")
                }
                None => tracing::debug!(
                    update = id,
                    "recorded before (another node, or a redelivery)"
                ),
            }
        }
        Ok(())
    }
}

impl Intake {
    /// Hands a quarantined update back on PostgreSQL, through any node: owed again by `module`
    /// alone, untaken, in its chat's partition, in the transaction that forgets its quarantine.
    /// The partition's owner takes it (`pickup.rs`, within 100 ms) and handles it once, in its
    /// chat's order — this node too, when it is the owner.
    pub(super) async fn retry_shared(&self, pg: &PgStore, module: &str, id: u64) -> Result<()> {
        let partitions =
            (self.inner.owned.as_ref()).map_or(crate::store::pg::PARTITIONS, |o| o.partitions());
        let part = |raw: &str| -> Result<u32> {
            let value: serde_json::Value = serde_json::from_str(raw)
                .map_err(|e| crate::Error::Corrupt(format!("a kept update: {e}")))?;
            let update = crate::bot_api::update_kinds::parse(&value, raw)
                .map_err(|e| crate::Error::Corrupt(format!("a kept update: {e}")))?;
            let chat = super::convert::chat_of(&update).unwrap_or(0);
            Ok(crate::store::pg::partition_of(chat, partitions))
        };
        pg.requeue_quarantined(module, id, part).await?;
        tracing::info!(
            module,
            update = id,
            "quarantined update handed back to the node that holds its chat"
        );
        Ok(())
    }
}
