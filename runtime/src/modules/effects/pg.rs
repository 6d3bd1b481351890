//! The finish of a call on PostgreSQL: the call's own transaction commits with its unit of
//! work (`PgNamespace::commit_unit`: KV writes, messages, timers, files, conversations,
//! broadcasts, the done mark, in one round trip), and what committed is passed on as the redb
//! writer passes on its commits (`Committer::committed_elsewhere`).
//!
//! How each outcome is answered: `Committed` — the messages of the unit's own chat's partition
//! go to this node's outbox with the sequence numbers PostgreSQL gave them (the others, to
//! chats of partitions the unit's fence does not cover, are picked up from `botbox_outbox` by
//! their partition's owner: `outbox/scheduler/pickup.rs`); `Conflict` — the caller runs the handler again; `AlreadyDone` —
//! another node or an earlier run finished the work: nothing is sent; `Fenced` — the chat
//! belongs to another node now: nothing is applied and the caller stops. A lost connection
//! leaves the outcome unknown: the handler runs again after a pause (the done mark makes a
//! second application impossible, it would be `AlreadyDone`), [`MAX_LOST`] times at most.

use std::{sync::Arc, time::Duration};

use tokio::sync::oneshot;

use crate::{
    sandbox::{CallOutput, ModuleEnv},
    store::{
        Committer, HeldRecord,
        kv::{Applied, KvError},
        pg::{Unit, UnitOutcome, kv::PgNamespace},
        records::Entry,
    },
};

/// Commits in a row whose outcome a lost connection hid, before the work is left owed.
pub(crate) const MAX_LOST: u32 = 6;

/// A held record (an update handled before its record was committed, `store/held.rs`) is an
/// op for the redb writer: a module on PostgreSQL does not take one yet.
const HELD_RECORD: &str = "an update handled at once, before its record is durable, is not \
                           supported on PostgreSQL yet; the update is left owed";

/// The work a call finishes.
pub(super) struct Work<'a> {
    pub update_id: Option<u64>,
    pub fired_timer: Option<u64>,
    pub done: Option<oneshot::Sender<Result<(), String>>>,
    pub record: Option<&'a HeldRecord>,
}

/// Commits of one piece of work in a row whose outcome was lost with the connection (any
/// answer of PostgreSQL ends the row).
#[derive(Debug, Default)]
pub(crate) struct Lost(u32);

impl Lost {
    /// Counts a lost commit and waits before the next run (0.1 s, doubling, at most 3.2 s);
    /// `Err` once [`MAX_LOST`] were lost in a row.
    async fn wait(&mut self, e: &KvError) -> Result<(), String> {
        self.0 += 1;
        if self.0 >= MAX_LOST {
            return Err(format!(
                "{} commits in a row lost with the connection to PostgreSQL ({e:?}); the work is \
                 left owed",
                self.0
            ));
        }
        tokio::time::sleep(Duration::from_millis(100 << (self.0 - 1))).await;
        Ok(())
    }
}

/// `commit_call` for a module whose KV is on PostgreSQL (`Applied::Ok`'s sequence number is
/// the redb overlay's: 0 here).
pub(super) async fn commit_call(
    committer: &Committer,
    ns: &PgNamespace,
    env: &ModuleEnv,
    out: &mut CallOutput,
    work: Work<'_>,
    lost: &mut Lost,
) -> Result<Applied<()>, String> {
    if work.record.is_some_and(HeldRecord::is_held) {
        env.kv.abort(&mut out.txn).await;
        return Err(HELD_RECORD.into());
    }
    let unit = Unit {
        update_id: work.update_id,
        fired_timer: work.fired_timer,
        outbox: std::mem::take(&mut out.outbox),
        timers: std::mem::take(&mut out.timers),
        cancel_timers: std::mem::take(&mut out.cancel_timers),
        files: std::mem::take(&mut out.files),
        expects: super::expects(ns.module(), std::mem::take(&mut out.expects)),
        broadcasts: std::mem::take(&mut out.broadcasts),
        quarantine: None,
        fence: ns.fence_for(out.chat_id),
    };
    // Known while the commit is in flight, so a concurrent call may edit by ticket.
    let tickets = || {
        unit.outbox
            .iter()
            .filter_map(|e| e.ticket.map(|t| (t, e.chat_id)))
    };
    for (t, chat) in tickets() {
        env.recent_tickets.insert(t, chat);
    }
    let outcome = match out.txn.pg(ns).await {
        Ok(txn) => ns.commit_unit(txn, &unit).await,
        Err(e) => Err(e),
    };
    env.recent_tickets.forget(tickets().map(|(t, _)| t));
    let module = ns.module();
    if outcome.is_ok() {
        // PostgreSQL answered: the losses in a row end here.
        *lost = Lost::default();
    }
    match outcome {
        Ok(UnitOutcome::Committed { seqs }) => {
            let handled = work.update_id.map(|u| (module.clone(), u));
            committer.committed_elsewhere(handled, to_scheduler(&unit, ns.is_fenced(), seqs));
            answer(work.done, Ok(()));
            Ok(Applied::Ok(0, ()))
        }
        Ok(UnitOutcome::Conflict) => Ok(Applied::Conflict),
        Ok(UnitOutcome::AlreadyDone(why)) => {
            tracing::debug!(module = %module, update = work.update_id, "finished already: {why}");
            answer(work.done, Ok(()));
            Ok(Applied::Ok(0, ()))
        }
        Ok(UnitOutcome::Fenced(why)) => {
            tracing::warn!(module = %module, update = work.update_id, "not applied: {why}");
            answer(work.done, Err(why));
            Ok(Applied::Ok(0, ()))
        }
        Err(e) => {
            tracing::warn!(module = %module, update = work.update_id, "commit lost: {e:?}");
            lost.wait(&e).await.map(|()| Applied::Conflict)
        }
    }
}

