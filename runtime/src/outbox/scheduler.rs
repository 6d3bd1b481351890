//! Delivers outbox entries: per-chat order, priorities, Telegram's limits, retries.
//!
//! The algorithm, on every wake-up (a new entry, a finished request, a timer):
//! 1. Answers to callback queries go out at once: they have no rate limit.
//! 2. Otherwise, while fewer than `max_in_flight` requests are out, send, of the chats whose
//!    *head* every limiter allows now (the chat's, the group's, the module's quota, and the
//!    global one — or the paid-broadcast one for bulk messages when paid broadcasts are on; see
//!    [`super::limits`]), the one that ranks first by (priority, queue sequence). A chat with a
//!    message in flight has no head to send. Only a chat's head is ever eligible, so a chat's
//!    messages leave in the order they were queued whatever their priorities; across chats
//!    interactive replies go before normal messages and normal before bulk.
//! 3. Bulk is never starved: while an eligible bulk message waits, at most `bulk_share - 1`
//!    other sends in a row go before it (default: at least one send in ten is bulk).
//! 4. Sleep until the earliest moment something could become eligible, or until new work or a
//!    result arrives.
//!
//! Choosing costs O(log n) in the n chats with something to send, not a look at every chat:
//! the chats are kept in an index ([`ready`]) that is told of every change of a chat (an entry
//! arrives, a request ends, a 429, a backoff, a block, a migration), which files that chat
//! again. A chat whose own limits (429 or backoff wait, token bucket, window, group window)
//! allow its head now is *ready*, in a lane per bot-wide limits its head waits for (global,
//! paid-broadcast or none; the module's quota), ordered by (priority, sequence, chat id). The
//! others wait in a heap by the instant their own limits open; each wake-up moves the chats
//! whose instant passed to the ready lanes. A send then asks each lane with ready chats whether
//! its bot-wide limits are open and takes the first chat of the open lanes (and the first bulk
//! one, for step 3): O(lanes × log n), with a few lanes per module. The wake-up instant is the
//! first waiting chat's, or when a closed lane's bot-wide limits reopen. Idle chats are
//! forgotten, once more than 10,000 are known, by a sweep at most once a second.
//!
//! Results: success → the delivery is committed (entry removed, ticket → message id) *before*
//! the chat's next message may go, so after a crash at most the one in-flight message per chat
//! can repeat. While the disk holding the database is full, no request starts; a delivery
//! Telegram confirmed meanwhile waits in memory for its commit, which completes once there is
//! room (`store/disk_full.rs`), so it is not sent again. 429 → the chat waits exactly
//! `retry_after`; when two different chats get a 429 within a second, the limit is the bot's,
//! and every chat waits `retry_after`. Network errors and 5xx → exponential backoff with jitter
//! (0.5 s doubling to `retry_max_backoff_ms`, 60 s by default), for as long as `retry_for_secs`
//! (a day by default) since the first failure: an outage of hours loses no reply (Telegram
//! keeps nothing for us, so giving up early is a lost message). 400 → the entry is given up,
//! recorded on its ticket for the module to read. 403 (the user blocked the bot, or the bot was
//! removed) → every pending entry of the chat is given up and the chat is marked, so later
//! messages to it are given up at once, until the user writes to the bot again. A group that
//! became a supergroup (`migrate_to_chat_id`) → its pending entries, and later ones, go to the
//! supergroup. Several pending edits of one message are merged into the last one.
//!
//! Several nodes on PostgreSQL ([`Deps::owned`]): the pickup claims the rows of this node's
//! partitions that its own commits did not hand over (`pickup.rs`); each entry is queued once
//! whatever way it came (`seqs.rs`); a chat whose partition moved to another node is dropped
//! unsent, and the bot-wide limits are this node's share of the bot's (`share.rs`).

mod call;
mod chat;
mod finish;
mod pickup;
mod push;
mod ready;
mod request;
mod seqs;
mod share;
mod shared;
mod snapshot;
mod uploads;

#[cfg(test)]
mod pg_tests;

pub use uploads::Uploads;

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::Arc,
    time::{Duration, Instant},
};

