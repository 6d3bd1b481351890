//! Group commit: one writer thread turns many small units of work into few durable transactions.
//!
//! Producers (intake, shards, the outbox) send [`Op`]s over a channel and go on. The writer takes
//! the first op, then everything else already waiting (up to [`MAX_GROUP`]), applies them in
//! arrival order inside one redb write transaction, commits it durably (one fsync for the group),
//! and only then tells everyone who waits for it. Arrival order is commit order, which is what
//! keeps a chat's messages in order and makes the KV overlay (see [`super::kv`]) correct.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
        mpsc,
    },
    thread,
};

use redb::{Database, ReadableTable};
use tokio::sync::{broadcast, oneshot};

use super::records::{Entry, RecentTickets};
use super::{
    INBOX, META, META_NEXT_SEQ, META_NEXT_TICKET, NewTimer, OUTBOX, PENDING, QUARANTINE,
    QUARANTINED_UPDATES, SEEN, TICKETS, TIMER_DUE, TIMERS, TicketRecord, files, kv::Namespace,
    kv_table_name, owners,
};
use crate::{Error, Result};

/// Most ops in one transaction.
const MAX_GROUP: usize = 4096;

/// One unit of work for the database.
pub enum Op {
    /// New updates from Telegram, each with the modules it is routed to. Ids in `skipped` are
    /// marked seen without being kept (malformed, or routed to no module).
    Record {
        /// (update id, raw JSON, modules).
        updates: Vec<(u64, String, Vec<String>)>,
        /// Update ids to mark seen only.
        skipped: Vec<u64>,
        /// Told once the updates are durable.
        done: Option<oneshot::Sender<Result<(), String>>>,
    },
    /// A module is finished with an update: its KV writes, its messages, its done mark.
    Handled(Box<Handled>),
    /// The outbox is finished with an entry (delivered or given up).
    Delivered {
        /// The outbox entry.
        seq: u64,
        /// The ticket record to store, if the entry had a ticket.
        ticket: Option<(u64, TicketRecord)>,
        /// File ids Telegram gave the entry's uploads: (SHA-256 hex, file id).
        uploaded: Vec<(String, String)>,
        /// What the delivered call made that later updates belong to: (owner key, module).
        owned: Vec<(String, String)>,
        /// Told once this is durable.
        done: Option<oneshot::Sender<Result<(), String>>>,
    },
    /// Ops that must be in the same transaction, applied in this order: an update's record and
    /// its handling, when the update was handled before its record was committed
    /// ([`super::HeldRecord`]). Nested `Together`s are not expected and are flattened.
    Together(Vec<Op>),
}

/// A module's unit of work for one update.
pub struct Handled {
    /// The module's namespace.
    pub namespace: Arc<Namespace>,
    /// The update, or `None` for work not caused by an update.
    pub update_id: Option<u64>,
    /// The KV writes (`None` deletes), applied in the overlay under `kv_seq`.
    pub writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// The overlay sequence number of `writes`.
    pub kv_seq: u64,
    /// Outgoing requests, in the order the module made them.
    pub outbox: Vec<Entry>,
    /// The bytes of the files `outbox` uploads: (SHA-256 hex, bytes).
    pub files: Vec<(String, bytes::Bytes)>,
    /// Why the update was given up, if it was.
    pub quarantine: Option<String>,
    /// The module whose recent-ticket list to clear once `outbox` is durable.
    pub tickets: Option<Arc<RecentTickets>>,
    /// Timers the handler scheduled.
    pub timers: Vec<NewTimer>,
    /// Timers the handler cancelled.
    pub cancel_timers: Vec<u64>,
    /// The timer whose firing this was (it is done, whatever the outcome).
    pub fired_timer: Option<u64>,
    /// Conversations the module declared it waits in, or withdrew (`store/conversations.rs`).
    pub expects: Vec<super::conversations::Expect>,
    /// Broadcasts queued in `outbox`: (first ticket, chats), recorded for their progress.
    pub broadcasts: Vec<(u64, u32)>,
    /// Told once this is durable.
    pub done: Option<oneshot::Sender<Result<(), String>>>,
}

