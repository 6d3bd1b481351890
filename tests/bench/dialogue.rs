//! Live dialogues (issue 7): the coroutine-dialogue example's `/sum` dialogue suspended at its
//! first question for 1k, 10k and 100k users at once. Prints one JSON object per size and one
//! for the rebuild after a restart (progress on stderr); never fails on speed.
//!
//! - **Memory per dialogue**: growth of this process's resident memory (the runtime, its
//!   database cache, the module instances' linear memories and the fake Bot API together)
//!   divided by the dialogues added, measured after the outbox has drained. It is an upper
//!   bound for the guest's own cost: the database's page cache (capped at 128 MiB) grows with
//!   the data too. The suspended futures alone are measured natively by the SDK's unit test
//!   `a_suspended_dialogue_costs_bytes`.
//! - **Step latency**: one dialogue step (a user answers the first question; the dialogue asks
//!   the second), from `submit` of the update to the durable commit of its handling (log entry,
//!   header, timer, reply: two group-committed fsyncs), one update at a time, on dialogues
//!   picked across all the live ones; and the module's handling time of those steps (the
//!   `handle-update` call: KV reads and writes, timer, reply, the dialogue's poll), which is
//!   what the number of live dialogues could change. fsync times depend on what else the
//!   machine does: the load average is printed too.
//! - **Rebuild**: the runtime is stopped and started again on the same data; every live
//!   dialogue then gets one more step, which rebuilds it by replaying its log in the fresh
//!   instance. Reported: the time for all of them, and single-step latencies of rebuilt steps.
//!
//! The users write in 64 groups the fake does not know, so replies are refused (400) and given
//! up at once instead of piling up per chat (see `tests/bench/store.rs`). Dialogues are keyed by
//! user, so each user has their own dialogue in their group.
//!
//! Run: `cargo bench -p botbox --bench dialogue` (release build; a few minutes), or
//! `BOTBOX_BENCH_DIALOGUES=20000` for a quicker run up to that many.

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use botbox::{Config, Options, Runtime, config::ModuleSettings, store::Committed};
use fake_bot_api::{FakeBotApi, FakeConfig, Limits};
use redb::{ReadableDatabase, ReadableTableMetadata};
use tokio::sync::broadcast::{Receiver, error::RecvError};

const MODULE: &str = "coroutine-dialogue";
const BATCH: u64 = 100;
const FEEDERS: usize = 8;
/// Single steps timed at each size.
const SAMPLES: u64 = 1_000;
const FIRST_USER: u64 = 10_000_000;

fn sizes() -> Vec<u64> {
    let max = std::env::var("BOTBOX_BENCH_DIALOGUES")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(100_000u64);
    [1_000, 10_000, 100_000]
        .into_iter()
        .filter(|n| *n <= max)
        .collect()
}

fn memory_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// The machine's 1-minute load average: other work on it shows in the fsync-bound latencies.
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

fn pct_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3
}

/// Submits `total` updates made by `make(i)` in batches from several feeders and waits until
/// all are handled.
async fn feed(
    rt: &Runtime,
    total: u64,
    make: impl Fn(u64) -> serde_json::Value + Send + Sync + 'static,
) -> Duration {
    let mut events = rt.subscribe();
    let collector = tokio::spawn(async move {
        let mut handled = 0;
        while handled < total {
            match events.recv().await {
                Ok(Committed::Handled { .. }) => handled += 1,
                Err(RecvError::Lagged(n)) => handled += n,
                Err(RecvError::Closed) => break,
            }
        }
    });
    let make = Arc::new(make);
    let next = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..FEEDERS {
        let (rt, make, next) = (rt.clone(), make.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let b = next.fetch_add(1, Ordering::Relaxed);
                if b * BATCH >= total {
                    break;
                }
                let batch = (b * BATCH..((b + 1) * BATCH).min(total))
                    .map(|i| make(i))
                    .collect();
                rt.submit(batch).await.expect("submit");
            }
        }));
    }
    for t in tasks {
        t.await.expect("feeder");
    }
    collector.await.expect("collector");
    t0.elapsed()
}

/// Submits one update and waits for its durable handling.
async fn one(
    rt: &Runtime,
    events: &mut Receiver<Committed>,
    update: serde_json::Value,
) -> Duration {
    let id = update["update_id"].as_u64().expect("id");
    let t0 = Instant::now();
    rt.submit(vec![update]).await.expect("submit");
    loop {
        match events.recv().await {
            Ok(Committed::Handled { update_id, .. }) if update_id == id => return t0.elapsed(),
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => panic!("the runtime stopped"),
        }
    }
}

