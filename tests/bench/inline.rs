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

mod broadcasting;
mod latency;
mod support;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use fake_bot_api::{ChatEvent, FakeBotApi, TestUser};
use serde_json::json;

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

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bench = broadcasting::start().await;
    let fake = &bench.fake;
    let user = TestUser::new(2, "Inline");
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

    let idle = ask_queries(fake, &user, &answered, "idle").await;
    let (busy, broadcast) = bench
        .while_broadcasting(ask_queries(fake, &user, &answered, "busy"))
        .await;
    println!(
        "{}",
        json!({
            "bench": "inline",
            "queries_per_phase": QUERIES,
            "query_every_ms": EVERY.as_millis(),
            "idle": latency::summary(&idle),
            "during_broadcast": latency::summary(&busy),
            "broadcast": broadcast,
            "too_many_requests": fake.counters().too_many_requests,
            "goal_p99_ms": 300,
        })
    );
    bench.runtime.stop().await;
}
