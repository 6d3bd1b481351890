//! Modules that try to break the host are stopped and reported; the clicker keeps answering.

use std::sync::atomic::Ordering;

use crate::support::*;
use botbox::{Config, Runtime};
use botbox_test_artifacts::{BAD_ALLOC, BAD_LOOP, BAD_TRAP, CLICKER};

/// Sends `attack`, checks the clicker answers meanwhile, then that the bad module was stopped
/// (`max_attempts` = 2 tries, then quarantined) and serves again from a fresh instance.
async fn clicker_survives(wasm: &str, module: &str, attack: &str, probe: &str, alive: &str) {
    clicker_survives_with(wasm, module, attack, probe, alive, |_| {}).await;
}

/// [`clicker_survives`] with the configuration changed by `tune`; returns the quarantine
/// reason.
async fn clicker_survives_with(
    wasm: &str,
    module: &str,
    attack: &str,
    probe: &str,
    alive: &str,
    tune: impl FnOnce(&mut Config),
) -> String {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let mut c = config(dir.path(), &fake, &[CLICKER, wasm]);
    tune(&mut c);
    let rt: Runtime = start(c).await;
    let (mallory, alice) = (TestUser::new(666, "Mallory"), TestUser::alice());
    fake.send_text(&mallory, attack);
    fake.send_text(&alice, "/start");
    fake.send_text(&alice, "Click");
    fake.wait_for_bot_text(alice.id, "Clicks: 1", WAIT)
        .await
        .expect("clicker answers");

    let stats = rt.modules().remove(module).expect("bad module loaded");
    let deadline = tokio::time::Instant::now() + WAIT;
    while stats.quarantined.load(Ordering::Relaxed) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the attack was never stopped"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        stats.traps.load(Ordering::Relaxed),
        2,
        "tried max_attempts times"
    );
    // Reported: the update is in quarantine with the reason.
    let mut quarantined = Vec::new();
    for _ in 0..100 {
        quarantined = rt.db().quarantined().unwrap();
        if !quarantined.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert_eq!(quarantined[0].0, module);
    // The module itself serves again from a fresh instance.
    fake.send_text(&mallory, probe);
    fake.wait_for_bot_text(mallory.id, alive, WAIT)
        .await
        .expect("module alive again");
    assert!(
        bot_texts(&fake, mallory.id).iter().all(|t| t == alive),
        "the attack sent nothing"
    );
    rt.stop().await;
    quarantined.remove(0).2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_that_traps_is_stopped_and_reported_while_the_clicker_answers() {
    clicker_survives(
        BAD_TRAP,
        "bad-trap",
        "/trap",
        "/ok_trap",
        "trap module alive",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_that_loops_forever_is_stopped_and_reported_while_the_clicker_answers() {
    clicker_survives(
        BAD_LOOP,
        "bad-loop",
        "/loop",
        "/ok_loop",
        "loop module alive",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_that_allocates_without_bound_is_stopped_and_reported_while_the_clicker_answers() {
    clicker_survives(
        BAD_ALLOC,
        "bad-alloc",
        "/alloc",
        "/ok_alloc",
        "alloc module alive",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_that_waits_without_computing_is_stopped_at_the_wall_clock_limit_and_its_chat_goes_on()
 {
    // Ten minutes asleep costs no CPU time: only the wall-clock limit ends the call.
    let reason = clicker_survives_with(
        BAD_LOOP,
        "bad-loop",
        "/sleep 600000",
        "/ok_loop",
        "loop module alive",
        |c| c.sandbox.wall_timeout_ms = 1_000,
    )
    .await;
    assert!(reason.contains("wall-clock limit"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_whose_queue_is_full_holds_up_no_one_and_gets_every_update_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let mut c = config(dir.path(), &fake, &[CLICKER, BAD_LOOP]);
    c.sandbox.shard_queue = 2;
    c.sandbox.wall_timeout_ms = 5_000;
    let rt: Runtime = start(c).await;
    let (mallory, alice) = (TestUser::new(666, "Mallory"), TestUser::alice());
    // Eight slow updates for one chat: 24 s of work, far more than its queue holds.
    for _ in 0..8 {
        fake.send_text(&mallory, "/sleep 3000");
    }
    // Meanwhile the clicker answers at once: intake never waits for the slow module (which
    // made the clicker wait until five of the slow updates were done and the rest fit).
    send_expecting(&fake, &alice, "/start", "").await;
    send_expecting(&fake, &alice, "Click", "Clicks: 1").await;
    let slow_done = bot_texts(&fake, mallory.id).len();
    assert!(
        slow_done <= 2,
        "the clicker waited for {slow_done} slow updates"
    );
    // The slow module's updates were left in the database, not lost: each is handled once.
    fake.wait_until(std::time::Duration::from_secs(120), |v| {
        let transcript = v.transcript(mallory.id);
        transcript
            .iter()
            .filter(|e| e.text.starts_with("slept"))
            .count()
            >= 8
    })
    .await
    .expect("every slow update handled");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(bot_texts(&fake, mallory.id), vec!["slept 3000"; 8]);
    rt.stop().await;
}
