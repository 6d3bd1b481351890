//! The PostgreSQL backend against a real, throwaway PostgreSQL (tests/postgres-harness): the
//! redb KV's behaviours, concurrency across connections, and a server killed mid-stream.

use std::sync::Arc;

use throwaway_postgres::Postgres;

use super::{
    PgTxn, Pool,
    kv::{Outcome, PgNamespace},
};
use crate::store::{
    kv::{KvError, KvLimits, Quota},
    records::{Action, Entry, Priority},
};

mod backends;
mod behaviour;
mod concurrency;
mod deliveries;
mod faults;

/// The redb tests' limits: small keys, values and scan pages.
pub(crate) const LIMITS: KvLimits = KvLimits {
    max_key: 16,
    max_value: 32,
    max_scan: 3,
};

pub(crate) const ROOMY: Quota = Quota {
    max_bytes: 1 << 20,
    max_keys: 1000,
};

/// A message of `module` to `chat` saying `text`, as a handler queues it.
fn message(module: &str, chat: i64, text: &str, ticket: Option<u64>) -> Entry {
    Entry {
        module: module.into(),
        chat_id: chat,
        priority: Priority::Interactive,
        ticket,
        action: Action::Send {
            text: text.into(),
            parse_mode: None,
            reply_markup: None,
            reply_to: None,
            silent: false,
        },
        queued_at_ms: 0,
    }
}

/// A fresh server and a namespace `m` on it.
async fn server(limits: KvLimits, quota: Quota) -> (Postgres, Arc<Pool>, PgNamespace) {
    let pg = Postgres::start().expect("a throwaway PostgreSQL");
    let pool = Arc::new(Pool::open(&pg.url()).await.expect("pool"));
    let ns = PgNamespace::open(pool.clone(), "m", limits, quota)
        .await
        .expect("namespace");
    (pg, pool, ns)
}

/// Commits `txn`; true if it committed, false if PostgreSQL refused it.
async fn commit(ns: &PgNamespace, txn: &mut PgTxn) -> bool {
    match ns.commit(txn).await.expect("commit") {
        Outcome::Committed => true,
        Outcome::Conflict => false,
    }
}

/// Runs `$body` (an async block using the transaction `$t`) until it commits, as the host runs
/// a handler again after a conflict; evaluates to (its value, how many runs were refused).
macro_rules! until_committed {
    ($ns:expr, |$t:ident| $body:expr) => {{
        let mut refused = 0u32;
        loop {
            let mut $t = $ns.begin().await.expect("begin");
            let r: Result<_, KvError> = $body.await;
            match (r, $ns.commit(&mut $t).await.expect("commit")) {
                (Ok(v), Outcome::Committed) => break (v, refused),
                (Ok(_), Outcome::Conflict) => refused += 1,
                (Err(_), Outcome::Conflict) => refused += 1,
                (Err(e), Outcome::Committed) => panic!("the call failed: {e:?}"),
            }
        }
    }};
}
use until_committed;

mod leases;
mod modules;
mod owed;
mod quarantine;
mod retention;
mod unit_backends;
mod unit_extras;
mod units;
mod units_shared;
mod usage;
mod usage_quota;
