//! A module's slow `init` holds up only that module: installs, swaps, the breaker's disable
//! and enable of other modules go on while it runs, and the modules directory loads side by
//! side at start.

use std::time::Duration;

use crate::support::*;
use botbox::config::ModuleSettings;
use botbox_test_artifacts::{BAD_LOOP, CLICKER};

/// A configuration whose `bad-loop` module waits ten minutes in `init`, under a wall-clock
/// limit just as long.
fn slow_init_config(root: &std::path::Path, fake: &FakeBotApi, wasm: &[&str]) -> botbox::Config {
    let mut c = config(root, fake, wasm);
    c.sandbox.wall_timeout_ms = 600_000;
    let mut settings = ModuleSettings::default();
    settings
        .config
        .insert("init_sleep_ms".into(), toml::Value::String("600000".into()));
    c.modules.insert("bad-loop".into(), settings);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_modules_change_while_one_module_s_init_sleeps() {
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let rt = start(slow_init_config(dir.path(), &fake, &[CLICKER])).await;
    let registry = rt.registry().clone();
    let bytes = std::fs::read(BAD_LOOP).unwrap();
    let sleeping = tokio::spawn({
        let registry = registry.clone();
        async move { registry.install(&bytes, None).await }
    });
    // Let the install reach the module's `init`.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // What the circuit breaker does to a failing module, and what an operator does after.
    tokio::time::timeout(WAIT, registry.disable("clicker", "test"))
        .await
        .expect("disable waited for another module's init")
        .unwrap();
    let enabled = tokio::time::timeout(WAIT, registry.enable("clicker"))
        .await
        .expect("enable waited for another module's init")
        .unwrap();
    assert_eq!(enabled.name, "clicker");
    assert!(
        !sleeping.is_finished(),
        "the sleeping init ended early: the test proves nothing"
    );
    // The clicker serves again while the other module still sleeps in `init`.
    let ann = TestUser::new(71, "Ann");
    send_expecting(&fake, &ann, "Click", "Please send /start first.").await;
    assert!(!sleeping.is_finished());
    assert!(
        registry.get("bad-loop").is_none(),
        "a module that has not finished init is not serving"
    );
    // The runtime stops once nothing else holds its registry.
    sleeping.abort();
    let _ = sleeping.await;
    drop(registry);
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_whose_init_passes_its_deadline_is_not_loaded_and_the_others_are() {
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let mut c = slow_init_config(dir.path(), &fake, &[CLICKER, BAD_LOOP]);
    // The slow module's init is cut at two seconds: start-up waits for it, not for each
    // module in turn behind it.
    c.sandbox.wall_timeout_ms = 2_000;
    let rt = start(c).await;
    let modules = rt.modules();
    assert!(modules.contains_key("clicker"), "{:?}", modules.keys());
    assert!(
        !modules.contains_key("bad-loop"),
        "an init past its deadline does not load"
    );
    let bob = TestUser::new(72, "Bob");
    send_expecting(&fake, &bob, "Click", "Please send /start first.").await;
    rt.stop().await;
}
