//! The real `botbox` binary with a million clicker users (issue 20): its resident memory idle,
//! while the dataset is built, at a steady 1,000 updates per second against it, idle after that,
//! and idle after a restart on the full database; the database file's size; where the memory
//! is (`proc_memory`). Prints one JSON object per phase on stdout, progress on stderr; never
//! fails on size.
//!
//! The bot is its own process, so every figure is botbox's alone; the fake Bot API runs in this
//! one. The dataset goes in the way Telegram would deliver it: the users' `/start`s and Clicks
//! are queued in the fake and fetched by the bot's long polling (at most 20,000 waiting at a
//! time). The users write in 64 groups the fake has never seen, so the module's replies are
//! answered 400 and given up by the outbox, which therefore never holds a million chats (see
//! `store.rs`, which builds the same dataset in process).
//!
//! Run: `cargo bench -p botbox --bench memory_scale` (release build; about ten minutes).
//! `BOTBOX_BENCH_USERS` (default 1,000,000) sets the users, `BOTBOX_BENCH_SECONDS` (default 60)
//! the steady load's length, `BOTBOX_BENCH_CACHE_MIB` the bot's `store.cache_mib` (default: the
//! bot's default). The bot inherits the environment, so `MALLOC_ARENA_MAX=2 cargo bench ...`
//! measures glibc's setting; `BOTBOX_BENCH_BIN` runs another build of `botbox`.

mod proc_memory;
mod support;

use std::{
    path::Path,
    process::Stdio,
    time::{Duration, Instant},
};

use fake_bot_api::{FakeBotApi, FakeConfig, Limits};
use proc_memory::{breakdown, mib, status};
use serde_json::json;

/// The bot's binary: this build's, or `BOTBOX_BENCH_BIN` (another build, to compare).
fn botbox() -> String {
    std::env::var("BOTBOX_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_botbox").into())
}
/// Updates per second of the steady load.
const RATE: u64 = 1000;
/// Updates waiting in the fake at most while the dataset is fed.
const WAITING: usize = 20_000;
const FIRST_USER: u64 = 10_000_000;
const TOKEN: &str = "memory-bench-admin-token";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

/// Deterministic spread of users: `skewed` favours small indexes (a few users click a lot).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn skewed(&mut self, n: u64) -> u64 {
        let unit = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((unit.powi(4) * n as f64) as u64).min(n - 1)
    }
}

/// The running bot: its process and its admin API.
struct Bot {
    child: tokio::process::Child,
    pid: u32,
    data: std::path::PathBuf,
    http: reqwest::Client,
}