/// What the writer reports after each durable commit.
#[derive(Debug, Clone)]
pub enum Committed {
    /// `module` finished update `update_id`.
    Handled {
        /// The module.
        module: Arc<str>,
        /// The update.
        update_id: u64,
    },
}

/// The sending side of the writer thread.
#[derive(Clone)]
pub struct Committer {
    tx: mpsc::Sender<Op>,
    events: broadcast::Sender<Committed>,
    thread: Arc<parking_lot::Mutex<Option<thread::JoinHandle<()>>>>,
    /// Durable transactions so far (one fsync each).
    commits: Arc<AtomicU64>,
    /// Where committed outbox entries go.
    outbox: tokio::sync::mpsc::UnboundedSender<(u64, Entry)>,
}

impl Committer {
    /// Starts the writer thread. Committed outbox entries go to `outbox` with their sequence
    /// numbers; a failed commit is reported on `fatal` and stops the writer. A full disk does
    /// not fail a commit: its writes wait for room below redb (`patient_file.rs`), so the
    /// writer only takes longer, and the ops sent meanwhile wait in the channel, in order.
    pub fn start(
        db: Arc<Database>,
        outbox: tokio::sync::mpsc::UnboundedSender<(u64, Entry)>,
        fatal: tokio::sync::watch::Sender<Option<String>>,
    ) -> Result<Committer> {
        let (tx, rx) = mpsc::channel::<Op>();
        let (events, _) = broadcast::channel(1 << 16);
        let mut next_seq = {
            let txn = db.begin_write()?;
            let seq = {
                let meta = txn.open_table(META)?;
                let stored = meta
                    .get(META_NEXT_SEQ)?
                    .and_then(|v| v.value().try_into().ok().map(u64::from_be_bytes));
                let last = txn.open_table(OUTBOX)?.last()?.map(|(k, _)| k.value() + 1);
                stored.unwrap_or(1).max(last.unwrap_or(1))
            };
            txn.abort()?;
            seq
        };
        let ev = events.clone();
        let to_outbox = outbox.clone();
        let commits = Arc::new(AtomicU64::new(0));
        let counted = commits.clone();
        let handle = thread::Builder::new()
            .name("botbox-commit".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut group = Vec::new();
                    flatten(first, &mut group);
                    while group.len() < MAX_GROUP {
                        match rx.try_recv() {
                            Ok(op) => flatten(op, &mut group),
                            Err(_) => break,
                        }
                    }
                    let mut new_entries = Vec::new();
                    let result = apply(&db, &group, &mut next_seq, &mut new_entries);
                    if result.is_ok() {
                        counted.fetch_add(1, Ordering::Relaxed);
                    }
                    let failure = result.as_ref().err().map(|e| e.to_string());
                    if let Some(msg) = &failure {
                        tracing::error!(error = %msg, "database commit failed; stopping");
                        let _ = fatal.send(Some(format!("database commit failed: {msg}")));
                    }
                    for op in group {
                        match op {
                            Op::Record { done, .. } | Op::Delivered { done, .. } => {
                                if let Some(done) = done {
                                    let _ = done.send(failure.clone().map_or(Ok(()), Err));
                                }
                            }
                            Op::Together(_) => unreachable!("flattened on arrival"),
                            Op::Handled(mut h) => {
                                if let Some(done) = h.done.take() {
                                    let _ = done.send(failure.clone().map_or(Ok(()), Err));
                                }
                                if failure.is_none() {
                                    h.namespace.mark_durable(&h.writes, h.kv_seq);
                                    if let Some(recent) = &h.tickets {
                                        recent.forget(h.outbox.iter().filter_map(|e| e.ticket));
                                    }
                                    if let Some(update_id) = h.update_id {
                                        let _ = ev.send(Committed::Handled {
                                            module: h.namespace.module().clone(),
                                            update_id,
                                        });
                                    }
                                }
                            }
                        }
                    }
                    if failure.is_some() {
                        break;
                    }
                    for e in new_entries {
                        let _ = outbox.send(e);
                    }
                }
            })
            .map_err(|e| Error::io("the commit thread", e))?;
        Ok(Committer {
            tx,
            events,
            thread: Arc::new(parking_lot::Mutex::new(Some(handle))),
            commits,
            outbox: to_outbox,
        })
    }

    /// Durable transactions committed so far: one fsync each, however many ops they held.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// What another store made durable (a unit of work on PostgreSQL, `modules/effects/pg.rs`),
    /// passed on as the writer passes on its own commits: the handling of `handled` (module,
    /// update) reported, then each outbox entry handed to the outbox with the sequence number
    /// that store gave it.
    pub fn committed_elsewhere(
        &self,
        handled: Option<(Arc<str>, u64)>,
        entries: Vec<(u64, Entry)>,
    ) {
        if let Some((module, update_id)) = handled {
            let _ = self.events.send(Committed::Handled { module, update_id });
        }
        for e in entries {
            let _ = self.outbox.send(e);
        }
    }

    /// Queues an op; it becomes durable with the next group.
    pub fn send(&self, op: Op) -> Result<()> {
        self.tx.send(op).map_err(|_| Error::ShuttingDown)
    }

    /// Queues an op and waits until it is durable.
    pub async fn commit(
        &self,
        op: impl FnOnce(oneshot::Sender<Result<(), String>>) -> Op,
    ) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.send(op(tx))?;
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::Corrupt(e)),
            Err(_) => Err(Error::ShuttingDown),
        }
    }

    /// The writer thread, to wait for after every sender is gone.
    pub fn take_thread(&self) -> Option<thread::JoinHandle<()>> {
        self.thread.lock().take()
    }

    /// Every durable commit, as it happens.
    pub fn subscribe(&self) -> broadcast::Receiver<Committed> {
        self.events.subscribe()
    }
}

