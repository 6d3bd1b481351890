//! The store at a million users (issue 5): the clicker's dataset built through the real runtime,
//! then click and Rating latency, snapshot size and time, restore time, and restore-from-Telegram
//! time through the fake Bot API. Prints one JSON object per measurement group on stdout
//! (progress on stderr); never fails on speed.
//!
//! The dataset: `BOTBOX_BENCH_USERS` (default 1,000,000) distinct users send `/start`, in
//! batches of 100 from 8 concurrent feeders (`Runtime::submit`, as polling would), then a fifth
//! as many Clicks, skewed towards a few users, so that the rating is not all zeros. The users
//! write in 64 groups the fake has never seen, so the module's replies are answered 400 and given
//! up by the outbox (see [`support::GROUPS`]); the outbox is let drain before anything is measured, so
//! that the snapshot holds the dataset and not a million queued replies.
//!
//! Latency is from `submit` of one update to the durable commit of its handling (the
//! `Committed::Handled` event), one update at a time: it includes recording the update, the
//! module's call, and the commit of its KV writes and reply — one fsync when the update is
//! handled at once (`intake/at_once.rs`), else two. `commits_per_update` counts the writer's
//! durable transactions in that phase, the delivery of each reply (given up, 400) included.
//!
//! Run: `cargo bench -p botbox --bench store` (release build; a few minutes), or
//! `BOTBOX_BENCH_USERS=20000 cargo bench -p botbox --bench store` for a quick check.

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use botbox::{Options, Runtime, store::Committed};
use fake_bot_api::{FakeBotApi, FakeConfig, Limits, TestUser};
use redb::{ReadableDatabase, ReadableTableMetadata};
use tokio::sync::broadcast::{Receiver, error::RecvError};

/// Updates per `submit`, getUpdates' maximum.
const BATCH: u64 = 100;
/// Concurrent feeders while the dataset is built.
const FEEDERS: usize = 8;
/// Single Clicks timed.
const CLICK_SAMPLES: usize = 2_000;
/// Single Ratings timed.
const RATING_SAMPLES: usize = 500;
/// Users' ids start here.
const FIRST_USER: u64 = 10_000_000;
/// The operators' chat the snapshot is sent to.
const OPERATORS: i64 = 555;
/// The article's backup size at a million users.
const ARTICLE_BYTES: u64 = 21_000_000;

fn users() -> u64 {
    std::env::var("BOTBOX_BENCH_USERS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1_000_000)
}

/// xorshift64*: deterministic, good enough to spread clicks.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A user index in 0..n, uniform.
    fn uniform(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A user index in 0..n, most often small: a few users click a lot.
    fn skewed(&mut self, n: u64) -> u64 {
        ((self.unit().powi(4) * n as f64) as u64).min(n - 1)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

/// Resident and peak memory of this process (runtime, fake and bench together), MiB.
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Waits until `total` updates have been handled and committed.
fn count_handled(
    mut events: Receiver<Committed>,
    total: u64,
    label: &'static str,
) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut handled = 0u64;
        let step = (total / 10).max(1);
        let t0 = Instant::now();
        while handled < total {
            let before = handled;
            match events.recv().await {
                Ok(Committed::Handled { .. }) => handled += 1,
                // Events dropped by a slow receiver were commits all the same.
                Err(RecvError::Lagged(n)) => handled += n,
                Err(RecvError::Closed) => break,
            }
            if handled / step != before / step {
                let s = t0.elapsed().as_secs_f64();
                eprintln!(
                    "{label}: {handled}/{total} handled in {s:.1} s ({:.0}/s, rss {:.0} MiB)",
                    handled as f64 / s,
                    memory_mib().0
                );
            }
        }
        handled
    })
}

