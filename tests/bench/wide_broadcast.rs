//! A paid broadcast to 100,000 distinct chats while people chat with the bot: whether the
//! outbox keeps to the paid-broadcast limit when it chooses among that many chats, and what the
//! people's replies wait meanwhile.
//!
//! The runtime, with the broadcaster and clicker test modules and `outbox.paid_broadcast` on at
//! `paid_broadcast_per_second = 1000`, and the fake Bot API run in this process. The fake
//! enforces Telegram's per-chat limits and a global one of 1,030 a second: the paid broadcasts
//! plus the bot's 30 for everything else (it does not tell paid sends from others). The
//! broadcaster queues one text to each of 100,000 chats (four `/broadcast` commands of 25,000;
//! one update may queue at most 50,000 entries); meanwhile `USERS` people press Click every `CLICK_EVERY`.
//!
//! Figures: the broadcast's sends a second over its whole seconds from the first delivery, and
//! as a fraction of the limit; the 429s the fake answered; the latency of the people's replies
//! while the broadcast ran (from their message to the reply reaching the fake). Prints one JSON
//! object; never fails on speed.
//!
//! Run: `cargo bench -p botbox --bench wide_broadcast` (release build; about three minutes);
//! `-- 10000` broadcasts to 10,000 chats instead.

mod clicking;
mod latency;
mod support;

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use botbox::Runtime;
use fake_bot_api::{ChatEvent, FakeBotApi, FakeConfig, Limits, TestUser};
use parking_lot::Mutex;
use serde_json::json;
use tokio::sync::{broadcast::error::RecvError, watch};

/// Chats the broadcast goes to, `FIRST ..` (opened before the run), unless the command line
/// names another number.
const CHATS: i64 = 100_000;
const FIRST: i64 = 5_000_000;
/// Chats per `/broadcast` (one update may queue at most 50,000 entries, the reply included).
const PER_COMMAND: i64 = 25_000;
/// `paid_broadcast_per_second`, which the broadcast's rate is compared with.
const LIMIT: u32 = 1000;
/// People chatting with the bot during the broadcast, ids from `FIRST_USER`.
const USERS: i64 = 10;
const FIRST_USER: i64 = 9_000_000;
const CLICK_EVERY: Duration = Duration::from_secs(1);
/// The run stops waiting when no broadcast message arrived for this long.
const STALL: Duration = Duration::from_secs(30);
const TEXT: &str = "news";

/// What the fake reported the bot sending, as it happened.
struct Seen {
    /// When each broadcast message arrived.
    broadcast: Vec<Instant>,
    /// Broadcast messages per chat (index: chat id - `FIRST`).
    per_chat: Vec<u8>,
    /// (user chat, what the reply answers) → when the reply arrived.
    replies: HashMap<(i64, u64), Instant>,
    /// Events the collector missed by falling behind (makes the figures unreliable).
    lagged: u64,
}

/// Records the broadcast's messages and the replies to the users, from the fake's events.
fn collect(fake: &FakeBotApi, chats: i64) -> (Arc<Mutex<Seen>>, tokio::task::JoinHandle<()>) {
    let count = usize::try_from(chats).expect("a positive number of chats");
    let seen = Arc::new(Mutex::new(Seen {
        broadcast: Vec::with_capacity(count),
        per_chat: vec![0; count],
        replies: HashMap::new(),
        lagged: 0,
    }));
    let mut events = fake.subscribe();
    let task = tokio::spawn({
        let seen = seen.clone();
        async move {
            loop {
                match events.recv().await {
                    Ok(ChatEvent::BotSent { chat_id, entry }) => {
                        let now = Instant::now();
                        let mut seen = seen.lock();
                        if (FIRST..FIRST + chats).contains(&chat_id) {
                            if entry.text == TEXT {
                                seen.broadcast.push(now);
                                let i = usize::try_from(chat_id - FIRST).expect("in range");
                                seen.per_chat[i] = seen.per_chat[i].saturating_add(1);
                            }
                        } else if let Some(n) = clicking::answers(&entry.text) {
                            seen.replies.entry((chat_id, n)).or_insert(now);
                        }
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(n)) => seen.lock().lagged += n,
                    Err(RecvError::Closed) => break,
                }
            }
        }
    });
    (seen, task)
}

/// Waits until every broadcast chat has its message, or no message came for `STALL`; returns
/// whether every chat has it.
async fn wait_for_broadcast(seen: &Mutex<Seen>) -> bool {
    let (mut count, mut progressed) = (0, Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (now, chats) = {
            let seen = seen.lock();
            (seen.broadcast.len(), seen.per_chat.len())
        };
        if now >= chats {
            return true;
        }
        if now > count {
            (count, progressed) = (now, Instant::now());
        } else if progressed.elapsed() > STALL {
            return false;
        }
    }
}

