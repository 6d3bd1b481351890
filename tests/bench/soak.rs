//! A soak: millions of updates through the real runtime (intake → clicker → group commit →
//! outbox → the fake Bot API), with the store's retention running on horizons of seconds
//! instead of days, so that a few minutes show what years would: the tables and the database
//! file stay flat. Prints one JSON object per snapshot (start, each quarter, end after the
//! outbox drained); never fails on size or speed.
//!
//! Run: `cargo bench -p botbox --bench soak` (release), or `cargo test -p botbox --bench soak`
//! (debug, slower). `SOAK_UPDATES` sets the count (default 2,000,000), `SOAK_USERS` the
//! number of users (default 1,000).

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use botbox::{Options, Runtime, store::Db};
use fake_bot_api::{FakeBotApi, FakeConfig, Limits};

/// The retention horizon of the soak, instead of days.
const HORIZON: Duration = Duration::from_secs(5);

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn snapshot(label: &str, db: &Db, file: &std::path::Path, handled: u64, started: Instant) {
    let rows: serde_json::Map<String, serde_json::Value> = db
        .table_sizes()
        .expect("table sizes")
        .into_iter()
        .map(|(t, n)| (t.to_string(), n.into()))
        .collect();
    let outbox = db.outbox().map(|o| o.len()).unwrap_or(0);
    let bytes = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    println!(
        "{}",
        serde_json::json!({
            "bench": "soak",
            "at": label,
            "updates": handled,
            "seconds": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
            "rows": rows,
            "outbox_queued": outbox,
            "db_file_mb": (bytes as f64 / 1e6 * 10.0).round() / 10.0,
            // This process: the bot and the fake Bot API it talks to.
            "process_rss_mib": support::own_rss_mib(),
        })
    );
}

/// Prunes with the soak's horizon every second until `stop`.
fn pruner(db: Arc<Db>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_secs(1));
            db.prune_seen(HORIZON).expect("prune seen");
            db.prune_tickets(HORIZON).expect("prune tickets");
            db.prune_quarantine(botbox::store::retention::QUARANTINE_PER_MODULE)
                .expect("prune quarantine");
        }
    })
}

#[tokio::main]
async fn main() {
    let total = env("SOAK_UPDATES", 2_000_000);
    let users = env("SOAK_USERS", 1_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = FakeBotApi::start(FakeConfig {
        limits: Limits::unlimited(),
        ..FakeConfig::default()
    })
    .expect("fake");
    let mut config = support::config(dir.path(), &fake, &[botbox_test_artifacts::CLICKER]);
    config.outbox.chat_per_second = 10_000.0;
    config.outbox.chat_burst = 10_000;
    config.outbox.global_per_second = 100_000;
    let file = config.data_dir.join("botbox.redb");
    let rt = Runtime::start_with(
        config,
        Options {
            intake: false,
            ..Options::default()
        },
    )
    .await
    .expect("runtime");
    let db = rt.db().clone();
    let started = Instant::now();
    let mut id = 1;
    let registration: Vec<_> = (0..users)
        .map(|u| {
            id += 1;
            support::private_text(id, 1_000_000 + u, "/start")
        })
        .collect();
    for chunk in registration.chunks(100) {
        rt.submit(chunk.to_vec()).await.expect("submit");
    }
    snapshot("start", &db, &file, 0, started);

    let stop = Arc::new(AtomicBool::new(false));
    let prune = pruner(db.clone(), stop.clone());
    let mut sent = 0;
    let mut next_report = total / 4;
    while sent < total {
        let batch: Vec<_> = (0..100)
            .map(|i| {
                id += 1;
                support::private_text(id, 1_000_000 + (sent + i) % users, "Click")
            })
            .collect();
        rt.submit(batch).await.expect("submit");
        sent += 100;
        // Let delivery keep up: a soak measures what stays, not how deep a queue can get.
        while db.outbox().map(|o| o.len()).unwrap_or(0) > 20_000 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if sent >= next_report {
            snapshot(
                &format!("{}%", sent * 100 / total),
                &db,
                &file,
                sent,
                started,
            );
            next_report += total / 4;
        }
    }
    while db.outbox().map(|o| o.len()).unwrap_or(0) > 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // One more round past the horizon: what is settled is forgotten.
    tokio::time::sleep(HORIZON + Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    prune.join().expect("pruner");
    snapshot("end", &db, &file, sent, started);
    drop(db);
    rt.stop().await;
}
