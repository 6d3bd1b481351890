//! The disk fills up while the bot runs (issue 15), with the real binary on a small tmpfs of
//! its own: the bot stops taking updates it cannot record (polling leaves them at Telegram, the
//! webhook answers 500), says so once in its log, in `/metrics` and `/healthz`, keeps running
//! without burning CPU, and goes on by itself once there is room: every message answered once.

pub(crate) mod tmpfs;

use std::{path::Path, time::Duration};

use botbox_test_artifacts::ECHO;
use tmpfs::Tmpfs;
use tokio::time::Instant;

use crate::support::*;

/// How the bot hears from Telegram in a run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Door {
    Polling,
    Webhook,
}

const SECRET: &str = "disk-full-secret";
/// What the log says when the state starts, and when it ends.
const FULL_LINE: &str = "the disk is full";
const ROOM_LINE: &str = "there is room on the disk again";

/// Message `i`: big, so that a few of them need new pages of the database.
fn message(i: usize) -> String {
    format!("m{i:04} {}", "x".repeat(3000))
}

/// How many times the bot answered message `i`.
fn answers(fake: &FakeBotApi, chat: i64, i: usize) -> usize {
    let prefix = format!("echo: m{i:04} ");
    bot_texts(fake, chat)
        .iter()
        .filter(|t| t.starts_with(&prefix))
        .count()
}

fn log_lines(log: &Path, needle: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}

/// The admin API's page at `path`: (status, text). Fails when it does not answer in 10 s
/// (reading the database must not wait for the disk).
async fn admin_get(data: &Path, path: &str) -> (u16, String) {
    let addr = std::fs::read_to_string(data.join("admin.addr")).expect("admin.addr");
    let url = format!("http://{}{path}", addr.trim());
    let resp = reqwest::Client::new()
        .get(&url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url} does not answer: {e}"));
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn disk_full_metric(data: &Path) -> f64 {
    metric(
        &admin_get(data, "/metrics").await.1,
        "botbox_store_disk_full",
    )
}

/// Runs `botbox run` with its log (warnings and errors) in `log`.
fn spawn_logged(config_file: &Path, log: &Path) -> tokio::process::Child {
    let file = std::fs::File::create(log).expect("create the log");
    tokio::process::Command::new(env!("CARGO_BIN_EXE_botbox"))
        .args(["run", "--config"])
        .arg(config_file)
        .env("BOTBOX_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .kill_on_drop(true)
        .spawn()
        .expect("start botbox")
}

/// What `botbox doctor` says.
async fn doctor(config_file: &Path) -> String {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_botbox"))
        .args(["doctor", "--config"])
        .arg(config_file)
        .stdin(std::process::Stdio::null())
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), out)
        .await
        .expect("the doctor ends")
        .expect("the doctor runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn webhook_config() -> (String, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/telegram");
    let extra = format!(
        "mode = \"webhook\"\n[telegram.webhook]\nlisten = \"127.0.0.1:{port}\"\nurl = {url:?}\nsecret = {SECRET:?}\n"
    );
    (extra, url)
}

/// Posts an update to the bot's webhook as Telegram would; returns the status.
async fn post_update(url: &str, update_id: u64) -> u16 {
    let update = serde_json::json!({
        "update_id": update_id,
        "message": {"message_id": 1, "date": 0, "text": "direct",
            "chat": {"id": 77, "type": "private", "first_name": "Dora"},
            "from": {"id": 77, "is_bot": false, "first_name": "Dora"}}
    });
    reqwest::Client::new()
        .post(url)
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .json(&update)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("the webhook answers")
        .status()
        .as_u16()
}