/// Submits `batches` batches (built by `make` from the batch number) from `FEEDERS` feeders and
/// waits until all `total` updates are committed. Returns the time taken.
async fn feed(
    rt: &Runtime,
    batches: u64,
    total: u64,
    label: &'static str,
    make: impl Fn(u64) -> Vec<serde_json::Value> + Send + Sync + 'static,
) -> Duration {
    let collector = count_handled(rt.subscribe(), total, label);
    let make = Arc::new(make);
    let next = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..FEEDERS {
        let (rt, make, next) = (rt.clone(), make.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let b = next.fetch_add(1, Ordering::Relaxed);
                if b >= batches {
                    break;
                }
                rt.submit(make(b)).await.expect("submit");
            }
        }));
    }
    for t in tasks {
        t.await.expect("feeder");
    }
    let handled = collector.await.expect("collector");
    if handled < total {
        eprintln!("{label}: only {handled} of {total} updates were handled");
    }
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

/// Records per table, and the number of queued outgoing messages.
fn tables(db: &redb::Database) -> (serde_json::Map<String, serde_json::Value>, u64) {
    let txn = db.begin_read().expect("read");
    let mut counts = serde_json::Map::new();
    let mut outbox = 0;
    for handle in txn.list_tables().expect("tables") {
        let name = redb::TableHandle::name(&handle).to_owned();
        let len = txn
            .open_untyped_table(handle)
            .and_then(|t| Ok(t.len()?))
            .unwrap_or(0);
        if name == "outbox" {
            outbox = len;
        }
        counts.insert(name, len.into());
    }
    (counts, outbox)
}

fn outbox_len(db: &redb::Database) -> u64 {
    tables(db).1
}

fn module_stat(rt: &Runtime, f: impl Fn(&botbox::modules::ModuleStats) -> &AtomicU64) -> u64 {
    rt.modules()
        .get("clicker")
        .map_or(0, |s| f(s).load(Ordering::Relaxed))
}

