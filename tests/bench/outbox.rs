//! Broadcast under chat, at Telegram's real limits: a bulk broadcast to `BROADCAST` chats while
//! `USERS` people click at a human pace, delivered by botbox's outbox and, in the same run, by
//! teloxide's `Throttle` adaptor, each against a fresh fake Bot API enforcing Telegram's default
//! limits (3 per chat in any second, 20 per group in any minute, 30 overall in any second).
//!
//! Figures per implementation: how fast the broadcast went (bulk messages per second, and as a
//! fraction of the 30/s limit), the 429s the fake had to answer, the latency of the users'
//! replies while the broadcast ran (from the user's message to the bot's reply appearing in the
//! chat), and whether every chat got its messages once and in order. Prints one JSON object per
//! implementation; never fails on speed.
//!
//! Run: `cargo bench -p botbox --bench outbox` (release build; about two minutes).

mod clicking;
mod support;

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use botbox::{Options, Runtime};
use clicking::{Sent, answers, chat_along};
use fake_bot_api::{ChatEvent, FakeBotApi, FakeConfig, TestUser};
use parking_lot::Mutex;
use teloxide_core::{
    Bot,
    adaptors::{Throttle, throttle::Limits as ThrottleLimits},
    prelude::*,
    types::{Message, UpdateKind},
};
use tokio::sync::{mpsc, watch};

/// Chats the broadcast goes to: `FIRST .. FIRST + BROADCAST`, opened before the run.
const BROADCAST: i64 = 900;
const FIRST: i64 = 5_000_000;
/// People chatting with the bot during the broadcast, ids from `FIRST_USER`.
const USERS: i64 = 10;
const FIRST_USER: i64 = 9_000_000;
/// How often each user presses Click (their phases are spread over this period).
const CLICK_EVERY: Duration = Duration::from_secs(2);
/// Telegram's overall limit, which the broadcast's rate is compared with.
const LIMIT_PER_SEC: f64 = 30.0;
/// Safety bounds; a healthy run needs far less.
const BROADCAST_TIMEOUT: Duration = Duration::from_secs(150);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

const TEXT: &str = "news";

/// What the fake reported the bot sending, as it happened.
#[derive(Default)]
struct Seen {
    /// Broadcast chat → the instants its broadcast message arrived (more than one: a repeat).
    broadcast: HashMap<i64, Vec<Instant>>,
    /// User chat → the bot's messages there in order, with the instant each arrived.
    replies: HashMap<i64, Vec<(String, Instant)>>,
    /// Every bot message and its instant, for the overall rate.
    all: Vec<Instant>,
    /// Events the collector missed by falling behind (makes the figures unreliable).
    lagged: u64,
}

fn is_broadcast_chat(chat: i64) -> bool {
    (FIRST..FIRST + BROADCAST).contains(&chat)
}

fn users() -> Vec<TestUser> {
    (0..USERS)
        .map(|i| TestUser::new(FIRST_USER + i, format!("User{i}")))
        .collect()
}

