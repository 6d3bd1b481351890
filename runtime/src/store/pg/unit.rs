//! A handler's unit of work on PostgreSQL: beside its KV writes, the messages it queued, its
//! tickets, its timers, the update's quarantine if it was given up, and the update's (or timer's)
//! done mark, the files its messages upload, its conversations and broadcasts (`unit/extras.rs`)
//! — all in the handler's own SERIALIZABLE transaction, sent in the pipeline that ends with
//! `COMMIT`. All of it lands, or none of it: what `store::Handled` carries on redb.
//!
//! Each outbox row and timer carries the partition of its chat (a timer of no chat: the
//! partition of chat 0). An outbox row of the unit's own chat's partition is written taken at
//! the fence's epoch: this node's scheduler sends it (`Unit::taken_at`). The others (a broadcast,
//! a message to another chat) are written untaken, for their partition's owner to pick up.
//!
//! The done mark refuses to apply twice (`botbox_done`, `botbox_timer_fired` in `schema.rs`): a
//! unit for an update that another node (or an earlier run) already finished rolls back whole,
//! and says so ([`UnitOutcome::AlreadyDone`]).

use tokio_postgres::{Client, Row, Statement};

use super::{
    PgTxn,
    kv::PgNamespace,
    leases::{PARTITIONS, partition_of},
    schema::Refusal,
    txn::Ended,
};
use crate::store::{NewTimer, TicketRecord, conversations::Expect, kv::KvError, records::Entry};

mod extras;

#[cfg(test)]
pub(crate) use extras::{ADD_REFERENCES, STORE_BYTES};

/// What a handler call did beside its KV writes.
#[derive(Debug, Default, Clone)]
pub struct Unit {
    /// The update it handled (`None`: a timer's firing or an HTTP request).
    pub update_id: Option<u64>,
    /// Outgoing requests, in the order the module made them.
    pub outbox: Vec<Entry>,
    /// Timers it scheduled.
    pub timers: Vec<NewTimer>,
    /// Timers it cancelled.
    pub cancel_timers: Vec<u64>,
    /// The timer whose firing this was.
    pub fired_timer: Option<u64>,
    /// Why the update was given up, if it was.
    pub quarantine: Option<String>,
    /// The bytes of the files `outbox` uploads: (SHA-256 hex, bytes).
    pub files: Vec<(String, bytes::Bytes)>,
    /// Conversations the module declared it waits in, or withdrew, in order (its own only).
    pub expects: Vec<Expect>,
    /// Broadcasts queued in `outbox`: (first ticket, chats).
    pub broadcasts: Vec<(u64, u32)>,
    /// The partition of the unit's chat and the epoch this node holds it at (`leases.rs`):
    /// checked last before `COMMIT`.
    pub fence: Option<Fence>,
}

impl Unit {
    /// The epoch at which the unit's outbox row for `chat` is taken in hand by the node that
    /// commits it: the fence's epoch when `chat` is of the fence's partition (the node holds
    /// that partition, its scheduler sends the row), else 0 — the partition's owner picks the
    /// row up (`outbox/scheduler/pickup.rs`).
    pub fn taken_at(&self, chat: i64) -> u64 {
        match self.fence {
            Some(f) if part(chat) as u32 == f.partition => f.epoch,
            _ => 0,
        }
    }
}

/// The partition a row of `chat` is kept under (`leases.rs`), as PostgreSQL's integer.
pub(crate) fn part(chat: i64) -> i32 {
    partition_of(chat, PARTITIONS) as i32
}

/// A partition and the epoch a node holds it at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fence {
    /// The partition.
    pub partition: u32,
    /// Its epoch when this node took it.
    pub epoch: u64,
}

/// How a unit of work ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitOutcome {
    /// Durable; the queued requests got these outbox sequence numbers, in their order.
    Committed {
        /// One per entry of [`Unit::outbox`].
        seqs: Vec<u64>,
    },
    /// PostgreSQL refused it (it does not serialize with a concurrent one): run it again.
    Conflict,
    /// The update or timer was finished already; nothing of this unit was applied.
    AlreadyDone(String),
    /// The partition moved to another node, or this node's lease ran out: nothing of this unit
    /// was applied; the chat's work belongs to the partition's owner now.
    Fenced(String),
}

/// The statements of a unit, prepared once per connection.
pub(crate) struct Statements {
    outbox: Statement,
    tickets: Statement,
    timers: Statement,
    cancel: Statement,
    fired: Statement,
    quarantine: Statement,
    done: Statement,
    fence: Statement,
    extras: extras::Statements,
}

