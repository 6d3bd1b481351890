//! Delivers outbox entries: per-chat order, priorities, Telegram's limits, retries.
//!
//! The algorithm, on every wake-up (a new entry, a finished request, a timer):
//! 1. Answers to callback queries go out at once: they have no rate limit.
//! 2. Otherwise, while fewer than `max_in_flight` requests are out and the global bucket has a
//!    token, pick among chats that have nothing in flight and are not blocked the one whose
//!    *head* entry ranks first by (priority, queue sequence), provided the chat's (and, for a
//!    group, the group's) bucket has a token. Only a chat's head is ever eligible, so a chat's
//!    messages leave in the order they were queued whatever their priorities; across chats
//!    interactive replies go before normal ones and normal before bulk. Bulk is not starved:
//!    it waits only while higher priorities are actually ready to go out, and the per-chat
//!    limits stop any one conversation from taking the whole global rate.
//! 3. Sleep until the earliest moment something could become eligible (a bucket refilling, a
//!    block ending) or until new work or a result arrives.
//!
//! A request's result decides what happens to its chat: success → the delivery is committed
//! (entry removed, ticket → message id stored) *before* the chat's next message may go;
//! 429 → the chat waits exactly `retry_after`; network errors and 5xx → exponential backoff
//! with jitter, at most [`MAX_ATTEMPTS`] tries; other errors (400) → the entry is given up and
//! recorded on its ticket; 403 (the user blocked the bot) → every pending entry of that chat is
//! given up.

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
    time::{Duration, Instant},
};

use rand::Rng;
use teloxide_core::{
    ApiError, Bot, RequestError,
    payloads::{AnswerCallbackQuerySetters, EditMessageTextSetters, SendMessageSetters},
    prelude::Requester,
    types::{
        CallbackQueryId, ChatId, InlineKeyboardMarkup, MessageId, ParseMode, ReplyMarkup,
        ReplyParameters,
    },
};
use tokio::sync::{mpsc, watch};

use super::{Action, Entry, Target, limits::TokenBucket};
use crate::{
    config::OutboxConfig,
    store::{Committer, Db, Op, TicketRecord},
};

/// Tries of one entry against network errors and 5xx before it is given up.
pub const MAX_ATTEMPTS: u32 = 10;

struct ChatQueue {
    queue: VecDeque<(u64, Entry)>,
    busy: bool,
    blocked_until: Option<Instant>,
    bucket: TokenBucket,
    group: Option<TokenBucket>,
    failures: u32,
}

enum Outcome {
    Done,
    RetryAfter(Duration),
    Transient(String),
    Blocked(String),
}

struct Finished {
    chat_id: i64,
    seq: u64,
    outcome: Outcome,
    /// (ticket, message id) of a delivered message.
    delivered: Option<(u64, i32)>,
}

/// Counters of the outbox, for tests, benchmarks and metrics.
#[derive(Debug, Default)]
pub struct OutboxStats {
    /// Requests Telegram accepted.
    pub delivered: std::sync::atomic::AtomicU64,
    /// 429 answers received.
    pub rate_limited: std::sync::atomic::AtomicU64,
    /// Entries given up.
    pub failed: std::sync::atomic::AtomicU64,
}

/// Runs the scheduler until `shutdown` turns true.
#[expect(
    clippy::too_many_arguments,
    reason = "the scheduler's whole context, given once at start"
)]
pub async fn run(
    bot: Bot,
    db: Arc<Db>,
    committer: Committer,
    cfg: OutboxConfig,
    initial: Vec<(u64, Entry)>,
    mut rx: mpsc::UnboundedReceiver<(u64, Entry)>,
    stats: Arc<OutboxStats>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut s = Scheduler {
        chats: HashMap::new(),
        callbacks: VecDeque::new(),
        global: TokenBucket::new(
            f64::from(cfg.global_per_second),
            f64::from(cfg.global_per_second),
            Instant::now(),
        ),
        in_flight: 0,
        cfg,
        message_ids: HashMap::new(),
    };
    for (seq, e) in initial {
        s.push(seq, e);
    }
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Finished>();
    loop {
        let wake = s.dispatch(&bot, &db, &committer, &stats, &done_tx);
        let sleep = tokio::time::sleep_until(
            wake.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))
                .into(),
        );
        tokio::select! {
            biased;
            _ = shutdown.changed() => {
                if *shutdown.borrow() { break; }
            }
            Some(f) = done_rx.recv() => {
                s.finish(f, &committer, &stats);
                while let Ok(f) = done_rx.try_recv() {
                    s.finish(f, &committer, &stats);
                }
            }
            got = rx.recv() => {
                let Some((seq, e)) = got else { break };
                s.push(seq, e);
                while let Ok((seq, e)) = rx.try_recv() {
                    s.push(seq, e);
                }
            }
            _ = sleep => {}
        }
    }
}

