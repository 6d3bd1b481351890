//! A module's KV namespace and a call's transaction in it, on either backend: the seam the host's
//! KV imports go through (docs/cluster-design-notes.md §2). An enum, not a trait object: the
//! operations are `async fn`s and the redb arm stays a plain function call.
//!
//! On redb every operation completes without waiting (the future is ready at its first poll),
//! exactly as the synchronous `Namespace` does; nothing here takes a lock of its own. On
//! PostgreSQL a read is a round trip. The host still makes only redb transactions; the
//! PostgreSQL arm runs in the seam's tests (`sandbox/pg_kv_tests.rs`), with the unit of work
//! committed by `PgNamespace::commit_unit`.

use std::sync::Arc;

use super::{
    Db, TicketRecord,
    kv::{KvError, Namespace, Page, Quota, Txn, Usage, Write},
    pg::{PgStore, PgTxn, kv::PgNamespace},
};

/// A module's KV namespace.
#[derive(Clone)]
pub enum KvNamespace {
    /// In the process's redb file.
    Redb(Arc<Namespace>),
    /// In a PostgreSQL database shared by every node.
    Pg(Arc<PgNamespace>),
}

/// The KV transaction of one handler call, made by [`KvNamespace::begin`].
pub enum KvTxn {
    /// On redb: validated against the overlay when the call's unit of work is committed.
    Redb(Txn),
    /// On PostgreSQL: `None` until the call's first KV operation takes a pooled connection
    /// (`BEGIN` travels with that operation's query, which is where PostgreSQL takes the
    /// snapshot anyway), so beginning a call never waits. Boxed: a redb call's state stays
    /// small.
    Pg(Option<Box<PgTxn>>),
}

impl std::fmt::Debug for KvNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let store = match self {
            KvNamespace::Redb(_) => "redb",
            KvNamespace::Pg(_) => "PostgreSQL",
        };
        write!(f, "KvNamespace({store}: {})", self.module())
    }
}

impl std::fmt::Debug for KvTxn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KvTxn::Redb(_) => "KvTxn::Redb",
            KvTxn::Pg(_) => "KvTxn::Pg",
        })
    }
}

/// A transaction of the other backend than its namespace's: a host bug, never a module's doing.
fn mismatch() -> KvError {
    KvError::Io("host error: a KV transaction of another store than its namespace's".into())
}

impl KvTxn {
    /// The redb transaction, for the redb committer (`None` on PostgreSQL).
    pub fn redb_mut(&mut self) -> Option<&mut Txn> {
        match self {
            KvTxn::Redb(t) => Some(t),
            KvTxn::Pg(_) => None,
        }
    }

    /// The PostgreSQL transaction on `ns`, begun now if the call has not used the KV yet (its
    /// unit of work, with the done mark, still commits in one transaction).
    pub async fn pg(&mut self, ns: &PgNamespace) -> Result<&mut PgTxn, KvError> {
        match self {
            KvTxn::Pg(t) => {
                if t.is_none() {
                    *t = Some(Box::new(ns.begin().await?));
                }
                Ok(t.as_deref_mut().expect("begun above"))
            }
            KvTxn::Redb(_) => Err(mismatch()),
        }
    }
}

/// Runs `$redb` (sync, on `Namespace` `$r` and `Txn` `$rt`) or `$pg` (async, on `PgNamespace`
/// `$p` and `PgTxn` `$pt`) for the backend of `$ns` and `$txn`.
///
/// The PostgreSQL arm's future is boxed: inline, its pipelined queries made every operation's
/// future kilobytes large (15 KB in a debug build), and wasmtime boxes the future of each async
/// import, redb's too. Boxed, a redb operation's future is a few words; PostgreSQL pays one
/// small allocation beside its round trip.
macro_rules! dispatch {
    ($ns:expr, $txn:expr, |$r:ident, $rt:ident| $redb:expr, |$p:ident, $pt:ident| $pg:expr) => {
        match ($ns, $txn) {
            (KvNamespace::Redb($r), KvTxn::Redb($rt)) => $redb,
            (KvNamespace::Pg($p), txn @ KvTxn::Pg(_)) => {
                Box::pin(async move {
                    let $pt = txn.pg($p).await?;
                    $pg.await
                })
                .await
            }
            _ => Err(mismatch()),
        }
    };
}

impl KvNamespace {
    /// Starts a call's transaction; never waits.
    pub fn begin(&self) -> KvTxn {
        match self {
            KvNamespace::Redb(ns) => KvTxn::Redb(ns.begin()),
            KvNamespace::Pg(_) => KvTxn::Pg(None),
        }
    }

    /// Ends a transaction without applying it.
    pub async fn abort(&self, txn: &mut KvTxn) {
        match (self, txn) {
            (KvNamespace::Redb(ns), KvTxn::Redb(t)) => ns.abort(t),
            (KvNamespace::Pg(ns), KvTxn::Pg(Some(t))) => ns.abort(t).await,
            // Never begun, or another store's: its own `Drop` ends it.
            _ => {}
        }
    }

    /// The module's name.
    pub fn module(&self) -> &Arc<str> {
        match self {
            KvNamespace::Redb(ns) => ns.module(),
            KvNamespace::Pg(ns) => ns.module(),
        }
    }