impl Statements {
    pub(crate) async fn prepare(c: &Client) -> Result<Statements, tokio_postgres::Error> {
        let (outbox, tickets, timers, cancel, fired, quarantine, done, fence, extras) = futures::try_join!(
            // Entry i (from 1) gets the i-th smallest of the sequence numbers drawn, whatever
            // order nextval ran in: a module's messages keep their order.
            c.prepare(
                "WITH s AS (SELECT nextval('botbox_outbox_seq') AS seq \
                            FROM generate_series(1, cardinality($2::bytea[]))), \
                      r AS (SELECT seq, row_number() OVER (ORDER BY seq) AS i FROM s) \
                 INSERT INTO botbox_outbox (seq, chat, entry, part, taken) \
                 SELECT r.seq, t.chat, t.entry, t.part, t.taken FROM r \
                 JOIN unnest($1::bigint[], $2::bytea[], $3::int[], $4::bigint[]) \
                   WITH ORDINALITY AS t(chat, entry, part, taken, i) ON t.i = r.i \
                 RETURNING seq"
            ),
            c.prepare(
                "INSERT INTO botbox_tickets (ticket, rec) \
                 SELECT * FROM unnest($1::bigint[], $2::bytea[])"
            ),
            c.prepare(
                "INSERT INTO botbox_timers (id, due_ms, module, rec, part) \
                 SELECT t.id, t.due, $1, t.rec, t.part \
                 FROM unnest($2::bigint[], $3::bigint[], $4::bytea[], $5::int[]) \
                   AS t(id, due, rec, part)"
            ),
            c.prepare("DELETE FROM botbox_timers WHERE id = ANY($1::bigint[])"),
            c.prepare("SELECT botbox_timer_fired($1)"),
            c.prepare(
                "INSERT INTO botbox_quarantine (module, update_id, reason, raw) \
                 VALUES ($1, $2, $3, (SELECT raw FROM botbox_inbox WHERE update_id = $2)) \
                 ON CONFLICT (module, update_id) \
                 DO UPDATE SET reason = EXCLUDED.reason, raw = EXCLUDED.raw"
            ),
            c.prepare("SELECT botbox_done($1, $2)"),
            c.prepare("SELECT botbox_fence($1, $2)"),
            extras::Statements::prepare(c),
        )?;
        Ok(Statements {
            outbox,
            tickets,
            timers,
            cancel,
            fired,
            quarantine,
            done,
            fence,
            extras,
        })
    }
}

/// A unit encoded as the statements' parameters.
pub(crate) struct Rows {
    module: String,
    update: Option<i64>,
    chats: Vec<i64>,
    entries: Vec<Vec<u8>>,
    /// Each entry's partition, and the epoch it is taken at (0: left to the pickup).
    parts: Vec<i32>,
    takens: Vec<i64>,
    tickets: Vec<i64>,
    ticket_recs: Vec<Vec<u8>>,
    timer_ids: Vec<i64>,
    timer_dues: Vec<i64>,
    timer_recs: Vec<Vec<u8>>,
    timer_parts: Vec<i32>,
    cancel: Vec<i64>,
    fired: Option<i64>,
    quarantine: Option<String>,
    fence: Option<(i32, i64)>,
    extras: extras::Extras,
}

/// A u64 id as PostgreSQL's bigint (ids, tickets and Unix ms stay far below 2^63).
fn big(v: u64) -> Result<i64, KvError> {
    i64::try_from(v).map_err(|_| KvError::Io(format!("{v} does not fit PostgreSQL's bigint")))
}

fn json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, KvError> {
    serde_json::to_vec(v).map_err(|e| KvError::Io(format!("cannot encode a record: {e}")))
}

impl Rows {
    pub(crate) fn new(module: &str, unit: &Unit) -> Result<Rows, KvError> {
        let mut rows = Rows {
            module: module.to_string(),
            update: unit.update_id.map(big).transpose()?,
            chats: Vec::new(),
            entries: Vec::new(),
            parts: Vec::new(),
            takens: Vec::new(),
            tickets: Vec::new(),
            ticket_recs: Vec::new(),
            timer_ids: Vec::new(),
            timer_dues: Vec::new(),
            timer_recs: Vec::new(),
            timer_parts: Vec::new(),
            cancel: unit
                .cancel_timers
                .iter()
                .map(|&t| big(t))
                .collect::<Result<_, _>>()?,
            fired: unit.fired_timer.map(big).transpose()?,
            quarantine: unit.quarantine.clone(),
            fence: match unit.fence {
                Some(f) => Some((
                    i32::try_from(f.partition)
                        .map_err(|_| KvError::Io("no such partition".into()))?,
                    big(f.epoch)?,
                )),
                None => None,
            },
            extras: extras::Extras::new(
                module,
                &unit.files,
                &unit.outbox,
                &unit.expects,
                &unit.broadcasts,
            )?,
        };
        for e in &unit.outbox {
            rows.chats.push(e.chat_id);
            rows.entries.push(json(e)?);
            rows.parts.push(part(e.chat_id));
            rows.takens.push(big(unit.taken_at(e.chat_id))?);
            if let Some(t) = e.ticket {
                rows.tickets.push(big(t)?);
                rows.ticket_recs.push(json(&TicketRecord {
                    module: module.to_string(),
                    chat_id: e.chat_id,
                    message_id: None,
                    failed: None,
                    settled_at_secs: 0,
                    result: None,
                })?);
            }
        }
        for t in &unit.timers {
            rows.timer_ids.push(big(t.id)?);
            rows.timer_dues.push(big(t.due_ms)?);
            rows.timer_recs.push(json(&t.record)?);
            rows.timer_parts.push(part(t.record.chat_id.unwrap_or(0)));
        }
        Ok(rows)
    }

