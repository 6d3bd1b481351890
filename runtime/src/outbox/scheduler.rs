//! Delivers outbox entries: per-chat order, priorities, Telegram's limits, retries.
//!
//! The algorithm, on every wake-up (a new entry, a finished request, a timer):
//! 1. Answers to callback queries go out at once: they have no rate limit.
//! 2. Otherwise, while fewer than `max_in_flight` requests are out, look at the *head* of every
//!    chat's queue that has nothing in flight and is not blocked, and keep those every limiter
//!    allows now (the chat's, the group's, the module's quota, and the global one — or the
//!    paid-broadcast one for bulk messages when paid broadcasts are on; see [`super::limits`]).
//!    Send the one that ranks first by (priority, queue sequence). Only a chat's head is ever
//!    eligible, so a chat's messages leave in the order they were queued whatever their
//!    priorities; across chats interactive replies go before normal messages and normal before
//!    bulk.
//! 3. Bulk is never starved: while an eligible bulk message waits, at most `bulk_share - 1`
//!    other sends in a row go before it (default: at least one send in ten is bulk).
//! 4. Sleep until the earliest moment something could become eligible, or until new work or a
//!    result arrives.
//!
//! Results: success → the delivery is committed (entry removed, ticket → message id) *before*
//! the chat's next message may go, so after a crash at most the one in-flight message per chat
//! can repeat. While the disk holding the database is full, no request starts; a delivery
//! Telegram confirmed meanwhile waits in memory for its commit, which completes once there is
//! room (`store/disk_full.rs`), so it is not sent again. 429 → the chat waits exactly `retry_after`; when two different chats get a 429
//! within a second, the limit is the bot's, and every chat waits `retry_after`. Network errors
//! and 5xx → exponential backoff with jitter (0.5 s doubling to `retry_max_backoff_ms`, 60 s by
//! default), for as long as `retry_for_secs` (a day by default) since the first failure: an
//! outage of hours loses no reply (Telegram keeps nothing for us, so giving up early is a lost
//! message). 400 → the entry is given up, recorded on its ticket for the module to read. 403 (the
//! user blocked the bot, or the bot was removed) → every pending entry of the chat is given up
//! and the chat is marked, so later messages to it are given up at once, until the user writes
//! to the bot again. A group that became a supergroup (`migrate_to_chat_id`) → its pending
//! entries, and later ones, go to the supergroup. Several pending edits of one message are
//! merged into the last one.

mod call;
mod request;
mod uploads;

pub use uploads::Uploads;

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::Arc,
    time::{Duration, Instant},
};

use parking_lot::Mutex;
use rand::Rng;
use teloxide_core::Bot;
use tokio::sync::{mpsc, watch};

use super::{
    Action, Entry, Priority,
    limits::{SlidingWindow, TokenBucket},
    metrics::{Metrics, OutboxStats},
};
use crate::{
    config::OutboxConfig,
    store::{Committer, Db, Op, TicketRecord},
};

/// Everything the scheduler works with.
pub struct Deps {
    /// The Bot API client.
    pub bot: Bot,
    /// The same connection for modules' calls of any method (`bot-api`).
    pub transport: crate::bot_api::transport::Transport,
    /// Files being uploaded and the ids they just got (one upload per file).
    pub uploads: Arc<Uploads>,
    /// The database (ticket look-ups).
    pub db: Arc<Db>,
    /// The committer (deliveries, give-ups).
    pub committer: Committer,
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

struct ChatQueue {
    queue: VecDeque<(u64, Entry)>,
    busy: bool,
    blocked_until: Option<Instant>,
    bucket: TokenBucket,
    window: SlidingWindow,
    group: Option<SlidingWindow>,
    failures: u32,
    /// When the head entry's first transient failure happened; it is given up once that is
    /// `retry_for_secs` ago.
    failing_since: Option<Instant>,
    /// The request in flight took from the limiters: `Some(true)` from the paid-broadcast one,
    /// `Some(false)` from the global one. Its end is recorded in them (see [`super::limits`]).
    limited_in_flight: Option<bool>,
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

/// Runs the scheduler until `shutdown` turns true.
pub async fn run(
    deps: Deps,
    cfg: OutboxConfig,
    initial: Vec<(u64, Entry)>,
    mut rx: mpsc::UnboundedReceiver<(u64, Entry)>,
    mut shutdown: watch::Receiver<bool>,
) {
    let now = Instant::now();
    let deps = Arc::new(deps);
    let mut s = Scheduler {
        chats: HashMap::new(),
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
    };
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
            got = rx.recv() => {
                let Some((seq, e)) = got else { break };
                s.push(&deps, seq, e);
                while let Ok((seq, e)) = rx.try_recv() {
                    s.push(&deps, seq, e);
                }
            }
            _ = sleep => {}
        }
    }
}

