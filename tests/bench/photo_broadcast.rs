//! A 100 KB photo broadcast to 1,000 chats at Telegram's default limits (30 messages a second):
//! the module's bytes are stored once and uploaded once, the other copies go by file id, the
//! disk they took is released after the last delivery, and memory stays flat.
//!
//! The `api-probe` test module's `/bcast 1000 100` makes the broadcast: one `bot-api` broadcast
//! of sendPhoto with a 100 KB file part. The runtime and the fake Bot API run in this process;
//! every second the program samples delivered photos, the fake's uploads and sends by file id,
//! the files the store keeps, the database file's size and the process's RSS. Prints one JSON
//! object; never fails on speed.
//!
//! Run: `cargo bench -p botbox --bench photo_broadcast` (release build; about 40 s).

mod support;

use std::time::{Duration, Instant};

use botbox::Runtime;
use fake_bot_api::{FakeBotApi, FakeConfig, TestUser};

/// Chats the broadcast goes to: 1001..=1000+CHATS (the probe's range).
const CHATS: i64 = 1_000;
/// The photo's size in KB.
const PHOTO_KB: usize = 100;
const TIMEOUT: Duration = Duration::from_secs(180);

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

fn file_mib(path: &std::path::Path) -> f64 {
    std::fs::metadata(path).map_or(0.0, |m| m.len() as f64 / f64::from(1u32 << 20))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fake = FakeBotApi::start(FakeConfig::default()).expect("fake Bot API");
    let mut config = support::config(dir.path(), &fake, &[botbox_test_artifacts::API_PROBE]);
    config.telegram.poll_timeout_secs = 1;
    let runtime = Runtime::start(config).await.expect("runtime");
    let admin = TestUser::new(1, "Admin");
    fake.open_chat(&admin);
    for id in 1001..=1000 + CHATS {
        fake.open_chat(&TestUser::new(id, format!("user{id}")));
    }
    let db_file = dir.path().join("data").join("botbox.redb");
    let (rss_before, db_before) = (rss_mib(), file_mib(&db_file));

    let started = Instant::now();
    fake.send_text(&admin, format!("/bcast {CHATS} {PHOTO_KB}"));
    let (mut rss_peak, mut db_peak, mut stored_peak) = (rss_before, db_before, 0u64);
    let mut samples = Vec::new();
    let delivered = |fake: &FakeBotApi| {
        let c = fake.counters();
        c.uploads + c.sent_by_file_id
    };
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (files, bytes) = runtime.db().stored_files().unwrap_or((0, 0));
        let rss = rss_mib();
        rss_peak = rss_peak.max(rss);
        db_peak = db_peak.max(file_mib(&db_file));
        stored_peak = stored_peak.max(bytes);
        samples.push(serde_json::json!({
            "second": started.elapsed().as_secs(),
            "photos_sent": delivered(&fake),
            "stored_files": files,
            "rss_mib": (rss * 10.0).round() / 10.0,
        }));
        if delivered(&fake) >= CHATS as u64 && files == 0 || started.elapsed() > TIMEOUT {
            break;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let c = fake.counters();
    let (files_after, bytes_after) = runtime.db().stored_files().unwrap_or((0, 0));
    println!(
        "{}",
        serde_json::json!({
            "bench": "photo_broadcast",
            "chats": CHATS,
            "photo_kb": PHOTO_KB,
            "seconds": (elapsed * 10.0).round() / 10.0,
            "photos_per_second": (delivered(&fake) as f64 / elapsed * 10.0).round() / 10.0,
            "uploads": c.uploads,
            "upload_bytes": c.upload_bytes,
            "sent_by_file_id": c.sent_by_file_id,
            "too_many_requests": c.too_many_requests,
            "stored_bytes_peak": stored_peak,
            "stored_after": [files_after, bytes_after],
            "db_file_mib": {"before": db_before, "peak": db_peak, "after": file_mib(&db_file)},
            "rss_mib": {"before": rss_before, "peak": rss_peak, "after": rss_mib()},
            "samples": samples,
        })
    );
    runtime.stop().await;
}
