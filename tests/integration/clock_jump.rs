//! The wall clock jumping (a VM restored from a snapshot, an NTP step, an operator's `date
//! -s`), with the real binary under libfaketime: back an hour, then forward a day. Timers are
//! instants on the wall clock: each fires once, when the clock reaches it. Telegram's limits
//! are kept on the monotonic clock, which does not jump: sending neither stalls nor bursts.

use std::{path::PathBuf, time::Duration};

use botbox_test_artifacts::{CLICKER, REMINDER};

use crate::support::*;

/// libfaketime's thread-safe library, from Debian's `libfaketime` package.
fn libfaketime() -> PathBuf {
    let found = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/faketime/libfaketimeMT.so.1",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.exists());
    found.expect("libfaketime is not installed: apt-get install libfaketime (scripts/test.sh does)")
}

/// The bot's wall clock: libfaketime reads this file's offset ("+0", "-1h", "+1d") every
/// second; the monotonic clock stays real.
struct WallClock(PathBuf);

impl WallClock {
    fn set(&self, offset: &str) {
        std::fs::write(&self.0, offset).expect("write the faketime offset");
        // libfaketime reads the file again within a second.
        std::thread::sleep(Duration::from_millis(1500));
    }
}

fn count(fake: &FakeBotApi, chat: i64, text: &str) -> usize {
    bot_texts(fake, chat).iter().filter(|t| *t == text).count()
}

/// Every user clicks twice at once; each gets both answers, and Telegram (the fake, on a real
/// clock) never had to say 429.
async fn clicks_answered_within_limits(fake: &FakeBotApi, users: &[TestUser], round: u64) {
    for u in users {
        fake.send_text(u, "Click");
        fake.send_text(u, "Click");
    }
    for u in users {
        let want = format!("Clicks: {}", round * 2);
        fake.wait_for_bot_text(u.id, &want, WAIT)
            .await
            .unwrap_or_else(|e| panic!("user {} never saw {want:?}: {e}", u.id));
    }
    assert_eq!(
        fake.counters().too_many_requests,
        0,
        "the bot burst past Telegram's limits"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wall_clock_jumping_back_an_hour_and_forward_a_day_fires_each_timer_once() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let modules = modules_dir(dir.path(), &[CLICKER, REMINDER]);
    let config_file = write_config(dir.path(), &fake, &modules, "");
    let clock = WallClock(dir.path().join("faketime"));
    std::fs::write(&clock.0, "+0").unwrap();
    let preload = libfaketime();
    let _bot = spawn_bot_with_env(
        &config_file,
        &[
            ("LD_PRELOAD", preload.to_str().unwrap()),
            ("FAKETIME_TIMESTAMP_FILE", clock.0.to_str().unwrap()),
            ("FAKETIME_CACHE_DURATION", "1"),
            ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
            ("NO_FAKE_STAT", "1"),
            // Without jemalloc's purging thread (a thread of the allocator, not of botbox):
            // with it, under libfaketime, the bot stopped firing timers after the jump in one
            // run in six (0 in 8 without it) — suspected: that thread reads the clock holding
            // an allocator lock, and libfaketime allocates while it re-reads its file.
            ("_RJEM_MALLOC_CONF", "background_thread:false"),
        ],
    );
    let alice = TestUser::alice();
    let users: Vec<TestUser> = (0..6)
        .map(|i| TestUser::new(9100 + i, format!("user{i}")))
        .collect();
    for u in &users {
        send_expecting(&fake, u, "/start", "").await;
    }
    clicks_answered_within_limits(&fake, &users, 1).await;
    send_expecting(&fake, &alice, "/remind 2h tea", "OK, in 2h: tea").await;

    // Back an hour: a reminder set now fires in its two seconds; the one due in two hours
    // (by the old clock) waits for its time.
    clock.set("-1h");
    send_expecting(&fake, &alice, "/remind 2s back", "OK, in 2s: back").await;
    fake.wait_for_bot_text(alice.id, "Reminder: back", WAIT)
        .await
        .expect("a reminder set after the jump back fires");
    clicks_answered_within_limits(&fake, &users, 2).await;
    assert_eq!(count(&fake, alice.id, "Reminder: tea"), 0, "fired early");

    // Forward a day: the two-hour reminder is due, and fires once; the other does not again.
    clock.set("+1d");
    fake.wait_for_bot_text(alice.id, "Reminder: tea", WAIT)
        .await
        .expect("a reminder overtaken by the jump forward fires");
    clicks_answered_within_limits(&fake, &users, 3).await;
    send_expecting(&fake, &alice, "/reminders", "You have no reminders.").await;
    assert_eq!(count(&fake, alice.id, "Reminder: tea"), 1);
    assert_eq!(count(&fake, alice.id, "Reminder: back"), 1);
}
