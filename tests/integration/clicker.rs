//! The clicker module end to end: real runtime, real component, fake Bot API.

use crate::support::*;
use botbox_test_artifacts::CLICKER;

async fn register_click_and_rate(fake: &FakeBotApi) {
    let (alice, bob) = (TestUser::alice(), TestUser::bob());
    fake.send_text(&alice, "/start");
    fake.wait_for_bot_text(alice.id, "", WAIT)
        .await
        .expect("a greeting");
    let keyboard = fake
        .current_reply_keyboard(alice.id)
        .expect("a reply keyboard");
    assert_eq!(
        keyboard.rows,
        vec![vec!["Click".to_string(), "Rating".to_string()]]
    );
    for _ in 0..3 {
        fake.send_text(&alice, "Click");
    }
    // In webhook mode Telegram may deliver one chat's updates concurrently: wait for the
    // greeting so that the click cannot overtake the registration.
    fake.send_text(&bob, "/start");
    fake.wait_for_bot_text(bob.id, "", WAIT)
        .await
        .expect("bob's greeting");
    fake.send_text(&bob, "Click");
    fake.wait_for_bot_text(alice.id, "Clicks: 3", WAIT)
        .await
        .expect("third click");
    fake.wait_for_bot_text(bob.id, "Clicks: 1", WAIT)
        .await
        .expect("bob's click");
    let clicks: Vec<_> = bot_texts(fake, alice.id)
        .into_iter()
        .filter(|t| t.starts_with("Clicks:"))
        .collect();
    assert_eq!(clicks, ["Clicks: 1", "Clicks: 2", "Clicks: 3"]);
    fake.send_text(&alice, "Rating");
    let rating = fake
        .wait_for_bot_text(alice.id, "Total:", WAIT)
        .await
        .expect("rating");
    assert_eq!(rating.text, "Total: 2\n1: Alice - 3\n2: Bob - 1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clicker_registers_counts_and_ranks_users_through_long_polling() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let rt = start(config(dir.path(), &fake, &[CLICKER])).await;
    register_click_and_rate(&fake).await;
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clicker_registers_counts_and_ranks_users_through_the_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let mut c = config(dir.path(), &fake, &[CLICKER]);
    use_webhook(&mut c, "s3cret-token-0123456789");
    let rt = start(c).await;
    register_click_and_rate(&fake).await;
    assert!(
        fake.counters().webhook_deliveries >= 7,
        "updates came by webhook"
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unregistered_user_is_told_to_send_start() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let rt = start(config(dir.path(), &fake, &[CLICKER])).await;
    let carol = TestUser::new(77, "Carol");
    fake.send_text(&carol, "Click");
    fake.send_text(&carol, "Rating");
    fake.wait_until(WAIT, |v| {
        v.transcript(77).iter().filter(|e| e.from_bot).count() == 2
    })
    .await
    .unwrap();
    assert_eq!(
        bot_texts(&fake, 77),
        ["Please send /start first.", "Please send /start first."]
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_are_still_there_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let alice = TestUser::alice();
    {
        let rt = start(config(dir.path(), &fake, &[CLICKER])).await;
        fake.send_text(&alice, "/start");
        fake.send_text(&alice, "Click");
        send_expecting(&fake, &alice, "Click", "Clicks: 2").await;
        rt.stop().await;
    }
    let rt = start(config(dir.path(), &fake, &[])).await;
    send_expecting(&fake, &alice, "Click", "Clicks: 3").await;
    rt.stop().await;
}