use parking_lot::Mutex;
use teloxide_core::Bot;
use tokio::sync::{mpsc, watch};

use self::{
    chat::{ChatQueue, Lane, Limiter},
    ready::ReadyIndex,
};
use super::{
    Action, Entry, Priority,
    limits::{Paced, TokenBucket},
    metrics::OutboxStats,
};
use crate::{
    config::OutboxConfig,
    store::{
        Committer, Db, TicketRecord,
        pg::{Delivered, PgStore},
    },
};

/// Everything the scheduler works with.
pub struct Deps {
    /// The Bot API client: on a client without a total timeout of its own
    /// (`bot_api::deadline::sending_bot`), each send bounded by [`SEND_TIMEOUT`] of running time.
    pub bot: Bot,
    /// The same connection for modules' calls of any method (`bot-api`).
    pub transport: crate::bot_api::transport::Transport,
    /// Files being uploaded and the ids they just got (one upload per file).
    pub uploads: Arc<Uploads>,
    /// The node's redb database: its disk's state, and on redb the tickets and queued files.
    pub db: Arc<Db>,
    /// The committer (deliveries, give-ups).
    pub committer: Committer,
    /// The shared store when it is on PostgreSQL: deliveries and give-ups are recorded there,
    /// and tickets and queued files read from there, instead of `db` and `committer`
    /// (`scheduler/shared.rs`).
    pub pg: Option<Arc<PgStore>>,
    /// What this node holds of a bot on PostgreSQL: nothing is sent while it is not sure its
    /// lease holds (after a pause, until a renewal tells; `store/pg/owned.rs`).
    pub owned: Option<Arc<crate::store::pg::Owned>>,
    /// Counters and metrics.
    pub stats: Arc<OutboxStats>,
    /// Chats whose user blocked the bot; intake removes a chat when its user writes again.
    pub blocked: Arc<Mutex<HashSet<i64>>>,
    /// Messages per minute each module may send, for modules with a quota.
    pub quotas: Arc<super::Quotas>,
    /// The bytes each module has waiting, kept here as entries arrive and leave.
    pub queued: Arc<super::QueuedBytes>,
    /// Pre-checkout queries: a module's answer leaves only if the host has not answered.
    pub checkouts: Arc<super::checkouts::Checkouts>,
}

/// What became of one request.
pub(crate) enum Outcome {
    Done,
    RetryAfter(Duration),
    Transient(String),
    Blocked(String),
    Migrated(i64),
}

struct Finished {
    chat_id: i64,
    seq: u64,
    outcome: Outcome,
    /// (ticket, message id) of a delivered message.
    delivered: Option<(u64, i32)>,
}

/// Runs the scheduler until `shutdown` turns true. On PostgreSQL with several nodes
/// ([`Deps::owned`]) the pickup runs beside it (`scheduler/pickup.rs`).
pub async fn run(
    deps: Deps,
    cfg: OutboxConfig,
    initial: Vec<(u64, Entry)>,
    rx: mpsc::UnboundedReceiver<(u64, Entry)>,
    shutdown: watch::Receiver<bool>,
) {
    let claims = match (&deps.pg, &deps.owned) {
        (Some(pg), Some(owned)) => {
            let (tx, claims) = mpsc::unbounded_channel();
            let (pg, owned) = (pg.clone(), owned.clone());
            tokio::spawn(pickup::run(pg, owned, tx, shutdown.clone()));
            Some(claims)
        }
        _ => None,
    };
    run_with(deps, cfg, initial, rx, claims, shutdown).await;
}

