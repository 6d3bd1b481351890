//! botbox against the clicker written idiomatically with its peers — aiogram 3 (Python), grammY
//! (Node) and teloxide (Rust), each in memory and on SQLite (WAL, synchronous=FULL, committed
//! before the reply) — all polling the same fake Bot API over HTTP (issue 20).
//!
//! Each contestant is a process of its own with a fresh fake (in this process, on the same
//! cores): 1,000 users send `/start`; then a backlog of 10 messages per user (9 Clicks, 1
//! Rating) is queued at once and timed until the last reply (updates/s at saturation); then
//! `rate` updates a second for `seconds` with each reply's latency from the update being
//! queued at the fake to the reply reaching it (p50/p99), and the bot's RSS (VmHWM, and the
//! mean VmRSS of that phase). Every answer is checked against botbox's clicker: a contestant
//! that answers wrong is reported failed, not timed. The fake's rate limits are off, and
//! botbox's outbox limits raised, so that Telegram's limits are not what is measured. Prints
//! one JSON object per contestant, then the ratios botbox/peer; never fails on speed.
//!
//! Run: `cargo bench -p botbox --bench peers`. Needs python3 (venv, pip), node and npm, and
//! cargo with crates.io for the peers; a missing one is skipped with the reason.
//! - `BOTBOX_BENCH_PEERS`: contestants, e.g. `botbox,aiogram,teloxide-memory` (default all);
//! - `BOTBOX_BENCH_SECONDS`: the steady phase (default 15); `BOTBOX_BENCH_RATE` (1000);
//! - `BOTBOX_BENCH_USERS` (1000); `BOTBOX_BENCH_BACKLOG`: messages per user (10);
//! - `BOTBOX_BENCH_AT_ONCE_MS`: botbox's `telegram.handle_at_once_ms` (default: its default);
//! - `BOTBOX_BENCH_BIN`: another build of `botbox` to run (default: this build's).

#[path = "peers/contestants.rs"]
mod contestants;
mod latency;
#[path = "peers/load.rs"]
mod load;
mod support;

use std::{process::Stdio, time::Duration};

use contestants::Contestant;
use fake_bot_api::{FakeBotApi, FakeConfig, Limits};
use serde_json::{Value, json};

const FRAMEWORKS: [&str; 3] = ["aiogram", "grammy", "teloxide"];
/// How long a phase may take before the contestant is reported failed.
const PHASE_TIMEOUT: Duration = Duration::from_secs(300);

struct Settings {
    chosen: Vec<String>,
    seconds: u64,
    rate: u64,
    users: usize,
    backlog: usize,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

impl Settings {
    fn from_env() -> Self {
        let chosen = std::env::var("BOTBOX_BENCH_PEERS")
            .unwrap_or_else(|_| "botbox,aiogram,grammy,teloxide".into())
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        Self {
            chosen,
            seconds: env_or("BOTBOX_BENCH_SECONDS", 15),
            rate: env_or("BOTBOX_BENCH_RATE", 1000),
            users: env_or("BOTBOX_BENCH_USERS", 1000),
            backlog: env_or("BOTBOX_BENCH_BACKLOG", 10),
        }
    }

    /// Whether `name` (`botbox` or `framework-storage`) was asked for, alone or by framework.
    fn wants(&self, name: &str) -> bool {
        let framework = name.split('-').next().unwrap_or(name);
        self.chosen.iter().any(|c| c == name || c == framework)
    }
}

fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    (kib as f64 / 1024.0 * 10.0).round() / 10.0
}