async fn the_disk_fills_up_and_is_freed(door: Door) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let disk = Tmpfs::mount(&data_dir, "64m");
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let modules = modules_dir(dir.path(), &[ECHO]);
    let (extra, webhook_url) = match door {
        Door::Polling => (String::new(), String::new()),
        Door::Webhook => webhook_config(),
    };
    let config_file = write_config(dir.path(), &fake, &modules, &extra);
    let log = dir.path().join("bot.log");
    let mut bot = spawn_logged(&config_file, &log);
    let pid = bot.id().expect("running");
    let alice = TestUser::alice();
    send_expecting(&fake, &alice, "hello", "echo: hello").await;

    // Every byte taken; then big messages until the bot's database needs one more page.
    let filler = disk.fill();
    let mut sent = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = bot.try_wait().unwrap() {
            panic!(
                "the bot exited ({status}) on a full disk; log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        if disk_full_metric(&data_dir).await == 1.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{sent} messages on a full disk and the bot never met it ({} bytes free); log:\n{}",
            disk.available(),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        for _ in 0..5 {
            fake.send_text(&alice, message(sent));
            sent += 1;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // While it is full: more messages come; they wait at Telegram, the bot waits quietly.
    for _ in 0..5 {
        fake.send_text(&alice, message(sent));
        sent += 1;
    }
    let before = fake.counters();
    let cpu_before = cpu_seconds(pid);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let cpu = cpu_seconds(pid) - cpu_before;
    let after = fake.counters();
    eprintln!("{door:?}: {cpu:.2} CPU seconds in 10 s with the disk full; {sent} messages sent");
    assert!(cpu < 2.0, "{cpu:.2} CPU seconds in 10 s of a full disk");
    assert!(
        bot.try_wait().unwrap().is_none(),
        "the bot keeps running; log:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(
        fake.pending_updates() >= 5,
        "the updates sent meanwhile wait at Telegram: {} pending",
        fake.pending_updates()
    );
    match door {
        Door::Polling => assert!(
            after.polls - before.polls <= 1,
            "polling waits for room instead of fetching: {} getUpdates in 10 s",
            after.polls - before.polls
        ),
        Door::Webhook => {
            assert!(
                after.webhook_failures > before.webhook_failures,
                "Telegram's deliveries are refused meanwhile"
            );
            assert_eq!(post_update(&webhook_url, 900_000).await, 500);
        }
    }
    let (status, health) = admin_get(&data_dir, "/healthz").await;
    assert_eq!(status, 503, "{health}");
    assert!(
        health.contains("disk holding the database is full"),
        "{health}"
    );
    let page = admin_get(&data_dir, "/metrics").await.1;
    assert_eq!(metric(&page, "botbox_store_disk_full"), 1.0);
    assert_eq!(metric(&page, "botbox_store_disk_full_total"), 1.0);
    assert_eq!(log_lines(&log, FULL_LINE), 1, "said once");
    assert_eq!(log_lines(&log, ROOM_LINE), 0);
    if door == Door::Polling {
        let doctor = doctor(&config_file).await;
        assert!(
            doctor.contains("the filesystem holding") && doctor.contains("is full"),
            "{doctor}"
        );
        assert!(
            doctor.contains("the running bot says it is not healthy"),
            "{doctor}"
        );
    }

    // Room again: the bot goes on by itself and answers every message once.
    std::fs::remove_file(&filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while disk_full_metric(&data_dir).await == 1.0 {
        assert!(Instant::now() < deadline, "the bot did not notice the room");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    fake.wait_until(Duration::from_secs(120), |v| {
        let texts: Vec<String> = v
            .transcript(alice.id)
            .into_iter()
            .filter(|e| e.from_bot)
            .map(|e| e.text)
            .collect();
        (0..sent).all(|i| {
            let prefix = format!("echo: m{i:04} ");
            texts.iter().any(|t| t.starts_with(&prefix))
        })
    })
    .await
    .expect("every message is answered once there is room");
    tokio::time::sleep(Duration::from_secs(2)).await;
    for i in 0..sent {
        assert_eq!(answers(&fake, alice.id, i), 1, "message {i} answered once");
    }
    assert_eq!(
        fake.pending_updates(),
        0,
        "Telegram has nothing left for the bot"
    );
    let (status, health) = admin_get(&data_dir, "/healthz").await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(log_lines(&log, FULL_LINE), 1);
    assert_eq!(log_lines(&log, ROOM_LINE), 1);
    for failure in ["commit failed", "cannot record", "cannot hand over"] {
        assert_eq!(
            log_lines(&log, failure),
            0,
            "nothing failed:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
    bot.start_kill().unwrap();
    let _ = bot.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_pauses_polling_without_losing_an_update_and_it_goes_on_by_itself() {
    the_disk_fills_up_and_is_freed(Door::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_makes_the_webhook_answer_500_and_every_update_comes_again_once() {
    the_disk_fills_up_and_is_freed(Door::Webhook).await;
}