/// [`run`], with the claims' answers from `claims` (tests feed them).
async fn run_with(
    deps: Deps,
    cfg: OutboxConfig,
    initial: Vec<(u64, Entry)>,
    mut rx: mpsc::UnboundedReceiver<(u64, Entry)>,
    mut claims: Option<mpsc::UnboundedReceiver<pickup::Claims>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let now = Instant::now();
    let deps = Arc::new(deps);
    let mut s = Scheduler::new(cfg, now, shutdown.clone());
    if claims.is_some() {
        s.seqs.keep_finished();
    }
    // What was committed between the committer's start and the read of `initial` (replies to
    // updates resumed at start) is in both (`outbox/queued.rs`).
    let mut read = super::queued::ReadAtStart::new(&initial, deps.pg.is_some());
    for (seq, e) in initial {
        s.push(&deps, seq, e);
    }
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Finished>();
    loop {
        let wake = s.dispatch(&deps, &done_tx);
        s.snapshot(&deps.stats);
        let wake = wake.unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
        let sleep =
            tokio::time::sleep_until(wake.min(Instant::now() + Duration::from_secs(1)).into());
        tokio::select! {
            biased;
            _ = shutdown.changed() => {
                if *shutdown.borrow() { break; }
            }
            Some(f) = done_rx.recv() => {
                s.finish(&deps, f);
                while let Ok(f) = done_rx.try_recv() {
                    s.finish(&deps, f);
                }
            }
            got = pickup::next(&mut claims) => match got {
                Some(c) => s.take_claims(&deps, c),
                None => claims = None,
            },
            got = rx.recv() => {
                let Some((seq, e)) = got else { break };
                if read.is_new(seq) {
                    s.push(&deps, seq, e);
                }
                while let Ok((seq, e)) = rx.try_recv() {
                    if read.is_new(seq) {
                        s.push(&deps, seq, e);
                    }
                }
            }
            _ = sleep => {}
        }
    }
    // A clean stop lets the requests in flight end and record what they did, for a while: a
    // delivery not recorded is sent again at the next start.
    let drained = async {
        while s.in_flight > 0 {
            let Some(f) = done_rx.recv().await else { break };
            s.finish(&deps, f);
        }
    };
    if tokio::time::timeout(DRAIN, drained).await.is_err() {
        tracing::info!(
            in_flight = s.in_flight,
            "stopped with requests still in flight; they are sent again at the next start"
        );
    }
}

/// How long a clean stop waits for the requests in flight.
const DRAIN: Duration = Duration::from_secs(5);

/// How long one delivery may take (a 50 MB upload included), counted in the process's running
/// time (`bot_api/deadline.rs`): past it the entry is tried again, and may arrive twice.
const SEND_TIMEOUT: Duration = Duration::from_secs(120);

/// The scheduler's state: the chats' queues, the index choosing among them, the bot-wide
/// limiters.
struct Scheduler {
    chats: HashMap<i64, ChatQueue>,
    /// The chats with something to send, ready or waiting (see [`ready`]).
    ready: ReadyIndex<Lane>,
    /// Chats taken out of `ready` at a wake-up to be filed again (kept for its allocation).
    due: Vec<i64>,
    callbacks: VecDeque<(u64, Entry)>,
    global: Paced,
    paid: Option<Paced>,
    global_blocked_until: Option<Instant>,
    /// Each module's quota as (messages per minute, bucket).
    modules: HashMap<String, (u32, TokenBucket)>,
    /// The generation of the quotas `modules` reflects.
    quota_generation: Option<u64>,
    in_flight: usize,
    cfg: OutboxConfig,
    /// Message ids of recently delivered tickets (older ones are looked up in the database).
    message_ids: HashMap<u64, i32>,
    /// Non-bulk sends in a row while a bulk message was eligible.
    since_bulk: u32,
    last_429: Option<(Instant, i64)>,
    /// Groups that became supergroups: old id → new id.
    migrated: HashMap<i64, i64>,
    /// Queued entries per priority.
    depth: [u64; 4],
    last_snapshot: (Instant, u64),
    /// When the metrics were last logged.
    last_log: Instant,
    /// When idle chats were last forgotten.
    last_sweep: Instant,
    /// Turns true when the bot stops: records on PostgreSQL stop being tried again.
    stop: watch::Receiver<bool>,
    /// The entries queued or in flight, and those finished lately (`scheduler/seqs.rs`).
    seqs: seqs::Seqs,
    /// The generation of the partitions held that the chats were last looked over at, and the
    /// nodes the bot-wide limits are shared by (`scheduler/share.rs`).
    generation: Option<u64>,
    nodes: u32,
}

