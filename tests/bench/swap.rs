//! Hot swap under load: clicker is swapped v1 ↔ v2 twenty times while 1,000 updates/s stream in
//! to clicker and echo. Prints one JSON object: how long a swap takes (compile, canary `init`,
//! switch), how long until the first update is served by the new version, and the handling
//! latency of the other module (echo) and of clicker itself, before and during swaps. Never
//! fails on speed.
//!
//! Run: `cargo bench -p botbox --bench swap` (release build).

mod support;

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use botbox::{Options, Runtime, store::Committed};
use fake_bot_api::{FakeBotApi, FakeConfig, Limits};
use parking_lot::Mutex;

const USERS: u64 = 2_000;
const RATE: u64 = 1_000;
const SWAPS: usize = 20;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// One handled (module, update): when its update was submitted and when its commit came.
struct Sample {
    module: Arc<str>,
    submitted: Instant,
    committed: Instant,
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = FakeBotApi::start(FakeConfig {
        limits: Limits::unlimited(),
        ..FakeConfig::default()
    })
    .expect("fake");
    let mut config = support::config(
        dir.path(),
        &fake,
        &[botbox_test_artifacts::CLICKER, botbox_test_artifacts::ECHO],
    );
    config.outbox.global_per_second = 1000;
    config.outbox.chat_per_second = 100.0;
    config.outbox.chat_burst = 100;
    config.sandbox.watch_interval_ms = 0;
    let rt = Runtime::start_with(
        config,
        Options {
            intake: false,
            ..Options::default()
        },
    )
    .await
    .expect("runtime");
    let v1 = std::fs::read(botbox_test_artifacts::CLICKER).expect("v1");
    let v2 = std::fs::read(botbox_test_artifacts::CLICKER_V2).expect("v2");

    let mut next_id = 1u64;
    let registration: Vec<_> = (0..USERS)
        .map(|u| {
            next_id += 1;
            support::private_text(next_id, 10_000 + u, "/start")
        })
        .collect();
    for chunk in registration.chunks(500) {
        rt.submit(chunk.to_vec()).await.expect("submit");
    }

    let submitted: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let collector = {
        let (submitted, samples) = (submitted.clone(), samples.clone());
        let mut events = rt.subscribe();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(Committed::Handled { module, update_id }) => {
                        let at = submitted.lock().get(&update_id).copied();
                        if let Some(t) = at {
                            samples.lock().push(Sample {
                                module,
                                submitted: t,
                                committed: Instant::now(),
                            });
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        eprintln!("collector lagged by {n} events");
                    }
                    Err(_) => break,
                }
            }
        })
    };

    // The stream: RATE updates per second, in 10 ms ticks, each a Click from the next user
    // (clicker counts it, echo echoes it).
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let feeder = {
        let (rt, submitted, stop) = (rt.clone(), submitted.clone(), stop.clone());
        tokio::spawn(async move {
            let per_tick = RATE / 100;
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            let mut user = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tick.tick().await;
                let batch: Vec<_> = (0..per_tick)
                    .map(|_| {
                        next_id += 1;
                        user = (user + 1) % USERS;
                        support::private_text(next_id, 10_000 + user, "Click")
                    })
                    .collect();
                let now = Instant::now();
                {
                    let mut s = submitted.lock();
                    for u in &batch {
                        s.insert(u["update_id"].as_u64().expect("id"), now);
                    }
                }
                rt.submit(batch).await.expect("submit");
            }
        })
    };

    // Five seconds without swaps, then a swap every second.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let baseline_end = Instant::now();
    let mut swaps = Vec::new();
    for i in 0..SWAPS {
        let bytes = if i % 2 == 0 { &v2 } else { &v1 };
        let t0 = Instant::now();
        let done = rt.registry().install(bytes, None).await.expect("swap");
        assert_eq!(done.action, "swapped");
        swaps.push((t0, Instant::now()));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    feeder.await.expect("feeder");
    tokio::time::sleep(Duration::from_secs(2)).await;
    collector.abort();

    let samples = std::mem::take(&mut *samples.lock());
    let latency = |module: &str, during: bool| -> Vec<f64> {
        samples
            .iter()
            .filter(|s| &*s.module == module)
            .filter(|s| {
                if during {
                    // Updates submitted while a swap was going on, or within 200 ms after.
                    swaps.iter().any(|(a, b)| {
                        s.submitted >= *a && s.submitted <= *b + Duration::from_millis(200)
                    })
                } else {
                    s.submitted < baseline_end
                }
            })
            .map(|s| ms(s.committed - s.submitted))
            .collect()
    };
    let mut install: Vec<f64> = swaps.iter().map(|(a, b)| ms(*b - *a)).collect();
    // The first clicker update submitted after a switch is served by the new version.
    let mut first_new: Vec<f64> = swaps
        .iter()
        .filter_map(|(a, b)| {
            samples
                .iter()
                .filter(|s| &*s.module == "clicker" && s.submitted >= *b)
                .map(|s| s.committed)
                .min()
                .map(|c| ms(c - *a))
        })
        .collect();
    let (mut echo_base, mut echo_swap) = (latency("echo", false), latency("echo", true));
    let (mut click_base, mut click_swap) = (latency("clicker", false), latency("clicker", true));
    let figures = serde_json::json!({
        "bench": "swap",
        "offered_updates_per_sec": RATE,
        "swaps": SWAPS,
        "swap_ms_p50": pct(&mut install, 0.5),
        "swap_ms_p99": pct(&mut install, 0.99),
        "swap_to_first_update_of_new_version_ms_p50": pct(&mut first_new, 0.5),
        "swap_to_first_update_of_new_version_ms_p99": pct(&mut first_new, 0.99),
        "echo_latency_ms_without_swaps_p50": pct(&mut echo_base, 0.5),
        "echo_latency_ms_without_swaps_p99": pct(&mut echo_base, 0.99),
        "echo_latency_ms_during_swaps_p50": pct(&mut echo_swap, 0.5),
        "echo_latency_ms_during_swaps_p99": pct(&mut echo_swap, 0.99),
        "clicker_latency_ms_without_swaps_p99": pct(&mut click_base, 0.99),
        "clicker_latency_ms_during_swaps_p99": pct(&mut click_swap, 0.99),
        "samples": samples.len(),
    });
    println!("{figures}");
    rt.stop().await;
}