/// What of a committed unit goes to this node's scheduler, with the sequence numbers `seqs`:
/// on a node sharing the bot (`fenced`), the entries written taken only (those of the unit's
/// own chat's partition); the others are picked up from the database by their partition's
/// owner, maybe this node (`outbox/scheduler/pickup.rs`).
fn to_scheduler(unit: &Unit, fenced: bool, seqs: Vec<u64>) -> Vec<(u64, Entry)> {
    let all = seqs.into_iter().zip(unit.outbox.iter().cloned());
    all.filter(|(_, e)| !fenced || unit.taken_at(e.chat_id) != 0)
        .collect()
}

fn answer(done: Option<oneshot::Sender<Result<(), String>>>, result: Result<(), String>) {
    if let Some(done) = done {
        let _ = done.send(result);
    }
}

/// Finishes `work` with no effects (quarantined when `reason` is given): a unit with no KV
/// writes, run until it commits or is refused for good.
pub(super) async fn finish_unhandled(
    committer: &Committer,
    ns: &Arc<PgNamespace>,
    work: Work<'_>,
    reason: Option<String>,
) {
    let module = ns.module();
    if work.record.is_some_and(HeldRecord::is_held) {
        tracing::error!(module = %module, update = work.update_id, "{HELD_RECORD}");
        return;
    }
    if let (Some(id), Some(reason)) = (work.fired_timer, &reason) {
        tracing::warn!(module = %module, timer = id, "timer given up: {reason}");
    }
    let unit = Unit {
        update_id: work.update_id,
        fired_timer: work.fired_timer,
        quarantine: reason,
        ..Unit::default()
    };
    let mut lost = Lost::default();
    for _ in 0..super::super::shard::MAX_CONFLICT_RETRIES {
        let outcome = match ns.begin().await {
            Ok(mut txn) => ns.commit_unit(&mut txn, &unit).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(UnitOutcome::Committed { .. }) => {
                let handled = work.update_id.map(|u| (module.clone(), u));
                committer.committed_elsewhere(handled, Vec::new());
                return;
            }
            Ok(UnitOutcome::Conflict) => {}
            Ok(UnitOutcome::AlreadyDone(why)) => {
                tracing::debug!(module = %module, update = work.update_id, "finished already: {why}");
                return;
            }
            Ok(UnitOutcome::Fenced(why)) => {
                tracing::warn!(module = %module, update = work.update_id, "not finished: {why}");
                return;
            }
            Err(e) => {
                if let Err(gave_up) = lost.wait(&e).await {
                    tracing::error!(module = %module, update = work.update_id, "{gave_up}");
                    return;
                }
            }
        }
    }
    tracing::error!(module = %module, update = work.update_id, "endless conflicts finishing it");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{
        pg::{Owned, PARTITIONS},
        records::{Action, Priority},
    };

    fn to(chat: i64) -> Entry {
        Entry {
            module: "m".into(),
            chat_id: chat,
            priority: Priority::Normal,
            ticket: None,
            action: Action::Send {
                text: "hi".into(),
                parse_mode: None,
                reply_markup: None,
                reply_to: None,
                silent: false,
            },
            queued_at_ms: 0,
        }
    }

    #[test]
    fn a_node_sharing_the_bot_hands_its_scheduler_its_own_chat_s_messages_only() {
        let owned = Owned::new(PARTITIONS);
        let own = 7;
        let other = (8..).find(|c| owned.partition(*c) != owned.partition(own));
        let other = other.expect("a chat of another partition");
        let mut fence = owned.fence(own);
        fence.epoch = 3;
        let unit = Unit {
            outbox: vec![to(own), to(other), to(own)],
            fence: Some(fence),
            ..Unit::default()
        };
        let seqs = |v: Vec<(u64, Entry)>| v.into_iter().map(|(s, _)| s).collect::<Vec<_>>();
        assert_eq!(seqs(to_scheduler(&unit, true, vec![1, 2, 3])), [1, 3]);
        // A unit of no chat (no fence) leaves all of them to the partitions' owners; a node
        // not sharing the bot sends everything itself.
        let unfenced = Unit {
            fence: None,
            ..unit.clone()
        };
        assert!(to_scheduler(&unfenced, true, vec![1, 2, 3]).is_empty());
        assert_eq!(seqs(to_scheduler(&unit, false, vec![1, 2, 3])), [1, 2, 3]);
    }
}
