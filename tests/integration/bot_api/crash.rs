//! `kill -9` of the real binary with a 5 MB photo queued: the bytes are durable with the queued
//! call, and the photo arrives once after the restart.

use std::time::Duration;

use botbox_test_artifacts::API_PROBE;
use fake_bot_api::Failure;

use super::answer_after;
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_five_megabyte_photo_survives_kill_9_and_arrives_once_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let chat = alice.chat_id();
    let modules = modules_dir(dir.path(), &[API_PROBE]);
    let config_file = write_config(
        dir.path(),
        &fake,
        &modules,
        "[sandbox]\ncall_timeout_ms = 5000\n",
    );
    // Telegram is down for photos: the call stays queued, retried with backoff.
    let outage = Failure::Api {
        code: 502,
        description: "Bad Gateway".into(),
    };
    fake.fail_all("sendPhoto", Duration::from_secs(600), outage.clone());
    let mut bot = spawn_bot(&config_file);
    fake.send_text(&alice, "/photo 5120");
    // The module's answer waits behind the photo in the chat's queue; the commit that queued
    // the photo shows as the database file growing past its bytes.
    let db_file = dir.path().join("data").join("botbox.redb");
    let db_size = || std::fs::metadata(&db_file).map_or(0, |m| m.len());
    let deadline = tokio::time::Instant::now() + WAIT;
    while db_size() <= 5 << 20 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        db_size() > 5 << 20,
        "the photo's bytes are in the database: {}",
        db_size()
    );
    bot.start_kill().unwrap();
    let status = bot.wait().await.unwrap();
    assert!(!status.success(), "killed, not exited: {status:?}");
    assert!(
        fake.photos(chat).is_empty(),
        "no photo went through the outage"
    );

    // Telegram is back; so is the bot.
    fake.fail_all("sendPhoto", Duration::ZERO, outage);
    let mut bot = spawn_bot(&config_file);
    fake.wait_until(Duration::from_secs(60), |s| !s.photos(chat).is_empty())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let photos = fake.photos(chat);
    assert_eq!(photos.len(), 1, "exactly once");
    assert_eq!(photos[0].bytes.len(), 5120 * 1024);
    assert_eq!(photos[0].caption, "probe photo");
    // The module's answer, held behind the photo, follows it.
    answer_after(&fake, &alice, 0, "queued ").await;
    bot.start_kill().unwrap();
    let _ = bot.wait().await;
}
