//! The KV of both backends behind one test-only interface, so that one list of behaviours
//! (`behaviour.rs`) runs against redb and against a throwaway PostgreSQL.

use std::any::Any;

use super::*;
use crate::store::kv::{Applied, Namespace, Page, Txn, Usage, Write};

/// A KV namespace of either backend, with the operations modules see.
pub(super) trait Backend: Sized {
    type Txn;
    /// Two namespaces, `m` and `other`, on a fresh database, and what keeps it alive.
    async fn start(quota: Quota) -> (Box<dyn Any>, Self, Self);
    async fn begin(&self) -> Self::Txn;
    async fn get(&self, t: &mut Self::Txn, k: &[u8]) -> Result<Option<Vec<u8>>, KvError>;
    async fn set(&self, t: &mut Self::Txn, k: &[u8], v: &[u8]) -> Result<(), KvError>;
    async fn delete(&self, t: &mut Self::Txn, k: &[u8]) -> Result<bool, KvError>;
    async fn increment(&self, t: &mut Self::Txn, k: &[u8], d: i64) -> Result<i64, KvError>;
    async fn compare_and_swap(
        &self,
        t: &mut Self::Txn,
        k: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, KvError>;
    async fn batch(&self, t: &mut Self::Txn, w: &[Write]) -> Result<(), KvError>;
    async fn scan(
        &self,
        t: &mut Self::Txn,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: u32,
    ) -> Result<Page, KvError>;
    async fn range(
        &self,
        t: &mut Self::Txn,
        start: &[u8],
        end: Option<&[u8]>,
        after: Option<&[u8]>,
        limit: u32,
    ) -> Result<Page, KvError>;
    async fn usage(&self, t: &mut Self::Txn) -> Result<Usage, KvError>;
    /// Changes the quota (as a new manifest does).
    fn set_quota(&self, quota: Quota);
    /// True if it committed, false if it conflicted (to be run again).
    async fn commit(&self, t: &mut Self::Txn) -> bool;
    async fn abort(&self, t: &mut Self::Txn);
}

/// Forwards the operations shared by both backends' namespaces (`$aw`: `.await` or nothing).
macro_rules! forward {
    ($($aw:tt)*) => {
        async fn get(&self, t: &mut Self::Txn, k: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
            self.0.get(t, k)$($aw)*
        }
        async fn set(&self, t: &mut Self::Txn, k: &[u8], v: &[u8]) -> Result<(), KvError> {
            self.0.set(t, k, v)$($aw)*
        }
        async fn delete(&self, t: &mut Self::Txn, k: &[u8]) -> Result<bool, KvError> {
            self.0.delete(t, k)$($aw)*
        }
        async fn increment(&self, t: &mut Self::Txn, k: &[u8], d: i64) -> Result<i64, KvError> {
            self.0.increment(t, k, d)$($aw)*
        }
        async fn compare_and_swap(
            &self,
            t: &mut Self::Txn,
            k: &[u8],
            expected: Option<&[u8]>,
            new: Option<&[u8]>,
        ) -> Result<bool, KvError> {
            self.0.compare_and_swap(t, k, expected, new)$($aw)*
        }
        async fn batch(&self, t: &mut Self::Txn, w: &[Write]) -> Result<(), KvError> {
            self.0.batch(t, w)$($aw)*
        }
        async fn scan(
            &self,
            t: &mut Self::Txn,
            prefix: &[u8],
            after: Option<&[u8]>,
            limit: u32,
        ) -> Result<Page, KvError> {
            self.0.scan(t, prefix, after, limit)$($aw)*
        }
        async fn range(
            &self,
            t: &mut Self::Txn,
            start: &[u8],
            end: Option<&[u8]>,
            after: Option<&[u8]>,
            limit: u32,
        ) -> Result<Page, KvError> {
            self.0.range(t, start, end, after, limit)$($aw)*
        }
    };
}

/// The embedded backend: a redb file in a temporary directory.
pub(super) struct Redb(Namespace);

impl Backend for Redb {
    type Txn = Txn;

    async fn start(quota: Quota) -> (Box<dyn Any>, Self, Self) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Arc::new(redb::Database::create(dir.path().join("t.redb")).expect("db"));
        let open = |name| Namespace::open(db.clone(), name, LIMITS, quota).expect("open");
        (Box::new(dir), Redb(open("m")), Redb(open("other")))
    }
    async fn begin(&self) -> Txn {
        self.0.begin()
    }
    forward!();
    async fn usage(&self, t: &mut Txn) -> Result<Usage, KvError> {
        Ok(self.0.usage(t))
    }
    fn set_quota(&self, quota: Quota) {
        self.0.set_quota(quota);
    }
    async fn commit(&self, t: &mut Txn) -> bool {
        matches!(self.0.validate_and_apply(t, |_, _| ()), Applied::Ok(..))
    }
    async fn abort(&self, t: &mut Txn) {
        self.0.abort(t);
    }
}

/// The shared backend: a throwaway PostgreSQL server.
pub(super) struct Pg(PgNamespace);

impl Backend for Pg {
    type Txn = PgTxn;

    async fn start(quota: Quota) -> (Box<dyn Any>, Self, Self) {
        let (pg, pool, ns) = server(LIMITS, quota).await;
        let other = PgNamespace::open(pool, "other", LIMITS, quota)
            .await
            .expect("namespace");
        (Box::new(pg), Pg(ns), Pg(other))
    }
    async fn begin(&self) -> PgTxn {
        self.0.begin().await.expect("begin")
    }
    forward!(.await);
    async fn usage(&self, t: &mut PgTxn) -> Result<Usage, KvError> {
        self.0.usage(t).await
    }
    fn set_quota(&self, quota: Quota) {
        self.0.set_quota(quota);
    }
    async fn commit(&self, t: &mut PgTxn) -> bool {
        commit(&self.0, t).await
    }
    async fn abort(&self, t: &mut PgTxn) {
        self.0.abort(t).await;
    }
}

/// Runs each listed behaviour (an `async fn name<B: Backend>()`) as two tests, `name::redb`
/// and `name::postgres`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn redb() {
                    super::$name::<super::super::backends::Redb>().await
                }
                #[tokio::test]
                async fn postgres() {
                    super::$name::<super::super::backends::Pg>().await
                }
            }
        )*
    };
}
pub(super) use on_both_backends;
