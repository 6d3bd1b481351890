//! What the benchmark programs share: a bot's configuration against the fake Bot API.

use std::path::Path;

use botbox::{Config, config::Secret};
use fake_bot_api::FakeBotApi;

/// A configuration for a runtime in `root` (data in `root/data`) talking to `fake`, with copies
/// of the `wasm` modules in `root/modules`; each benchmark sets its own knobs on top.
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

/// CPU time this process has used, user and system, in seconds.
#[allow(dead_code)] // not every bench reports it
pub fn own_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
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
