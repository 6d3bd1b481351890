//! Intake: where work enters the bot. Updates from Telegram (long polling or the webhook),
//! timer firings, HTTP requests to modules (the `/modules/` gateway); each is recorded durably
//! (or, for HTTP, committed) before it is acknowledged, then dispatched to its modules.
//!
//! Long polling moves `offset` past an update only after [`Intake::submit`] returned, that is,
//! after the update is in the database; the webhook answers 200 at the same moment. Either way
//! an update seen before (same `update_id`) is dropped, so Telegram's redeliveries are harmless.
//!
//! Intake holds a narrow [`Intake`] handle — the database, the committer, the registry, the Bot
//! API client and its own settings — not the whole runtime. Operators' commands to the host
//! (`/install`, `/modules`, `/rollback`) are recognized here and handed to the control plane
//! as [`HostCommand`] events on a channel.

mod at_once;
mod backlog;
mod checkouts;
mod classify;
pub mod convert;
mod dispatch;
pub(crate) mod host_commands;
pub mod http_gateway;
pub(crate) mod listen;
mod owners;
mod pickup;
pub(crate) mod polling;
mod shared_record;
pub mod timers;
pub mod webhook;

use std::{collections::HashSet, sync::Arc};

use parking_lot::Mutex;
use teloxide_core::{Bot, types::Update};
use tokio::sync::{mpsc, oneshot};

pub(crate) use backlog::pump as pump_backlogs;
pub use host_commands::HostCommand;
pub(crate) use pickup::pump as pump_owed;
pub use polling::PollingStats;

use classify::Batch;

use crate::{
    Error, Result,
    config::TelegramConfig,
    modules::Registry,
    store::{Committer, Db, Op, pg::PgStore},
};

/// What intake uses of the bot. Cheap to clone.
#[derive(Clone)]
pub struct Intake {
    inner: Arc<Shared>,
}

struct Shared {
    db: Arc<Db>,
    committer: Committer,
    registry: Arc<Registry>,
    bot: Bot,
    telegram: TelegramConfig,
    /// Update ids recorded in a commit that is not durable yet (deduplication).
    in_flight: Mutex<HashSet<u64>>,
    /// Chats whose user blocked the bot (shared with the outbox).
    blocked_chats: Arc<Mutex<HashSet<i64>>>,
    /// Where operators' commands to the host go.
    host_commands: mpsc::UnboundedSender<HostCommand>,
    /// Long polling's failures and backoff.
    polling: Arc<PollingStats>,
    /// Pre-checkout queries waiting for their module's answer (shared with the outbox).
    checkouts: Arc<crate::outbox::checkouts::Checkouts>,
    /// Their deadline.
    payments: crate::config::PaymentsConfig,
    /// Until when every update is recorded before it is handled (after a crash, `at_once.rs`).
    record_first_until: Mutex<Option<std::time::Instant>>,
    /// The bot's store on PostgreSQL, when it is there: updates are recorded in it
    /// (`shared_record.rs`), and what intake reads of the store is read there.
    pg: Option<Arc<PgStore>>,
    /// What this node holds of the bot on PostgreSQL.
    owned: Option<Arc<crate::store::pg::Owned>>,
}

/// What an [`Intake`] is made of.
pub(crate) struct Parts {
    pub(crate) db: Arc<Db>,
    pub(crate) committer: Committer,
    pub(crate) registry: Arc<Registry>,
    pub(crate) bot: Bot,
    pub(crate) telegram: TelegramConfig,
    pub(crate) blocked_chats: Arc<Mutex<HashSet<i64>>>,
    pub(crate) host_commands: mpsc::UnboundedSender<HostCommand>,
    pub(crate) checkouts: Arc<crate::outbox::checkouts::Checkouts>,
    pub(crate) payments: crate::config::PaymentsConfig,
    pub(crate) pg: Option<Arc<PgStore>>,
    pub(crate) owned: Option<Arc<crate::store::pg::Owned>>,
}

impl Intake {
    pub(crate) fn new(p: Parts) -> Intake {
        Intake {
            inner: Arc::new(Shared {
                db: p.db,
                committer: p.committer,
                registry: p.registry,
                bot: p.bot,
                telegram: p.telegram,
                in_flight: Mutex::new(HashSet::new()),
                blocked_chats: p.blocked_chats,
                host_commands: p.host_commands,
                polling: Arc::default(),
                checkouts: p.checkouts,
                payments: p.payments,
                record_first_until: Mutex::new(None),
                pg: p.pg,
                owned: p.owned,
            }),
        }
    }

    /// Long polling's failures and backoff (for `/metrics`).
    pub fn polling_stats(&self) -> Arc<PollingStats> {
        self.inner.polling.clone()
    }