/// Records every message the bot sends, from the fake's event stream.
fn collect(fake: &FakeBotApi) -> (Arc<Mutex<Seen>>, tokio::task::JoinHandle<()>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut events = fake.subscribe();
    let task = tokio::spawn({
        let seen = seen.clone();
        async move {
            loop {
                match events.recv().await {
                    Ok(ChatEvent::BotSent { chat_id, entry }) => {
                        let now = Instant::now();
                        let mut seen = seen.lock();
                        seen.all.push(now);
                        if is_broadcast_chat(chat_id) {
                            if entry.text == TEXT {
                                seen.broadcast.entry(chat_id).or_default().push(now);
                            }
                        } else {
                            seen.replies
                                .entry(chat_id)
                                .or_default()
                                .push((entry.text, now));
                        }
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        seen.lock().lagged += n;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        }
    });
    (seen, task)
}

/// Waits until every broadcast chat has its message.
async fn wait_for_broadcast(seen: &Mutex<Seen>) -> bool {
    let deadline = Instant::now() + BROADCAST_TIMEOUT;
    while Instant::now() < deadline {
        if seen.lock().broadcast.len() as i64 >= BROADCAST {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Waits until every message the users wrote has its reply.
async fn wait_for_replies(seen: &Mutex<Seen>, sent: &Sent) {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while Instant::now() < deadline {
        let expected = sent.lock().len();
        let answered: usize = seen
            .lock()
            .replies
            .values()
            .map(|replies| replies.iter().filter(|(t, _)| answers(t).is_some()).count())
            .sum();
        if answered >= expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn percentile_ms(sorted: &[Duration], p: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let i = ((last as f64) * p).round() as usize;
    Some(sorted[i].as_secs_f64() * 1e3)
}

/// Drives one implementation through the scenario and prints its figures. `trigger` starts
/// the broadcast.
async fn measure(implementation: &str, fake: &FakeBotApi, trigger: impl FnOnce()) {
    let (seen, collector) = collect(fake);
    let (stop_tx, stop) = watch::channel(false);
    let started = Instant::now();
    trigger();
    let (sent, chatting) = chat_along(fake, users(), CLICK_EVERY, &stop);
    let completed = wait_for_broadcast(&seen).await;
    let broadcast_seconds = started.elapsed().as_secs_f64();
    stop_tx.send_replace(true);
    for task in chatting {
        let _ = task.await;
    }
    wait_for_replies(&seen, &sent).await;
    let seconds = started.elapsed().as_secs_f64();
    collector.abort();
    let fake_429s = fake.counters().too_many_requests;
    let fake_429s_in_user_chats: u64 = users()
        .iter()
        .map(|user| fake.too_many_requests_in(user.id))
        .sum();

    let seen = seen.lock();
    let sent = sent.lock();
    let deliveries: Vec<Instant> = seen.broadcast.values().flatten().copied().collect();
    let first = deliveries.iter().min().copied();
    let last = deliveries.iter().max().copied();
    let span = match (first, last) {
        (Some(first), Some(last)) => (last - first).as_secs_f64(),
        _ => 0.0,
    };
    // Messages per second over the whole seconds from the first delivery on. (A sender that
    // bursts each second's allowance at once sends 30 bursts in 29-and-a-bit seconds, so
    // counting up to the last delivery would credit it with more than the limit.)
    let rate = |instants: &[Instant]| {
        let Some(first) = first else { return 0.0 };
        let whole = span.floor();
        if whole < 1.0 {
            return 0.0;
        }
        let end = first + Duration::from_secs_f64(whole);
        instants
            .iter()
            .filter(|at| (first..end).contains(*at))
            .count() as f64
            / whole
    };
    let bulk_rate = rate(&deliveries);
    // How bursty the broadcast was: its most deliveries in one 100 ms slot (evenly paced at
    // 30/s, 3; a burst of the whole second's allowance, 30).
    let mut slots: HashMap<u128, u32> = HashMap::new();
    if let Some(first) = first {
        for at in &deliveries {
            *slots.entry((*at - first).as_millis() / 100).or_default() += 1;
        }
    }
    let bulk_peak_per_100ms = slots.values().max().copied().unwrap_or(0);
    // Everything the bot sent while the broadcast ran, replies included.
    let total_rate = rate(&seen.all);
    let broadcast_missing = BROADCAST - seen.broadcast.len() as i64;
    let broadcast_repeats: usize = seen
        .broadcast
        .values()
        .map(|at| at.len().saturating_sub(1))
        .sum();

    let mut latencies = Vec::new();
    let mut interactive_missing = 0;
    let mut replies_in_order = true;
    for user in users() {
        let replies = seen.replies.get(&user.id).map(Vec::as_slice).unwrap_or(&[]);
        let answered: Vec<u64> = replies.iter().filter_map(|(t, _)| answers(t)).collect();
        let written = sent.keys().filter(|(chat, _)| *chat == user.id).count() as u64;
        // Each message answered once, in the order written.
        replies_in_order &= answered.iter().copied().eq(0..answered.len() as u64);
        for n in 0..written {
            let reply = replies.iter().find(|(t, _)| answers(t) == Some(n));
            match (reply, sent.get(&(user.id, n))) {
                (Some((_, at)), Some(written_at)) => {
                    latencies.push(at.saturating_duration_since(*written_at));
                }
                _ => interactive_missing += 1,
            }
        }
    }
    latencies.sort();

    let figures = serde_json::json!({
        "scenario": "broadcast-under-chat",
        "implementation": implementation,
        "broadcast_messages": BROADCAST,
        "broadcast_completed": completed,
        "broadcast_missing": broadcast_missing,
        "broadcast_repeats": broadcast_repeats,
        "broadcast_seconds": broadcast_seconds,
        "bulk_rate_per_sec": bulk_rate,
        "bulk_rate_fraction_of_limit": bulk_rate / LIMIT_PER_SEC,
        "bulk_peak_per_100ms": bulk_peak_per_100ms,
        "total_rate_per_sec": total_rate,
        "total_rate_fraction_of_limit": total_rate / LIMIT_PER_SEC,
        "fake_429s": fake_429s,
        "fake_429s_in_user_chats": fake_429s_in_user_chats,
        "users": USERS,
        "interactive_replies": latencies.len(),
        "interactive_missing": interactive_missing,
        "interactive_p50_ms": percentile_ms(&latencies, 0.50),
        "interactive_p99_ms": percentile_ms(&latencies, 0.99),
        "interactive_max_ms": percentile_ms(&latencies, 1.0),
        "order_held": replies_in_order && broadcast_missing == 0 && broadcast_repeats == 0,
        "events_lost": seen.lagged,
        "seconds": seconds,
    });
    println!("{figures}");
}

/// A fake with Telegram's default limits and the broadcast's chats already open.
fn fake() -> FakeBotApi {
    let fake = FakeBotApi::start(FakeConfig::default()).expect("the fake starts");
    fake.open_chats((FIRST..FIRST + BROADCAST).map(|id| TestUser::new(id, format!("R{id}"))));
    fake
}

/// botbox: the clicker answers the users, the broadcaster queues the broadcast in one call at
/// bulk priority; the outbox has its default (Telegram's) limits.
async fn botbox_side() {
    let fake = fake();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = support::config(
        dir.path(),
        &fake,
        &[
            botbox_test_artifacts::CLICKER,
            botbox_test_artifacts::BROADCASTER,
        ],
    );
    let rt = Runtime::start_with(config, Options::default())
        .await
        .expect("the runtime starts");
    let admin = TestUser::new(42, "Admin");
    measure("botbox", &fake, || {
        fake.send_text(&admin, format!("/broadcast {FIRST} {BROADCAST} {TEXT}"));
    })
    .await;
    rt.shutdown();
    fake.shutdown();
    rt.stop().await;
}

/// teloxide: one `Throttle`d bot with teloxide's default limits (Telegram's). The broadcast is
/// sent as teloxide intends, every message handed to the adaptor at once, which queues them;
/// meanwhile a getUpdates loop answers each user like the clicker, one task per chat so that
/// a chat's replies go out in order (as teloxide's dispatcher does).
async fn teloxide_side() {
    let fake = fake();
    let bot = Bot::new(fake.token())
        .set_api_url(fake.api_url())
        .throttle(ThrottleLimits::default());
    let poller = tokio::spawn(answer_users(bot.clone()));
    measure("teloxide-throttle", &fake, || {
        let bot = bot.clone();
        tokio::spawn(async move {
            let sends = (FIRST..FIRST + BROADCAST).map(|chat| {
                let bot = bot.clone();
                async move { bot.send_message(ChatId(chat), TEXT).await }
            });
            for result in futures::future::join_all(sends).await {
                if let Err(error) = result {
                    eprintln!("teloxide broadcast: {error}");
                }
            }
        });
    })
    .await;
    poller.abort();
    fake.shutdown();
}

/// The clicker, played by hand over teloxide.
async fn answer_users(bot: Throttle<Bot>) {
    let mut offset = 0;
    let mut chats: HashMap<ChatId, mpsc::UnboundedSender<Message>> = HashMap::new();
    loop {
        // teloxide's HTTP client gives up after 17 s, so the long poll must be shorter.
        let updates = match bot.get_updates().offset(offset).timeout(10).await {
            Ok(updates) => updates,
            Err(error) => {
                eprintln!("teloxide getUpdates: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        for update in updates {
            offset = i32::try_from(update.id.0).expect("small ids") + 1;
            let UpdateKind::Message(message) = update.kind else {
                continue;
            };
            let chat = chats.entry(message.chat.id).or_insert_with(|| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(answer_chat(bot.clone(), rx));
                tx
            });
            let _ = chat.send(message);
        }
    }
}

/// One chat's messages, answered in order.
async fn answer_chat(bot: Throttle<Bot>, mut messages: mpsc::UnboundedReceiver<Message>) {
    let mut clicks = 0;
    while let Some(message) = messages.recv().await {
        let name = message
            .from
            .as_ref()
            .map_or("stranger", |user| user.first_name.as_str());
        let text = match message.text() {
            Some("/start") => {
                format!("Hello, {name}! Press Click to count, Rating to see the best.")
            }
            Some("Click") => {
                clicks += 1;
                format!("Clicks: {clicks}")
            }
            _ => continue,
        };
        if let Err(error) = bot.send_message(message.chat.id, text).await {
            eprintln!("teloxide reply: {error}");
        }
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    rt.block_on(async {
        let only = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
        if only.as_deref().is_none_or(|name| "botbox".contains(name)) {
            botbox_side().await;
        }
        if only
            .as_deref()
            .is_none_or(|name| "teloxide-throttle".contains(name))
        {
            teloxide_side().await;
        }
    });
}
