//! The operators' KV operations on a namespace in PostgreSQL: the redb path's answers and
//! errors (`kv_ops.rs`), each operation one SERIALIZABLE transaction of its own.
//!
//! A write reads the keys it changes (to say whether they existed), checks the module's quota
//! on the namespace's usage rows as a handler's batch does (`store/pg/kv.rs`, `kv/quota.rs`),
//! and commits the writes and the usage change together: all of it or nothing. PostgreSQL
//! refuses a transaction that does not serialize with a unit committed meanwhile by any node;
//! it is then run again from the start, as a handler is after a conflict.

use crate::{
    Error, Result,
    store::{
        kv::{KvError, Page, Write},
        pg::{
            PgTxn,
            kv::{Outcome, PgNamespace},
        },
    },
};

/// How many times an operation PostgreSQL refused is run again before the operator is told.
const MAX_CONFLICTS: usize = 50;

/// A failure of the namespace: the module's doing (a bad key, over quota: 400, as on redb) or
/// the database's (500).
pub(super) fn store_err(e: KvError) -> Error {
    match e {
        KvError::Io(m) => Error::Postgres(m.trim_start_matches("PostgreSQL: ").to_string()),
        other => super::kv_err(other),
    }
}

fn gave_up(module: &str) -> Error {
    Error::Conflict(format!(
        "the KV of `{module}` kept changing under this operation ({MAX_CONFLICTS} tries): nothing was written, try again"
    ))
}

/// Runs the read `$op` (an expression using the transaction `$txn`) in a transaction of its
/// own, again while PostgreSQL refuses it. (A macro: an async closure's future here is not
/// `Send` for every lifetime, which axum's handlers need.)
macro_rules! read {
    ($ns:expr, |$txn:ident| $op:expr) => {{
        let mut out = Err(gave_up($ns.module()));
        for _ in 0..MAX_CONFLICTS {
            let mut $txn = $ns.begin().await.map_err(store_err)?;
            let r = $op.await;
            let doomed = $txn.doomed;
            $ns.abort(&mut $txn).await;
            match r {
                Err(_) if doomed => continue,
                r => {
                    out = r.map_err(store_err);
                    break;
                }
            }
        }
        out
    }};
}

/// The value of `key`.
pub(super) async fn get(ns: &PgNamespace, key: &[u8]) -> Result<Option<Vec<u8>>> {
    read!(ns, |txn| ns.get(&mut txn, key))
}

/// One page of entries with `prefix`, after `after`.
pub(super) async fn scan(
    ns: &PgNamespace,
    prefix: &[u8],
    after: Option<&[u8]>,
    limit: u32,
) -> Result<Page> {
    read!(ns, |txn| ns.scan(&mut txn, prefix, after, limit))
}

/// Applies `writes` (`None` deletes) in one transaction, durable when it returns; answers
/// whether each key existed before. Refused whole (over quota, a bad key or value, too many
/// writes) with nothing written.
pub(super) async fn write(ns: &PgNamespace, writes: &[Write]) -> Result<Vec<bool>> {
    for _ in 0..MAX_CONFLICTS {
        let mut txn = ns.begin().await.map_err(store_err)?;
        let r = apply(ns, &mut txn, writes).await;
        let existed = match r {
            Ok(existed) => existed,
            Err(_) if txn.doomed => {
                ns.abort(&mut txn).await;
                continue;
            }
            Err(e) => {
                ns.abort(&mut txn).await;
                return Err(store_err(e));
            }
        };
        match ns.commit(&mut txn).await.map_err(store_err)? {
            Outcome::Committed => return Ok(existed),
            Outcome::Conflict => continue,
        }
    }
    Err(gave_up(ns.module()))
}

/// The writes, buffered in `txn` with the quota checked; whether each key existed.
async fn apply(
    ns: &PgNamespace,
    txn: &mut PgTxn,
    writes: &[Write],
) -> std::result::Result<Vec<bool>, KvError> {
    let mut existed = Vec::with_capacity(writes.len());
    for (k, _) in writes {
        existed.push(ns.get(txn, k).await?.is_some());
    }
    ns.batch(txn, writes).await?;
    Ok(existed)
}
