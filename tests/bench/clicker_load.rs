//! The clicker under load in-process: every user registers, then clicks, fed to
//! `Runtime::submit` by concurrent feeders in batches; each update's time from submit to its
//! durable commit. The throughput bench runs it on the WebAssembly module; the native bench on
//! the WebAssembly module and on the native baseline side by side.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use botbox::{Options, Runtime, store::Committed};
use fake_bot_api::{FakeBotApi, FakeConfig, Limits};
use parking_lot::Mutex;

use crate::support;

/// The allocator the `botbox` binary ships with (runtime/src/main.rs), so that the figures of
/// the benches that run the runtime in-process (throughput, native) are the binary's.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// How a scenario feeds the bot.
pub struct Feed {
    /// Its name in the figures.
    pub name: &'static str,
    /// Tasks submitting at once.
    pub feeders: usize,
    /// Updates per submit.
    pub batch: usize,
    /// The clicker's shards.
    pub shards: usize,
}

/// Like long polling: one feeder, batches of 100 (getUpdates' maximum).
pub const POLLING: Feed = Feed {
    name: "polling-batches-of-100",
    feeders: 1,
    batch: 100,
    shards: 2,
};
/// Like a webhook with Telegram's default 40 connections: one update per request.
pub const WEBHOOK: Feed = Feed {
    name: "webhook-40-connections",
    feeders: 40,
    batch: 1,
    shards: 2,
};

const USERS: u64 = 10_000;
const CLICKS_PER_USER: u64 = 9;

/// All updates: every user registers, then clicks, interleaved across users.
fn workload() -> Vec<serde_json::Value> {
    let mut v = Vec::new();
    let mut id = 1;
    for u in 0..USERS {
        v.push(support::private_text(id, 10_000 + u, "/start"));
        id += 1;
    }
    for _ in 0..CLICKS_PER_USER {
        for u in 0..USERS {
            v.push(support::private_text(id, 10_000 + u, "Click"));
            id += 1;
        }
    }
    v
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

/// Runs `feed` against a fresh bot and returns its figures; with `native`, the clicker's
/// `handle-update` runs natively (`sandbox/native.rs`, feature `native-baseline`).
pub async fn run(feed: &Feed, native: bool) -> serde_json::Value {
    let Feed {
        name,
        feeders: concurrency,
        batch,
        shards,
    } = *feed;
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = FakeBotApi::start(FakeConfig {
        limits: Limits::unlimited(),
        ..FakeConfig::default()
    })
    .expect("fake");
    let mut config = support::config(dir.path(), &fake, &[botbox_test_artifacts::CLICKER]);
    config.sandbox.shards = shards;
    let options = Options {
        intake: false,
        #[cfg(feature = "native-baseline")]
        native_modules: if native {
            vec!["clicker".into()]
        } else {
            Vec::new()
        },
        ..Options::default()
    };
    #[cfg(not(feature = "native-baseline"))]
    assert!(
        !native,
        "the native baseline needs --features native-baseline"
    );
    let rt = Runtime::start_with(config, options).await.expect("runtime");

    let updates = workload();
    let total = updates.len();
    let started: Arc<Mutex<HashMap<u64, Instant>>> =
        Arc::new(Mutex::new(HashMap::with_capacity(total)));
    let commits_before = rt.commits();
    let cpu_before = support::cpu_seconds("self");
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
    let cpu = support::cpu_seconds("self") - cpu_before;
    let modules = rt.modules();
    let clicker = modules.get("clicker");
    let figures = serde_json::json!({
        "scenario": name,
        "handler": if native { "native" } else { "wasm" },
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
        "kv_conflict_reruns": clicker.as_ref().map(|s| s.conflicts.load(std::sync::atomic::Ordering::Relaxed)),
        // The handler call alone (instance call to its effects queued), last 1,024 calls.
        "handler_us_p50": clicker.as_ref().and_then(|s| s.latency_us()).map(|l| l.0),
        "handler_us_p99": clicker.as_ref().and_then(|s| s.latency_us()).map(|l| l.1),
        // The bench process's CPU (bot and fake) per handled update.
        "cpu_us_per_update": (cpu * 1e6 / handled as f64).round(),
    });
    rt.stop().await;
    fake.shutdown();
    figures
}