/// Runs one contestant through the phases against a fake of its own; its JSON figures.
async fn race(
    make: impl FnOnce(&FakeBotApi, &std::path::Path) -> Contestant,
    s: &Settings,
) -> Value {
    let fake = FakeBotApi::start(FakeConfig {
        limits: Limits::unlimited(),
        ..FakeConfig::default()
    })
    .expect("fake Bot API");
    let dir = tempfile::tempdir().expect("tempdir");
    let contestant = make(&fake, dir.path());
    let api_url = fake.api_url().to_string().trim_end_matches('/').to_owned();
    let log = std::fs::File::create(dir.path().join("bot.log")).expect("log");
    let mut bot = tokio::process::Command::new(&contestant.program)
        .args(&contestant.args)
        .current_dir(&contestant.dir)
        .env("BOT_TOKEN", fake.token())
        .env("BOT_API_URL", &api_url)
        .env("CLICKER_DB", dir.path().join("clicker.sqlite3"))
        .env("BOTBOX_LOG", "error")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", contestant.name));
    let pid = bot.id().expect("running");
    let mut figures = json!({
        "contestant": contestant.name, "durable": contestant.durable,
        "users": s.users, "backlog_updates": s.users * s.backlog,
    });
    let outcome = phases(&fake, s, pid, &mut figures).await;
    if let Err(reason) = outcome {
        let log = std::fs::read_to_string(dir.path().join("bot.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(10).collect();
        figures["failed"] = json!(reason);
        figures["log_tail"] = json!(tail.into_iter().rev().collect::<Vec<_>>());
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    if tokio::time::timeout(Duration::from_secs(10), bot.wait())
        .await
        .is_err()
    {
        let _ = bot.kill().await;
    }
    fake.shutdown();
    figures
}

async fn phases(
    fake: &FakeBotApi,
    s: &Settings,
    pid: u32,
    figures: &mut Value,
) -> Result<(), String> {
    let mut users = load::Users::new(1_000_000, s.users);
    load::register(fake, &users, PHASE_TIMEOUT).await?;
    let cpu_before = support::cpu_seconds(&pid.to_string());
    let saturated = load::saturate(fake, &mut users, s.backlog, PHASE_TIMEOUT).await?;
    let cpu = support::cpu_seconds(&pid.to_string()) - cpu_before;
    load::verify(fake, &users)?;
    figures["updates_per_second"] = json!(saturated.round());
    // What an update costs the bot's process in CPU at saturation: unlike updates/s, hardly
    // moved by other work on the machine.
    figures["cpu_us_per_update"] = json!((cpu * 1e6 / (s.users * s.backlog) as f64).round());
    let mut rss = Vec::new();
    let steady = load::steady(fake, &mut users, s.rate, s.seconds, PHASE_TIMEOUT, || {
        rss.push(status_kib(pid, "VmRSS:"));
    })
    .await?;
    load::verify(fake, &users)?;
    figures["steady"] = json!({
        "target_updates_per_second": s.rate,
        "fed_updates_per_second": steady.fed_per_second.round(),
        "seconds": s.seconds,
        // Past its saturation a bot falls behind: the latency is then mostly queueing.
        "rate_above_saturation": s.rate as f64 > saturated,
        "latency": latency::summary(&steady.latencies_ms),
    });
    let mean = rss.iter().sum::<u64>() / rss.len().max(1) as u64;
    figures["rss_mib_steady_mean"] = json!(mib(mean));
    figures["rss_mib_high_water_mark"] = json!(mib(status_kib(pid, "VmHWM:")));
    Ok(())
}

/// One figure of a contestant's JSON.
type Pick = fn(&Value) -> Option<f64>;

/// `botbox / peer` of one figure, to three significant digits.
fn ratio(botbox: &Value, peer: &Value, pick: Pick) -> Value {
    match (pick(botbox), pick(peer)) {
        (Some(b), Some(p)) if b > 0.0 && p > 0.0 => {
            let scale = 10f64.powi(2 - (b / p).log10().floor() as i32);
            json!((b / p * scale).round() / scale)
        }
        _ => Value::Null,
    }
}

fn print_ratios(results: &[Value]) {
    let Some(botbox) = results.iter().find(|r| r["contestant"] == "botbox") else {
        return;
    };
    let ups: Pick = |v| v["updates_per_second"].as_f64();
    let p50: Pick = |v| v["steady"]["latency"]["p50_ms"].as_f64();
    let p99: Pick = |v| v["steady"]["latency"]["p99_ms"].as_f64();
    let rss: Pick = |v| v["rss_mib_high_water_mark"].as_f64();
    let cpu: Pick = |v| v["cpu_us_per_update"].as_f64();
    println!(
        "\nbotbox / peer (updates/s: above 1 is botbox faster; p50, p99, RSS, CPU per update: below 1 is botbox better; a peer whose saturation is under the steady rate has queueing in its p50/p99)"
    );
    println!(
        "{:<18} {:>10} {:>8} {:>8} {:>8} {:>8}",
        "peer", "updates/s", "p50", "p99", "RSS", "CPU/upd"
    );
    let show = |v: Value| v.as_f64().map_or("-".to_owned(), |x| x.to_string());
    for peer in results.iter().filter(|r| r["contestant"] != "botbox") {
        let row = [ups, p50, p99, rss, cpu].map(|pick| show(ratio(botbox, peer, pick)));
        println!(
            "{:<18} {:>10} {:>8} {:>8} {:>8} {:>8}",
            peer["contestant"].as_str().unwrap_or("?"),
            row[0],
            row[1],
            row[2],
            row[3],
            row[4]
        );
        let goal = if peer["durable"] == true { 1.0 } else { 0.5 };
        let met = ratio(botbox, peer, ups).as_f64().map(|r| r >= goal);
        let goal_line = json!({
            "goal": format!("botbox updates/s >= {goal} x {}", peer["contestant"].as_str().unwrap_or("?")),
            "met": met,
        });
        if peer["contestant"] == "teloxide-memory" || peer["durable"] == true {
            println!("  {goal_line}");
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let s = Settings::from_env();
    let mut results = Vec::new();
    if s.wants("botbox") {
        let figures = race(
            |fake, root| contestants::botbox(root, fake.token(), fake.api_url().as_str()),
            &s,
        )
        .await;
        println!("{figures}");
        results.push(figures);
    }
    for framework in FRAMEWORKS {
        if !s
            .chosen
            .iter()
            .any(|c| c.split('-').next() == Some(framework))
        {
            continue;
        }
        let peers = match contestants::peers(framework) {
            Ok(peers) => peers,
            Err(reason) => {
                println!("{}", json!({ "contestant": framework, "skipped": reason }));
                continue;
            }
        };
        for peer in peers.into_iter().filter(|p| s.wants(&p.name)) {
            let figures = race(|_, _| peer, &s).await;
            println!("{figures}");
            results.push(figures);
        }
    }
    print_ratios(&results);
}
