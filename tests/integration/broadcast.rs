//! The outbox under a broadcast: priorities, limits, quotas, errors, crashes.
//!
//! Limits are scaled up from Telegram's (30/s overall) so the tests run fast; the per-chat and
//! per-group limits and the ratios stay as they are.

use std::time::{Duration, Instant};

use crate::support::*;
use botbox::Config;
use botbox_test_artifacts::{BROADCASTER, CLICKER, ECHO};
use fake_bot_api::{Failure, Limits};

/// Broadcast targets start here.
const FIRST: i64 = 5_000_000;

fn scaled(global_per_second: u32) -> Limits {
    Limits {
        global_per_second,
        ..Limits::default()
    }
}

fn fake_with(limits: Limits, broadcast_chats: i64) -> FakeBotApi {
    let fake = FakeBotApi::start(FakeConfig {
        limits,
        ..FakeConfig::default()
    })
    .unwrap();
    fake.open_chats((FIRST..FIRST + broadcast_chats).map(|id| TestUser::new(id, format!("R{id}"))));
    fake
}

fn runtime_config(root: &std::path::Path, fake: &FakeBotApi, global: u32, wasm: &[&str]) -> Config {
    let mut c = config(root, fake, wasm);
    c.outbox.global_per_second = global;
    c
}

