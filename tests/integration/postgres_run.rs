//! A bot whose store is PostgreSQL (`[store] url`), through the real binary and a throwaway
//! PostgreSQL 15: clicks streamed through a `kill -9` and through a restart of PostgreSQL are
//! each counted once, with every reply; the data is in PostgreSQL, not in the data directory;
//! a database that cannot be reached stops the start with a clear error. Several nodes at
//! once: `postgres_cluster.rs`.

use std::time::Duration;

use botbox_test_artifacts::CLICKER;
use throwaway_postgres::Postgres;

use crate::{operator::botbox, support::*};

const USERS: i64 = 8;
const CLICKS: usize = 30;

fn store_section(server: &Postgres) -> String {
    format!("[store]\nurl = {:?}\n", server.url())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_kill_9_mid_stream_loses_no_click_and_counts_none_twice() {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let modules = modules_dir(dir.path(), &[CLICKER]);
    let config_file = write_config(dir.path(), &fake, &modules, &store_section(&server));
    let users = queue_clicks(&fake, 2000, "P", USERS, CLICKS);

    let mut bot = spawn_bot(&config_file);
    let total = USERS as usize * CLICKS;
    wait_for_clicks_answered(&fake, &users, total / 4).await;
    bot.start_kill().unwrap();
    assert!(!bot.wait().await.unwrap().success(), "killed, not exited");
    let answered: usize = users.iter().map(|u| clicks_of(&fake, u.id).len()).sum();
    assert!(answered < total, "the kill came too late to test anything");

    let mut bot = spawn_bot(&config_file);
    let repeats = every_click_counted_once(&fake, &users, CLICKS).await;
    eprintln!("replies repeated across the kill: {repeats}");
    fake.send_text(&users[0], "Rating");
    let rating = fake
        .wait_for_bot_text(users[0].id, "Total:", WAIT)
        .await
        .unwrap();
    assert!(
        rating.text.starts_with(&format!("Total: {USERS}\n")),
        "{}",
        rating.text
    );
    let stopped = crate::ops::sigterm(&mut bot).await;
    assert!(stopped.success(), "a clean stop: {stopped:?}");

    // The clicks are PostgreSQL's: the clicker's keys are there; after a clean stop nothing is
    // owed or queued, and the node gave its partitions back.
    let keys = server
        .psql("SELECT count(*) FROM botbox_kv WHERE ns = 'clicker'")
        .unwrap();
    assert!(keys.parse::<u64>().unwrap() >= USERS as u64, "{keys} keys");
    let left = server
        .psql("SELECT (SELECT count(*) FROM botbox_pending) + (SELECT count(*) FROM botbox_outbox)")
        .unwrap();
    assert_eq!(left, "0", "updates owed or messages queued at the end");
    let held = server
        .psql("SELECT count(*) FROM botbox_partitions WHERE owner IS NOT NULL")
        .unwrap();
    assert_eq!(held, "0", "partitions still held after a clean stop");

    // `botbox backup` of a bot on PostgreSQL reads PostgreSQL: restored into a blank embedded
    // store, the count goes on.
    let snapshot = dir.path().join("pg.bbk");
    let (config, snap) = (config_file.to_str().unwrap(), snapshot.to_str().unwrap());
    let (ok, out, err) = botbox(
        dir.path(),
        &["backup", "--config", config, "--out", snap],
        None,
    )
    .await;
    assert!(ok, "{out}{err}");
    let moved = tempfile::tempdir().unwrap();
    let (ok, out, err) = botbox(moved.path(), &["restore", snap], None).await;
    assert!(ok, "{out}{err}");
    let rt = start(crate::support::config(moved.path(), &fake, &[CLICKER])).await;
    let next = format!("Clicks: {}", CLICKS + 1);
    send_expecting(&fake, &users[1], "Click", &next).await;
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_database_restart_under_load_loses_no_click() {
    let mut server = Postgres::start().expect("a throwaway PostgreSQL");
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let modules = modules_dir(dir.path(), &[CLICKER]);
    let config_file = write_config(dir.path(), &fake, &modules, &store_section(&server));
    let users = queue_clicks(&fake, 2000, "P", USERS, CLICKS);

    let mut bot = spawn_bot(&config_file);
    wait_for_clicks_answered(&fake, &users, USERS as usize * CLICKS / 4).await;
    server.kill().expect("PostgreSQL killed");
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.restart().expect("PostgreSQL back");
    let repeats = every_click_counted_once(&fake, &users, CLICKS).await;
    eprintln!("replies repeated across the database's restart: {repeats}");
    assert!(
        bot.try_wait().unwrap().is_none(),
        "the bot went on through the database's restart"
    );
    bot.start_kill().unwrap();
    let _ = bot.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_cannot_be_reached_stops_the_start_with_a_clear_error() {
    let fake = unlimited_fake();
    let nowhere = tempfile::tempdir().unwrap();
    let config = write_config(
        nowhere.path(),
        &fake,
        &modules_dir(nowhere.path(), &[CLICKER]),
        "[store]\nurl = \"postgres://botbox@127.0.0.1:1/botbox\"\n",
    );
    let out = run_to_exit(&config).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot use the PostgreSQL database"), "{err}");
}

/// Runs the bot with `config` until it exits (a start refused), at most a minute.
async fn run_to_exit(config: &std::path::Path) -> std::process::Output {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_botbox"))
        .args(["run", "--config"])
        .arg(config)
        .env("BOTBOX_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start botbox");
    tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the start was refused within a minute")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_webhook_update_posted_three_times_at_once_is_handled_once() {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    fake.open_chats([TestUser::new(77, "Wes")]);
    let mut c = crate::support::config(dir.path(), &fake, &[CLICKER]);
    c.store.url = botbox::config::Secret::new(server.url());
    use_webhook(&mut c, "pg-secret-0123456789");
    let url = c.telegram.webhook.url.clone();
    let rt = start(c).await;
    let update = |id: u64, text: &str| {
        serde_json::json!({
            "update_id": id,
            "message": {"message_id": id, "date": 0, "text": text,
                "chat": {"id": 77, "type": "private", "first_name": "Wes"},
                "from": {"id": 77, "is_bot": false, "first_name": "Wes"}}
        })
    };
    let http = reqwest::Client::new();
    let post = |body: serde_json::Value| {
        http.post(&url)
            .header("X-Telegram-Bot-Api-Secret-Token", "pg-secret-0123456789")
            .json(&body)
            .send()
    };
    for (id, text) in [(500, "/start"), (501, "Click"), (502, "Click")] {
        // Telegram's retries racing each other: every copy is answered 200 once recorded.
        let (a, b, c) = tokio::join!(
            post(update(id, text)),
            post(update(id, text)),
            post(update(id, text))
        );
        for r in [a, b, c] {
            assert_eq!(r.unwrap().status(), 200);
        }
    }
    fake.wait_for_bot_text(77, "Clicks: 2", WAIT).await.unwrap();
    post(update(503, "Click")).await.unwrap();
    fake.wait_for_bot_text(77, "Clicks: 3", WAIT).await.unwrap();
    let said: Vec<String> = fake.view(|v| {
        v.transcript(77)
            .iter()
            .filter(|e| e.from_bot)
            .map(|e| e.text.clone())
            .collect()
    });
    assert_eq!(said.len(), 4, "one reply per update: {said:?}");
    assert_eq!(
        server.psql("SELECT count(*) FROM botbox_seen").unwrap(),
        "4",
        "each update recorded once"
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_updates_past_a_full_queue_wait_in_the_database_and_are_all_handled() {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let mut c = crate::support::config(dir.path(), &fake, &[CLICKER]);
    c.store.url = botbox::config::Secret::new(server.url());
    // One shard with room for one update: nearly all of them go through the backlog.
    c.sandbox.shards = 1;
    c.sandbox.shard_queue = 1;
    c.outbox.chat_per_second = 100.0;
    c.outbox.chat_burst = 100;
    let users: Vec<TestUser> = (1..=4)
        .map(|i| TestUser::new(4000 + i, format!("Q{i}")))
        .collect();
    for u in &users {
        fake.send_text(u, "/start");
    }
    for _ in 0..10 {
        for u in &users {
            fake.send_text(u, "Click");
        }
    }
    let rt = start(c).await;
    let repeats = every_click_counted_once(&fake, &users, 10).await;
    assert_eq!(repeats, 0, "no fault, no repeat");
    rt.stop().await;
}