struct Scheduler {
    chats: HashMap<i64, ChatQueue>,
    callbacks: VecDeque<(u64, Entry)>,
    global: TokenBucket,
    in_flight: usize,
    cfg: OutboxConfig,
    /// Message ids of recently delivered tickets (older ones are looked up in the database).
    message_ids: HashMap<u64, i32>,
}

impl Scheduler {
    fn push(&mut self, seq: u64, e: Entry) {
        if matches!(e.action, Action::AnswerCallback { .. }) {
            self.callbacks.push_back((seq, e));
            return;
        }
        let now = Instant::now();
        let cfg = &self.cfg;
        let chat = self.chats.entry(e.chat_id).or_insert_with(|| ChatQueue {
            queue: VecDeque::new(),
            busy: false,
            blocked_until: None,
            bucket: TokenBucket::new(f64::from(cfg.chat_burst), cfg.chat_per_second, now),
            group: (e.chat_id < 0).then(|| {
                TokenBucket::new(
                    f64::from(cfg.group_per_minute),
                    f64::from(cfg.group_per_minute) / 60.0,
                    now,
                )
            }),
            failures: 0,
        });
        chat.queue.push_back((seq, e));
    }

    /// Starts every request that may go now; returns when to look again.
    fn dispatch(
        &mut self,
        bot: &Bot,
        db: &Arc<Db>,
        committer: &Committer,
        stats: &Arc<OutboxStats>,
        done: &mpsc::UnboundedSender<Finished>,
    ) -> Option<Instant> {
        while let Some((seq, e)) = self.callbacks.pop_front() {
            self.in_flight += 1;
            spawn_request(bot, db, committer, stats, done, seq, e, None);
        }
        let now = Instant::now();
        let mut wake: Option<Instant> = None;
        let mut earliest = |t: Instant| wake = Some(wake.map_or(t, |w: Instant| w.min(t)));
        while self.in_flight < self.cfg.max_in_flight {
            if !self.global.ready(now) {
                earliest(self.global.ready_at(now));
                break;
            }
            let mut best: Option<(super::Priority, u64, i64)> = None;
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
                if head.is_limited() {
                    let mut at = c.bucket.ready_at(now);
                    if let Some(g) = &mut c.group {
                        at = at.max(g.ready_at(now));
                    }
                    if at > now {
                        earliest(at);
                        continue;
                    }
                }
                let key = (head.priority, *seq, chat_id);
                if best.is_none_or(|b| key < b) {
                    best = Some(key);
                }
            }
            let Some((_, _, chat_id)) = best else { break };
            let c = self.chats.get_mut(&chat_id).expect("chosen above");
            let (seq, e) = c.queue.front().cloned().expect("has a head");
            if e.is_limited() {
                c.bucket.take();
                if let Some(g) = &mut c.group {
                    g.take();
                }
                self.global.take();
            }
            c.busy = true;
            self.in_flight += 1;
            let resolved = match &e.action {
                Action::EditText {
                    target: Target::Ticket(t),
                    ..
                }
                | Action::Delete {
                    target: Target::Ticket(t),
                } => self.message_ids.get(t).copied(),
                _ => None,
            };
            spawn_request(bot, db, committer, stats, done, seq, e, resolved);
        }
        // Forget idle chats whose buckets are full again, so memory follows active chats.
        if self.chats.len() > 10_000 {
            self.chats
                .retain(|_, c| !c.queue.is_empty() || c.busy || !c.bucket.is_full(now));
        }
        wake
    }

    fn finish(&mut self, f: Finished, committer: &Committer, stats: &Arc<OutboxStats>) {
        self.in_flight -= 1;
        if let Some((ticket, id)) = f.delivered {
            if self.message_ids.len() >= 100_000 {
                self.message_ids.clear();
            }
            self.message_ids.insert(ticket, id);
        }
        if f.chat_id == 0 {
            return;
        }
        let Some(c) = self.chats.get_mut(&f.chat_id) else {
            return;
        };
        c.busy = false;
        let now = Instant::now();
        match f.outcome {
            Outcome::Done => {
                c.failures = 0;
                if c.queue.front().is_some_and(|(s, _)| *s == f.seq) {
                    c.queue.pop_front();
                }
            }
            Outcome::RetryAfter(d) => {
                stats
                    .rate_limited
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                c.blocked_until = Some(now + d);
            }
            Outcome::Transient(err) => {
                c.failures += 1;
                if c.failures >= MAX_ATTEMPTS {
                    tracing::warn!(chat = f.chat_id, error = %err, "giving up a message after {MAX_ATTEMPTS} tries");
                    if let Some((seq, e)) = c.queue.pop_front() {
                        give_up(committer, stats, seq, &e, &err);
                    }
                    c.failures = 0;
                } else {
                    // 0.5 s, 1 s, 2 s ... capped at 60 s, with ±25% jitter.
                    let base = (500u64 << c.failures.min(7)).min(60_000) as f64;
                    let jitter = rand::rng().random_range(0.75..1.25);
                    c.blocked_until = Some(now + Duration::from_millis((base * jitter) as u64));
                }
            }
            Outcome::Blocked(err) => {
                tracing::info!(
                    chat = f.chat_id,
                    "chat unreachable ({err}); dropping its pending messages"
                );
                for (seq, e) in c.queue.drain(..) {
                    give_up(committer, stats, seq, &e, &err);
                }
            }
        }
    }
}

