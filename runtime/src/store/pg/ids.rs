//! Ids for tickets and timers on PostgreSQL, unique across the nodes that share the database
//! (hi/lo): a node reserves a range of consecutive ids in one statement and hands them out from
//! memory, refilling in the background before the range runs out.
//!
//! Why a row (`botbox_ids.next`, `UPDATE … SET next = next + n RETURNING`) and not a sequence:
//!
//! - *Consecutive blocks of any size.* A broadcast's tickets must be one range (its progress is
//!   read back as one). `nextval` over `generate_series` interleaves with other nodes' calls; a
//!   sequence with a large `INCREMENT` gives blocks of one size only, and a broadcast may need
//!   more. The row gives `[next, next + n)` for any `n` in one statement.
//! - *Durable before use.* The reservation is an ordinary committed update (autocommit, the
//!   session's READ COMMITTED: a concurrent reservation waits for the row lock, then adds to the
//!   value the first committed). A sequence's advance is outside transactions and reaches the
//!   disk only with the WAL flush of some later commit — right in practice, but subtle.
//! - *Cost.* One row update per range per node; with ranges of a thousand ids the row is
//!   touched a few times a second at most, so its lock is no hot spot.
//!
//! Per node the ids handed out increase (a range is used only if it lies above every range this
//! node used before; reservations of one node are made one at a time); gaps are fine (a range's
//! rest is dropped at a restart or when a block needs a fresh range).

use std::{ops::Range, sync::Arc, time::Duration};

use parking_lot::Mutex;

use super::{
    Pool,
    store::{big, lost},
};
use crate::{Error, Result};

/// Reserves `$1` consecutive ids: answers the first.
const RESERVE: &str = "UPDATE botbox_ids SET next = next + $1 RETURNING next - $1";

/// Reserves `n` consecutive ids, committed (durable) before this returns.
pub(crate) async fn reserve(pool: &Pool, n: u64) -> Result<Range<u64>> {
    let conn = pool.get().await.map_err(lost)?;
    let row = conn.client.query_one(RESERVE, &[&big(n)?]).await;
    pool.put(conn);
    let first = row
        .map_err(|e| Error::Postgres(format!("reserving ids: {e}")))?
        .get::<_, i64>(0) as u64;
    Ok(first..first + n)
}

/// A node's source of ids on PostgreSQL.
#[derive(Clone)]
pub struct PgIds(Arc<Inner>);

struct Inner {
    pool: Arc<Pool>,
    /// Ids reserved at a time.
    batch: u64,
    state: Mutex<State>,
    /// Held while a reservation is made: one at a time per node, so each lies above the last.
    reserving: tokio::sync::Mutex<()>,
    runtime: tokio::runtime::Handle,
}

struct State {
    /// The range ids are handed out from: `next..end`.
    next: u64,
    end: u64,
    /// The next range, reserved in the background.
    spare: Option<Range<u64>>,
    /// A background reservation is under way.
    refilling: bool,
}

impl PgIds {
    /// Reserves a first range of `batch` ids (so the first call does not wait) and hands ids out
    /// from it. Needs a tokio runtime (the refills run on it).
    pub async fn open(pool: Arc<Pool>, batch: u64) -> Result<PgIds> {
        let batch = batch.max(2);
        let first = reserve(&pool, batch).await?;
        Ok(PgIds(Arc::new(Inner {
            pool,
            batch,
            state: Mutex::new(State {
                next: first.start,
                end: first.end,
                spare: None,
                refilling: false,
            }),
            reserving: tokio::sync::Mutex::new(()),
            runtime: tokio::runtime::Handle::current(),
        })))
    }

    /// `n` consecutive ids from what this node holds, the first returned; `None` when it holds
    /// fewer than `n` in one range. Starts a refill when the range runs low.
    pub fn try_take(&self, n: u64) -> Option<u64> {
        let mut s = self.0.state.lock();
        if s.end - s.next < n {
            match s.spare.take() {
                // The rest of the current range is dropped (a gap): the spare lies above it.
                Some(spare) if spare.end - spare.start >= n => {
                    (s.next, s.end) = (spare.start, spare.end)
                }
                other => {
                    s.spare = other;
                    return None;
                }
            }
        }
        let first = s.next;
        s.next += n;
        if s.spare.is_none() && !s.refilling && s.end - s.next <= self.0.batch / 2 {
            s.refilling = true;
            let me = self.clone();
            self.0.runtime.spawn(async move { me.refill().await });
        }
        Some(first)
    }

    /// `n` consecutive ids, the first returned: from the range held, else from a fresh
    /// reservation of `n` plus a batch (waiting for it). While PostgreSQL does not answer it
    /// tries again, a second apart at most: the caller's deadline (a handler call's wall clock)
    /// bounds the wait, and a call that cannot reserve ids could not commit its unit either.
    pub async fn block(&self, n: u64) -> u64 {
        if let Some(first) = self.try_take(n) {
            return first;
        }
        let _one = self.0.reserving.lock().await;
        // A refill may have come back while this waited.
        if let Some(first) = self.try_take(n) {
            return first;
        }
        let fresh = self.reserve_patiently(n + self.0.batch).await;
        let mut s = self.0.state.lock();
        // Everything held lies below `fresh` (reservations are one at a time): dropped.
        (s.next, s.end, s.spare) = (fresh.start + n, fresh.end, None);
        fresh.start
    }

    async fn refill(&self) {
        let _one = self.0.reserving.lock().await;
        let fresh = self.reserve_patiently(self.0.batch).await;
        let mut s = self.0.state.lock();
        s.refilling = false;
        if fresh.start < s.end {
            // A block's fresh reservation came first and lies above this one: not used.
            return;
        }
        if s.next == s.end {
            (s.next, s.end) = (fresh.start, fresh.end);
        } else if s.spare.is_none() {
            s.spare = Some(fresh);
        }
    }

    async fn reserve_patiently(&self, n: u64) -> Range<u64> {
        let mut pause = Duration::from_millis(20);
        loop {
            match reserve(&self.0.pool, n).await {
                Ok(r) => return r,
                Err(e) => {
                    tracing::warn!("cannot reserve ids, trying again in {pause:?}: {e}");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
            }
        }
    }
}