async fn bench() {
    let users = users();
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = FakeBotApi::start(FakeConfig {
        limits: Limits::unlimited(),
        ..FakeConfig::default()
    })
    .expect("fake");
    fake.open_chat(&TestUser::new(OPERATORS, "Operators"));
    let mut config = support::config(dir.path(), &fake, &[botbox_test_artifacts::CLICKER]);
    // Two keys and about 90 bytes per user (record and rating entry): far beyond the default
    // quotas (a million keys, 64 MiB).
    config.sandbox.kv_max_keys = 1 << 40;
    config.sandbox.kv_max_bytes = 1 << 40;
    // The replies go nowhere (chat not found); let the outbox dispose of them quickly.
    config.outbox.chat_per_second = 1e6;
    config.outbox.chat_burst = u32::MAX;
    config.outbox.global_per_second = u32::MAX;
    config.outbox.group_per_minute = u32::MAX;
    config.outbox.max_in_flight = 64;
    let shards = config.sandbox.shards;
    let rt = Runtime::start_with(
        config,
        Options {
            intake: false,
            ..Options::default()
        },
    )
    .await
    .expect("runtime");

    // The dataset.
    let registered = feed(&rt, users.div_ceil(BATCH), users, "/start", move |b| {
        (b * BATCH..((b + 1) * BATCH).min(users))
            .map(|i| support::group_text(i + 1, FIRST_USER + i, "/start"))
            .collect()
    })
    .await;
    let start_conflicts = module_stat(&rt, |s| &s.conflicts);
    let clicks = users / 5;
    let first_click_id = users + 1;
    let clicked = feed(&rt, clicks.div_ceil(BATCH), clicks, "clicks", move |b| {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (b + 1));
        (b * BATCH..((b + 1) * BATCH).min(clicks))
            .map(|i| {
                support::group_text(first_click_id + i, FIRST_USER + rng.skewed(users), "Click")
            })
            .collect()
    })
    .await;
    let mut next_id = first_click_id + clicks;

    // The replies (400: chat not found) leave the outbox before anything is measured.
    let drain_start = Instant::now();
    let mut outbox_left = outbox_len(rt.db().raw());
    let mut told = Instant::now();
    while outbox_left > 0 && drain_start.elapsed() < Duration::from_secs(180) {
        if told.elapsed() >= Duration::from_secs(5) {
            eprintln!("outbox: {outbox_left} replies still queued");
            told = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        outbox_left = outbox_len(rt.db().raw());
    }
    let outbox_drain = drain_start.elapsed();
    // The outbox's counters are refreshed twice a second.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (rss, peak) = memory_mib();
    let (records, _) = tables(rt.db().raw());
    let db_file = std::fs::metadata(dir.path().join("data/botbox.redb")).map_or(0, |m| m.len());
    let dataset_updates = users + clicks;
    println!(
        "{}",
        serde_json::json!({
            "group": "dataset",
            "users": users,
            "build_seconds": registered.as_secs_f64(),
            "updates_per_sec": users as f64 / registered.as_secs_f64(),
            "clicks": clicks,
            "clicks_seconds": clicked.as_secs_f64(),
            "clicks_per_sec": clicks as f64 / clicked.as_secs_f64(),
            "feeders": FEEDERS,
            "batch": BATCH,
            "shards": shards,
            "outbox_drain_seconds": outbox_drain.as_secs_f64(),
            "outbox_left": outbox_left,
            "outbox_failed": rt.outbox_metrics().failed_total,
            "handler_calls": module_stat(&rt, |s| &s.calls),
            "handler_errors": module_stat(&rt, |s| &s.errors),
            "quarantined": module_stat(&rt, |s| &s.quarantined),
            "kv_conflict_reruns_start": start_conflicts,
            "kv_conflict_reruns_clicks": module_stat(&rt, |s| &s.conflicts) - start_conflicts,
            "updates_submitted": dataset_updates,
            "table_records": records,
            "db_file_bytes": db_file,
            "rss_mib": rss,
            "peak_rss_mib": peak,
        })
    );

    // Latency, one update at a time.
    let commits_before = rt.commits();
    let mut events = rt.subscribe();
    let mut rng = Rng(42);
    let mut click_lat = Vec::with_capacity(CLICK_SAMPLES);
    for _ in 0..CLICK_SAMPLES {
        let user = FIRST_USER + rng.uniform(users);
        click_lat.push(
            one(
                &rt,
                &mut events,
                support::group_text(next_id, user, "Click"),
            )
            .await,
        );
        next_id += 1;
    }
    let mut rating_lat = Vec::with_capacity(RATING_SAMPLES);
    for _ in 0..RATING_SAMPLES {
        let user = FIRST_USER + rng.uniform(users);
        rating_lat.push(
            one(
                &rt,
                &mut events,
                support::group_text(next_id, user, "Rating"),
            )
            .await,
        );
        next_id += 1;
    }
    drop(events);
    let commits = rt.commits() - commits_before;
    click_lat.sort();
    rating_lat.sort();
    let rating_p50 = percentile(&rating_lat, 0.50);
    let rating_p99 = percentile(&rating_lat, 0.99);
    println!(
        "{}",
        serde_json::json!({
            "group": "latency",
            "measure": "submit of one update to the durable commit of its handling",
            "click_samples": click_lat.len(),
            "click_us_p50": percentile(&click_lat, 0.50),
            "click_us_p99": percentile(&click_lat, 0.99),
            "click_us_max": percentile(&click_lat, 1.0),
            "rating_samples": rating_lat.len(),
            "rating_us_p50": rating_p50,
            "rating_us_p99": rating_p99,
            "rating_us_max": percentile(&rating_lat, 1.0),
            "commits_per_update": commits as f64 / (CLICK_SAMPLES + RATING_SAMPLES) as f64,
            "handle_at_once_ms": std::env::var("BOTBOX_BENCH_AT_ONCE_MS").unwrap_or_else(|_| "default".into()),
        })
    );

    // Snapshot while the runtime runs.
    let db = rt.db().clone();
    let t0 = Instant::now();
    let (bytes, info) = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let info = botbox::backup::write_snapshot(db.raw(), &mut out).expect("snapshot");
        (out, info)
    })
    .await
    .expect("snapshot task");
    let snapshot = t0.elapsed();
    let bytes = Arc::new(bytes);

    // Restore from the bytes onto an empty data dir.
    let restored_dir = tempfile::tempdir().expect("tempdir");
    let t0 = Instant::now();
    let restored = {
        let (bytes, path) = (bytes.clone(), restored_dir.path().join("data"));
        tokio::task::spawn_blocking(move || botbox::backup::restore(bytes.as_slice(), &path))
            .await
            .expect("restore task")
            .expect("restore")
    };
    let restore = t0.elapsed();
    assert_eq!(restored.records, info.records, "the restore lost records");
    drop(restored_dir);

    // Through Telegram: send the parts and pin the manifest, then a blank machine fetches and
    // restores.
    let bot = teloxide_core::Bot::new(fake.token()).set_api_url(fake.api_url());
    let t0 = Instant::now();
    let sent = botbox::backup::telegram::send(
        &bot,
        OPERATORS,
        &bytes,
        &info,
        botbox::backup::telegram::PART_BYTES,
    )
    .await;
    let send_time = t0.elapsed();
    let blank = tempfile::tempdir().expect("tempdir");
    let (telegram_send, from_telegram, parts, telegram_error) = match sent {
        Err(e) => {
            let documents = fake
                .transcript(OPERATORS)
                .iter()
                .filter(|m| m.document.is_some())
                .count();
            (
                None,
                None,
                None,
                Some(format!(
                    "send: {e} (after {documents} document(s) had arrived; \
                     the fake may lack pinChatMessage)"
                )),
            )
        }
        Ok(manifest) => {
            let t0 = Instant::now();
            match botbox::backup::telegram::fetch(&bot, OPERATORS).await {
                Err(e) => (
                    Some(send_time.as_secs_f64()),
                    None,
                    Some(manifest.parts.len()),
                    Some(format!("fetch: {e}")),
                ),
                Ok((_, fetched)) => {
                    let path = blank.path().join("data");
                    let result = tokio::task::spawn_blocking(move || {
                        botbox::backup::restore(fetched.as_slice(), &path)
                    })
                    .await
                    .expect("restore task");
                    match result {
                        Ok(r) if r.records == info.records => (
                            Some(send_time.as_secs_f64()),
                            Some(t0.elapsed().as_secs_f64()),
                            Some(manifest.parts.len()),
                            None,
                        ),
                        Ok(r) => (
                            Some(send_time.as_secs_f64()),
                            None,
                            Some(manifest.parts.len()),
                            Some(format!(
                                "restored {} of {} records",
                                r.records, info.records
                            )),
                        ),
                        Err(e) => (
                            Some(send_time.as_secs_f64()),
                            None,
                            Some(manifest.parts.len()),
                            Some(format!("restore: {e}")),
                        ),
                    }
                }
            }
        }
    };
    if let Some(e) = &telegram_error {
        eprintln!("restore from Telegram unavailable: {e}");
    }
    drop(blank);
    let (rss, peak) = memory_mib();
    println!(
        "{}",
        serde_json::json!({
            "group": "backup",
            "snapshot_bytes": info.bytes,
            "snapshot_records": info.records,
            "snapshot_tables": info.tables,
            "snapshot_seconds": snapshot.as_secs_f64(),
            "restore_seconds": restore.as_secs_f64(),
            "telegram_send_seconds": telegram_send,
            "telegram_parts": parts,
            "restore_from_telegram_seconds": from_telegram,
            "restore_from_telegram_error": telegram_error,
            "goal_rating_under_1ms": rating_p99 < 1000.0,
            "goal_rating_measure": "rating_us_p99",
            "goal_snapshot_under_2s": snapshot < Duration::from_secs(2),
            "goal_snapshot_under_21mb": info.bytes < ARTICLE_BYTES,
            "rss_mib": rss,
            "peak_rss_mib": peak,
        })
    );

    rt.stop().await;
    fake.shutdown();
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    rt.block_on(bench());
}