fn delivered_broadcasts(fake: &FakeBotApi, n: i64, text: &str) -> usize {
    fake.view(|v| {
        (FIRST..FIRST + n)
            .filter(|id| {
                v.transcript(*id)
                    .iter()
                    .any(|e| e.from_bot && e.text == text)
            })
            .count()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_never_holds_up_users_completes_in_order_and_causes_no_429() {
    const N: i64 = 2000;
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_with(scaled(300), N);
    let rt = start(runtime_config(
        dir.path(),
        &fake,
        300,
        &[CLICKER, BROADCASTER],
    ))
    .await;
    let admin = TestUser::new(42, "Admin");
    fake.send_text(&admin, format!("/broadcast {FIRST} {N} news"));
    fake.wait_for_bot_text(admin.id, &format!("queued {N}"), WAIT)
        .await
        .unwrap();

    let users: Vec<_> = (1..=5)
        .map(|i| TestUser::new(100 + i, format!("U{i}")))
        .collect();
    for u in &users {
        fake.send_text(u, "/start");
        fake.wait_for_bot_text(u.id, "Hello", WAIT).await.unwrap();
        for i in 1..=3 {
            fake.send_text(u, "Click");
            fake.wait_for_bot_text(u.id, &format!("Clicks: {i}"), WAIT)
                .await
                .unwrap();
        }
    }
    // Every user was served while the broadcast was still going: replies jump the queue.
    let during = delivered_broadcasts(&fake, N, "news");
    assert!(
        during < N as usize,
        "the broadcast finished before users were served ({during})"
    );
    let metrics = rt.outbox_metrics();

    fake.wait_until(Duration::from_secs(120), |v| {
        (FIRST..FIRST + N).all(|id| v.transcript(id).iter().any(|e| e.text == "news"))
    })
    .await
    .unwrap();
    assert_eq!(delivered_broadcasts(&fake, N, "news"), N as usize);
    for u in &users {
        let clicks: Vec<_> = bot_texts(&fake, u.id)
            .into_iter()
            .filter(|t| t.starts_with("Clicks"))
            .collect();
        assert_eq!(
            clicks,
            ["Clicks: 1", "Clicks: 2", "Clicks: 3"],
            "order in chat {}",
            u.id
        );
    }
    assert_eq!(fake.counters().too_many_requests, 0, "the limits were kept");
    fake.send_text(&admin, "/report");
    fake.wait_for_bot_text(admin.id, &format!("delivered {N} failed 0 queued 0"), WAIT)
        .await
        .unwrap();
    assert!(
        metrics.queued_bulk > 0 || during > 0,
        "metrics saw the queue: {metrics:?}"
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_429s_for_one_chat_and_for_everyone_are_waited_out_without_loss_or_repeats() {
    const N: i64 = 40;
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_with(Limits::default(), N);
    let rt = start(runtime_config(dir.path(), &fake, 30, &[BROADCASTER, ECHO])).await;
    let alice = TestUser::alice();
    // One chat: a single 429.
    fake.fail_next("sendMessage", 1, Failure::RetryAfter(1));
    send_expecting(&fake, &alice, "hello", "echo: hello").await;
    // Everyone: every send answered 429 for a while.
    fake.fail_all(
        "sendMessage",
        Duration::from_millis(1500),
        Failure::RetryAfter(1),
    );
    let admin = TestUser::new(42, "Admin");
    fake.send_text(&admin, format!("/broadcast {FIRST} {N} storm"));
    fake.wait_until(Duration::from_secs(60), |v| {
        (FIRST..FIRST + N).all(|id| v.transcript(id).iter().any(|e| e.text == "storm"))
    })
    .await
    .unwrap();
    fake.view(|v| {
        for id in FIRST..FIRST + N {
            assert_eq!(
                v.transcript(id).iter().filter(|e| e.from_bot).count(),
                1,
                "chat {id}"
            );
        }
    });
    assert_eq!(bot_texts(&fake, alice.id), ["echo: hello"]);
    let limited = rt
        .outbox_stats()
        .rate_limited
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(limited >= 2, "429s seen: {limited}");
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_who_blocked_the_bot_and_an_unknown_chat_fail_alone_and_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_with(Limits::default(), 3);
    let rt = start(config(dir.path(), &fake, &[BROADCASTER, CLICKER])).await;
    let blocker = TestUser::new(FIRST + 1, "Blocker");
    fake.set_blocked(&blocker, true);
    let admin = TestUser::new(42, "Admin");
    // Three open chats (one blocked) and two chats the bot never saw (400 chat not found).
    fake.send_text(&admin, format!("/broadcast {FIRST} 5 hi"));
    fake.wait_for_bot_text(admin.id, "queued 5", WAIT)
        .await
        .unwrap();
    let report = async {
        loop {
            fake.send_text(&admin, "/report");
            let r = fake
                .wait_for_bot_text(admin.id, "delivered", WAIT)
                .await
                .unwrap();
            if r.text.ends_with("queued 0") {
                return r.text;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let report = tokio::time::timeout(WAIT, report).await.unwrap();
    assert_eq!(report, "delivered 2 failed 3 queued 0");
    assert!(bot_texts(&fake, blocker.id).is_empty());
    // Later messages to the blocked chat are given up at once, until the user writes again.
    fake.set_blocked(&blocker, false);
    send_expecting(&fake, &blocker, "/start", "Hello").await;
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_to_a_group_that_became_a_supergroup_follow_it() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_with(Limits::default(), 0);
    let rt = start(config(dir.path(), &fake, &[BROADCASTER])).await;
    let alice = TestUser::alice();
    fake.send_text_in_group(-100, "Old group", &alice, "hi all");
    fake.migrate_group(-100, -1_000_100);
    let admin = TestUser::new(42, "Admin");
    fake.send_text(&admin, "/broadcast -100 1 moved");
    fake.wait_for_bot_text(-1_000_100, "moved", WAIT)
        .await
        .unwrap();
    assert!(bot_texts(&fake, -100).is_empty());
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_edits_of_one_message_become_one_edit_with_the_last_text() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_with(Limits::default(), 0);
    let rt = start(config(dir.path(), &fake, &[ECHO])).await;
    let alice = TestUser::alice();
    fake.send_text(&alice, "/edits");
    let msg = fake.wait_for_bot_text(alice.id, "v3", WAIT).await.unwrap();
    assert_eq!(msg.edits, 1, "v2 was merged into v3");
    assert_eq!(
        rt.outbox_stats()
            .coalesced
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_over_its_quota_is_slowed_and_others_are_not() {
    const N: i64 = 40;
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_with(scaled(300), N);
    let mut c = runtime_config(dir.path(), &fake, 300, &[BROADCASTER, CLICKER]);
    // The module asks for 6000/min; the operator narrows it to 60/min (1/s, bursts of 10).
    let settings = c.modules.entry("broadcaster".into()).or_default();
    settings
        .config
        .insert("outbox_per_minute".into(), toml::Value::Integer(6000));
    settings.outbox_per_minute = Some(60);
    let rt = start(c).await;
    let admin = TestUser::new(42, "Admin");
    fake.send_text(&admin, format!("/broadcast {FIRST} {N} quota"));
    fake.wait_for_bot_text(admin.id, "queued", WAIT)
        .await
        .unwrap();
    let t0 = Instant::now();
    // Another module's reply is not held back by the broadcaster's quota.
    let alice = TestUser::alice();
    send_expecting(&fake, &alice, "/start", "Hello").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // An upper bound only: a slow machine delivers fewer, never more. The "queued" reply
    // came out of the same quota before t0.
    let delivered = delivered_broadcasts(&fake, N, "quota");
    let allowed = 10 + t0.elapsed().as_secs_f64().ceil() as usize + 1;
    assert!(
        delivered <= allowed,
        "{delivered} delivered, the quota allows {allowed}"
    );
    let metrics = rt.outbox_metrics();
    assert!(
        metrics.queued_bulk > 0 && metrics.oldest_age_ms > 0,
        "{metrics:?}"
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_cannot_keep_more_than_its_share_of_bytes_waiting_in_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let mut c = config(dir.path(), &fake, &[CLICKER, BROADCASTER]);
    c.outbox.module_max_queued_bytes = 64 << 10;
    let rt = start(c).await;
    // Telegram says "retry after 30 s" to every message for a minute: what is queued stays.
    fake.fail_all(
        "sendMessage",
        std::time::Duration::from_secs(60),
        Failure::RetryAfter(30),
    );
    let stats = rt.modules()["broadcaster"].clone();
    let count = |n: &std::sync::atomic::AtomicU64| n.load(std::sync::atomic::Ordering::Relaxed);
    let sender = TestUser::new(4242, "Sender");
    let text = "x".repeat(2000);
    // 20 kB a broadcast (ten chats): three fit in 64 KiB, the fourth does not.
    for round in 1..=4u64 {
        fake.send_text(&sender, format!("/broadcast {FIRST} 10 {text}"));
        fake.wait_until(WAIT, |_| count(&stats.calls) >= round)
            .await
            .expect("the broadcast is handled");
        // Its entries reach the outbox's count.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    assert_eq!(count(&stats.errors), 1, "the fourth broadcast is refused");
    // The outbox's figures are a snapshot refreshed twice a second: wait for it.
    let started = tokio::time::Instant::now();
    let mut bulk = rt.outbox_metrics().queued_bulk;
    while bulk != 3 * 10 && started.elapsed() < WAIT {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        bulk = rt.outbox_metrics().queued_bulk;
    }
    assert_eq!(bulk, 3 * 10, "three broadcasts wait, nothing of the fourth");
    // Another module is not held up: the clicker handles its update.
    let clicker = rt.modules()["clicker"].clone();
    fake.send_text(&TestUser::alice(), "/start");
    fake.wait_until(WAIT, |_| count(&clicker.calls) >= 1)
        .await
        .expect("the clicker handles its update");
    rt.stop().await;
}
