//! The modules' timers on PostgreSQL: the reads of the intake's timer task (which timers are
//! due, fairly across modules; which of those in hand are still pending) and those of a handler
//! call's `timers` imports (whose timer an id is; how many the module has pending), the latter
//! in the call's own SERIALIZABLE transaction.
//!
//! Due timers are read per running module, from the index on `(module, due_ms, id)`: at most a
//! share of each module's oldest, so one module's pile of due timers never holds back another
//! module's, and the timers of modules not running are not even looked at (the redb store
//! scans them and skips them, `store/due_timers.rs`).
//!
//! With several nodes (issue 19) each timer is kept under its chat's partition (a timer of no
//! chat: chat 0's), and a node reads the due timers of the partitions it holds only, at the
//! epochs it holds them at: two nodes never hand over the same timer while their views of the
//! partitions are current, and a node whose view is stale (a partition moved on) reads none of
//! the moved partition's.
//!
//! The limits on a module's pending timers (`sandbox.max_timers`, `sandbox.max_timer_bytes`)
//! hold across nodes because a call counts the module's timers inside its own transaction: two
//! calls that each counted, and each add timers the other's count did not see, do not fit any
//! serial order, and PostgreSQL's SSI refuses one of them (it then runs again and counts anew).
//!
//! The cost, measured (2026-12-06, debug build, throwaway PostgreSQL 15, 20 pairs of calls that
//! each count and schedule one timer, committed one after the other): two calls of one module
//! are always one refused (the point of it: a module's scheduling calls run one at a time);
//! so are two calls of two modules whose index entries share a page (10 timers each), which
//! SSI cannot tell apart (it locks index pages); modules with 1,000 timers each: no refusal,
//! the count takes 0.4 ms; with 100,000 each: the count takes ~22 ms and every pair is refused
//! (the read's page locks are promoted to the whole relation), while a module with 100,000
//! against one with 10 is never refused. A firing (another module's) is never refused by a
//! count. Rows per module keeping the count, escrowed per node as the KV's usage is
//! (`usage.rs`), would remove the refusals across modules and the O(timers) count.

use std::collections::HashSet;

use tokio_postgres::types::Type;

use super::{Fence, PgStore, PgTxn, kv::PgNamespace, store::big};
use crate::{
    Error, Result,
    store::{DueRead, DueTimer, kv::KvError},
};

/// The oldest due timers of each module named, at most `$3` of each, oldest first.
const DUE_FAIR: &str = "
SELECT t.id, t.due_ms, t.rec
FROM unnest($2::text[]) AS m(name)
CROSS JOIN LATERAL (
    SELECT id, due_ms, rec FROM botbox_timers
    WHERE module = m.name AND due_ms <= $1
    ORDER BY due_ms, id LIMIT $3) AS t
ORDER BY t.due_ms, t.id LIMIT $4";

/// [`DUE_FAIR`] of the partitions `$5` held at the epochs `$6` (a partition whose epoch moved
/// on belongs to another node now: none of its timers).
const DUE_FAIR_HELD: &str = "
WITH h AS (
    SELECT coalesce(array_agg(x.part), '{}') AS parts
    FROM unnest($5::int[], $6::bigint[]) AS x(part, epoch)
    JOIN botbox_partitions pt ON pt.id = x.part AND pt.epoch = x.epoch)
SELECT t.id, t.due_ms, t.rec
FROM h, unnest($2::text[]) AS m(name)
CROSS JOIN LATERAL (
    SELECT id, due_ms, rec FROM botbox_timers
    WHERE module = m.name AND due_ms <= $1 AND part = ANY(h.parts)
    ORDER BY due_ms, id LIMIT $3) AS t
ORDER BY t.due_ms, t.id LIMIT $4";

/// A module's pending timers and their records' bytes, leaving out the ids in `$2`.
const COUNT: &str = "
SELECT count(*), coalesce(sum(octet_length(rec)), 0)::bigint FROM botbox_timers
WHERE module = $1 AND id <> ALL($2::bigint[])";

/// A timer's module and its record's bytes.
const OWNER: &str = "SELECT module, octet_length(rec) FROM botbox_timers WHERE id = $1";

/// A module's pending timers as one transaction sees them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimerCount {
    /// How many.
    pub timers: u64,
    /// The bytes of their records (as the redb store counts them: the stored JSON).
    pub bytes: u64,
}

/// `held` as the arrays of partitions and epochs the statements take.
pub(crate) fn held_arrays(held: &[Fence]) -> Result<(Vec<i32>, Vec<i64>)> {
    let parts = held.iter().map(|f| f.partition as i32).collect();
    let epochs = held.iter().map(|f| big(f.epoch)).collect::<Result<_>>()?;
    Ok((parts, epochs))
}

fn corrupt(id: i64, e: serde_json::Error) -> Error {
    Error::Corrupt(format!("timer {id}: {e}"))
}