    /// The update types the loaded modules can use.
    pub(crate) fn allowed_updates(&self) -> Option<Vec<&'static str>> {
        use crate::bot_api::update_kinds::{KINDS, ONLY_WHEN_ASKED};
        let router = self.inner.registry.router();
        let mut v: Vec<&'static str> = if router.wants_other() {
            // Every kind Telegram sends by default; those it sends only when asked, when asked.
            KINDS
                .iter()
                .copied()
                .filter(|k| !ONLY_WHEN_ASKED.contains(k))
                .collect()
        } else {
            vec!["message", "callback_query"]
        };
        // A payment's query belongs to the module that issued the invoice, whatever it asked
        // for; one no module answers is declined at once (`checkouts.rs`).
        for k in ["pre_checkout_query", "shipping_query"] {
            if !v.contains(&k) {
                v.push(k);
            }
        }
        if router.wants_edited() && !v.contains(&"edited_message") {
            v.push("edited_message");
        }
        for kind in router.wanted_kinds() {
            if let Some(k) = KINDS.iter().find(|k| **k == kind)
                && !v.contains(k)
            {
                v.push(k);
            }
        }
        Some(v)
    }

    /// The host's own command in `update` (see [`host_commands::parse`]).
    fn host_command(&self, update: &Update) -> Option<HostCommand> {
        host_commands::parse(update, &self.inner.registry.router())
    }

    /// Records updates durably, then dispatches them in update order.
    ///
    /// While the disk holding the database is full this records nothing and returns
    /// [`Error::DiskFull`]: the caller leaves the updates at Telegram (polling keeps its offset,
    /// the webhook answers 500). When the disk fills while the record waits for its commit, the
    /// commit completes later by itself (`store/disk_full.rs`); the update is then dispatched
    /// by a task of its own, and this returns [`Error::DiskFull`] at once, so that the webhook
    /// does not hold Telegram's request. A copy Telegram sends again meanwhile is a duplicate.
    pub async fn submit(&self, updates: Vec<serde_json::Value>) -> Result<()> {
        let inner = &self.inner;
        if inner.pg.is_none() && inner.db.disk().is_full() {
            return Err(Error::DiskFull);
        }
        let Batch {
            records,
            mut skipped,
            parsed,
            operator_commands,
        } = self.classify(updates, inner.pg.is_none()).await?;
        if let Some(pg) = &inner.pg {
            let batch = Batch {
                records,
                skipped,
                parsed,
                operator_commands,
            };
            return self.record_shared(pg, batch).await;
        }
        let ids: Vec<u64> = records
            .iter()
            .map(|r| r.0)
            .chain(skipped.iter().copied())
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        // Updates a module can handle at once are handed over with their records held; the
        // rest is recorded now and dispatched once durable (`at_once.rs`).
        let (held, records, parsed) = if operator_commands.is_empty() {
            self.hand_at_once(records, parsed, &mut skipped)
        } else {
            (Vec::new(), records, parsed)
        };
        let recorded = Recorded {
            ids,
            operator_commands: operator_commands.into_iter().map(|(_, c)| c).collect(),
            parsed,
        };
        let mut rest = None;
        if !records.is_empty() || !skipped.is_empty() {
            // The records handed over go first, alone (their handlings follow in later commits):
            // a later update's record must never be durable before an earlier one's. At a
            // restart polling resumes after the highest update recorded, so an earlier update
            // not recorded by then would never come again (seen: a payment's receipt lost to a
            // kill -9 in `payments::kill_9_between_telegram_s_payment_and_its_commit…`). So do
            // the ids only marked seen, when the last record handed over was sent already.
            let released = held
                .iter()
                .try_for_each(|(record, _)| record.release(&inner.committer).map(drop));
            let (tx, rx) = oneshot::channel();
            let sent = released.and_then(|()| {
                inner.committer.send(Op::Record {
                    updates: records,
                    skipped,
                    done: Some(tx),
                })
            });
            if let Err(e) = sent {
                // What was handed over holds its record: released, then the error.
                let _ = at_once::durable(self, held, None).await;
                return self.finish(recorded, Err(e)).await;
            }
            rest = Some(rx);
        }
        let intake = self.clone();
        let mut durable = Box::pin(async move {
            let result = at_once::durable(&intake, held, rest).await;
            intake.finish(recorded, result).await
        });
        let disk = inner.db.disk().clone();
        tokio::select! {
            biased;
            done = &mut durable => done,
            () = disk.filled() => {
                tokio::spawn(async move {
                    if let Err(e) = durable.await {
                        tracing::error!("cannot hand over updates recorded while the disk was full: {e}");
                    }
                });
                Err(Error::DiskFull)
            }
        }
    }

    /// After the record's commit: forgets its ids as in flight, then (when it is durable)
    /// passes operators' commands on and dispatches the updates.
    async fn finish(&self, recorded: Recorded, result: Result<()>) -> Result<()> {
        let inner = &self.inner;
        {
            let mut in_flight = inner.in_flight.lock();
            for id in &recorded.ids {
                in_flight.remove(id);
            }
        }
        result?;
        for cmd in recorded.operator_commands {
            // The control plane carries them out; gone only while the runtime stops.
            let _ = inner.host_commands.send(cmd);
        }
        for (id, raw, update, routes) in recorded.parsed {
            self.dispatch(id, &raw, &update, routes).await?;
        }
        Ok(())
    }
}

/// Updates sent to the committer, to hand over once they are durable.
struct Recorded {
    ids: Vec<u64>,
    operator_commands: Vec<HostCommand>,
    parsed: Vec<Parsed>,
}

/// An update to dispatch: its id, raw JSON, parsed form and routes.
type Parsed = (
    u64,
    serde_json::Value,
    Update,
    Vec<(String, crate::modules::Reason)>,
);

/// What the committer said about a record.
fn committed(done: Result<Result<(), String>, oneshot::error::RecvError>) -> Result<()> {
    done.map_err(|_| Error::ShuttingDown)
        .and_then(|r| r.map_err(Error::Corrupt))
}
