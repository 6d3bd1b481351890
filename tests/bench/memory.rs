//! What botbox costs on a small server: resident memory of the real `botbox` process with every
//! example module loaded, idle and while it handles 1,000 updates per second, and the time from
//! start to the first update served, with the compiled-module cache cold and warm, and where the
//! memory is (see `proc_memory.rs`). Prints one
//! JSON object per scenario; never fails on speed or size.
//!
//! Run: `cargo bench -p botbox --bench memory` (release build). `BOTBOX_BENCH_SECONDS` sets the
//! length of the load (default 20 s); `BOTBOX_BENCH_BIN` runs another build of `botbox`;
//! `BOTBOX_BENCH_MODULES` (names, comma-separated, e.g.
//! `clicker,coroutine_dialogue,download_queue,reminder`) loads only those example modules.
//!
//! The fake Bot API runs in this process, on the same cores as the bot; the bot's outbox limits
//! are raised (Telegram would let a bot answer 1,000 users a second only as paid broadcasts), so
//! that the load is steady: every update is answered as it comes.

mod proc_memory;

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use fake_bot_api::{FakeBotApi, FakeConfig, Limits, TestUser};
use proc_memory::{breakdown, mib, status as status_kib};

/// The bot's binary: this build's, or `BOTBOX_BENCH_BIN` (another build, to compare).
fn botbox() -> String {
    std::env::var("BOTBOX_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_botbox").into())
}
const RATE: u64 = 1000;
const USERS: i64 = 1000;

