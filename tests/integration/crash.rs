//! `kill -9` of the real binary in the middle of a stream of clicks.

use std::time::Duration;

use crate::support::*;
use botbox_test_artifacts::{BAD_LOOP, BROADCASTER, CLICKER};
use fake_bot_api::Limits;

const USERS: i64 = 12;
const CLICKS: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_stream_of_clicks_counts_every_click_once_and_loses_no_reply() {
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let modules = modules_dir(dir.path(), &[CLICKER]);
    let config_file = write_config(
        dir.path(),
        &fake,
        &modules,
        r#"[outbox]
chat_per_second = 50.0
chat_burst = 50
global_per_second = 1000
"#,
    );

    let users = queue_clicks(&fake, 1000, "U", USERS, CLICKS);
    let mut bot = spawn_bot(&config_file);
    // Kill it once part of the stream has been answered.
    let total = USERS as usize * CLICKS;
    wait_for_clicks_answered(&fake, &users, total / 4).await;
    bot.start_kill().unwrap();
    let status = bot.wait().await.unwrap();
    assert!(!status.success(), "killed, not exited: {status:?}");
    let answered_at_kill: usize = users.iter().map(|u| clicks_of(&fake, u.id).len()).sum();
    assert!(
        answered_at_kill < total,
        "the kill came too late to test anything"
    );

    let mut bot = spawn_bot(&config_file);
    // Every click counted exactly once, every reply delivered, in order. A reply may repeat
    // only if it was in flight at the kill: then it is the same text twice in a row, at most
    // once per chat (the README explains the window).
    let repeats = every_click_counted_once(&fake, &users, CLICKS).await;
    // Ask for the rating after the restart: every user is registered once with all clicks.
    fake.send_text(&users[0], "Rating");
    let rating = fake
        .wait_for_bot_text(users[0].id, "Total:", WAIT)
        .await
        .unwrap();
    // Everyone registered once, everyone with every click (ties are in registration order,
    // which depends on which shard got there first).
    let lines: Vec<&str> = rating.text.lines().collect();
    assert_eq!(lines[0], format!("Total: {USERS}"), "{}", rating.text);
    assert_eq!(lines.len(), 1 + USERS as usize, "{}", rating.text);
    for u in &users {
        let name = format!("U{}", u.id - 1000);
        assert!(
            lines[1..]
                .iter()
                .any(|l| l.ends_with(&format!(": {name} - {CLICKS}"))),
            "{name} in {}",
            rating.text
        );
    }
    eprintln!("replies repeated across the kill: {repeats}");
    bot.start_kill().unwrap();
    let _ = bot.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_broadcast_delivers_every_message_and_repeats_only_what_was_in_flight() {
    const FIRST: i64 = 7_000_000;
    const N: i64 = 1000;
    const MAX_IN_FLIGHT: usize = 16;
    let dir = tempfile::tempdir().unwrap();
    // Telegram's limits scaled up tenfold overall, so the test runs in seconds.
    let fake = FakeBotApi::start(FakeConfig {
        limits: Limits {
            global_per_second: 300,
            ..Limits::default()
        },
        ..FakeConfig::default()
    })
    .unwrap();
    fake.open_chats((FIRST..FIRST + N).map(|id| TestUser::new(id, format!("R{id}"))));
    let modules = modules_dir(dir.path(), &[BROADCASTER]);
    let config_file = write_config(
        dir.path(),
        &fake,
        &modules,
        &format!(
            r#"[outbox]
global_per_second = 300
max_in_flight = {MAX_IN_FLIGHT}
"#
        ),
    );
    let delivered = |fake: &FakeBotApi| {
        fake.view(|v| {
            (FIRST..FIRST + N)
                .map(|id| {
                    v.transcript(id)
                        .iter()
                        .filter(|e| e.text == "big news")
                        .count()
                })
                .collect::<Vec<_>>()
        })
    };
    let mut bot = spawn_bot(&config_file);
    let admin = TestUser::new(42, "Admin");
    fake.send_text(&admin, format!("/broadcast {FIRST} {N} big news"));
    fake.wait_until(WAIT, |v| {
        (FIRST..FIRST + N)
            .filter(|id| !v.transcript(*id).iter().all(|e| !e.from_bot))
            .count()
            >= (N / 5) as usize
    })
    .await
    .unwrap();
    bot.start_kill().unwrap();
    let _ = bot.wait().await;
    let at_kill = delivered(&fake).iter().filter(|n| **n > 0).count();
    assert!(
        at_kill < N as usize,
        "the kill came too late to test anything"
    );

    let mut bot = spawn_bot(&config_file);
    fake.wait_until(Duration::from_secs(120), |v| {
        (FIRST..FIRST + N).all(|id| v.transcript(id).iter().any(|e| e.text == "big news"))
    })
    .await
    .unwrap();
    // Give a repeat that is still on its way the time to show up before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let counts = delivered(&fake);
    let repeats: usize = counts.iter().map(|n| n - 1).sum();
    assert!(counts.iter().all(|n| *n == 1 || *n == 2), "{counts:?}");
    assert!(
        repeats <= MAX_IN_FLIGHT,
        "{repeats} repeats; at most the {MAX_IN_FLIGHT} in flight may repeat"
    );
    eprintln!(
        "broadcast: {at_kill} of {N} delivered at the kill, {repeats} repeated after the restart"
    );
    bot.start_kill().unwrap();
    let _ = bot.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_scheduled_backups_leaves_the_database_and_finished_backups_intact() {
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let modules = modules_dir(dir.path(), &[CLICKER]);
    let config_file = write_config(
        dir.path(),
        &fake,
        &modules,
        r#"[backup]
interval_secs = 1
keep = 50
"#,
    );
    let alice = TestUser::alice();
    let mut clicks = 0;
    // Kill the bot at moments spread around its first scheduled backups.
    for offset_ms in [800u64, 950, 1000, 1050, 1100, 1300] {
        let mut bot = spawn_bot(&config_file);
        if clicks == 0 {
            fake.send_text(&alice, "/start");
        }
        clicks += 1;
        fake.send_text(&alice, "Click");
        fake.wait_for_bot_text(alice.id, &format!("Clicks: {clicks}"), WAIT)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(offset_ms)).await;
        bot.start_kill().unwrap();
        let _ = bot.wait().await;
    }
    // Every finished backup verifies; the database opens and has every click.
    let backups = dir.path().join("data/backups");
    let mut finished = 0;
    for entry in std::fs::read_dir(&backups).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "bbk") {
            let bytes = std::fs::read(&path).unwrap();
            botbox::backup::verify(bytes.as_slice())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            finished += 1;
        }
    }
    assert!(finished > 0, "no backup finished at all");
    let mut bot = spawn_bot(&config_file);
    fake.send_text(&alice, "Click");
    fake.wait_for_bot_text(alice.id, &format!("Clicks: {}", clicks + 1), WAIT)
        .await
        .unwrap();
    bot.start_kill().unwrap();
    let _ = bot.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_unfinished_at_max_attempts_crashes_is_quarantined_instead_of_resumed_for_ever() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let modules = modules_dir(dir.path(), &[BAD_LOOP]);
    let config_file = write_config(
        dir.path(),
        &fake,
        &modules,
        "[sandbox]\nmax_attempts = 2\nwall_timeout_ms = 600000\n",
    );
    let mallory = TestUser::new(666, "Mallory");
    // An update whose handling outlives every run: each run takes it and dies in its middle
    // (kill -9, as the kernel's OOM killer would kill a process an update made too big).
    fake.send_text(&mallory, "/sleep 600000");
    for _ in 0..2 {
        let polls = fake.counters().polls;
        let mut bot = spawn_bot(&config_file);
        // Polling starts once the start has resumed what was unfinished.
        fake.wait_until(WAIT, |v| {
            v.pending_updates() == 0 && v.counters().polls > polls
        })
        .await
        .expect("the bot started and took the update");
        bot.start_kill().unwrap();
        let _ = bot.wait().await;
    }
    // The third start finds it unfinished after two crashes: quarantined, not run again, so
    // the chat is served.
    let mut bot = spawn_bot(&config_file);
    send_expecting(&fake, &mallory, "/ok_loop", "loop module alive").await;
    bot.start_kill().unwrap();
    let _ = bot.wait().await;
    let quarantined = botbox::store::Db::open(&dir.path().join("data"))
        .unwrap()
        .quarantined()
        .unwrap();
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert_eq!(quarantined[0].0, "bad-loop");
    assert!(
        quarantined[0].2.contains("stopped 2 times"),
        "{quarantined:?}"
    );
    assert_eq!(bot_texts(&fake, mallory.id), ["loop module alive"]);
}