/// Waits until the outbox is empty (the replies were refused and given up).
async fn drain(rt: &Runtime) {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(300) {
        let queued = {
            let db = rt.db().raw();
            let txn = db.begin_read().expect("read");
            txn.list_tables()
                .expect("tables")
                .find(|t| redb::TableHandle::name(t) == "outbox")
                .and_then(|t| txn.open_untyped_table(t).ok()?.len().ok())
                .unwrap_or(0)
        };
        if queued == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("the outbox did not drain");
}

fn config(dir: &std::path::Path, fake: &FakeBotApi) -> Config {
    let mut config = support::config(dir, fake, &[botbox_test_artifacts::COROUTINE_DIALOGUE]);
    // Three keys per dialogue (header, start, input) and 100k users: beyond the default quota.
    config.sandbox.kv_max_keys = 1 << 40;
    config.sandbox.kv_max_bytes = 1 << 40;
    // One pending inactivity timer per live dialogue.
    config.sandbox.max_timers = 1 << 40;
    // Each instance holds its shard's suspended dialogues.
    config.sandbox.memory_mib = 512;
    config.outbox.chat_per_second = 1e6;
    config.outbox.chat_burst = u32::MAX;
    config.outbox.global_per_second = u32::MAX;
    config.outbox.group_per_minute = u32::MAX;
    config.outbox.max_in_flight = 64;
    let mut settings = ModuleSettings::default();
    // No inactivity timeout fires during the run.
    settings.config.insert("timeout_secs".into(), 86_400.into());
    config.modules.insert(MODULE.into(), settings);
    config
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = FakeBotApi::start(FakeConfig {
        limits: Limits::unlimited(),
        ..FakeConfig::default()
    })
    .expect("fake");
    let c = config(dir.path(), &fake);
    let shards = c.sandbox.shards;
    let rt = Runtime::start_with(
        c.clone(),
        Options {
            intake: false,
            ..Options::default()
        },
    )
    .await
    .expect("runtime");
    let next_id = Arc::new(AtomicU64::new(1));
    let mut live = 0u64;
    let mut events = rt.subscribe();
    // Warm up: the module's instances exist and a few dialogues ran.
    let id = next_id.fetch_add(1, Ordering::Relaxed);
    one(&rt, &mut events, support::group_text(id, 1, "/sum")).await;
    drain(&rt).await;
    let rss_base = memory_mib();
    let mut answered = std::collections::HashSet::new();
    for size in sizes() {
        let add = size - live;
        let (first, ids) = (live, next_id.fetch_add(add, Ordering::Relaxed));
        let started = feed(&rt, add, move |i| {
            support::group_text(ids + i, FIRST_USER + first + i, "/sum")
        })
        .await;
        live = size;
        drain(&rt).await;
        let rss = memory_mib();
        // One step each on dialogues spread over all live ones, one at a time.
        let mut latencies = Vec::new();
        let stride = (live / SAMPLES).max(1);
        for k in 0..SAMPLES.min(live) {
            let user = FIRST_USER + k * stride;
            if !answered.insert(user) {
                continue;
            }
            let id = next_id.fetch_add(1, Ordering::Relaxed);
            latencies.push(one(&rt, &mut events, support::group_text(id, user, "1")).await);
        }
        latencies.sort();
        let handler = rt.modules()[MODULE].latency_us().unwrap_or_default();
        eprintln!("{size} live dialogues: started {add} in {started:?}");
        println!(
            "{}",
            serde_json::json!({
                "scenario": "live_dialogues",
                "live_dialogues": live,
                "shards": shards,
                "start_per_sec": add as f64 / started.as_secs_f64(),
                "rss_mib": rss,
                "rss_growth_mib": rss - rss_base,
                "rss_bytes_per_dialogue": (rss - rss_base) * 1048576.0 / live as f64,
                "step_samples": latencies.len(),
                "step_p50_ms": pct_ms(&latencies, 0.5),
                "step_p99_ms": pct_ms(&latencies, 0.99),
                "step_max_ms": pct_ms(&latencies, 1.0),
                "step_handler_p50_us": handler.0,
                "step_handler_p99_us": handler.1,
                "load_average": load_average(),
            })
        );
    }

    // A restart: every instance and its suspended dialogues are gone.
    rt.stop().await;
    let t_restart = Instant::now();
    let rt = Runtime::start_with(
        c,
        Options {
            intake: false,
            ..Options::default()
        },
    )
    .await
    .expect("runtime again");
    let restart = t_restart.elapsed();
    let mut events = rt.subscribe();
    // Single rebuilt steps first (each replays one log in a fresh instance), on dialogues that
    // have not been answered yet: they await the first number.
    let mut rebuilt = Vec::new();
    let stride = (live / SAMPLES).max(1);
    let mut sampled = std::collections::HashSet::new();
    for k in 0..SAMPLES.min(live) {
        let user = FIRST_USER + k * stride + 1;
        if answered.contains(&user) || !sampled.insert(user) || user >= FIRST_USER + live {
            continue;
        }
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        rebuilt.push(one(&rt, &mut events, support::group_text(id, user, "2")).await);
    }
    rebuilt.sort();
    let rebuilt_handler = rt.modules()[MODULE].latency_us().unwrap_or_default();
    // Then one step for every other live dialogue, as fast as the runtime takes them.
    let answered = Arc::new(answered);
    let sampled = Arc::new(sampled);
    let ids = next_id.fetch_add(live, Ordering::Relaxed);
    let all = feed(&rt, live, move |i| {
        let user = FIRST_USER + i;
        // The answered ones get their second number (the dialogue ends), the others a first
        // or, for the sampled ones, a second.
        let text = if answered.contains(&user) || sampled.contains(&user) {
            "5"
        } else {
            "3"
        };
        support::group_text(ids + i, user, text)
    })
    .await;
    drain(&rt).await;
    let stats = rt.modules()[MODULE].clone();
    println!(
        "{}",
        serde_json::json!({
            "scenario": "rebuild_after_restart",
            "live_dialogues": live,
            "runtime_start_ms": restart.as_secs_f64() * 1e3,
            "rebuilt_step_samples": rebuilt.len(),
            "rebuilt_step_p50_ms": pct_ms(&rebuilt, 0.5),
            "rebuilt_step_p99_ms": pct_ms(&rebuilt, 0.99),
            "rebuilt_step_handler_p50_us": rebuilt_handler.0,
            "rebuilt_step_handler_p99_us": rebuilt_handler.1,
            "load_average": load_average(),
            "all_rebuilt_seconds": all.as_secs_f64(),
            "all_rebuilt_steps_per_sec": live as f64 / all.as_secs_f64(),
            "handler_errors": stats.errors.load(Ordering::Relaxed),
            "quarantined": stats.quarantined.load(Ordering::Relaxed),
            "rss_mib": memory_mib(),
        })
    );
    rt.stop().await;
}
