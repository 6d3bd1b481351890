//! Kinds of update asked for by name: the host asks Telegram for them (`allowed_updates`), a
//! poll's answers and a reaction reach the module that sent the poll or the message, and the
//! kinds follow the modules when one is removed.

use serde_json::json;

use botbox_test_artifacts::{API_PROBE, CLICKER};

use super::{answer_after, ask, ticket_of};
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_s_answers_and_reactions_reach_the_module_that_asked_and_allowed_updates_follow_the_modules()
 {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let runtime = start(config(dir.path(), &fake, &[API_PROBE, CLICKER])).await;
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let chat = alice.chat_id();

    // Telegram is asked for the kinds the probe wants, the two it sends only when asked among
    // them; the clicker wants none of them.
    let asked_for = |kind: &'static str| {
        let fake = &fake;
        async move {
            fake.wait_until(WAIT, |s| s.allowed_updates().iter().any(|k| k == kind))
                .await
                .is_ok()
        }
    };
    assert!(
        asked_for("poll_answer").await,
        "{:?}",
        fake.allowed_updates()
    );
    assert!(
        asked_for("message_reaction").await,
        "{:?}",
        fake.allowed_updates()
    );
    assert!(!fake.allowed_updates().iter().any(|k| k == "chat_member"));

    ticket_of(&ask(&fake, &alice, "/poll", "queued ").await);
    assert!(
        fake.wait_until(WAIT, |s| s
            .bot_messages(chat)
            .iter()
            .any(|m| m.get("poll").is_some()))
            .await
            .is_ok()
    );
    let poll = fake
        .bot_messages(chat)
        .into_iter()
        .find(|m| m.get("poll").is_some())
        .unwrap();
    let poll_id = poll["poll"]["id"].as_str().unwrap().to_string();

    let before = bot_texts(&fake, chat).len();
    fake.inject_raw_update(json!({"update_id": 900_001, "poll_answer": {
        "poll_id": poll_id,
        "user": {"id": alice.id, "is_bot": false, "first_name": "Alice"},
        "option_ids": [0]}}));
    answer_after(&fake, &alice, before, "got poll_answer").await;

    let before = bot_texts(&fake, chat).len();
    fake.inject_raw_update(json!({"update_id": 900_002, "message_reaction": {
        "chat": {"id": chat, "type": "private", "first_name": "Alice"},
        "message_id": poll["message_id"],
        "user": {"id": alice.id, "is_bot": false, "first_name": "Alice"},
        "date": 1_700_000_000,
        "old_reaction": [],
        "new_reaction": [{"type": "emoji", "emoji": "👍"}]}}));
    answer_after(&fake, &alice, before, "got message_reaction").await;

    // Without the probe nobody wants them: Telegram is no longer asked for them.
    runtime.registry().remove("api-probe", false).await.unwrap();
    assert!(
        fake.wait_until(WAIT, |s| !s
            .allowed_updates()
            .iter()
            .any(|k| k == "poll_answer"))
            .await
            .is_ok(),
        "{:?}",
        fake.allowed_updates()
    );
    runtime.stop().await;
}
