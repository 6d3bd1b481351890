//! A module whose queue filled up: the updates it could not take wait in the database and are
//! handed back in order (`modules/backlog.rs`, `intake/backlog.rs`) — each exactly once, also
//! when a webhook's concurrent requests bring them out of order.

use std::time::Duration;

use crate::support::*;
use botbox::Options;
use botbox_test_artifacts::BAD_LOOP;

fn sleep_update(id: u64, user: &TestUser, ms: u64) -> serde_json::Value {
    serde_json::json!({
        "update_id": id,
        "message": {
            "message_id": id, "date": 1_700_000_000, "text": format!("/sleep {ms}"),
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            "chat": {"id": user.id, "type": "private", "first_name": user.first_name},
            "from": {"id": user.id, "is_bot": false, "first_name": user.first_name},
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_queued_before_its_module_fell_behind_is_not_handed_over_again() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let mut c = config(dir.path(), &fake, &[BAD_LOOP]);
    c.sandbox.shards = 2;
    c.sandbox.shard_queue = 1;
    let options = Options {
        intake: false,
        ..Options::default()
    };
    let rt = botbox::Runtime::start_with(c, options)
        .await
        .expect("runtime");
    // Two chats on different shards (chat ids spread by `modules/module.rs::shard_of`).
    let (ann, bob) = (TestUser::new(600, "Ann"), TestUser::new(601, "Bob"));
    fake.open_chats([&ann, &bob]);
    // As a webhook's concurrent requests may bring them: Ann's 100 keeps her shard busy and
    // 101 fills its queue; Bob's 103 is being handled on the other shard; then Ann's 102 finds
    // her queue full and the module falls behind from 102 on — with 103, newer and unfinished,
    // still pending in the database.
    for (id, user, ms) in [
        (100, &ann, 1_000),
        (101, &ann, 10),
        (103, &bob, 3_000),
        (102, &ann, 20),
    ] {
        rt.submit(vec![sleep_update(id, user, ms)])
            .await
            .expect("recorded");
    }
    fake.wait_until(Duration::from_secs(30), |v| {
        let answered = |chat| v.transcript(chat).iter().filter(|e| e.from_bot).count();
        answered(ann.id) >= 3 && answered(bob.id) >= 1
    })
    .await
    .expect("all four handled");
    // Time for another answer, were 103 handed over again from the database.
    tokio::time::sleep(Duration::from_millis(4_000)).await;
    assert_eq!(
        bot_texts(&fake, ann.id),
        ["slept 1000", "slept 10", "slept 20"]
    );
    assert_eq!(bot_texts(&fake, bob.id), ["slept 3000"]);
    rt.stop().await;
}