impl Bot {
    async fn start(config: &Path, data: &Path, fake: &FakeBotApi) -> Bot {
        let _ = std::fs::remove_file(data.join("admin.addr"));
        let polls = fake.counters().polls;
        let child = tokio::process::Command::new(botbox())
            .args(["run", "--config"])
            .arg(config)
            .env("BOTBOX_LOG", "error")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start botbox");
        let pid = child.id().expect("running");
        let t0 = Instant::now();
        while fake.counters().polls == polls || !data.join("admin.addr").exists() {
            assert!(
                t0.elapsed() < Duration::from_secs(300),
                "the bot did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Bot {
            child,
            pid,
            data: data.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// Updates the clicker finished, from `/metrics`.
    async fn handled(&self) -> u64 {
        let addr = std::fs::read_to_string(self.data.join("admin.addr")).expect("admin.addr");
        let text = self
            .http
            .get(format!("http://{}/metrics", addr.trim()))
            .bearer_auth(TOKEN)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("metrics")
            .text()
            .await
            .expect("metrics text");
        text.lines()
            .filter(|l| l.starts_with("botbox_updates_handled_total{") && l.contains("clicker"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }

    fn rss(&self) -> u64 {
        status(self.pid, "VmRSS:")
    }

    async fn stop(mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        let _ = self.child.wait().await;
    }
}

/// Queues `count` updates made by `make(i)` (never more than [`WAITING`] waiting), waits until
/// the bot has handled `handled_before + count`, and returns the seconds taken and the largest
/// RSS seen (KiB).
async fn feed(
    fake: &FakeBotApi,
    bot: &Bot,
    label: &str,
    count: u64,
    mut make: impl FnMut(u64) -> serde_json::Value,
) -> (f64, u64) {
    let before = bot.handled().await;
    let t0 = Instant::now();
    let mut max_rss = 0;
    let mut told = Instant::now();
    let mut i = 0;
    loop {
        while i < count && fake.pending_updates() < WAITING {
            fake.inject_raw_update(make(i));
            i += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        max_rss = max_rss.max(bot.rss());
        let done = i == count && fake.pending_updates() == 0;
        if told.elapsed() >= Duration::from_secs(10) || done {
            let handled = bot.handled().await - before;
            let s = t0.elapsed().as_secs_f64();
            eprintln!(
                "{label}: {handled}/{count} handled in {s:.0} s ({:.0}/s), rss {} MiB",
                handled as f64 / s,
                mib(bot.rss())
            );
            told = Instant::now();
            if handled >= count {
                return (s, max_rss);
            }
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let users = env_number("BOTBOX_BENCH_USERS", 1_000_000);
    let seconds = env_number("BOTBOX_BENCH_SECONDS", 60);
    let dir = tempfile::tempdir().expect("tempdir");
    let modules = dir.path().join("modules");
    std::fs::create_dir_all(&modules).unwrap();
    std::fs::copy(botbox_test_artifacts::CLICKER, modules.join("clicker.wasm")).unwrap();
    let data = dir.path().join("data");
    let fake = FakeBotApi::start(FakeConfig {
        limits: Limits::unlimited(),
        ..FakeConfig::default()
    })
    .expect("fake Bot API");
    let cache = std::env::var("BOTBOX_BENCH_CACHE_MIB")
        .map(|mib| format!("[store]\ncache_mib = {mib}\n"))
        .unwrap_or_default();
    let config = dir.path().join("botbox.toml");
    // Two keys and about 90 bytes per user: above the default quota of a million keys. The
    // replies go nowhere (chat not found): limits that let the outbox dispose of them at once.
    std::fs::write(
        &config,
        format!(
            "data_dir = {data:?}\nmodules_dir = {modules:?}\n\
             [telegram]\ntoken = {token:?}\napi_url = {url:?}\n\
             [admin]\nlisten = \"127.0.0.1:0\"\ntoken = {TOKEN:?}\n\
             [http]\naddr = \"off\"\n\
             [sandbox]\nkv_max_keys = 1000000000000\nkv_max_bytes = 1000000000000\n\
             [outbox]\nchat_per_second = 1000000.0\nchat_burst = 4000000000\n\
             group_per_minute = 4000000000\nglobal_per_second = 4000000000\nmax_in_flight = 64\n{cache}",
            token = fake.token(),
            url = fake.api_url().to_string(),
        ),
    )
    .unwrap();

    let bot = Bot::start(&config, &data, &fake).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    println!(
        "{}",
        json!({"phase": "idle, empty database", "modules": ["clicker"],
               "rss_mib": mib(bot.rss()), "memory": breakdown(bot.pid)})
    );

    // The dataset: every user registers, then a fifth as many Clicks, skewed.
    let (start_s, start_rss) = feed(&fake, &bot, "/start", users, |i| {
        support::group_text(i + 1, FIRST_USER + i, "/start")
    })
    .await;
    let clicks = users / 5;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (click_s, click_rss) = feed(&fake, &bot, "clicks", clicks, |i| {
        support::group_text(users + 1 + i, FIRST_USER + rng.skewed(users), "Click")
    })
    .await;
    println!(
        "{}",
        json!({"phase": "dataset built", "users": users, "clicks": clicks,
               "start_updates_per_second": (users as f64 / start_s).round(),
               "click_updates_per_second": (clicks as f64 / click_s).round(),
               "rss_mib_max_while_building": mib(start_rss.max(click_rss)),
               "rss_mib_now": mib(bot.rss()),
               "rss_mib_high_water_mark": mib(status(bot.pid, "VmHWM:")),
               "memory": breakdown(bot.pid)})
    );

    // Steady: RATE updates a second, nine Clicks for each Rating, from every user alike.
    let mut next_id = users + clicks + 1;
    let handled_before = bot.handled().await;
    let total = RATE * seconds;
    let t0 = Instant::now();
    let mut samples = Vec::new();
    let mut sent = 0;
    let mut rng = Rng(42);
    while sent < total {
        let due = (t0.elapsed().as_secs_f64() * RATE as f64) as u64;
        while sent < due.min(total) {
            let user = FIRST_USER + rng.next() % users;
            let text = if sent % 10 == 9 { "Rating" } else { "Click" };
            fake.inject_raw_update(support::group_text(next_id, user, text));
            next_id += 1;
            sent += 1;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        if samples.len() < (t0.elapsed().as_millis() / 500) as usize {
            samples.push(bot.rss());
        }
    }
    while bot.handled().await - handled_before < total {
        assert!(
            t0.elapsed() < Duration::from_secs(seconds + 300),
            "the load was not handled"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let steady = &samples[samples.len() / 4..];
    println!(
        "{}",
        json!({"phase": "steady load", "users": users, "updates": total,
               "target_updates_per_second": RATE,
               "seconds_until_all_handled": (t0.elapsed().as_secs_f64() * 10.0).round() / 10.0,
               "rss_mib_mean_steady": mib(steady.iter().sum::<u64>() / steady.len().max(1) as u64),
               "rss_mib_max": mib(samples.iter().copied().max().unwrap_or(0)),
               "rss_mib_high_water_mark": mib(status(bot.pid, "VmHWM:")),
               "memory": breakdown(bot.pid)})
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    println!(
        "{}",
        json!({"phase": "idle after load", "rss_mib": mib(bot.rss()),
               "memory": breakdown(bot.pid)})
    );
    bot.stop().await;
    let db_bytes = std::fs::metadata(data.join("botbox.redb")).map_or(0, |m| m.len());

    // A restart on the full database: what an operator's bot holds most of the day.
    let bot = Bot::start(&config, &data, &fake).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    println!(
        "{}",
        json!({"phase": "idle after restart, full database", "users": users,
               "db_file_mib": mib(db_bytes / 1024), "rss_mib": mib(bot.rss()),
               "memory": breakdown(bot.pid)})
    );
    bot.stop().await;
    fake.shutdown();
}