/// Adds `op` to `group`, the ops of a [`Op::Together`] one by one in their order.
fn flatten(op: Op, group: &mut Vec<Op>) {
    match op {
        Op::Together(ops) => {
            for op in ops {
                flatten(op, group);
            }
        }
        op => group.push(op),
    }
}

fn apply(
    db: &Database,
    group: &[Op],
    next_seq: &mut u64,
    new_entries: &mut Vec<(u64, Entry)>,
) -> Result<()> {
    let txn = db.begin_write()?;
    let seq_before = *next_seq;
    let mut max_ticket = 0u64;
    let mut timer_deltas: Vec<(Arc<Namespace>, i64, i64)> = Vec::new();
    {
        let mut inbox = txn.open_table(INBOX)?;
        let mut pending = txn.open_table(PENDING)?;
        let mut seen = txn.open_table(SEEN)?;
        let mut outbox = txn.open_table(OUTBOX)?;
        let mut tickets = txn.open_table(TICKETS)?;
        let mut quarantine = txn.open_table(QUARANTINE)?;
        let mut quarantined_updates = txn.open_table(QUARANTINED_UPDATES)?;
        let mut timers = txn.open_table(TIMERS)?;
        let mut timer_due = txn.open_table(TIMER_DUE)?;
        let now = crate::clock::unix_secs();
        for op in group {
            match op {
                Op::Record {
                    updates, skipped, ..
                } => {
                    for (id, raw, modules) in updates {
                        seen.insert(*id, now)?;
                        inbox.insert(*id, raw.as_bytes())?;
                        for m in modules {
                            pending.insert((*id, m.as_str()), ())?;
                        }
                    }
                    for id in skipped {
                        seen.insert(*id, now)?;
                    }
                }
                Op::Handled(h) => {
                    let module = h.namespace.module();
                    if !h.writes.is_empty() {
                        let name = kv_table_name(module);
                        let def = redb::TableDefinition::<&[u8], &[u8]>::new(&name);
                        let mut kv = txn.open_table(def)?;
                        for (k, v) in &h.writes {
                            match v {
                                Some(v) => kv.insert(k.as_slice(), v.as_slice())?,
                                None => kv.remove(k.as_slice())?,
                            };
                        }
                    }
                    files::add(&txn, &h.files, &h.outbox)?;
                    super::broadcasts::record(&txn, module, &h.broadcasts)?;
                    super::conversations::record(&txn, &h.expects)?;
                    for entry in &h.outbox {
                        let bytes =
                            serde_json::to_vec(entry).map_err(|e| Error::Corrupt(e.to_string()))?;
                        outbox.insert(*next_seq, bytes.as_slice())?;
                        if let Some(t) = entry.ticket {
                            let rec = TicketRecord {
                                module: module.to_string(),
                                chat_id: entry.chat_id,
                                message_id: None,
                                failed: None,
                                settled_at_secs: 0,
                                result: None,
                            };
                            let rec = serde_json::to_vec(&rec)
                                .map_err(|e| Error::Corrupt(e.to_string()))?;
                            tickets.insert(t, rec.as_slice())?;
                            max_ticket = max_ticket.max(t);
                        }
                        new_entries.push((*next_seq, entry.clone()));
                        *next_seq += 1;
                    }
                    let (mut delta, mut bytes) = (0i64, 0i64);
                    for t in &h.timers {
                        let rec = serde_json::to_vec(&t.record)
                            .map_err(|e| Error::Corrupt(e.to_string()))?;
                        timers.insert((t.due_ms, t.id), rec.as_slice())?;
                        timer_due.insert(t.id, t.due_ms)?;
                        max_ticket = max_ticket.max(t.id);
                        delta += 1;
                        bytes += rec.len() as i64;
                    }
                    for id in h.cancel_timers.iter().chain(&h.fired_timer) {
                        let due = timer_due.remove(*id)?.map(|v| v.value());
                        if let Some(due) = due
                            && let Some(gone) = timers.remove((due, *id))?
                        {
                            delta -= 1;
                            bytes -= gone.value().len() as i64;
                        }
                    }
                    if delta != 0 || bytes != 0 {
                        timer_deltas.push((h.namespace.clone(), delta, bytes));
                    }
                    if let Some(id) = h.fired_timer
                        && let Some(reason) = &h.quarantine
                    {
                        tracing::warn!(module = %module, timer = id, "timer given up: {reason}");
                    }
                    if let Some(id) = h.update_id {
                        if let Some(reason) = &h.quarantine {
                            quarantine.insert((&**module, id), reason.as_str())?;
                            // Kept for the operator to read and hand back (the inbox row goes
                            // once no module owes the update a handling).
                            let raw = inbox.get(id)?.map(|v| v.value().to_vec());
                            if let Some(raw) = raw {
                                quarantined_updates.insert((&**module, id), raw.as_slice())?;
                            }
                        }
                        pending.remove((id, &**module))?;
                        let more = pending.range((id, "")..(id + 1, ""))?.next().is_some();
                        if !more {
                            inbox.remove(id)?;
                        }
                    }
                }
                Op::Together(_) => unreachable!("flattened on arrival"),
                Op::Delivered {
                    seq,
                    ticket,
                    uploaded,
                    owned,
                    ..
                } => {
                    owners::record(&txn, owned)?;
                    if let Some(removed) = outbox.remove(*seq)? {
                        files::release(&txn, removed.value(), uploaded)?;
                    }
                    if let Some((t, rec)) = ticket {
                        let rec =
                            serde_json::to_vec(rec).map_err(|e| Error::Corrupt(e.to_string()))?;
                        tickets.insert(*t, rec.as_slice())?;
                    }
                }
            }
        }
    }
    {
        let mut meta = txn.open_table(META)?;
        if *next_seq != seq_before {
            meta.insert(META_NEXT_SEQ, next_seq.to_be_bytes().as_slice())?;
        }
        if max_ticket > 0 {
            let stored = meta
                .get(META_NEXT_TICKET)?
                .and_then(|v| v.value().try_into().ok().map(u64::from_be_bytes))
                .unwrap_or(1);
            let next = stored.max(max_ticket + 1);
            meta.insert(META_NEXT_TICKET, next.to_be_bytes().as_slice())?;
        }
    }
    if let Err(e) = txn.commit() {
        *next_seq = seq_before;
        new_entries.clear();
        return Err(e.into());
    }
    for (ns, delta, bytes) in timer_deltas {
        ns.add_pending_timers(delta, bytes);
    }
    Ok(())
}