fn slot(p: Priority) -> usize {
    match p {
        Priority::Callback => 0,
        Priority::Interactive => 1,
        Priority::Normal => 2,
        Priority::Bulk => 3,
    }
}

impl Scheduler {
    fn new(cfg: OutboxConfig, now: Instant, stop: watch::Receiver<bool>) -> Scheduler {
        Scheduler {
            chats: HashMap::new(),
            ready: ReadyIndex::new(),
            due: Vec::new(),
            callbacks: VecDeque::new(),
            global: Paced::new(cfg.global_per_second, now),
            paid: cfg
                .paid_broadcast
                .then(|| Paced::new(cfg.paid_broadcast_per_second, now)),
            global_blocked_until: None,
            modules: HashMap::new(),
            quota_generation: None,
            in_flight: 0,
            cfg,
            message_ids: HashMap::new(),
            since_bulk: 0,
            last_429: None,
            migrated: HashMap::new(),
            depth: [0; 4],
            last_snapshot: (now, 0),
            last_log: now,
            last_sweep: now,
            stop,
            seqs: seqs::Seqs::default(),
            generation: None,
            nodes: 1,
        }
    }

    /// Files `chat_id` in the index again after a change of its state.
    fn refile(&mut self, chat_id: i64, now: Instant) {
        let paid = self.paid.is_some();
        match self
            .chats
            .get_mut(&chat_id)
            .and_then(|c| c.filing(chat_id, paid, now))
        {
            Some((lane, key, at)) => self.ready.file(chat_id, lane, key, at, now),
            None => self.ready.remove(chat_id),
        }
    }

    /// Follows changes of the modules' quotas; a module whose quota did not change keeps its
    /// bucket.
    fn refresh_quotas(&mut self, quotas: &super::Quotas, now: Instant) {
        if self.quota_generation == Some(quotas.generation()) {
            return;
        }
        let (generation, map) = quotas.snapshot();
        self.modules.retain(|m, (q, _)| map.get(m) == Some(q));
        for (m, per_min) in map {
            self.modules.entry(m).or_insert_with(|| {
                let rate = f64::from(per_min);
                (
                    per_min,
                    TokenBucket::new((rate / 6.0).max(1.0), rate / 60.0, now),
                )
            });
        }
        self.quota_generation = Some(generation);
    }

    /// Starts every request that may go now; returns when to look again.
    fn dispatch(
        &mut self,
        deps: &Arc<Deps>,
        done: &mpsc::UnboundedSender<Finished>,
    ) -> Option<Instant> {
        // A delivery that could not be recorded would be sent again after a restart: nothing
        // goes while the disk is full (the loop looks again within a second).
        if deps.db.disk().is_full() {
            return None;
        }
        // Nor while this node is not sure it still holds its chats (a bot on PostgreSQL):
        // another node may have taken them and be sending their messages.
        if deps.owned.as_ref().is_some_and(|o| !o.holds()) {
            return None;
        }
        self.follow_share(deps, Instant::now());
        while let Some((seq, e)) = self.callbacks.pop_front() {
            self.in_flight += 1;
            request::spawn(deps, done, &self.stop, seq, e, None, false);
        }
        let now = Instant::now();
        self.refresh_quotas(&deps.quotas, now);
        let mut due = std::mem::take(&mut self.due);
        self.ready.take_due(now, &mut due);
        for chat_id in due.drain(..) {
            self.refile(chat_id, now);
        }
        self.due = due;
        let mut wake: Option<Instant> = None;
        let mut earliest = |t: Instant| wake = Some(wake.map_or(t, |w: Instant| w.min(t)));
        if let Some(until) = self.global_blocked_until {
            if until > now {
                earliest(until);
                return wake;
            }
            self.global_blocked_until = None;
        }
        while self.in_flight < self.cfg.max_in_flight {
            let global_at = self.global.ready_at(now);
            let paid_at = self.paid.as_mut().map(|p| p.ready_at(now));
            if global_at > now && paid_at.is_none_or(|p| p > now) {
                earliest(global_at.min(paid_at.unwrap_or(global_at)));
                break;
            }
            let modules = &mut self.modules;
            let best = self.ready.best(|lane| {
                let mut at = match lane.limiter {
                    Limiter::Unlimited => now,
                    Limiter::Global => global_at,
                    Limiter::Paid => paid_at.unwrap_or(global_at),
                };
                if let Some((_, q)) = modules.get_mut(&lane.module) {
                    at = at.max(q.ready_at(now));
                }
                if at > now {
                    earliest(at);
                }
                at <= now
            });
            let Some(mut pick) = best.first else { break };
            if pick.0 != Priority::Bulk
                && let Some(bulk) = best.bulk
            {
                if self.since_bulk + 1 >= self.cfg.bulk_share {
                    pick = bulk;
                } else {
                    self.since_bulk += 1;
                }
            }
            if pick.0 == Priority::Bulk {
                self.since_bulk = 0;
            }
            // Its partition moved to another node: that node sends it.
            if !self.sends(deps, pick.2) {
                self.drop_chat(deps, pick.2, now);
                continue;
            }
            self.start(deps, done, pick.2);
        }
        if let Some(at) = self.ready.next_due() {
            earliest(at);
        }
        // Forget idle chats, so memory follows active chats.
        if self.chats.len() > 10_000
            && now.duration_since(self.last_sweep) >= Duration::from_secs(1)
        {
            self.last_sweep = now;
            self.chats.retain(|_, c| !c.is_idle(now));
        }
        wake
    }