/// A bot-wide limit: a hard sliding window, paced by a small token bucket so that sends are
/// spread over the second instead of leaving in one burst (a reply arriving mid-second then
/// waits one slot, ~33 ms at 30/s, not for the window to reopen).
struct Paced {
    window: SlidingWindow,
    pace: TokenBucket,
}

impl Paced {
    fn new(per_second: u32, now: Instant) -> Paced {
        let rate = f64::from(per_second);
        Paced {
            window: SlidingWindow::new(per_second, Duration::from_secs(1)),
            pace: TokenBucket::new((rate / 10.0).max(1.0), rate, now),
        }
    }

    fn ready_at(&mut self, now: Instant) -> Instant {
        self.window.ready_at(now).max(self.pace.ready_at(now))
    }

    fn take(&mut self) {
        self.window.take();
        self.pace.take();
    }
}

struct Scheduler {
    chats: HashMap<i64, ChatQueue>,
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
    fn new_chat(cfg: &OutboxConfig, chat_id: i64, now: Instant) -> ChatQueue {
        ChatQueue {
            queue: VecDeque::new(),
            busy: false,
            blocked_until: None,
            bucket: TokenBucket::new(f64::from(cfg.chat_burst), cfg.chat_per_second, now),
            window: SlidingWindow::new(cfg.chat_burst, Duration::from_secs(1)),
            group: (chat_id < 0)
                .then(|| SlidingWindow::new(cfg.group_per_minute, Duration::from_secs(60))),
            failures: 0,
            failing_since: None,
            limited_in_flight: None,
        }
    }

