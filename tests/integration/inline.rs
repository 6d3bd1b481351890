//! Inline mode through the runtime and the fake Bot API: two modules answer inline queries,
//! the operator's prefix decides which one gets each query, and a chosen result reaches the
//! module that answered it.

use std::time::Duration;

use botbox::config::ModuleSettings;
use botbox_test_artifacts::{API_PROBE, QR};

use crate::support::*;

/// The counter the qr module keeps of chosen inline results.
fn qr_chosen(runtime: &botbox::Runtime) -> i64 {
    let ns = runtime.registry().namespace("qr").expect("qr runs");
    let mut txn = ns.begin();
    let value = ns.get(&mut txn, b"inline-chosen").expect("a read");
    ns.abort(&mut txn);
    value.map_or(0, |v| i64::from_be_bytes(v.try_into().expect("a counter")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_inline_modules_get_their_own_queries_by_prefix_and_a_chosen_result_goes_back_to_the_one_that_answered()
 {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let mut c = config(dir.path(), &fake, &[QR, API_PROBE]);
    // The probe answers queries that start with `probe`; qr, with nothing set, the rest.
    c.modules.insert(
        "api-probe".into(),
        ModuleSettings {
            inline: Some("probe".into()),
            ..ModuleSettings::default()
        },
    );
    let runtime = start(c).await;
    let alice = TestUser::alice();
    fake.send_text(&alice, "/qr hi");
    fake.wait_for_bot_text(alice.chat_id(), "QR code: hi", WAIT)
        .await
        .unwrap();

    // A query with the probe's prefix: only the probe answers (a second answer to one query
    // would be refused by Telegram, and qr would have uploaded a code to Alice's chat).
    let probe_query = fake.send_inline_query(&alice, "probe cats");
    let answer = fake
        .wait_for_inline_answer(&probe_query, WAIT)
        .await
        .unwrap();
    let ids: Vec<&str> = answer
        .results
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(ids, ["probe"]);
    assert_eq!(answer.results[0]["title"], "probe: probe cats");

    // Any other query goes to qr, which uploads the code once and answers by its file id.
    let qr_query = fake.send_inline_query(&alice, "hello");
    let answer = fake.wait_for_inline_answer(&qr_query, WAIT).await.unwrap();
    assert_eq!(answer.results.len(), 1, "{:?}", answer.results);
    assert_eq!(answer.results[0]["type"], "photo");
    assert!(answer.results[0]["photo_file_id"].is_string());
    let uploads = fake
        .bot_messages(alice.chat_id())
        .iter()
        .filter(|m| m["caption"] == "QR code: hello")
        .count();
    assert_eq!(uploads, 1, "the code is uploaded once, to Alice's chat");

    // The chosen result of each answer reaches the module that answered it, and only that one.
    fake.choose_inline_result(&alice, &probe_query, "probe")
        .unwrap();
    fake.wait_for_bot_text(alice.chat_id(), "got chosen_inline_result", WAIT)
        .await
        .unwrap();
    assert_eq!(
        qr_chosen(&runtime),
        0,
        "qr did not get the probe's chosen result"
    );
    fake.choose_inline_result(&alice, &qr_query, "qr").unwrap();
    fake.wait_until(WAIT, |_| qr_chosen(&runtime) == 1)
        .await
        .expect("qr counts its chosen result");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reports = bot_texts(&fake, alice.chat_id())
        .iter()
        .filter(|t| t.as_str() == "got chosen_inline_result")
        .count();
    assert_eq!(reports, 1, "the probe did not get qr's chosen result");

    // A second query for the same text is answered at once from the kept file id.
    let again = fake.send_inline_query(&alice, "hello");
    let second = fake.wait_for_inline_answer(&again, WAIT).await.unwrap();
    assert_eq!(
        second.results[0]["photo_file_id"],
        answer.results[0]["photo_file_id"]
    );
    runtime.stop().await;
}