    /// Sends the head of `chat_id`, a ready chat the index chose: takes from every limiter
    /// that applies, and takes the chat out of the index until the request ends.
    fn start(&mut self, deps: &Arc<Deps>, done: &mpsc::UnboundedSender<Finished>, chat_id: i64) {
        self.ready.remove(chat_id);
        let c = self
            .chats
            .get_mut(&chat_id)
            .expect("the index holds known chats");
        let (seq, e) = c
            .queue
            .front()
            .cloned()
            .expect("the index holds chats with a head");
        if e.is_limited() {
            c.bucket.take();
            c.window.take();
            if let Some(g) = &mut c.group {
                g.take();
            }
            let paid = match &mut self.paid {
                Some(p) if e.priority == Priority::Bulk => {
                    p.take();
                    true
                }
                _ => {
                    self.global.take();
                    false
                }
            };
            c.limited_in_flight = Some(paid);
        }
        if let Some((_, q)) = self.modules.get_mut(&e.module) {
            q.take();
        }
        c.busy = true;
        self.in_flight += 1;
        let resolved = match &e.action {
            Action::EditText {
                target: super::Target::Ticket(t),
                ..
            }
            | Action::Delete {
                target: super::Target::Ticket(t),
            }
            | Action::Call {
                acting_on: Some((_, t)),
                ..
            } => self.message_ids.get(t).copied(),
            _ => None,
        };
        let paid = self.paid.is_some() && e.priority == Priority::Bulk;
        request::spawn(deps, done, &self.stop, seq, e, resolved, paid);
    }

    fn give_up(&mut self, deps: &Deps, seq: u64, e: &Entry, why: &str) {
        self.seqs.finished(seq, Instant::now());
        self.depth[slot(e.priority)] = self.depth[slot(e.priority)].saturating_sub(1);
        deps.queued.remove(&e.module, e.payload_bytes());
        give_up(deps, &self.stop, seq, e, why);
    }
}

/// Records that an entry will not be delivered (on its ticket, for the module to read).
fn give_up(deps: &Deps, stop: &watch::Receiver<bool>, seq: u64, e: &Entry, why: &str) {
    deps.stats.count(&deps.stats.failed);
    let ticket = e.ticket.map(|t| {
        (
            t,
            TicketRecord {
                module: e.module.clone(),
                chat_id: e.chat_id,
                message_id: None,
                failed: Some(why.to_string()),
                settled_at_secs: crate::clock::unix_secs(),
                result: None,
            },
        )
    });
    let d = Delivered {
        seq,
        ticket,
        ..Delivered::default()
    };
    shared::finish_later(deps, stop, d);
}
