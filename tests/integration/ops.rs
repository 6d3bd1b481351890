//! Running botbox as a service: `/healthz` and `/metrics`, JSON logs, `botbox doctor`, and a
//! graceful stop (SIGTERM) in the middle of a stream of updates.

use std::{path::Path, process::Stdio, time::Duration};

use crate::support::*;
use botbox_test_artifacts::{BAD_LOOP, CLICKER};
use tokio::io::AsyncReadExt;

const BOTBOX: &str = env!("CARGO_BIN_EXE_botbox");

/// Runs the real binary with `envs`, its standard error piped.
fn spawn_piped(config: &Path, envs: &[(&str, &str)]) -> tokio::process::Child {
    tokio::process::Command::new(BOTBOX)
        .args(["run", "--config"])
        .arg(config)
        .env("BOTBOX_LOG", "warn")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start botbox")
}

/// Collects a child's standard error while it runs (a full pipe would block it).
fn read_stderr(child: &mut tokio::process::Child) -> tokio::task::JoinHandle<String> {
    let mut stderr = child.stderr.take().expect("piped");
    tokio::spawn(async move {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s).await;
        s
    })
}

pub(crate) async fn sigterm(child: &mut tokio::process::Child) -> std::process::ExitStatus {
    let pid = child.id().expect("running").to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("botbox stops after SIGTERM")
        .unwrap()
}

