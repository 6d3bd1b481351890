//! The PostgreSQL backend of the store (issue 19): several nodes share one database.
//!
//! Each handler call's unit of work is one PostgreSQL transaction at SERIALIZABLE isolation, so
//! PostgreSQL itself detects that two transactions' reads and writes do not fit any serial order
//! (including phantoms in scanned ranges) and fails one with a serialization failure; the host
//! then runs that handler again, exactly as it does on a conflict in the redb backend (see
//! `docs/cluster-design-notes.md` for why this and not per-key versions).
//!
//! A transaction costs few round trips: `BEGIN` travels with the first query, and the buffered
//! writes travel with the `COMMIT` (tokio-postgres pipelines requests sent on one connection
//! without waiting for their answers).

mod conn;
mod deliveries;
mod export;
mod host_reads;
mod ids;
pub mod kv;
mod leases;
mod modules;
mod outbox_pickup;
mod owed;
mod owned;
mod quarantine;
mod retention;
mod schema;
mod store;
mod timers;
mod transfer;
mod txn;
mod unit;
mod usage;

pub use conn::{Conn, Pool};
pub use deliveries::Delivered;
pub use ids::PgIds;
pub use leases::{PARTITIONS, partition_of};
pub use modules::{ModuleRow, ModuleState};
pub use outbox_pickup::{Claim, Claimed};
pub use owed::ToRecord;
pub use owned::Owned;
pub use schema::SCHEMA;
pub use store::PgStore;
pub use timers::TimerCount;
pub use transfer::Copied;
pub use txn::PgTxn;
pub use unit::{Fence, Unit, UnitOutcome};

use super::kv::KvError;

/// Whether `e` is PostgreSQL refusing a transaction that does not serialize (to be run again).
pub(crate) fn is_conflict(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    })
}

/// A database failure as the module sees it: says it was PostgreSQL and why.
pub(crate) fn io(e: &tokio_postgres::Error) -> KvError {
    match e.as_db_error() {
        Some(db) => KvError::Io(format!(
            "PostgreSQL: {} ({})",
            db.message(),
            db.code().code()
        )),
        None => KvError::Io(format!("PostgreSQL: {e}")),
    }
}

#[cfg(test)]
pub(crate) mod tests;
