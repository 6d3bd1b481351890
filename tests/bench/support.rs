//! What the benchmark programs share: a bot's configuration against the fake Bot API.

use std::path::Path;

use botbox::{Config, config::Secret};
use fake_bot_api::FakeBotApi;

/// A configuration for a runtime in `root` (data in `root/data`) talking to `fake`, with copies
/// of the `wasm` modules in `root/modules`; each benchmark sets its own knobs on top.
#[allow(dead_code)] // the benches of the real binary configure it by file
pub fn config(root: &Path, fake: &FakeBotApi, wasm: &[&str]) -> Config {
    let modules = root.join("modules");
    std::fs::create_dir_all(&modules).expect("modules dir");
    for w in wasm {
        let src = Path::new(w);
        std::fs::copy(src, modules.join(src.file_name().expect("a file name"))).expect("copy");
    }
    let mut config = Config {
        data_dir: root.join("data"),
        modules_dir: modules,
        ..Config::default()
    };
    config.telegram.token = Secret::new(fake.token());
    config.telegram.api_url = fake.api_url().to_string();
    // A bench may run beside a bot: modules' HTTP on a port of its own.
    config.http.addr = "127.0.0.1:0".into();
    // `BOTBOX_BENCH_AT_ONCE_MS=0` measures recording first, then handling (two fsyncs), as
    // before `intake/at_once.rs`, in the same build.
    if let Some(ms) = std::env::var("BOTBOX_BENCH_AT_ONCE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.telegram.handle_at_once_ms = ms;
    }
    config
}

/// A `botbox.toml` in `root` for the real binary running the clicker from `tests/artifacts`
/// against the fake at `api_url`, with `extra` TOML sections at the end. The outbox's limits
/// are raised: what is measured is the bot, not Telegram's limits.
#[allow(dead_code)] // the benches of the library configure it in code
pub fn clicker_toml(root: &Path, token: &str, api_url: &str, extra: &str) -> std::path::PathBuf {
    let modules = root.join("modules");
    std::fs::create_dir_all(&modules).expect("modules dir");
    let clicker = Path::new(botbox_test_artifacts::CLICKER);
    std::fs::copy(clicker, modules.join(clicker.file_name().expect("a file"))).expect("copy");
    let config = root.join("botbox.toml");
    // `BOTBOX_BENCH_AT_ONCE_MS=0`: record every update before handling it (two fsyncs), as
    // before `intake/at_once.rs`.
    let at_once = std::env::var("BOTBOX_BENCH_AT_ONCE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(String::new(), |ms| format!("handle_at_once_ms = {ms}\n"));
    std::fs::write(
        &config,
        format!(
            "data_dir = {data:?}\nmodules_dir = {modules:?}\n[telegram]\ntoken = {token:?}\n\
             api_url = {api_url:?}\n{at_once}[http]\naddr = \"127.0.0.1:0\"\n[outbox]\n\
             chat_per_second = 1000.0\nchat_burst = 1000\nglobal_per_second = 100000\n\
             max_in_flight = 64\n{extra}",
            data = root.join("data"),
        ),
    )
    .expect("botbox.toml");
    config
}

/// This process's resident memory, in MiB (one decimal).
#[allow(dead_code)] // not every bench reports it
pub fn own_rss_mib() -> f64 {
    let kib: f64 = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    (kib / 1024.0 * 10.0).round() / 10.0
}

/// CPU time a process has used, user and system, in seconds: `"self"` or a pid.
#[allow(dead_code)] // not every bench reports it
pub fn cpu_seconds(process: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{process}/stat")).unwrap_or_default();
    // After the command name in parentheses: utime is field 14, stime 15 (clock ticks of 10 ms).
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 1..]);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// A text message `user` sends the bot in their private chat.
#[allow(dead_code)] // not every bench sends these
pub fn private_text(id: u64, user: u64, text: &str) -> serde_json::Value {
    serde_json::json!({
        "update_id": id,
        "message": {
            "message_id": id, "date": 1_700_000_000, "text": text,
            "chat": {"id": user, "type": "private", "first_name": format!("U{user}")},
            "from": {"id": user, "is_bot": false, "first_name": format!("U{user}")},
        }
    })
}

/// The groups the benches at a million users write in: user `u` in `FIRST_GROUP - u % GROUPS`.
/// The module's replies go there, to chats the fake does not know (400, given up at once), so
/// the outbox never holds a million chats each waiting for a reply; a few dozen groups also
/// spread over the shards like private chats.
#[allow(dead_code)]
pub const GROUPS: u64 = 64;
/// The first of the [`GROUPS`] (they count down from here).
#[allow(dead_code)]
pub const FIRST_GROUP: i64 = -1_000_000_000;

/// A text message `user` sends in their group (see [`GROUPS`]).
#[allow(dead_code)]
pub fn group_text(id: u64, user: u64, text: &str) -> serde_json::Value {
    let group = FIRST_GROUP - (user % GROUPS) as i64;
    serde_json::json!({
        "update_id": id,
        "message": {
            "message_id": id, "date": 1_700_000_000, "text": text,
            "chat": {"id": group, "type": "group", "title": format!("G{group}")},
            "from": {"id": user, "is_bot": false, "first_name": format!("U{user}")},
        }
    })
}
