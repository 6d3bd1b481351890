//! The setting of the benches that time answers while a broadcast drains (inline, payments):
//! a runtime with the `api-probe` test module and the fake Bot API at Telegram's limits (30
//! messages a second) in this process, 10,000 chats open, and the probe's `/bcast 10000`
//! (one sendPhoto to chats 1001..=11000, bulk priority) started on demand.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use botbox::Runtime;
use fake_bot_api::{FakeBotApi, FakeConfig, TestUser};
use serde_json::{Value, json};

/// Chats the broadcast goes to: 1001..=1000+CHATS (the probe's range).
pub const CHATS: i64 = 10_000;

/// A running bot for a bench.
pub struct Bench {
    _dir: tempfile::TempDir,
    pub fake: FakeBotApi,
    pub runtime: Runtime,
    admin: TestUser,
}

/// Starts the bot with every chat of the broadcast open.
pub async fn start() -> Bench {
    let dir = tempfile::tempdir().expect("temp dir");
    let fake = FakeBotApi::start(FakeConfig::default()).expect("fake Bot API");
    let mut config = super::support::config(dir.path(), &fake, &[botbox_test_artifacts::API_PROBE]);
    config.telegram.poll_timeout_secs = 10;
    let runtime = Runtime::start(config).await.expect("runtime");
    let admin = TestUser::new(1, "Admin");
    fake.open_chat(&admin);
    for id in 1001..=1000 + CHATS {
        fake.open_chat(&TestUser::new(id, format!("user{id}")));
    }
    Bench {
        _dir: dir,
        fake,
        runtime,
        admin,
    }
}

impl Bench {
    /// Starts the broadcast, waits until it is sending, then runs `phase`; returns what the
    /// phase returned and the broadcast's figures meanwhile.
    pub async fn while_broadcasting<T>(&self, phase: impl Future<Output = T>) -> (T, Value) {
        let sent = || self.fake.counters().sends;
        self.fake.send_text(&self.admin, format!("/bcast {CHATS}"));
        let queued_by = Instant::now() + Duration::from_secs(60);
        while sent() < 10 && Instant::now() < queued_by {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let before = sent();
        let started = Instant::now();
        let result = phase.await;
        let rate = (sent() - before) as f64 / started.elapsed().as_secs_f64();
        let left = self.runtime.db().outbox().map(|o| o.len()).unwrap_or(0);
        let figures = json!({
            "chats": CHATS,
            "sends_per_second_meanwhile": (rate * 10.0).round() / 10.0,
            "still_queued_after": left,
        });
        (result, figures)
    }
}