/// The example modules (every member of `example-modules/`, or those `BOTBOX_BENCH_MODULES`
/// names), built by `tests/artifacts`.
fn example_modules() -> Vec<PathBuf> {
    let wanted: Option<Vec<String>> = std::env::var("BOTBOX_BENCH_MODULES")
        .ok()
        .map(|v| v.split(',').map(|n| n.trim().replace('-', "_")).collect());
    let built = Path::new(botbox_test_artifacts::CLICKER)
        .parent()
        .expect("a directory");
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../example-modules");
    let workspace: toml::Table = std::fs::read_to_string(format!("{root}/Cargo.toml"))
        .expect("example-modules/Cargo.toml")
        .parse()
        .expect("TOML");
    let members = workspace["workspace"]["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m.as_str());
    let found: Vec<PathBuf> = members
        .filter_map(|m| {
            let manifest: toml::Table = std::fs::read_to_string(format!("{root}/{m}/Cargo.toml"))
                .ok()?
                .parse()
                .ok()?;
            let name = manifest["package"]["name"].as_str()?.replace('-', "_");
            if wanted.as_ref().is_some_and(|w| !w.contains(&name)) {
                return None;
            }
            let file = built.join(format!("{name}.wasm"));
            file.exists().then_some(file)
        })
        .collect();
    if let Some(w) = wanted {
        assert_eq!(found.len(), w.len(), "BOTBOX_BENCH_MODULES names {w:?}");
    }
    found
}

fn spawn(config: &Path) -> tokio::process::Child {
    tokio::process::Command::new(botbox())
        .args(["run", "--config"])
        .arg(config)
        .env("BOTBOX_LOG", "error")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start botbox")
}

async fn stop(mut bot: tokio::process::Child) {
    let pid = bot.id().expect("running").to_string();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    let _ = bot.wait().await;
}

/// Starts the bot with one update waiting and returns it with the time to its answer.
async fn start_and_serve(
    fake: &FakeBotApi,
    config: &Path,
    user: &TestUser,
) -> (tokio::process::Child, Duration) {
    let before = fake.view(|v| v.bot_texts(user.id).len());
    fake.send_text(user, "/start");
    let t0 = Instant::now();
    let bot = spawn(config);
    fake.wait_until(Duration::from_secs(300), |v| {
        v.bot_texts(user.id).len() > before
    })
    .await
    .expect("the first update is answered");
    (bot, t0.elapsed())
}

/// Messages the bot sent so far (cheap: a counter, not the transcripts).
fn sends(fake: &FakeBotApi) -> u64 {
    fake.counters().sends
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seconds: u64 = std::env::var("BOTBOX_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let modules = example_modules();
    let names: Vec<String> = modules
        .iter()
        .map(|m| m.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let modules_dir = dir.path().join("modules");
    std::fs::create_dir_all(&modules_dir).unwrap();
    for m in &modules {
        std::fs::copy(m, modules_dir.join(m.file_name().unwrap())).unwrap();
    }
    let fake = FakeBotApi::start(FakeConfig {
        limits: Limits::unlimited(),
        ..FakeConfig::default()
    })
    .expect("fake Bot API");
    let config = dir.path().join("botbox.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {data:?}\nmodules_dir = {modules:?}\n[telegram]\ntoken = {token:?}\napi_url = {url:?}\n\
             [http]\naddr = \"127.0.0.1:0\"\n[outbox]\nchat_per_second = 5.0\nchat_burst = 10\nglobal_per_second = 5000\nmax_in_flight = 64\n",
            data = dir.path().join("data"),
            modules = modules_dir,
            token = fake.token(),
            url = fake.api_url().to_string(),
        ),
    )
    .unwrap();

    // Cold: a new data directory, nothing compiled yet.
    let first = TestUser::new(1, "First");
    let (bot, cold) = start_and_serve(&fake, &config, &first).await;
    let pid = bot.id().expect("running");
    println!(
        "{}",
        serde_json::json!({
            "scenario": "startup", "cache": "cold", "modules": names,
            "ms_to_first_update_served": cold.as_millis(),
        })
    );

    // Idle: settled after start.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle = status_kib(pid, "VmRSS:");
    println!(
        "{}",
        serde_json::json!({
            "scenario": "idle", "modules": names, "rss_mib": mib(idle),
            "goal_mib": 40, "memory": breakdown(pid),
        })
    );

    // Load: RATE updates per second from USERS users (each registers, then clicks).
    let users: Vec<TestUser> = (0..USERS)
        .map(|i| TestUser::new(100_000 + i, format!("U{i}")))
        .collect();
    let total = RATE * seconds;
    let sends_before = sends(&fake);
    let feeder = {
        let (fake, users) = (fake.clone(), users.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut sent = 0u64;
            while sent < total {
                tick.tick().await;
                for _ in 0..RATE / 100 {
                    let u = &users[(sent % USERS as u64) as usize];
                    let text = if sent < USERS as u64 {
                        "/start"
                    } else {
                        "Click"
                    };
                    fake.send_text(u, text);
                    sent += 1;
                }
            }
        })
    };
    let started = Instant::now();
    let mut samples = Vec::new();
    while !feeder.is_finished() {
        tokio::time::sleep(Duration::from_millis(200)).await;
        samples.push(status_kib(pid, "VmRSS:"));
    }
    let fed_in = started.elapsed();
    let answered_during = sends(&fake) - sends_before;
    let deadline = Instant::now() + Duration::from_secs(120);
    while sends(&fake) - sends_before < total {
        assert!(Instant::now() < deadline, "not every update was answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drained_in = started.elapsed();
    let steady = &samples[samples.len() / 4..];
    let max = samples.iter().copied().max().unwrap_or(0);
    let mean = steady.iter().sum::<u64>() / steady.len().max(1) as u64;
    println!(
        "{}",
        serde_json::json!({
            "scenario": "load", "modules": names,
            "updates": total, "target_updates_per_second": RATE,
            "fed_updates_per_second": (total as f64 / fed_in.as_secs_f64()).round(),
            "answered_while_feeding": answered_during,
            "seconds_until_all_answered": (drained_in.as_secs_f64() * 10.0).round() / 10.0,
            "rss_mib_max": mib(max), "rss_mib_mean_steady": mib(mean),
            "rss_mib_high_water_mark": mib(status_kib(pid, "VmHWM:")),
            "goal_mib": 150, "memory": breakdown(pid),
        })
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    println!(
        "{}",
        serde_json::json!({
            "scenario": "idle-after-load", "modules": names,
            "rss_mib": mib(status_kib(pid, "VmRSS:")),
        })
    );
    stop(bot).await;

    // Warm: the same data directory, modules compiled in the cache.
    let second = TestUser::new(2, "Second");
    let (bot, warm) = start_and_serve(&fake, &config, &second).await;
    println!(
        "{}",
        serde_json::json!({
            "scenario": "startup", "cache": "warm", "modules": names,
            "ms_to_first_update_served": warm.as_millis(),
        })
    );
    // Idle again, after a start that compiled nothing: what a restarted bot holds.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let pid = bot.id().expect("running");
    println!(
        "{}",
        serde_json::json!({
            "scenario": "idle (warm cache)", "modules": names,
            "rss_mib": mib(status_kib(pid, "VmRSS:")), "memory": breakdown(pid),
        })
    );
    stop(bot).await;

    // Cold cache again, with the database of the run: only the compiling differs from warm.
    std::fs::remove_dir_all(dir.path().join("data/cache")).unwrap();
    let third = TestUser::new(3, "Third");
    let (bot, cold_cache) = start_and_serve(&fake, &config, &third).await;
    println!(
        "{}",
        serde_json::json!({
            "scenario": "startup", "cache": "cold (existing database)", "modules": names,
            "ms_to_first_update_served": cold_cache.as_millis(),
        })
    );
    stop(bot).await;
}
