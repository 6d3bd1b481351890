//! A read inside a dialogue is recorded: after a restart the dialogue is rebuilt by replay and
//! sees the answer Telegram gave the first time, while a new read sees what is true now.

use std::time::Duration;

use botbox_test_artifacts::API_PROBE;
use fake_bot_api::MemberStatus;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_inside_a_dialogue_is_replayed_from_its_record_after_a_restart() {
    const GROUP: i64 = -100_500;
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let c = config(dir.path(), &fake, &[API_PROBE]);
    let alice = TestUser::alice();
    let runtime = start(c.clone()).await;
    fake.send_text_in_group(GROUP, "Team", &alice, "/memberdlg");
    fake.wait_for_bot_text(GROUP, "Send anything", Duration::from_secs(30))
        .await
        .unwrap();
    assert!(bot_texts(&fake, GROUP).contains(&"recorded status: member".to_string()));

    // Telegram's answer changes while the bot is down; the dialogue's instance is gone.
    runtime.stop().await;
    fake.set_member_status(GROUP, &alice, MemberStatus::Administrator);
    let runtime = start(c).await;
    fake.send_text_in_group(GROUP, "Team", &alice, "anything");
    fake.wait_for_bot_text(
        GROUP,
        "recorded: member, now: administrator",
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    runtime.stop().await;
}
