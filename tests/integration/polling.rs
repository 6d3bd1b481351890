//! Long polling with the configuration operators get by default: a 30 s long poll that the
//! Bot API holds open when nothing happens, as Telegram does.

use std::time::Duration;

use botbox::Config;
use botbox_test_artifacts::CLICKER;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_bot_with_the_default_long_poll_never_gives_up_a_poll_and_hears_the_next_message() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let mut c = config(dir.path(), &fake, &[CLICKER]);
    c.telegram.poll_timeout_secs = Config::default().telegram.poll_timeout_secs;
    assert!(
        c.telegram.poll_timeout_secs > 17,
        "the default outlasts 17 s"
    );
    let rt = start(c).await;

    // Quiet for longer than the 17 s after which teloxide's default HTTP client gives up: a
    // client that gives up before the Bot API answers an idle poll makes every quiet stretch a
    // network error, and its growing backoff leaves the bot deaf.
    tokio::time::sleep(Duration::from_secs(20)).await;
    let abandoned = fake.view(|v| v.abandoned_polls());
    assert_eq!(
        abandoned, 0,
        "getUpdates calls given up by the bot's client"
    );

    let alice = TestUser::alice();
    send_expecting(&fake, &alice, "/start", "").await;
    rt.stop().await;
}