fn give_up(committer: &Committer, stats: &Arc<OutboxStats>, seq: u64, e: &Entry, why: &str) {
    stats
        .failed
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let ticket = e.ticket.map(|t| {
        (
            t,
            TicketRecord {
                module: e.module.clone(),
                chat_id: e.chat_id,
                message_id: None,
                failed: Some(why.to_string()),
            },
        )
    });
    let _ = committer.send(Op::Delivered {
        seq,
        ticket,
        done: None,
    });
}

#[expect(clippy::too_many_arguments, reason = "one request's whole context")]
fn spawn_request(
    bot: &Bot,
    db: &Arc<Db>,
    committer: &Committer,
    stats: &Arc<OutboxStats>,
    done: &mpsc::UnboundedSender<Finished>,
    seq: u64,
    e: Entry,
    resolved: Option<i32>,
) {
    let (bot, db, committer, stats, done) = (
        bot.clone(),
        db.clone(),
        committer.clone(),
        stats.clone(),
        done.clone(),
    );
    tokio::spawn(async move {
        let chat_id = if matches!(e.action, Action::AnswerCallback { .. }) {
            0
        } else {
            e.chat_id
        };
        let mut delivered = None;
        let outcome = match request(&bot, &db, &e, resolved).await {
            Ok(message_id) => {
                delivered = e.ticket.zip(message_id);
                stats
                    .delivered
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let ticket = e.ticket.map(|t| {
                    (
                        t,
                        TicketRecord {
                            module: e.module.clone(),
                            chat_id: e.chat_id,
                            message_id,
                            failed: None,
                        },
                    )
                });
                // The chat's next message waits for this commit: at most one message per
                // chat can be delivered twice after a crash.
                match committer
                    .commit(|tx| Op::Delivered {
                        seq,
                        ticket,
                        done: Some(tx),
                    })
                    .await
                {
                    Ok(()) => Outcome::Done,
                    Err(err) => Outcome::Transient(err.to_string()),
                }
            }
            Err(err) => classify(&committer, &stats, seq, &e, err),
        };
        let _ = done.send(Finished {
            chat_id,
            seq,
            outcome,
            delivered,
        });
    });
}

