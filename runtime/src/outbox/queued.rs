//! The entries queued when the bot starts, and telling apart the channel's copies of them.
//!
//! At start the scheduler is given what the store holds (redb's outbox table, or `botbox_outbox`
//! when the store is on PostgreSQL) and, on its channel, every entry committed since the
//! committer started. What was committed between the committer's start and the read (replies to
//! updates resumed at start) is in both, and must be queued once.

use std::collections::HashSet;

use super::Entry;
use crate::{
    Error, Result,
    store::{
        Db,
        pg::{Claim, Owned, PgStore},
    },
};

/// The queued entries, in queue order: from PostgreSQL when `pg` is given, else from `db`. A
/// node sharing the bot (`owned`) reads those of the partitions it holds only, and takes them
/// in hand at the epochs it holds them at (`store/pg/outbox_pickup.rs`); the others are their
/// owners'.
pub(crate) async fn queued(
    db: &Db,
    pg: Option<&PgStore>,
    owned: Option<&Owned>,
) -> Result<Vec<(u64, Entry)>> {
    let rows = match (pg, owned) {
        (Some(pg), Some(owned)) => (pg.claim_outbox(&owned.held(), Claim::All).await?)
            .into_iter()
            .map(|c| (c.seq, c.entry))
            .collect(),
        (Some(pg), None) => pg.outbox().await?,
        (None, _) => db.outbox()?,
    };
    let initial = rows
        .into_iter()
        .map(|(seq, bytes)| decode(seq, &bytes).map(|e| (seq, e)))
        .collect::<Result<Vec<_>>>()?;
    if !initial.is_empty() {
        tracing::info!(
            queued = initial.len(),
            "resuming delivery of queued messages"
        );
    }
    Ok(initial)
}

/// An outbox entry as stored.
pub(crate) fn decode(seq: u64, bytes: &[u8]) -> Result<Entry> {
    serde_json::from_slice::<Entry>(bytes)
        .map_err(|e| Error::Corrupt(format!("outbox entry {seq}: {e}")))
}

/// Which of the channel's entries were not in the read at start.
pub(crate) enum ReadAtStart {
    /// redb: sequence numbers grow with each commit, so the channel's copies are those at or
    /// below the last one read.
    UpTo(u64),
    /// PostgreSQL: a unit draws its numbers before it commits, so one can commit (and reach the
    /// channel) after a unit with larger numbers was read; the copies are the numbers read,
    /// each forgotten once its copy came.
    Seqs(HashSet<u64>),
}

impl ReadAtStart {
    /// What `initial` (the read at start) leaves out of the channel.
    pub(crate) fn new(initial: &[(u64, Entry)], postgres: bool) -> ReadAtStart {
        let seqs = initial.iter().map(|(seq, _)| *seq);
        match postgres {
            true => ReadAtStart::Seqs(seqs.collect()),
            false => ReadAtStart::UpTo(seqs.max().unwrap_or(0)),
        }
    }

    /// Whether the channel's entry `seq` is new (not read at start).
    pub(crate) fn is_new(&mut self, seq: u64) -> bool {
        match self {
            ReadAtStart::UpTo(up_to) => seq > *up_to,
            ReadAtStart::Seqs(read) => !read.remove(&seq),
        }
    }
}
