//! Contract versions: a module built against an older compatible `botbox:bot` keeps loading and
//! working next to modules built against the current one.

use botbox_test_artifacts::{CLICKER, CONTRACT_V0_1_0, CONTRACT_V0_1_1, CONTRACT_V0_1_2};
use std::time::Duration;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_built_for_contracts_0_1_0_to_0_1_2_run_beside_current_ones() {
    assert_eq!(botbox::sandbox::CONTRACT_VERSION, "0.1.3");
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let c = config(
        dir.path(),
        &fake,
        &[CONTRACT_V0_1_0, CONTRACT_V0_1_1, CONTRACT_V0_1_2, CLICKER],
    );
    let runtime = start(c).await;
    let mut modules: Vec<String> = runtime.modules().into_keys().collect();
    modules.sort();
    assert_eq!(
        modules,
        ["clicker", "old-module", "old-module-11", "old-module-12"]
    );

    let alice = TestUser::alice();
    fake.open_chat(&alice);
    fake.send_text(&alice, "/ping");
    fake.wait_for_bot_text(
        alice.chat_id(),
        "pong 1 (contract 0.1.0)",
        Duration::from_secs(20),
    )
    .await
    .unwrap();
    fake.send_text(&alice, "/ping");
    fake.wait_for_bot_text(
        alice.chat_id(),
        "pong 2 (contract 0.1.0)",
        Duration::from_secs(20),
    )
    .await
    .unwrap();
    fake.send_text(&alice, "/ping11");
    fake.wait_for_bot_text(
        alice.chat_id(),
        "pong 1 (contract 0.1.1)",
        Duration::from_secs(20),
    )
    .await
    .unwrap();
    fake.send_text(&alice, "/ping12");
    fake.wait_for_bot_text(
        alice.chat_id(),
        "pong 1 (contract 0.1.2)",
        Duration::from_secs(20),
    )
    .await
    .unwrap();
    fake.send_text(&alice, "/start");
    fake.wait_for_bot_text(alice.chat_id(), "Hello, Alice!", Duration::from_secs(20))
        .await
        .unwrap();
    runtime.stop().await;
}
