//! The KV store's promises to modules, end to end: isolation whatever key a module forges,
//! quotas declared by the manifest and narrowed (never widened) by the operator, all-or-nothing
//! batches, compare-and-swap and range scans. The kv-probe guest checks most of it from inside
//! the sandbox and answers `... ok` or `... FAILED: <what>`.

use std::path::Path;

use crate::support::*;
use botbox::{Config, config::ModuleSettings};
use botbox_test_artifacts::{CLICKER, KV_PROBE};

/// A configuration running `wasm`, with the kv-probe's settings changed by `probe`.
fn probe_config(
    root: &Path,
    fake: &FakeBotApi,
    wasm: &[&str],
    probe: impl FnOnce(&mut ModuleSettings),
) -> Config {
    let mut c = config(root, fake, wasm);
    probe(c.modules.entry("kv-probe".into()).or_default());
    c
}

/// The settings under which the probe's manifest declares these quotas (from its config).
fn declare(settings: &mut ModuleSettings, max_keys: Option<u64>, max_bytes: Option<u64>) {
    for (key, value) in [("max_keys", max_keys), ("max_bytes", max_bytes)] {
        if let Some(value) = value {
            let value = toml::Value::Integer(value.try_into().expect("a small quota"));
            settings.config.insert(key.into(), value);
        }
    }
}

/// Sends `text` as `user` and returns the bot's next message in the user's chat.
async fn ask(fake: &FakeBotApi, user: &TestUser, text: &str) -> String {
    let before = bot_texts(fake, user.id).len();
    fake.send_text(user, text);
    fake.wait_until(WAIT, |v| {
        v.transcript(user.id).iter().filter(|e| e.from_bot).count() > before
    })
    .await
    .unwrap_or_else(|error| panic!("no answer to {text}: {error:#}"));
    bot_texts(fake, user.id).swap_remove(before)
}

/// Starts a runtime with only the kv-probe, its settings changed by `probe`, and returns the
/// answer to `/fill`.
async fn fill_with(probe: impl FnOnce(&mut ModuleSettings)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let rt = start(probe_config(dir.path(), &fake, &[KV_PROBE], probe)).await;
    let answer = ask(&fake, &TestUser::alice(), "/fill").await;
    rt.stop().await;
    answer
}

/// Bytes `/fill` stores per key: a 5-byte key and a 100-byte value.
const FILL_ENTRY: u64 = 105;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_that_forges_keys_sees_only_its_own_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let rt = start(config(dir.path(), &fake, &[CLICKER, KV_PROBE])).await;
    let (alice, bob) = (TestUser::alice(), TestUser::bob());
    assert!(ask(&fake, &alice, "/start").await.contains("Hello"));
    for i in 1..=3 {
        assert_eq!(ask(&fake, &alice, "Click").await, format!("Clicks: {i}"));
    }
    assert!(ask(&fake, &bob, "/start").await.contains("Hello"));
    assert_eq!(ask(&fake, &bob, "Click").await, "Clicks: 1");
    let rating = "Total: 2\n1: Alice - 3\n2: Bob - 1";
    assert_eq!(ask(&fake, &alice, "Rating").await, rating);

    // The probe reads, swaps and deletes through keys named like the clicker's (`users`,
    // `user/...`, `rank/...`, `../clicker/users`, ...) and the host's tables, then leaves its own
    // values under all of them. The second run starts by deleting what the first left.
    let mallory = TestUser::new(666, "Mallory");
    assert_eq!(ask(&fake, &mallory, "/forge").await, "forge ok");
    assert_eq!(ask(&fake, &mallory, "/forge").await, "forge ok");

    // The clicker's records, ranking and user counter are untouched.
    assert_eq!(ask(&fake, &alice, "Rating").await, rating);
    assert_eq!(ask(&fake, &bob, "Click").await, "Clicks: 2");
    let carol = TestUser::new(77, "Carol");
    assert!(ask(&fake, &carol, "/start").await.contains("Hello"));
    assert_eq!(
        ask(&fake, &carol, "Rating").await,
        "Total: 3\n1: Alice - 3\n2: Bob - 2\n3: Carol - 0"
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exceeding_the_kv_quota_is_an_error_value_and_earlier_data_stays_intact() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let alice = TestUser::alice();
    let quota_of_20 = |s: &mut ModuleSettings| declare(s, Some(20), None);
    let rt = start(probe_config(dir.path(), &fake, &[KV_PROBE], quota_of_20)).await;
    let filled = ask(&fake, &alice, "/fill").await;
    assert!(
        filled.starts_with("filled 20 then quota exceeded: "),
        "{filled}"
    );
    assert_eq!(ask(&fake, &alice, "/check 20").await, "check ok 20");
    let usage = ask(&fake, &alice, "/usage").await;
    let usage: Vec<&str> = usage.split(' ').collect();
    assert_eq!(
        [usage[0], usage[1], usage[2], usage[4]],
        ["usage", &(20 * FILL_ENTRY).to_string(), "20", "20"],
        "usage <bytes> <keys> <max_bytes> <max_keys>"
    );
    rt.stop().await;

    // What was committed before the refused write is durable.
    let rt = start(probe_config(dir.path(), &fake, &[KV_PROBE], quota_of_20)).await;
    assert_eq!(ask(&fake, &alice, "/check 20").await, "check ok 20");
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_can_narrow_a_modules_kv_quota_but_not_widen_it() {
    let narrowed = fill_with(|s| {
        declare(s, Some(50), None);
        s.kv_max_keys = Some(10);
    })
    .await;
    assert!(
        narrowed.starts_with("filled 10 then quota exceeded"),
        "{narrowed}"
    );

    let not_widened = fill_with(|s| {
        declare(s, Some(50), None);
        s.kv_max_keys = Some(500);
    })
    .await;
    assert!(
        not_widened.starts_with("filled 50 then quota exceeded"),
        "{not_widened}"
    );

    // The same for bytes: the manifest allows 50 entries' worth, the operator 10.
    let narrowed = fill_with(|s| {
        declare(s, None, Some(50 * FILL_ENTRY));
        s.kv_max_bytes = Some(10 * FILL_ENTRY);
    })
    .await;
    assert!(
        narrowed.starts_with("filled 10 then quota exceeded"),
        "{narrowed}"
    );

    let not_widened = fill_with(|s| {
        declare(s, None, Some(50 * FILL_ENTRY));
        s.kv_max_bytes = Some(500 * FILL_ENTRY);
    })
    .await;
    assert!(
        not_widened.starts_with("filled 50 then quota exceeded"),
        "{not_widened}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_the_quota_writes_nothing_and_a_valid_batch_is_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let c = probe_config(dir.path(), &fake, &[KV_PROBE], |s| {
        declare(s, Some(20), None);
    });
    let rt = start(c).await;
    let alice = TestUser::alice();
    assert_eq!(ask(&fake, &alice, "/batch_over").await, "batch ok");
    // The first run left the usage as it found it, so a second one finds the same room.
    assert_eq!(ask(&fake, &alice, "/batch_over").await, "batch ok");
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_and_swap_and_range_scans_behave_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let rt = start(config(dir.path(), &fake, &[KV_PROBE])).await;
    let alice = TestUser::alice();
    assert_eq!(ask(&fake, &alice, "/cas").await, "cas ok");
    // Again, over a namespace with keys before and after the ones the test uses (`/forge`
    // leaves `mine`, `inbox`, `rank/`, `users`, ...).
    assert_eq!(ask(&fake, &alice, "/forge").await, "forge ok");
    assert_eq!(ask(&fake, &alice, "/cas").await, "cas ok");
    rt.stop().await;
}
