//! Shared set-up of the integration tests: a fake Bot API, modules built from source, and a
//! runtime (in-process or the real binary) wired to them.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use botbox::{
    Config, Options, Runtime,
    config::{Mode, Secret},
};
pub use fake_bot_api::{FakeBotApi, FakeConfig, TestUser};

/// How long a test waits for something that should take well under a second.
pub const WAIT: Duration = Duration::from_secs(30);

/// A temporary modules directory holding copies of `wasm` files.
pub fn modules_dir(root: &Path, wasm: &[&str]) -> PathBuf {
    let dir = root.join("modules");
    std::fs::create_dir_all(&dir).expect("create modules dir");
    for w in wasm {
        let src = Path::new(w);
        std::fs::copy(src, dir.join(src.file_name().expect("file name"))).expect("copy module");
    }
    dir
}

/// Sends the runtime's log to the test's output (shown for failing tests); `BOTBOX_LOG`
/// filters it (default `info`).
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BOTBOX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// A configuration for a runtime in `root` talking to `fake`.
pub fn config(root: &Path, fake: &FakeBotApi, wasm: &[&str]) -> Config {
    init_logs();
    let mut c = Config {
        data_dir: root.join("data"),
        modules_dir: modules_dir(root, wasm),
        ..Config::default()
    };
    c.telegram.token = Secret::new(fake.token());
    c.telegram.api_url = fake.api_url().to_string();
    c.telegram.poll_timeout_secs = 1;
    c.sandbox.call_timeout_ms = 300;
    c.sandbox.max_attempts = 2;
    // Tests run side by side: each serves modules' HTTP on a port of its own.
    c.http.addr = "127.0.0.1:0".into();
    c
}

/// Switches `c` to webhook mode on a free local port.
pub fn use_webhook(c: &mut Config, secret: &str) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    c.telegram.mode = Mode::Webhook;
    c.telegram.webhook.listen = ([127, 0, 0, 1], port).into();
    c.telegram.webhook.url = format!("http://127.0.0.1:{port}/telegram");
    c.telegram.webhook.secret = Secret::new(secret);
}

/// Starts a runtime with intake.
pub async fn start(c: Config) -> Runtime {
    Runtime::start_with(c, Options::default())
        .await
        .expect("runtime starts")
}

/// A fake Bot API without Telegram's rate limits (tests that drive load, not limits).
pub fn unlimited_fake() -> FakeBotApi {
    FakeBotApi::start(FakeConfig {
        limits: fake_bot_api::Limits::unlimited(),
        ..FakeConfig::default()
    })
    .unwrap()
}

/// Waits until the clicker has answered at least `at_least` clicks of `users` in all.
pub async fn wait_for_clicks_answered(fake: &FakeBotApi, users: &[TestUser], at_least: usize) {
    fake.wait_until(WAIT, |v| {
        let answered = users.iter().map(|u| {
            let transcript = v.transcript(u.id);
            transcript
                .iter()
                .filter(|e| e.text.starts_with("Clicks:"))
                .count()
        });
        answered.sum::<usize>() >= at_least
    })
    .await
    .unwrap();
}

/// `user` sends `text`; returns once the bot's reply in that chat contains `reply` (fails the
/// test after [`WAIT`]).
pub async fn send_expecting(fake: &FakeBotApi, user: &TestUser, text: &str, reply: &str) {
    fake.send_text(user, text);
    fake.wait_for_bot_text(user.id, reply, WAIT)
        .await
        .unwrap_or_else(|e| panic!("no reply containing {reply:?} to {text:?}: {e:?}"));
}

/// The clicks the clicker answered in `user`'s chat, in order (`Clicks: N` replies).
pub fn clicks_of(fake: &FakeBotApi, user: i64) -> Vec<u64> {
    bot_texts(fake, user)
        .iter()
        .filter_map(|t| t.strip_prefix("Clicks: ").and_then(|n| n.parse().ok()))
        .collect()
}

