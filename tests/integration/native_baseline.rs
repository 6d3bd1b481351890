//! The benchmarks' native baseline (`sandbox/native.rs`, feature `native-baseline`) answers as
//! the clicker module does: the same conversation, through the real runtime, once with the
//! WebAssembly module and once with the native handler, leaves the same replies and keyboards.
//! If it did not, the wasm ÷ native ratio of `--bench native` would compare different work.

use crate::support::*;
use botbox::Options;
use botbox_test_artifacts::CLICKER;

/// Every reply the bot sent to each user of a fixed conversation, in order, and the reply
/// keyboard each user ends up with.
async fn conversation(native: bool) -> Vec<(String, Vec<String>, Option<Vec<Vec<String>>>)> {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let options = Options {
        native_modules: if native {
            vec!["clicker".into()]
        } else {
            Vec::new()
        },
        ..Options::default()
    };
    let rt = botbox::Runtime::start_with(config(dir.path(), &fake, &[CLICKER]), options)
        .await
        .expect("runtime starts");
    let (alice, bob, carol) = (
        TestUser::alice(),
        TestUser::bob(),
        TestUser::new(77, "Carol"),
    );
    send_expecting(&fake, &carol, "Click", "/start").await;
    send_expecting(&fake, &carol, "Rating", "/start").await;
    send_expecting(&fake, &alice, "/start", "Hello").await;
    for n in 1..=3 {
        send_expecting(&fake, &alice, "Click", &format!("Clicks: {n}")).await;
    }
    send_expecting(&fake, &bob, "/start", "Hello").await;
    send_expecting(&fake, &bob, "Click", "Clicks: 1").await;
    send_expecting(&fake, &bob, "Rating", "Total").await;
    // Alice comes back under another name: the rating follows.
    let alicia = TestUser::new(alice.id, "Alicia");
    send_expecting(&fake, &alicia, "/start", "Welcome back").await;
    send_expecting(&fake, &alicia, "Rating", "Total").await;
    rt.stop().await;
    [alice, bob, carol]
        .iter()
        .map(|u| {
            let keyboard = fake.current_reply_keyboard(u.id).map(|k| k.rows);
            (u.first_name.clone(), bot_texts(&fake, u.id), keyboard)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_native_clicker_answers_exactly_as_the_webassembly_module() {
    let wasm = conversation(false).await;
    let native = conversation(true).await;
    // The conversation itself is what the clicker's tests expect, so the comparison is not
    // between two empty transcripts.
    let alice = &wasm[0].1;
    assert_eq!(
        alice.last().map(String::as_str),
        Some("Total: 2\n1: Alicia - 3\n2: Bob - 1")
    );
    assert_eq!(
        wasm[2].1,
        ["Please send /start first.", "Please send /start first."]
    );
    assert_eq!(
        wasm[0].2,
        Some(vec![vec!["Click".to_string(), "Rating".to_string()]])
    );
    assert_eq!(native, wasm);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_run_natively_answers_with_the_native_body_not_its_own() {
    // Version 2 of the clicker answers `Clicks (v2): N`; run natively, the host's body answers.
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let options = Options {
        native_modules: vec!["clicker".into()],
        ..Options::default()
    };
    let c = config(dir.path(), &fake, &[botbox_test_artifacts::CLICKER_V2]);
    let rt = botbox::Runtime::start_with(c, options)
        .await
        .expect("runtime starts");
    let alice = TestUser::alice();
    send_expecting(&fake, &alice, "/start", "Hello").await;
    send_expecting(&fake, &alice, "Click", "Clicks: 1").await;
    assert!(!bot_texts(&fake, alice.id).iter().any(|t| t.contains("v2")));
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_without_a_native_body_cannot_be_run_natively() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let options = Options {
        native_modules: vec!["reminder".into()],
        ..Options::default()
    };
    let c = config(dir.path(), &fake, &[CLICKER]);
    let err = botbox::Runtime::start_with(c, options)
        .await
        .err()
        .expect("refused");
    assert!(
        err.to_string().contains("reminder has no native body"),
        "{err}"
    );
}