/// Messages per second over the whole seconds from the first of `sorted` on.
fn rate(sorted: &[Instant]) -> f64 {
    let (Some(first), Some(last)) = (sorted.first(), sorted.last()) else {
        return 0.0;
    };
    let whole = (*last - *first).as_secs_f64().floor();
    if whole < 1.0 {
        return 0.0;
    }
    let end = *first + Duration::from_secs_f64(whole);
    sorted.iter().take_while(|at| **at < end).count() as f64 / whole
}

/// The figures of a run that started at `started`; `completed`: every chat got its message.
fn figures(
    seen: &Seen,
    sent: &HashMap<(i64, u64), Instant>,
    started: Instant,
    completed: bool,
    too_many_requests: u64,
    broadcaster_said: Vec<String>,
) -> serde_json::Value {
    let mut latencies: Vec<f64> = sent
        .iter()
        .filter_map(|(asked, at)| {
            let replied = seen.replies.get(asked)?;
            Some(replied.saturating_duration_since(*at).as_secs_f64() * 1e3)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let sends_per_second = rate(&seen.broadcast);
    let round = |x: f64, places: i32| (x * 10f64.powi(places)).round() / 10f64.powi(places);
    let since_start = |at: Option<&Instant>| at.map(|t| round((*t - started).as_secs_f64(), 2));
    json!({
        "bench": "wide_broadcast",
        "chats": seen.per_chat.len(),
        "completed": completed,
        "delivered_chats": seen.per_chat.iter().filter(|n| **n > 0).count(),
        "repeats": seen.per_chat.iter().map(|n| u64::from(n.saturating_sub(1))).sum::<u64>(),
        "first_delivery_s": since_start(seen.broadcast.first()),
        "last_delivery_s": since_start(seen.broadcast.last()),
        "limit_per_second": LIMIT,
        "sends_per_second": round(sends_per_second, 1),
        "fraction_of_limit": round(sends_per_second / f64::from(LIMIT), 3),
        "too_many_requests": too_many_requests,
        "users": USERS,
        "replies": latency::summary(&latencies),
        "replies_missing": sent.len() - latencies.len(),
        "events_lost": seen.lagged,
        "broadcaster_said": broadcaster_said,
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let chats: i64 = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with('-'))
        .map_or(CHATS, |arg| arg.parse().expect("a number of chats"));
    let dir = tempfile::tempdir().expect("temp dir");
    let fake = FakeBotApi::start(FakeConfig {
        limits: Limits {
            global_per_second: LIMIT + 30,
            ..Limits::default()
        },
        ..FakeConfig::default()
    })
    .expect("fake Bot API");
    let admin = TestUser::new(42, "Admin");
    let users: Vec<TestUser> = (0..USERS)
        .map(|i| TestUser::new(FIRST_USER + i, format!("User{i}")))
        .collect();
    fake.open_chat(&admin);
    fake.open_chats(&users);
    fake.open_chats((FIRST..FIRST + chats).map(|id| TestUser::new(id, format!("R{id}"))));
    let mut config = support::config(
        dir.path(),
        &fake,
        &[
            botbox_test_artifacts::CLICKER,
            botbox_test_artifacts::BROADCASTER,
        ],
    );
    config.outbox.paid_broadcast = true;
    config.outbox.paid_broadcast_per_second = LIMIT;
    let runtime = Runtime::start(config).await.expect("runtime");

    let (seen, collector) = collect(&fake, chats);
    let (stop_tx, stop) = watch::channel(false);
    let started = Instant::now();
    for first in (FIRST..FIRST + chats).step_by(PER_COMMAND as usize) {
        let count = PER_COMMAND.min(FIRST + chats - first);
        fake.send_text(&admin, format!("/broadcast {first} {count} {TEXT}"));
    }
    let (sent, chatting) = clicking::chat_along(&fake, users, CLICK_EVERY, &stop);
    let completed = wait_for_broadcast(&seen).await;
    stop_tx.send_replace(true);
    for task in chatting {
        let _ = task.await;
    }
    // The last replies (the broadcast is over: they come at once).
    tokio::time::sleep(Duration::from_secs(2)).await;
    collector.abort();

    let figures = figures(
        &seen.lock(),
        &sent.lock(),
        started,
        completed,
        fake.counters().too_many_requests,
        fake.transcript(admin.id)
            .into_iter()
            .filter(|entry| entry.from_bot)
            .map(|entry| entry.text)
            .collect(),
    );
    println!("{figures}");
    runtime.stop().await;
    fake.shutdown();
}
