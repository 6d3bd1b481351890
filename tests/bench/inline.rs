//! How fast inline queries are answered while a 10,000-chat broadcast drains: answerInlineQuery
//! leaves on the fast lane (right after the update's commit, ahead of every queue), so the
//! broadcast should not slow it. Goal: p99 < 300 ms on this machine.
//!
//! The `api-probe` test module answers each inline query with one article, from the update;
//! its `/bcast 10000` queues one sendPhoto to chats 1001..=11000 at bulk priority. The runtime
//! and the fake Bot API (at Telegram's limits: 30 messages a second) run in this process. A user
//! types 200 inline queries, 20 a second, first with nothing else going on, then while the
//! broadcast drains; each latency is from the query's update being queued at the fake to the
//! fake receiving the answer. Prints one JSON object; never fails on speed.
//!
//! Run: `cargo bench -p botbox --bench inline` (release build; about 30 s).

mod support;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use botbox::Runtime;
use fake_bot_api::{ChatEvent, FakeBotApi, FakeConfig, TestUser};
use serde_json::{Value, json};

/// Chats the broadcast goes to: 1001..=1000+CHATS (the probe's range).
const CHATS: i64 = 10_000;
/// Inline queries per phase.
const QUERIES: usize = 200;
/// The pause between two queries.
const EVERY: Duration = Duration::from_millis(50);

/// Asks `QUERIES` inline queries and returns each one's latency in milliseconds.
async fn ask_queries(
    fake: &FakeBotApi,
    user: &TestUser,
    answered: &Arc<Mutex<HashMap<String, Instant>>>,
    phase: &str,
) -> Vec<f64> {
    let mut asked = Vec::new();
    for i in 0..QUERIES {
        let at = Instant::now();
        let id = fake.send_inline_query(user, &format!("{phase} {i}"));
        asked.push((id, at));
        tokio::time::sleep(EVERY).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while answered.lock().unwrap().len() < asked.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let answered = std::mem::take(&mut *answered.lock().unwrap());
    let mut latencies: Vec<f64> = asked
        .iter()
        .filter_map(|(id, at)| {
            answered
                .get(id)
                .map(|done| (*done - *at).as_secs_f64() * 1e3)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    latencies
}

fn summary(latencies: &[f64]) -> Value {
    let at = |q: f64| {
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        (latencies[i] * 10.0).round() / 10.0
    };
    if latencies.is_empty() {
        return json!({ "answered": 0 });
    }
    json!({
        "answered": latencies.len(),
        "p50_ms": at(0.50),
        "p99_ms": at(0.99),
        "max_ms": at(1.0),
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fake = FakeBotApi::start(FakeConfig::default()).expect("fake Bot API");
    let mut config = support::config(dir.path(), &fake, &[botbox_test_artifacts::API_PROBE]);
    config.telegram.poll_timeout_secs = 10;
    let runtime = Runtime::start(config).await.expect("runtime");
    let admin = TestUser::new(1, "Admin");
    let user = TestUser::new(2, "Inline");
    fake.open_chat(&admin);
    for id in 1001..=1000 + CHATS {
        fake.open_chat(&TestUser::new(id, format!("user{id}")));
    }
    let answered: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut events = fake.subscribe();
    let recorder = answered.clone();
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            if let ChatEvent::InlineAnswered { answer } = event {
                recorder
                    .lock()
                    .unwrap()
                    .insert(answer.query_id, Instant::now());
            }
        }
    });
    let sent = |fake: &FakeBotApi| fake.counters().sends;

    let idle = ask_queries(&fake, &user, &answered, "idle").await;

    fake.send_text(&admin, format!("/bcast {CHATS}"));
    let queued_by = Instant::now() + Duration::from_secs(60);
    while sent(&fake) < 10 && Instant::now() < queued_by {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sends_before = sent(&fake);
    let started = Instant::now();
    let busy = ask_queries(&fake, &user, &answered, "busy").await;
    let broadcast_rate = (sent(&fake) - sends_before) as f64 / started.elapsed().as_secs_f64();
    let outbox_left = runtime.db().outbox().map(|o| o.len()).unwrap_or(0);
    println!(
        "{}",
        json!({
            "bench": "inline",
            "queries_per_phase": QUERIES,
            "query_every_ms": EVERY.as_millis(),
            "idle": summary(&idle),
            "during_broadcast": summary(&busy),
            "broadcast": {
                "chats": CHATS,
                "sends_per_second_meanwhile": (broadcast_rate * 10.0).round() / 10.0,
                "still_queued_after": outbox_left,
            },
            "too_many_requests": fake.counters().too_many_requests,
            "goal_p99_ms": 300,
        })
    );
    runtime.stop().await;
}