    /// Sends the unit's statements, in this order, without waiting between them (they are
    /// pipelined with what the caller sends before and after); answers the outbox's rows.
    pub(crate) async fn send(
        &self,
        c: &Client,
        st: &Statements,
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        let (outbox, tickets, extras, timers, cancel, fired, quarantine, done, fence) = futures::join!(
            async {
                match self.entries.is_empty() {
                    true => Ok(Vec::new()),
                    false => {
                        let p = (&self.chats, &self.entries, &self.parts, &self.takens);
                        c.query(&st.outbox, &[p.0, p.1, p.2, p.3]).await
                    }
                }
            },
            async {
                match self.tickets.is_empty() {
                    true => Ok(0),
                    false => {
                        c.execute(&st.tickets, &[&self.tickets, &self.ticket_recs])
                            .await
                    }
                }
            },
            self.extras.send(c, &st.extras, &self.module),
            async {
                match self.timer_ids.is_empty() {
                    true => Ok(0),
                    false => {
                        let p = (&self.timer_ids, &self.timer_dues, &self.timer_recs);
                        let parts = &self.timer_parts;
                        c.execute(&st.timers, &[&self.module, p.0, p.1, p.2, parts])
                            .await
                    }
                }
            },
            async {
                match self.cancel.is_empty() {
                    true => Ok(0),
                    false => c.execute(&st.cancel, &[&self.cancel]).await,
                }
            },
            async {
                match self.fired {
                    None => Ok(0),
                    Some(t) => c.execute(&st.fired, &[&t]).await,
                }
            },
            async {
                match (self.update, &self.quarantine) {
                    (Some(u), Some(why)) => {
                        c.execute(&st.quarantine, &[&self.module, &u, why]).await
                    }
                    _ => Ok(0),
                }
            },
            async {
                match self.update {
                    Some(u) => c.execute(&st.done, &[&u, &self.module]).await,
                    None => Ok(0),
                }
            },
            // Last: its lock on the partition's row is held only until the `COMMIT` after it.
            async {
                match self.fence {
                    Some((p, e)) => c.execute(&st.fence, &[&p, &e]).await,
                    None => Ok(0),
                }
            },
        );
        // After the first failure every later statement fails too ("transaction is aborted"):
        // the first error in sending order is the one that counts.
        let rows = outbox?;
        tickets?;
        extras?;
        for r in [timers, cancel, fired, quarantine, done, fence] {
            r?;
        }
        Ok(rows)
    }
}

impl PgNamespace {
    /// Commits a handler call's transaction with its unit of work: KV writes, usage, the
    /// unit's rows and `COMMIT`, in one pipeline. An error: the connection failed (if after
    /// `COMMIT` was sent, the outcome is unknown; running the unit again is safe, its done mark
    /// refuses a second application).
    pub async fn commit_unit(&self, txn: &mut PgTxn, unit: &Unit) -> Result<UnitOutcome, KvError> {
        let rows = Rows::new(self.module(), unit)?;
        Ok(match self.end(txn, Some(&rows)).await? {
            Ended::Committed(rows) => {
                let mut seqs = rows
                    .iter()
                    .map(|r| r.try_get::<_, i64>(0).map(|s| s as u64))
                    .collect::<Result<Vec<u64>, _>>()
                    .map_err(|e| super::io(&e))?;
                seqs.sort_unstable();
                UnitOutcome::Committed { seqs }
            }
            Ended::Conflict => UnitOutcome::Conflict,
            Ended::Refused(Refusal::AlreadyDone, why) => UnitOutcome::AlreadyDone(why),
            Ended::Refused(Refusal::Fenced, why) => UnitOutcome::Fenced(why),
        })
    }
}
