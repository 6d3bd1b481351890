//! The effects of a call: what a module's handler did, committed as one unit of work with the
//! update's (or timer's, or HTTP request's) done mark.

use std::sync::Arc;

use tokio::sync::oneshot;

use crate::{
    sandbox::{CallOutput, ModuleEnv},
    store::{
        Committer, Handled, HeldRecord, Op,
        conversations::Expect,
        kv::{Applied, Namespace},
        kv_txn::KvNamespace,
    },
};

mod pg;
#[cfg(test)]
mod pg_tests;

pub(crate) use pg::Lost;

/// Commits a successful call's effects — its KV writes (if its reads still hold), queued
/// messages and timers — as the handling of `update_id` or `fired_timer` (neither for an HTTP
/// request); `done` hears when they are durable. On a conflict nothing is sent and the caller
/// runs the call again. A `record` still held goes in the same transaction, first (redb only).
///
/// On PostgreSQL (`ModuleEnv.kv`) the call's own transaction commits with its unit of work
/// (`pg.rs`); a lost connection counts in `lost` and is answered as a conflict after a pause,
/// until it gives up: `Err`, the work is left owed in the store (and so is one whose record
/// is still held, which PostgreSQL does not take yet).
#[expect(
    clippy::too_many_arguments,
    reason = "one call site per kind of caller"
)]
pub(crate) async fn commit_call(
    committer: &Committer,
    env: &Arc<ModuleEnv>,
    out: &mut CallOutput,
    update_id: Option<u64>,
    fired_timer: Option<u64>,
    done: Option<oneshot::Sender<Result<(), String>>>,
    record: Option<&HeldRecord>,
    lost: &mut Lost,
) -> Result<Applied<()>, String> {
    if let KvNamespace::Pg(ns) = &env.kv {
        let work = pg::Work {
            update_id,
            fired_timer,
            done,
            record,
        };
        return pg::commit_call(committer, ns, env, out, work, lost).await;
    }
    let namespace = &env.namespace;
    let Some(txn) = out.txn.redb_mut() else {
        return Err("host error: a PostgreSQL transaction in a module whose KV is redb".into());
    };
    Ok(namespace.validate_and_apply(txn, |seq, writes| {
        {
            // Tickets are known before they are durable, so a later call may edit by ticket.
            for e in &out.outbox {
                if let Some(t) = e.ticket {
                    env.recent_tickets.insert(t, e.chat_id);
                }
            }
        }
        // The committer is gone only when the runtime stops: the update is then resumed at the
        // next start, and an HTTP request's `done` is dropped, which answers it.
        let op = Op::Handled(Box::new(Handled {
            namespace: namespace.clone(),
            update_id,
            writes,
            kv_seq: seq,
            outbox: std::mem::take(&mut out.outbox),
            files: std::mem::take(&mut out.files),
            quarantine: None,
            tickets: Some(env.recent_tickets.clone()),
            timers: std::mem::take(&mut out.timers),
            cancel_timers: std::mem::take(&mut out.cancel_timers),
            fired_timer,
            expects: expects(namespace.module(), std::mem::take(&mut out.expects)),
            broadcasts: std::mem::take(&mut out.broadcasts),
            done,
        }));
        let _ = send(committer, op, record);
    }))
}

/// Sends `op`, after a held record in the same transaction if there is one.
fn send(committer: &Committer, op: Op, record: Option<&HeldRecord>) -> crate::Result<()> {
    match record {
        Some(record) => record.send_with(committer, op),
        None => committer.send(op),
    }
}

/// Marks an update (or a timer's firing) handled by the module of `namespace` (redb) with no
/// effects (quarantined when `reason` is given), on redb; a module on PostgreSQL finishes
/// through [`finish_unhandled_after`] or [`finish_unhandled_on`].
pub fn finish_unhandled(
    committer: &Committer,
    namespace: &Arc<Namespace>,
    update_id: Option<u64>,
    fired_timer: Option<u64>,
    reason: Option<String>,
) {
    finish_on_redb(committer, namespace, update_id, fired_timer, reason, None);
}

/// [`finish_unhandled`] for the module of `env`, on its KV's store, after the update's `record`
/// if it is still held. On PostgreSQL: a unit with no KV writes, committed before this returns
/// (`pg.rs`; a held record is not taken there yet: the update is left owed, with an error).
pub(crate) async fn finish_unhandled_after(
    committer: &Committer,
    env: &ModuleEnv,
    update_id: Option<u64>,
    fired_timer: Option<u64>,
    reason: Option<String>,
    record: Option<&HeldRecord>,
) {
    match &env.kv {
        KvNamespace::Pg(ns) => {
            let work = pg::Work {
                update_id,
                fired_timer,
                done: None,
                record,
            };
            pg::finish_unhandled(committer, ns, work, reason).await;
        }
        KvNamespace::Redb(_) => {
            let ns = &env.namespace;
            finish_on_redb(committer, ns, update_id, fired_timer, reason, record);
        }
    }
}

/// [`finish_unhandled`] for a module whose KV is on PostgreSQL, running or not (intake's skips
/// and crash quarantines): a unit with no KV writes, committed before this returns.
pub async fn finish_unhandled_on(
    committer: &Committer,
    ns: &Arc<crate::store::pg::kv::PgNamespace>,
    update_id: Option<u64>,
    fired_timer: Option<u64>,
    reason: Option<String>,
) {
    let work = pg::Work {
        update_id,
        fired_timer,
        done: None,
        record: None,
    };
    pg::finish_unhandled(committer, ns, work, reason).await;
}

fn finish_on_redb(
    committer: &Committer,
    namespace: &Arc<Namespace>,
    update_id: Option<u64>,
    fired_timer: Option<u64>,
    reason: Option<String>,
    record: Option<&HeldRecord>,
) {
    let op = Op::Handled(Box::new(Handled {
        namespace: namespace.clone(),
        update_id,
        writes: Vec::new(),
        kv_seq: 0,
        outbox: Vec::new(),
        files: Vec::new(),
        quarantine: reason,
        tickets: None,
        timers: Vec::new(),
        cancel_timers: Vec::new(),
        fired_timer,
        expects: Vec::new(),
        broadcasts: Vec::new(),
        done: None,
    }));
    let _ = send(committer, op, record);
}

/// A call's `expect-reply` declarations as the store keeps them: expiry in Unix seconds.
fn expects(module: &str, declared: Vec<crate::sandbox::ExpectReply>) -> Vec<Expect> {
    let now = crate::clock::unix_secs();
    declared
        .into_iter()
        .map(|e| Expect {
            module: module.to_string(),
            chat_id: e.chat_id,
            user_id: e.user_id,
            until_secs: if e.seconds == 0 {
                0
            } else {
                now + u64::from(e.seconds)
            },
        })
        .collect()
}
