//! What the store forgets: a removed module's unfinished updates go with it, and `/metrics`
//! shows the tables' sizes (kept flat by their retention; the unit tests in
//! `runtime/src/store/retention/tests.rs` cover each table's rule).

use botbox_test_artifacts::{BAD_LOOP, CLICKER};

use crate::support::*;

fn rows(rt: &botbox::Runtime) -> std::collections::HashMap<&'static str, u64> {
    rt.db().table_sizes().unwrap().into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_module_leaves_no_unfinished_updates_behind() {
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let rt = start(config(dir.path(), &fake, &[CLICKER, BAD_LOOP])).await;
    let user = TestUser::new(91, "User");
    // One update held in the module's handler, five more waiting behind it in its chat.
    for _ in 0..6 {
        fake.send_text(&user, "/sleep 1500");
    }
    fake.wait_until(WAIT, |_| rows(&rt)["pending"] >= 5)
        .await
        .expect("the module's updates wait");
    rt.registry().remove("bad-loop", true).await.unwrap();
    let after = rows(&rt);
    assert_eq!(after["pending"], 0, "{after:?}");
    assert_eq!(after["inbox"], 0, "{after:?}");
    // The bot goes on: the clicker answers.
    send_expecting(&fake, &user, "Click", "Please send /start first.").await;
    rt.stop().await;
}
