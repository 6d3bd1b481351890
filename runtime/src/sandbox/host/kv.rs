//! `kv`: the module's namespace, inside the current call's transaction. The imports are async
//! (bindings.rs) so that a read on PostgreSQL waits without holding a thread; on redb each
//! completes at its first poll, as the synchronous calls did.

use super::HostState;
use crate::{bindings::kv, store::kv::KvError};

fn kv_error(e: KvError) -> kv::Error {
    match e {
        KvError::InvalidKey(m) => kv::Error::InvalidKey(m),
        KvError::ValueTooLarge(m) => kv::Error::ValueTooLarge(m),
        KvError::QuotaExceeded(m) => kv::Error::QuotaExceeded(m),
        KvError::WrongType(m) => kv::Error::WrongType(m),
        KvError::Io(m) => kv::Error::Io(m),
    }
}

fn no_call() -> kv::Error {
    kv::Error::Io("the KV store is not available in init".into())
}

/// Runs `$op` on the module's namespace `ns` and the call's transaction `txn`: the fields are
/// borrowed apart, so no `Arc` is cloned per operation.
macro_rules! in_txn {
    ($state:ident, |$ns:ident, $txn:ident| $op:expr) => {{
        let $ns = &$state.env.kv;
        let $txn = &mut $state.call.as_mut().ok_or_else(no_call)?.txn;
        $op.await.map_err(kv_error)
    }};
}

impl kv::Host for HostState {
    async fn get(&mut self, key: Vec<u8>) -> Result<Option<Vec<u8>>, kv::Error> {
        in_txn!(self, |ns, txn| ns.get(txn, &key))
    }

    async fn set(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), kv::Error> {
        in_txn!(self, |ns, txn| ns.set(txn, &key, &value))
    }

    async fn delete(&mut self, key: Vec<u8>) -> Result<bool, kv::Error> {
        in_txn!(self, |ns, txn| ns.delete(txn, &key))
    }

    async fn increment(&mut self, key: Vec<u8>, delta: i64) -> Result<i64, kv::Error> {
        in_txn!(self, |ns, txn| ns.increment(txn, &key, delta))
    }

    async fn scan(
        &mut self,
        prefix: Vec<u8>,
        after: Option<Vec<u8>>,
        limit: u32,
    ) -> Result<kv::Page, kv::Error> {
        in_txn!(self, |ns, txn| ns.scan(
            txn,
            &prefix,
            after.as_deref(),
            limit
        ))
        .map(to_page)
    }

    async fn range(
        &mut self,
        start: Vec<u8>,
        end: Option<Vec<u8>>,
        after: Option<Vec<u8>>,
        limit: u32,
    ) -> Result<kv::Page, kv::Error> {
        in_txn!(self, |ns, txn| ns.range(
            txn,
            &start,
            end.as_deref(),
            after.as_deref(),
            limit
        ))
        .map(to_page)
    }

    async fn compare_and_swap(
        &mut self,
        key: Vec<u8>,
        expected: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
    ) -> Result<bool, kv::Error> {
        in_txn!(self, |ns, txn| ns.compare_and_swap(
            txn,
            &key,
            expected.as_deref(),
            new.as_deref()
        ))
    }

    async fn batch(&mut self, writes: Vec<kv::Write>) -> Result<(), kv::Error> {
        let writes: Vec<_> = writes
            .into_iter()
            .map(|w| match w {
                kv::Write::Set(e) => (e.key, Some(e.value)),
                kv::Write::Delete(k) => (k, None),
            })
            .collect();
        in_txn!(self, |ns, txn| ns.batch(txn, &writes))
    }

    async fn get_usage(&mut self) -> Result<kv::Usage, kv::Error> {
        let u = in_txn!(self, |ns, txn| ns.usage(txn))?;
        Ok(kv::Usage {
            bytes: u.bytes,
            keys: u.keys,
            max_bytes: u.quota.max_bytes,
            max_keys: u.quota.max_keys,
        })
    }
}

fn to_page((entries, next): crate::store::kv::Page) -> kv::Page {
    kv::Page {
        entries: entries
            .into_iter()
            .map(|(key, value)| kv::Entry { key, value })
            .collect(),
        next,
    }
}
