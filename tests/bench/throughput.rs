//! Updates per second through intake → router → clicker → group commit → outbox enqueue,
//! in-process against the fake Bot API, with per-update latency. Prints one JSON object per
//! scenario; never fails on speed.
//!
//! Run: `cargo bench -p botbox --bench throughput` (release build).

mod support;

/// The allocator the `botbox` binary ships with (runtime/src/main.rs), so that the figures are
/// the binary's.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use botbox::{Options, Runtime, store::Committed};
use fake_bot_api::{FakeBotApi, FakeConfig, Limits};
use parking_lot::Mutex;

const USERS: u64 = 10_000;
const CLICKS_PER_USER: u64 = 9;

fn update(id: u64, user: u64, text: &str) -> serde_json::Value {
    serde_json::json!({
        "update_id": id,
        "message": {
            "message_id": id, "date": 1_700_000_000, "text": text,
            "chat": {"id": user, "type": "private", "first_name": format!("U{user}")},
            "from": {"id": user, "is_bot": false, "first_name": format!("U{user}")},
        }
    })
}

/// All updates: every user registers, then clicks, interleaved across users.
fn workload() -> Vec<serde_json::Value> {
    let mut v = Vec::new();
    let mut id = 1;
    for u in 0..USERS {
        v.push(update(id, 10_000 + u, "/start"));
        id += 1;
    }
    for _ in 0..CLICKS_PER_USER {
        for u in 0..USERS {
            v.push(update(id, 10_000 + u, "Click"));
            id += 1;
        }
    }
    v
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

async fn scenario(name: &str, concurrency: usize, batch: usize, shards: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = FakeBotApi::start(FakeConfig {
        limits: Limits::unlimited(),
        ..FakeConfig::default()
    })
    .expect("fake");
    let mut config = support::config(dir.path(), &fake, &[botbox_test_artifacts::CLICKER]);
    config.sandbox.shards = shards;
    let rt = Runtime::start_with(
        config,
        Options {
            intake: false,
            ..Options::default()
        },
    )
    .await
    .expect("runtime");

    let updates = workload();
    let total = updates.len();
    let started: Arc<Mutex<HashMap<u64, Instant>>> =
        Arc::new(Mutex::new(HashMap::with_capacity(total)));
    let commits_before = rt.commits();
    let mut events = rt.subscribe();
    let collector = {
        let started = started.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(total);
            while latencies.len() < total {
                match events.recv().await {
                    Ok(Committed::Handled { update_id, .. }) => {
                        if let Some(t) = started.lock().remove(&update_id) {
                            latencies.push(t.elapsed());
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        eprintln!("collector lagged by {n} events");
                        break;
                    }
                    Err(_) => break,
                }
            }
            latencies
        })
    };
    let t0 = Instant::now();
    let chunks: Vec<Vec<serde_json::Value>> = updates.chunks(batch).map(<[_]>::to_vec).collect();
    let queue = Arc::new(Mutex::new(chunks.into_iter()));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (rt, queue, started) = (rt.clone(), queue.clone(), started.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(chunk) = queue.lock().next() else {
                    break;
                };
                {
                    let now = Instant::now();
                    let mut s = started.lock();
                    for u in &chunk {
                        s.insert(u["update_id"].as_u64().expect("id"), now);
                    }
                }
                rt.submit(chunk).await.expect("submit");
            }
        }));
    }
    for t in tasks {
        t.await.expect("feeder");
    }
    let mut latencies = collector.await.expect("collector");
    let elapsed = t0.elapsed();
    latencies.sort();
    let handled = latencies.len();
    let figures = serde_json::json!({
        "scenario": name,
        "updates": total,
        "handled": handled,
        "feeders": concurrency,
        "batch": batch,
        "shards": shards,
        "seconds": elapsed.as_secs_f64(),
        "updates_per_sec": handled as f64 / elapsed.as_secs_f64(),
        "latency_us_p50": percentile(&latencies, 0.50),
        "latency_us_p99": percentile(&latencies, 0.99),
        "commits": rt.commits() - commits_before,
        "handle_at_once_ms": std::env::var("BOTBOX_BENCH_AT_ONCE_MS").unwrap_or_else(|_| "default".into()),
        "kv_conflict_reruns": rt.modules().get("clicker").map(|s| s.conflicts.load(std::sync::atomic::Ordering::Relaxed)),
    });
    println!("{figures}");
    rt.stop().await;
    fake.shutdown();
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    rt.block_on(async {
        // Like long polling: one feeder, batches of 100 (getUpdates' maximum).
        scenario("polling-batches-of-100", 1, 100, 2).await;
        // Like a webhook with Telegram's default 40 connections: one update per request.
        scenario("webhook-40-connections", 40, 1, 2).await;
    });
}
