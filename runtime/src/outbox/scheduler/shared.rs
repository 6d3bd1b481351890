//! What the scheduler records and reads of the bot's shared store: redb's (through the
//! committer and `Db`), or PostgreSQL's when the store is there ([`Deps::pg`]).
//!
//! Finishing with an entry (delivered, given up, merged into a later edit) removes it from the
//! queue, stores its ticket's record, the file ids its uploads got and the owners of what it sent
//! (`Op::Delivered` on redb, [`PgStore::finish_entry`] on PostgreSQL). On PostgreSQL a record
//! that fails (the server down or restarting, the connection lost, a serialization conflict) is
//! not dropped: it is tried again after 50 ms, doubling to 2 s, until it lands or the scheduler
//! stops. Meanwhile a delivered entry's chat waits (its next message goes once the record
//! landed), and the entry stays in `botbox_outbox`. If the process ends first (a crash, a stop,
//! PostgreSQL still away), the entry is read again at the next start and sent again: the one
//! message per chat in flight that the outbox may deliver twice (`outbox.rs`).
//!
//! Reads: a ticket's message id (edits, deletes, calls acting on a message) and the queued files
//! (their Telegram id once uploaded, their bytes). On redb an unreadable ticket reads as not
//! delivered, as it always has; on PostgreSQL a failed read is a transient failure, so the entry
//! is tried again rather than given up while the server is away.

use std::time::Duration;

use tokio::sync::watch;

use super::Deps;
use crate::{
    Error, Result,
    store::{
        Op, TicketRecord,
        pg::{Delivered, PgStore},
    },
};

/// The first pause before a failed record on PostgreSQL is tried again; it doubles to
/// [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const MAX_PAUSE: Duration = Duration::from_secs(2);
/// How long one try (a record or a read) may take: a connection that stopped answering (no
/// reset, a network cut) is given up and a new one tried; the record is safe to send twice.
const TRY_TIMEOUT: Duration = Duration::from_secs(30);

/// Records that the outbox is finished with `d`, without waiting (give-ups, merged edits):
/// queued to the committer on redb, recorded by a task of its own on PostgreSQL.
pub(super) fn finish_later(deps: &Deps, stop: &watch::Receiver<bool>, d: Delivered) {
    match &deps.pg {
        None => {
            let _ = deps.committer.send(op(d, None));
        }
        Some(pg) => {
            let (pg, stop) = (pg.clone(), stop.clone());
            tokio::spawn(async move {
                let _ = until_recorded(&pg, stop, &d).await;
            });
        }
    }
}

/// Records that the outbox is finished with `d` and returns once that is durable; an error
/// only on redb's failure to commit, or when the scheduler stops first.
pub(super) async fn finish(deps: &Deps, stop: &watch::Receiver<bool>, d: Delivered) -> Result<()> {
    match &deps.pg {
        None => deps.committer.commit(|tx| op(d, Some(tx))).await,
        Some(pg) => until_recorded(pg, stop.clone(), &d).await,
    }
}

fn op(d: Delivered, done: Option<tokio::sync::oneshot::Sender<Result<(), String>>>) -> Op {
    Op::Delivered {
        seq: d.seq,
        ticket: d.ticket,
        uploaded: d.uploaded,
        owned: d.owned,
        done,
    }
}

/// Records `d` on PostgreSQL, trying again after each failure until it lands (see the module's
/// documentation); `Err` only when `stop` turns true (or its sender is gone) before it did: the
/// try under way is finished, no other is made.
async fn until_recorded(
    pg: &PgStore,
    mut stop: watch::Receiver<bool>,
    d: &Delivered,
) -> Result<()> {
    let mut pause = FIRST_PAUSE;
    let mut failures = 0u32;
    loop {
        // Not cut short by a stop: a clean stop waits for the deliveries in flight to be
        // recorded (`scheduler.rs`); only the retries end with it.
        let outcome = tokio::time::timeout(TRY_TIMEOUT, pg.finish_entry(d)).await;
        let error = match outcome {
            Ok(Ok(())) => {
                if failures > 0 {
                    tracing::info!(
                        seq = d.seq,
                        failures,
                        "a delivery is recorded on PostgreSQL after all"
                    );
                }
                return Ok(());
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer in {TRY_TIMEOUT:?}"),
        };
        failures += 1;
        if failures == 1 {
            tracing::warn!(seq = d.seq, %error, "cannot record a delivery on PostgreSQL; trying again until it lands (the chat's next message waits)");
        } else {
            tracing::debug!(seq = d.seq, %error, failures, "recording a delivery failed again");
        }
        if *stop.borrow() {
            return Err(Error::ShuttingDown);
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.wait_for(|s| *s) => return Err(Error::ShuttingDown),
        }
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// The record of `ticket`: `Err` (a reason) only when PostgreSQL could not be read, which is
/// worth trying again; on redb an unreadable record reads as none, as before.
pub(super) async fn ticket(deps: &Deps, ticket: u64) -> Result<Option<TicketRecord>, String> {
    match &deps.pg {
        None => Ok(deps.db.ticket(ticket).ok().flatten()),
        Some(pg) => match bounded(pg.ticket(ticket)).await {
            Ok(rec) => Ok(rec),
            Err(e) => Err(format!("cannot read ticket {ticket}: {e}")),
        },
    }
}

/// The Telegram id of the queued file `sha256`, if one copy was uploaded already (just now, in
/// this process's memory, or recorded in the store). A store that cannot be read answers none:
/// the file is uploaded again, as on redb.
pub(super) async fn file_id(deps: &Deps, sha256: &str) -> Option<String> {
    if let Some(id) = deps.uploads.id(sha256) {
        return Some(id);
    }
    match &deps.pg {
        None => deps.db.file_id(sha256).ok().flatten(),
        Some(pg) => bounded(pg.file_id(sha256)).await.ok().flatten(),
    }
}

/// The bytes of the queued file `sha256`.
pub(super) async fn file_bytes(deps: &Deps, sha256: &str) -> Result<Option<bytes::Bytes>> {
    match &deps.pg {
        None => deps.db.file_bytes(sha256),
        Some(pg) => bounded(pg.file_bytes(sha256)).await,
    }
}

/// `read`, failed after [`TRY_TIMEOUT`] without an answer.
async fn bounded<T>(read: impl Future<Output = Result<T>>) -> Result<T> {
    match tokio::time::timeout(TRY_TIMEOUT, read).await {
        Ok(r) => r,
        Err(_) => Err(Error::Postgres(format!("no answer in {TRY_TIMEOUT:?}"))),
    }
}
