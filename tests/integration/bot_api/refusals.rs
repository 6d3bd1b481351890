//! Calls the host refuses before anything is queued or sent, each with the rule named.

use botbox_test_artifacts::API_PROBE;

use super::ask;
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_s_methods_unknown_methods_wrong_parameters_and_oversized_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let mut c = config(dir.path(), &fake, &[API_PROBE]);
    c.sandbox.call_timeout_ms = 5_000;
    let runtime = start(c).await;
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let sends_before = fake.counters().sends;

    let webhook = ask(&fake, &alice, "/webhook", "error: ").await;
    assert!(
        webhook.starts_with("error: not-allowed") && webhook.contains("setWebhook"),
        "{webhook}"
    );
    assert_eq!(
        fake.view(|s| s.webhook_url()),
        None,
        "nothing reached Telegram"
    );

    let unknown = ask(&fake, &alice, "/unknown", "error: ").await;
    assert!(
        unknown.starts_with("error: unknown-method") && unknown.contains("sendTeleportation"),
        "{unknown}"
    );

    let bad = ask(&fake, &alice, "/badparam", "error: ").await;
    assert!(
        bad.starts_with("error: invalid-parameter") && bad.contains("`parse_mod`"),
        "{bad}"
    );

    let big = ask(&fake, &alice, "/bigphoto", "error: ").await;
    assert!(
        big.starts_with("error: invalid-parameter") && big.contains("at most 50 MB"),
        "{big}"
    );

    // Only the four answers were sent; no call reached the fake.
    assert_eq!(fake.counters().sends, sends_before + 4);
    assert_eq!(fake.counters().uploads, 0);
    assert_eq!(runtime.db().stored_files().unwrap(), (0, 0));
    runtime.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_grants_the_bot_s_settings_and_methods_newer_than_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let alice = TestUser::alice();
    fake.open_chat(&alice);

    // Without the grants: refused, each naming the setting that would allow it.
    let runtime = start(config(dir.path(), &fake, &[API_PROBE])).await;
    let refused = ask(&fake, &alice, "/setname Probe Bot", "error: ").await;
    assert!(
        refused.starts_with("error: not-allowed") && refused.contains("bot_api_grants"),
        "{refused}"
    );
    let unknown = ask(&fake, &alice, "/unknown", "error: ").await;
    assert!(unknown.contains("unknown_bot_api_methods"), "{unknown}");
    runtime.stop().await;

    // With them: the name is set, and the unknown method passes the host's check (it is
    // queued; the fake, like Telegram, does not know it).
    let mut c = config(dir.path(), &fake, &[API_PROBE]);
    c.modules.insert(
        "api-probe".into(),
        botbox::config::ModuleSettings {
            bot_api_grants: vec!["bot-settings".into()],
            unknown_bot_api_methods: true,
            ..Default::default()
        },
    );
    let runtime = start(c).await;
    assert_eq!(
        ask(&fake, &alice, "/setname Probe Bot", "result").await,
        "result true"
    );
    assert_eq!(fake.view(|s| s.my_name()), "Probe Bot");
    ask(&fake, &alice, "/unknown", "queued ").await;
    runtime.stop().await;
}