    fn push(&mut self, deps: &Deps, seq: u64, mut e: Entry) {
        self.depth[slot(e.priority)] += 1;
        deps.queued.add(&e.module, e.payload_bytes());
        if e.priority == Priority::Callback {
            self.callbacks.push_back((seq, e));
            return;
        }
        if let Some(new) = self.migrated.get(&e.chat_id) {
            e.chat_id = *new;
        }
        if deps.blocked.lock().contains(&e.chat_id) {
            self.give_up(deps, seq, &e, "the user blocked the bot");
            return;
        }
        let now = Instant::now();
        let chat = self
            .chats
            .entry(e.chat_id)
            .or_insert_with(|| Self::new_chat(&self.cfg, e.chat_id, now));
        if let Action::EditText { target, .. } = &e.action {
            // Merge with a pending edit of the same message (not one already in flight).
            let skip = usize::from(chat.busy);
            let earlier = chat.queue.iter().skip(skip).position(
                |(_, q)| matches!(&q.action, Action::EditText { target: t, .. } if t == target),
            );
            if let Some(i) = earlier {
                let (old_seq, old) = chat.queue.remove(i + skip).expect("found above");
                deps.stats.count(&deps.stats.coalesced);
                self.depth[slot(old.priority)] -= 1;
                deps.queued.remove(&old.module, old.payload_bytes());
                let _ = deps.committer.send(Op::Delivered {
                    seq: old_seq,
                    ticket: None,
                    uploaded: Vec::new(),
                    owned: Vec::new(),
                    done: None,
                });
            }
        }
        let chat = self.chats.get_mut(&e.chat_id).expect("inserted above");
        chat.queue.push_back((seq, e));
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
        while let Some((seq, e)) = self.callbacks.pop_front() {
            self.in_flight += 1;
            request::spawn(deps, done, seq, e, None, false);
        }
        let now = Instant::now();
        self.refresh_quotas(&deps.quotas, now);
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
            let mut best: Option<(Priority, u64, i64)> = None;
            let mut best_bulk: Option<(Priority, u64, i64)> = None;
            for (&chat_id, c) in &mut self.chats {
                let Some((seq, head)) = c.queue.front() else {
                    continue;
                };
                if c.busy {
                    continue;
                }
                if let Some(until) = c.blocked_until {
                    if until > now {
                        earliest(until);
                        continue;
                    }
                    c.blocked_until = None;
                }
                let bulk = head.priority == Priority::Bulk;
                let mut at = now;
                if head.is_limited() {
                    at = at.max(c.bucket.ready_at(now)).max(c.window.ready_at(now));
                    if let Some(g) = &mut c.group {
                        at = at.max(g.ready_at(now));
                    }
                    at = at.max(match paid_at {
                        Some(p) if bulk => p,
                        _ => global_at,
                    });
                }
                if let Some((_, q)) = self.modules.get_mut(&head.module) {
                    at = at.max(q.ready_at(now));
                }
                if at > now {
                    earliest(at);
                    continue;
                }
                let key = (head.priority, *seq, chat_id);
                if best.is_none_or(|b| key < b) {
                    best = Some(key);
                }
                if bulk && best_bulk.is_none_or(|b| key < b) {
                    best_bulk = Some(key);
                }
            }
            let Some(mut pick) = best else { break };
            if pick.0 != Priority::Bulk
                && let Some(bulk) = best_bulk
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
            self.start(deps, done, pick.2);
        }
        // Forget idle chats, so memory follows active chats.
        if self.chats.len() > 10_000 {
            self.chats.retain(|_, c| {
                !c.queue.is_empty()
                    || c.busy
                    || !c.bucket.is_full(now)
                    || !c.window.is_idle(now)
                    || c.group.as_mut().is_some_and(|g| !g.is_idle(now))
            });
        }
        wake
    }

    fn start(&mut self, deps: &Arc<Deps>, done: &mpsc::UnboundedSender<Finished>, chat_id: i64) {
        let c = self.chats.get_mut(&chat_id).expect("chosen from the map");
        let (seq, e) = c.queue.front().cloned().expect("has a head");
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
        request::spawn(deps, done, seq, e, resolved, paid);
    }

    fn finish(&mut self, deps: &Deps, f: Finished) {
        self.in_flight -= 1;
        if let Some((ticket, id)) = f.delivered {
            if self.message_ids.len() >= 100_000 {
                self.message_ids.clear();
            }
            self.message_ids.insert(ticket, id);
        }
        if f.chat_id == 0 {
            self.depth[0] = self.depth[0].saturating_sub(1);
            return;
        }
        let now = Instant::now();
        let Some(c) = self.chats.get_mut(&f.chat_id) else {
            return;
        };
        c.busy = false;
        if let Some(paid) = c.limited_in_flight.take() {
            c.window.settle(now);
            if let Some(g) = &mut c.group {
                g.settle(now);
            }
            match &mut self.paid {
                Some(p) if paid => p.window.settle(now),
                _ => self.global.window.settle(now),
            }
        }
        match f.outcome {
            Outcome::Done => {
                c.failures = 0;
                c.failing_since = None;
                if c.queue.front().is_some_and(|(s, _)| *s == f.seq)
                    && let Some((_, e)) = c.queue.pop_front()
                {
                    self.depth[slot(e.priority)] -= 1;
                    deps.queued.remove(&e.module, e.payload_bytes());
                }
            }
            Outcome::RetryAfter(d) => {
                deps.stats.count(&deps.stats.rate_limited);
                c.blocked_until = Some(now + d);
                // Two chats limited within a second: the limit is the bot's, not the chat's.
                if let Some((at, other)) = self.last_429
                    && other != f.chat_id
                    && now.duration_since(at) < Duration::from_secs(1)
                {
                    tracing::warn!(retry_after = ?d, "Telegram limits the whole bot; every chat waits");
                    self.global_blocked_until = Some(now + d);
                }
                self.last_429 = Some((now, f.chat_id));
            }
            Outcome::Transient(err) => {
                c.failures += 1;
                let since = *c.failing_since.get_or_insert(now);
                let retry_for = Duration::from_secs(self.cfg.retry_for_secs);
                if now.duration_since(since) >= retry_for {
                    tracing::warn!(chat = f.chat_id, error = %err, tries = c.failures, "giving up a message: it failed for {retry_for:?}");
                    c.failures = 0;
                    c.failing_since = None;
                    if let Some((seq, e)) = c.queue.pop_front() {
                        self.give_up(deps, seq, &e, &err);
                    }
                } else {
                    // 0.5 s, 1 s, 2 s ... capped at retry_max_backoff_ms, with ±25% jitter.
                    let cap = self.cfg.retry_max_backoff_ms.max(1);
                    let base = (500u64 << c.failures.min(7)).min(cap) as f64;
                    let jitter = rand::rng().random_range(0.75..1.25);
                    c.blocked_until = Some(now + Duration::from_millis((base * jitter) as u64));
                }
            }
            Outcome::Blocked(err) => {
                tracing::info!(
                    chat = f.chat_id,
                    "chat unreachable ({err}); dropping its pending messages"
                );
                deps.blocked.lock().insert(f.chat_id);
                let pending: Vec<_> = c.queue.drain(..).collect();
                for (seq, e) in pending {
                    self.give_up(deps, seq, &e, &err);
                }
            }
            Outcome::Migrated(new) => {
                tracing::info!(
                    old = f.chat_id,
                    new,
                    "group became a supergroup; its messages follow it"
                );
                self.migrated.insert(f.chat_id, new);
                let old = self.chats.remove(&f.chat_id).expect("looked up above");
                let target = self
                    .chats
                    .entry(new)
                    .or_insert_with(|| Self::new_chat(&self.cfg, new, now));
                for (seq, mut e) in old.queue.into_iter().rev() {
                    e.chat_id = new;
                    target.queue.push_front((seq, e));
                }
            }
        }
    }

    fn give_up(&mut self, deps: &Deps, seq: u64, e: &Entry, why: &str) {
        self.depth[slot(e.priority)] = self.depth[slot(e.priority)].saturating_sub(1);
        deps.queued.remove(&e.module, e.payload_bytes());
        give_up(deps, seq, e, why);
    }

    /// Refreshes the metrics snapshot, at most twice a second.
    fn snapshot(&mut self, stats: &OutboxStats) {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last_snapshot.0);
        if elapsed < Duration::from_millis(500) {
            return;
        }
        let sent = stats.delivered.load(std::sync::atomic::Ordering::Relaxed);
        let oldest = self
            .chats
            .values()
            .filter_map(|c| c.queue.front().map(|(_, e)| e.queued_at_ms))
            .chain(self.callbacks.front().map(|(_, e)| e.queued_at_ms))
            .min();
        let metrics = Metrics {
            queued_callback: self.depth[0],
            queued_interactive: self.depth[1],
            queued_normal: self.depth[2],
            queued_bulk: self.depth[3],
            oldest_age_ms: oldest.map_or(0, |t| crate::clock::unix_ms().saturating_sub(t)),
            sent_per_second: (sent - self.last_snapshot.1) as f64 / elapsed.as_secs_f64(),
            sent_total: sent,
            rate_limited_total: stats
                .rate_limited
                .load(std::sync::atomic::Ordering::Relaxed),
            failed_total: stats.failed.load(std::sync::atomic::Ordering::Relaxed),
        };
        let queued = metrics.queued_callback
            + metrics.queued_interactive
            + metrics.queued_normal
            + metrics.queued_bulk;
        if queued > 0 && now.duration_since(self.last_log) >= Duration::from_secs(60) {
            self.last_log = now;
            tracing::info!(
                queued_interactive = metrics.queued_interactive,
                queued_normal = metrics.queued_normal,
                queued_bulk = metrics.queued_bulk,
                oldest_age_ms = metrics.oldest_age_ms,
                sent_per_second = metrics.sent_per_second,
                rate_limited_total = metrics.rate_limited_total,
                "outbox"
            );
        }
        *stats.snapshot.lock() = metrics;
        self.last_snapshot = (now, sent);
    }
}

/// Records that an entry will not be delivered (on its ticket, for the module to read).
fn give_up(deps: &Deps, seq: u64, e: &Entry, why: &str) {
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
    let _ = deps.committer.send(Op::Delivered {
        seq,
        ticket,
        uploaded: Vec::new(),
        owned: Vec::new(),
        done: None,
    });
}