/// Decides what a failed request means; gives up permanent failures right here.
fn classify(
    committer: &Committer,
    stats: &Arc<OutboxStats>,
    seq: u64,
    e: &Entry,
    err: RequestError,
) -> Outcome {
    match err {
        RequestError::RetryAfter(s) => Outcome::RetryAfter(s.duration()),
        RequestError::Network(_) | RequestError::Io(_) | RequestError::InvalidJson { .. } => {
            Outcome::Transient(err.to_string())
        }
        RequestError::Api(
            ApiError::BotBlocked
            | ApiError::UserDeactivated
            | ApiError::BotKicked
            | ApiError::BotKickedFromSupergroup
            | ApiError::BotKickedFromChannel
            | ApiError::ChatNotFound,
        ) => Outcome::Blocked(err.to_string()),
        RequestError::Api(ApiError::Unknown(ref d))
            if d.starts_with("Internal Server Error")
                || d.starts_with("Bad Gateway")
                || d.starts_with("Gateway")
                || d.starts_with("Service Unavailable") =>
        {
            Outcome::Transient(err.to_string())
        }
        other => {
            tracing::warn!(module = %e.module, chat = e.chat_id, error = %other, "Telegram refused a request; it is not retried");
            give_up(committer, stats, seq, e, &other.to_string());
            Outcome::Done
        }
    }
}

async fn message_id(db: &Db, target: &Target, resolved: Option<i32>) -> Result<i32, RequestError> {
    match target {
        Target::Message(id) => Ok(*id),
        Target::Ticket(t) => {
            if let Some(id) = resolved {
                return Ok(id);
            }
            match db.ticket(*t) {
                Ok(Some(TicketRecord {
                    message_id: Some(id),
                    ..
                })) => Ok(id),
                _ => Err(RequestError::Api(ApiError::MessageToEditNotFound)),
            }
        }
    }
}

fn parse_mode(p: &Option<String>) -> Option<ParseMode> {
    match p.as_deref() {
        Some("MarkdownV2") => Some(ParseMode::MarkdownV2),
        Some("HTML") => Some(ParseMode::Html),
        _ => None,
    }
}

/// Performs one request; returns the sent message's id for sendMessage.
async fn request(
    bot: &Bot,
    db: &Db,
    e: &Entry,
    resolved: Option<i32>,
) -> Result<Option<i32>, RequestError> {
    let chat = ChatId(e.chat_id);
    match &e.action {
        Action::Send {
            text,
            parse_mode: pm,
            reply_markup,
            reply_to,
            silent,
        } => {
            let mut req = bot.send_message(chat, text.clone());
            if let Some(pm) = parse_mode(pm) {
                req = req.parse_mode(pm);
            }
            if let Some(m) = reply_markup
                && let Ok(m) = serde_json::from_value::<ReplyMarkup>(m.clone())
            {
                req = req.reply_markup(m);
            }
            if let Some(id) = reply_to {
                req = req.reply_parameters(
                    ReplyParameters::new(MessageId(*id)).allow_sending_without_reply(),
                );
            }
            if *silent {
                req = req.disable_notification(true);
            }
            Ok(Some(req.await?.id.0))
        }
        Action::EditText {
            target,
            text,
            parse_mode: pm,
            reply_markup,
        } => {
            let id = message_id(db, target, resolved).await?;
            let mut req = bot.edit_message_text(chat, MessageId(id), text.clone());
            if let Some(pm) = parse_mode(pm) {
                req = req.parse_mode(pm);
            }
            if let Some(m) = reply_markup
                && let Ok(m) = serde_json::from_value::<InlineKeyboardMarkup>(m.clone())
            {
                req = req.reply_markup(m);
            }
            req.await?;
            Ok(None)
        }
        Action::Delete { target } => {
            let id = message_id(db, target, resolved).await?;
            bot.delete_message(chat, MessageId(id)).await?;
            Ok(None)
        }
        Action::AnswerCallback { id, text, alert } => {
            let mut req = bot.answer_callback_query(CallbackQueryId(id.clone()));
            if let Some(t) = text {
                req = req.text(t.clone());
            }
            if *alert {
                req = req.show_alert(true);
            }
            req.await?;
            Ok(None)
        }
    }
}