/// The texts the bot sent to `chat`, in order, deleted ones included.
pub fn bot_texts(fake: &FakeBotApi, chat: i64) -> Vec<String> {
    fake.transcript(chat)
        .into_iter()
        .filter(|e| e.from_bot)
        .map(|e| e.text)
        .collect()
}

/// Runs the real binary (`botbox run`) with `config_file`, logging warnings only.
pub fn spawn_bot(config_file: &std::path::Path) -> tokio::process::Child {
    spawn_bot_with_env(config_file, &[])
}

/// [`spawn_bot`] with more environment variables.
pub fn spawn_bot_with_env(
    config_file: &std::path::Path,
    envs: &[(&str, &str)],
) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_botbox"))
        .args(["run", "--config"])
        .arg(config_file)
        .env("BOTBOX_LOG", "warn")
        .envs(envs.iter().copied())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start botbox")
}

/// Writes a `botbox.toml` in `dir` for the real binary: data and `modules` in `dir`, the fake
/// Bot API, and `extra` TOML (keys of `[telegram]` first, if any, then sections). Modules' HTTP
/// listens on a free port unless `extra` has an `[http]` section of its own (a bot started on a
/// taken address stops); that section comes last, so `extra` may begin with `[telegram]` keys.
pub fn write_config(
    dir: &std::path::Path,
    fake: &FakeBotApi,
    modules: &std::path::Path,
    extra: &str,
) -> std::path::PathBuf {
    let file = dir.join("botbox.toml");
    let http = if extra.contains("[http]") {
        ""
    } else {
        "[http]\naddr = \"127.0.0.1:0\"\n"
    };
    let text = format!(
        "data_dir = {data:?}\nmodules_dir = {modules:?}\n[telegram]\ntoken = {token:?}\napi_url = {url:?}\npoll_timeout_secs = 1\n{extra}\n{http}",
        data = dir.join("data"),
        token = fake.token(),
        url = fake.api_url().to_string(),
    );
    std::fs::write(&file, text).expect("write botbox.toml");
    file
}

/// CPU seconds the process `pid` has used (user + system), from /proc.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    // After the command name in parentheses: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').expect("a command name") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

/// A value of the Prometheus text `page` for a series without labels.
pub fn metric(page: &str, name: &str) -> f64 {
    page.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

/// `users` clicker users with ids from `first_id + 1`, named `{prefix}1`, ..., each after
/// `/start`, with `clicks` clicks each queued at the fake (in rounds: one per user).
pub fn queue_clicks(
    fake: &FakeBotApi,
    first_id: i64,
    prefix: &str,
    users: i64,
    clicks: usize,
) -> Vec<TestUser> {
    let users: Vec<TestUser> = (1..=users)
        .map(|i| TestUser::new(first_id + i, format!("{prefix}{i}")))
        .collect();
    for u in &users {
        fake.send_text(u, "/start");
    }
    for _ in 0..clicks {
        for u in &users {
            fake.send_text(u, "Click");
        }
    }
    users
}

/// Every user sees `Clicks: 1` to `Clicks: {clicks}` (waiting up to 2 minutes) in order, a reply repeated only right after
/// itself (in flight at a fault) and at most once per chat; answers the repeats.
pub async fn every_click_counted_once(
    fake: &FakeBotApi,
    users: &[TestUser],
    clicks: usize,
) -> usize {
    fake.wait_until(Duration::from_secs(120), |v| {
        users.iter().all(|u| {
            v.transcript(u.id)
                .iter()
                .any(|e| e.text == format!("Clicks: {clicks}"))
        })
    })
    .await
    .unwrap();
    let mut repeats = 0;
    for u in users {
        let seen = clicks_of(fake, u.id);
        let mut deduped = seen.clone();
        deduped.dedup();
        let expected: Vec<u64> = (1..=clicks as u64).collect();
        assert_eq!(deduped, expected, "user {}: {seen:?}", u.id);
        let dupes = seen.len() - deduped.len();
        assert!(dupes <= 1, "user {}: {dupes} repeats: {seen:?}", u.id);
        repeats += dupes;
    }
    repeats
}