    /// A ticket's delivery record, where the module's messages are recorded: the redb file
    /// `db`, or `botbox_tickets` when the namespace is on PostgreSQL (another node may have
    /// queued and delivered the message).
    pub async fn ticket(&self, db: &Db, ticket: u64) -> crate::Result<Option<TicketRecord>> {
        match self {
            KvNamespace::Redb(_) => db.ticket(ticket),
            KvNamespace::Pg(ns) => {
                let store = PgStore::with_pool(ns.pool().clone());
                Box::pin(store.ticket(ticket)).await
            }
        }
    }

    /// The quota.
    pub fn quota(&self) -> Quota {
        match self {
            KvNamespace::Redb(ns) => ns.quota(),
            KvNamespace::Pg(ns) => ns.quota(),
        }
    }

    /// Changes the quota (once the module's manifest is known).
    pub fn set_quota(&self, quota: Quota) {
        match self {
            KvNamespace::Redb(ns) => ns.set_quota(quota),
            KvNamespace::Pg(ns) => ns.set_quota(quota),
        }
    }

    /// Reads `key` as the transaction sees it.
    pub async fn get(&self, txn: &mut KvTxn, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        dispatch!(self, txn, |r, t| r.get(t, key), |p, t| p.get(t, key))
    }

    /// Buffers a write.
    pub async fn set(&self, txn: &mut KvTxn, key: &[u8], value: &[u8]) -> Result<(), KvError> {
        dispatch!(self, txn, |r, t| r.set(t, key, value), |p, t| p
            .set(t, key, value))
    }

    /// Buffers a delete; says whether the key existed.
    pub async fn delete(&self, txn: &mut KvTxn, key: &[u8]) -> Result<bool, KvError> {
        dispatch!(self, txn, |r, t| r.delete(t, key), |p, t| p.delete(t, key))
    }

    /// Adds `delta` to the big-endian i64 under `key`.
    pub async fn increment(&self, txn: &mut KvTxn, key: &[u8], delta: i64) -> Result<i64, KvError> {
        dispatch!(self, txn, |r, t| r.increment(t, key, delta), |p, t| p
            .increment(t, key, delta))
    }

    /// Replaces the value of `key` by `new` if it currently is `expected`.
    pub async fn compare_and_swap(
        &self,
        txn: &mut KvTxn,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, KvError> {
        dispatch!(
            self,
            txn,
            |r, t| r.compare_and_swap(t, key, expected, new),
            |p, t| p.compare_and_swap(t, key, expected, new)
        )
    }

    /// Applies every write or none.
    pub async fn batch(&self, txn: &mut KvTxn, writes: &[Write]) -> Result<(), KvError> {
        dispatch!(self, txn, |r, t| r.batch(t, writes), |p, t| p
            .batch(t, writes))
    }

    /// Lists up to `limit` entries with `prefix`, after `after`.
    pub async fn scan(
        &self,
        txn: &mut KvTxn,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: u32,
    ) -> Result<Page, KvError> {
        dispatch!(self, txn, |r, t| r.scan(t, prefix, after, limit), |p, t| p
            .scan(t, prefix, after, limit))
    }

    /// Lists up to `limit` entries with `start <= key < end`, after `after`.
    pub async fn range(
        &self,
        txn: &mut KvTxn,
        start: &[u8],
        end: Option<&[u8]>,
        after: Option<&[u8]>,
        limit: u32,
    ) -> Result<Page, KvError> {
        dispatch!(
            self,
            txn,
            |r, t| r.range(t, start, end, after, limit),
            |p, t| p.range(t, start, end, after, limit)
        )
    }

    /// The namespace's usage as the transaction sees it.
    pub async fn usage(&self, txn: &mut KvTxn) -> Result<Usage, KvError> {
        dispatch!(self, txn, |r, t| Ok(r.usage(t)), |p, t| p.usage(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::pg::tests::{LIMITS, ROOMY};

    /// wasmtime boxes the future of every async import: on redb, the one a module's KV call
    /// makes must stay a few words, not the kilobytes of the PostgreSQL arm's pipeline.
    #[tokio::test]
    async fn a_redb_operation_is_a_small_future_and_answers_as_the_namespace_does() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Arc::new(redb::Database::create(dir.path().join("t.redb")).expect("db"));
        let ns = Namespace::open(db, "m", LIMITS, ROOMY).expect("namespace");
        let ns = KvNamespace::Redb(Arc::new(ns));
        let mut txn = ns.begin();
        // Taken by value and dropped, one at a time: a future not polled does nothing.
        fn size<F: Future>(f: F) -> usize {
            std::mem::size_of_val(&f)
        }
        let sizes = [
            size(ns.get(&mut txn, b"k")),
            size(ns.set(&mut txn, b"k", b"v")),
            size(ns.range(&mut txn, b"a", None, None, 3)),
            size(ns.batch(&mut txn, &[])),
            size(ns.usage(&mut txn)),
        ];
        assert!(sizes.iter().all(|&s| s <= 128), "{sizes:?} bytes");
        assert_eq!(ns.increment(&mut txn, b"k", 2).await, Ok(2));
        assert_eq!(
            ns.get(&mut txn, b"k").await,
            Ok(Some(2i64.to_be_bytes().to_vec()))
        );
        assert_eq!(ns.usage(&mut txn).await.map(|u| u.keys), Ok(1));
        ns.abort(&mut txn).await;
    }
}