async fn doctor(config: &Path) -> (bool, String) {
    let out = tokio::process::Command::new(BOTBOX)
        .args(["doctor", "--config"])
        .arg(config)
        .env_remove("BOTBOX_TOKEN")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The value of one sample in a Prometheus text page.
fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_metrics_answer_without_the_admin_token_and_count_what_the_bot_did() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let rt = start(config(dir.path(), &fake, &[CLICKER])).await;
    let addr = std::fs::read_to_string(dir.path().join("data/admin.addr")).unwrap();
    let base = format!("http://{}", addr.trim());
    let http = reqwest::Client::new();

    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok\n");
    // The operator's routes still want the token.
    let kv = http.get(format!("{base}/v1/outbox")).send().await.unwrap();
    assert_eq!(kv.status(), 401);

    let alice = TestUser::alice();
    fake.send_text(&alice, "/start");
    fake.wait_for_bot_text(alice.id, "", WAIT).await.unwrap();
    for _ in 0..3 {
        fake.send_text(&alice, "Click");
    }
    fake.wait_for_bot_text(alice.id, "Clicks: 3", WAIT)
        .await
        .unwrap();

    // Counters are updated as commits and deliveries happen: ask until they show it all.
    let deadline = tokio::time::Instant::now() + WAIT;
    let page = loop {
        let resp = http.get(format!("{base}/metrics")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
        let page = resp.text().await.unwrap();
        let handled = sample(&page, r#"botbox_updates_handled_total{module="clicker"}"#);
        let sent = sample(&page, "botbox_outbox_sent_total");
        // The queue depths are a snapshot the outbox refreshes every half second or so.
        let queued = sample(&page, r#"botbox_outbox_queued{priority="interactive"}"#);
        if handled == Some(4.0) && sent == Some(4.0) && queued == Some(0.0) {
            break page;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the metrics never showed 4 updates handled, 4 messages sent, none waiting:\n{page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(sample(&page, "botbox_up"), Some(1.0), "{page}");
    assert_eq!(sample(&page, "botbox_modules_loaded"), Some(1.0), "{page}");
    assert_eq!(
        sample(&page, r#"botbox_module_running{module="clicker"}"#),
        Some(1.0),
        "{page}"
    );
    assert!(
        sample(&page, r#"botbox_module_calls_total{module="clicker"}"#).unwrap() >= 4.0,
        "{page}"
    );
    assert_eq!(
        sample(&page, r#"botbox_module_traps_total{module="clicker"}"#),
        Some(0.0),
        "{page}"
    );
    assert!(
        page.contains(r#"botbox_module_handle_seconds{module="clicker",quantile="0.99"} "#),
        "{page}"
    );
    assert_eq!(
        sample(&page, "botbox_updates_unfinished"),
        Some(0.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, "botbox_updates_quarantined"),
        Some(0.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, r#"botbox_outbox_queued{priority="bulk"}"#),
        Some(0.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, "botbox_outbox_failed_total"),
        Some(0.0),
        "{page}"
    );
    assert!(
        sample(&page, "process_resident_memory_bytes").unwrap() > 1e6,
        "{page}"
    );
    assert!(
        page.contains("# TYPE botbox_updates_handled_total counter"),
        "{page}"
    );
    assert!(page.contains("# TYPE botbox_outbox_queued gauge"), "{page}");
    assert!(!page.contains(fake.token()), "no secrets in the metrics");
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let modules = modules_dir(dir.path(), &[CLICKER]);
    let config = write_config(dir.path(), &fake, &modules, "");
    let mut bot = spawn_piped(
        &config,
        &[("BOTBOX_LOG", "info"), ("BOTBOX_LOG_FORMAT", "json")],
    );
    let log = read_stderr(&mut bot);
    let alice = TestUser::alice();
    fake.send_text(&alice, "/start");
    fake.wait_for_bot_text(alice.id, "", WAIT).await.unwrap();
    assert!(sigterm(&mut bot).await.success());
    let log = log.await.unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "connected to the Bot API" && l["level"] == "INFO"),
        "{log}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["module"] == "clicker" && l["message"].is_string()),
        "fields are top-level keys: {log}"
    );
    assert!(lines.iter().all(|l| l["timestamp"].is_string()), "{log}");

    // And in the configuration file, for `run` (a top-level key, before the first table).
    let config = write_config(dir.path(), &fake, &modules, "");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("log_format = \"json\"\n{text}")).unwrap();
    let mut bot = spawn_piped(&config, &[("BOTBOX_LOG", "info")]);
    let log = read_stderr(&mut bot);
    send_expecting(&fake, &alice, "Click", "Clicks: 1").await;
    assert!(sigterm(&mut bot).await.success());
    let log = log.await.unwrap();
    let first = log.lines().next().unwrap_or_default();
    assert!(
        serde_json::from_str::<serde_json::Value>(first).is_ok(),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_says_in_plain_words_what_is_wrong_and_that_all_is_well_when_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let modules = modules_dir(dir.path(), &[CLICKER]);

    // A wrong token, and a file that is no module.
    std::fs::write(modules.join("notes.wasm"), "remember the milk").unwrap();
    let config = write_config(dir.path(), &fake, &modules, "");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(fake.token(), "123456:WRONG");
    std::fs::write(&config, text).unwrap();
    let (ok, out) = doctor(&config).await;
    assert!(!ok, "problems make the exit status non-zero:\n{out}");
    assert!(out.contains("PROBLEM  the bot token is wrong"), "{out}");
    assert!(out.contains("@BotFather"), "{out}");
    assert!(
        out.contains("PROBLEM  module notes.wasm is not WebAssembly at all"),
        "{out}"
    );
    assert!(
        out.contains("ok       module clicker.wasm is a botbox component"),
        "{out}"
    );
    assert!(out.contains("2 problems found."), "{out}");

    // A configuration that does not parse.
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[telegram]\ntokn = \"x\"\n").unwrap();
    let (ok, out) = doctor(&broken).await;
    assert!(!ok);
    assert!(out.contains("the configuration cannot be read"), "{out}");
    assert!(out.contains("tokn"), "names the bad key: {out}");

    // No Bot API to talk to.
    let unreachable = dir.path().join("unreachable.toml");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        &unreachable,
        std::fs::read_to_string(&config).unwrap().replace(
            fake.api_url().as_str(),
            &format!("http://127.0.0.1:{port}/"),
        ),
    )
    .unwrap();
    let (ok, out) = doctor(&unreachable).await;
    assert!(!ok);
    assert!(out.contains("cannot reach the Telegram Bot API"), "{out}");

    // Fixed: all is well, before and while the bot runs.
    std::fs::remove_file(modules.join("notes.wasm")).unwrap();
    let config = write_config(dir.path(), &fake, &modules, "");
    let (ok, out) = doctor(&config).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("the token works: the bot is @botbox_test_bot"),
        "{out}"
    );
    assert!(out.contains("Everything looks right."), "{out}");
    let mut bot = spawn_piped(&config, &[]);
    let _log = read_stderr(&mut bot);
    let alice = TestUser::alice();
    fake.send_text(&alice, "/start");
    fake.wait_for_bot_text(alice.id, "", WAIT).await.unwrap();
    let (ok, out) = doctor(&config).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("the database is in use: the bot is running"),
        "{out}"
    );
    assert!(out.contains("the running bot says it is healthy"), "{out}");
    assert!(sigterm(&mut bot).await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_stream_of_clicks_loses_nothing_and_the_outbox_resumes_after_restart() {
    const USERS: i64 = 10;
    const ROUNDS: u64 = 40;
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let modules = modules_dir(dir.path(), &[CLICKER]);
    // Replies leave slower than clicks arrive, so the outbox holds a queue at the stop.
    let config = write_config(
        dir.path(),
        &fake,
        &modules,
        "[outbox]\nchat_per_second = 50.0\nchat_burst = 50\nglobal_per_second = 40\n",
    );
    let users: Vec<TestUser> = (1..=USERS)
        .map(|i| TestUser::new(2000 + i, format!("U{i}")))
        .collect();
    for u in &users {
        fake.send_text(u, "/start");
    }
    let mut bot = spawn_piped(&config, &[]);
    let log = read_stderr(&mut bot);
    // Clicks keep coming while the bot is stopped and started again.
    let feeder = {
        let (fake, users) = (fake.clone(), users.clone());
        tokio::spawn(async move {
            for _ in 0..ROUNDS {
                for u in &users {
                    fake.send_text(u, "Click");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let total = (USERS as u64 * ROUNDS) as usize;
    wait_for_clicks_answered(&fake, &users, total / 5).await;
    let status = sigterm(&mut bot).await;
    let log = log.await.unwrap();
    assert!(
        status.success(),
        "a clean exit after SIGTERM: {status:?}\n{log}"
    );
    let answered_at_stop: usize = users.iter().map(|u| clicks_of(&fake, u.id).len()).sum();
    assert!(
        answered_at_stop < total,
        "the stop came too late to test anything"
    );

    let mut bot = spawn_piped(&config, &[]);
    let _log = read_stderr(&mut bot);
    feeder.await.unwrap();
    fake.wait_until(Duration::from_secs(120), |v| {
        users.iter().all(|u| {
            v.transcript(u.id)
                .iter()
                .any(|e| e.text == format!("Clicks: {ROUNDS}"))
        })
    })
    .await
    .unwrap();
    // Every click counted once and answered once, in order: a graceful stop finishes what is
    // in flight, so not even the in-flight reply repeats (as it may after kill -9).
    for u in &users {
        assert_eq!(
            clicks_of(&fake, u.id),
            (1..=ROUNDS).collect::<Vec<_>>(),
            "user {}",
            u.id
        );
    }
    eprintln!("answered before the stop: {answered_at_stop} of {total}");
    assert!(sigterm(&mut bot).await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_while_a_module_s_slow_init_holds_up_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let modules = modules_dir(dir.path(), &[BAD_LOOP]);
    // An init that waits ten minutes, under a wall-clock limit just as long.
    let config_file = write_config(
        dir.path(),
        &fake,
        &modules,
        "[sandbox]\nwall_timeout_ms = 600000\n[modules.bad-loop.config]\ninit_sleep_ms = \"600000\"\n",
    );
    let mut bot = spawn_bot(&config_file);
    let addr_file = dir.path().join("data/admin.addr");
    let started = tokio::time::Instant::now();
    while !addr_file.exists() {
        assert!(
            started.elapsed() < WAIT,
            "no admin API while the modules load"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let addr = std::fs::read_to_string(&addr_file).unwrap();
    let health = reqwest::get(format!("http://{}/healthz", addr.trim()))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    bot.start_kill().unwrap();
    let _ = bot.wait().await;
}