impl PgStore {
    /// Timers due at `now_ms` or earlier, oldest first, of the modules in `running`: at most
    /// `read.per_module` of each (fewer when many modules run, so that at most `read.scan` rows
    /// are looked at) and `read.limit` in all. With `held` (a node sharing the bot: the
    /// partitions it holds, `Owned::held`), only the timers of those partitions whose epoch is
    /// still the one given; without, every partition's.
    pub async fn due_timers_fair(
        &self,
        now_ms: u64,
        running: &HashSet<String>,
        read: DueRead,
        held: Option<&[Fence]>,
    ) -> Result<Vec<DueTimer>> {
        if running.is_empty() || held.is_some_and(<[Fence]>::is_empty) {
            return Ok(Vec::new());
        }
        let mut modules: Vec<&str> = running.iter().map(String::as_str).collect();
        modules.sort_unstable();
        let share = read.per_module.min(read.scan / modules.len()).max(1);
        let (now, share, limit) = (big(now_ms)?, share as i64, read.limit as i64);
        let rows = match held {
            None => {
                self.query(DUE_FAIR, &[&now, &modules, &share, &limit])
                    .await?
            }
            Some(held) => {
                let (parts, epochs) = held_arrays(held)?;
                let p: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
                    [&now, &modules, &share, &limit, &parts, &epochs];
                self.query(DUE_FAIR_HELD, &p).await?
            }
        };
        rows.iter()
            .map(|r| {
                let id: i64 = r.get(0);
                Ok(DueTimer {
                    id: id as u64,
                    due_ms: r.get::<_, i64>(1) as u64,
                    record: serde_json::from_slice(r.get(2)).map_err(|e| corrupt(id, e))?,
                })
            })
            .collect()
    }

    /// Which of `ids` are still pending (not yet fired and committed, nor cancelled), on any
    /// node.
    pub async fn pending_timers(&self, ids: impl IntoIterator<Item = u64>) -> Result<HashSet<u64>> {
        let ids = ids.into_iter().map(big).collect::<Result<Vec<i64>>>()?;
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        let rows = self
            .query(
                "SELECT id FROM botbox_timers WHERE id = ANY($1::bigint[])",
                &[&ids],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect())
    }

    /// Deletes every pending timer of `module` (it was removed); returns how many.
    pub async fn delete_timers_of(&self, module: &str) -> Result<usize> {
        let rows = self
            .query(
                "WITH gone AS (DELETE FROM botbox_timers WHERE module = $1 RETURNING 1) \
                 SELECT count(*) FROM gone",
                &[&module],
            )
            .await?;
        Ok(rows.first().map_or(0, |r| r.get::<_, i64>(0) as usize))
    }
}

impl PgNamespace {
    /// The module of timer `id` and its record's bytes, as the call's transaction `txn` sees
    /// them (`None`: no such timer pending).
    pub async fn timer_owner(
        &self,
        txn: &mut PgTxn,
        id: u64,
    ) -> Result<Option<(String, u64)>, KvError> {
        let id = i64::try_from(id).map_err(|_| KvError::Io(format!("no timer {id}")))?;
        let rows = txn.query_in(OWNER, &[(&id, Type::INT8)]).await?;
        Ok(rows
            .first()
            .map(|r| (r.get::<_, String>(0), r.get::<_, i32>(1) as u64)))
    }

    /// The module's pending timers as the call's transaction `txn` sees them, leaving out
    /// `except` (the ones the call cancelled). Read in the transaction: a concurrent call that
    /// adds timers on another node makes one of the two fail to commit.
    pub async fn pending_timers(
        &self,
        txn: &mut PgTxn,
        except: &[u64],
    ) -> Result<TimerCount, KvError> {
        let except: Vec<i64> = except
            .iter()
            .filter_map(|&t| i64::try_from(t).ok())
            .collect();
        let module: &str = self.module();
        let rows = txn
            .query_in(COUNT, &[(&module, Type::TEXT), (&except, Type::INT8_ARRAY)])
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| KvError::Io("PostgreSQL: no count of timers".into()))?;
        Ok(TimerCount {
            timers: row.get::<_, i64>(0) as u64,
            bytes: row.get::<_, i64>(1) as u64,
        })
    }
}

impl PgTxn {
    /// Runs `sql` in the transaction, with `BEGIN` first if it was not sent yet (one round trip
    /// for both; the statement is not prepared ahead). The buffered KV writes stay buffered: the
    /// timers' reads do not depend on them.
    async fn query_in(
        &mut self,
        sql: &str,
        params: &[(&(dyn tokio_postgres::types::ToSql + Sync), Type)],
    ) -> Result<Vec<tokio_postgres::Row>, KvError> {
        self.usable()?;
        let Some(conn) = self.conn.take() else {
            return Err(KvError::Io("the transaction has ended".into()));
        };
        let begin = !self.begun;
        let (b, rows) = futures::join!(
            async {
                match begin {
                    true => conn.client.batch_execute(super::txn::BEGIN).await,
                    false => Ok(()),
                }
            },
            conn.client.query_typed(sql, params)
        );
        self.conn = Some(conn);
        self.begun = true;
        b.and(rows).map_err(|e| self.fail(&e))
    }
}
