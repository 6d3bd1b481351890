//! Modules that try to break the host are stopped and reported; the clicker keeps answering.

use std::sync::atomic::Ordering;

use crate::support::*;
use botbox::Runtime;
use botbox_test_artifacts::{BAD_ALLOC, BAD_LOOP, BAD_TRAP, CLICKER};

/// Sends `attack`, checks the clicker answers meanwhile, then that the bad module was stopped
/// (`max_attempts` = 2 tries, then quarantined) and serves again from a fresh instance.
async fn clicker_survives(wasm: &str, module: &str, attack: &str, probe: &str, alive: &str) {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let rt: Runtime = start(config(dir.path(), &fake, &[CLICKER, wasm])).await;
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
