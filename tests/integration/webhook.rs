//! The webhook's door: secrets, malformed bodies.

use crate::support::*;
use botbox_test_artifacts::CLICKER;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_missing_secret_gets_401_and_nothing_is_processed() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let mut c = config(dir.path(), &fake, &[CLICKER]);
    use_webhook(&mut c, "right-secret-0123456789");
    let url = c.telegram.webhook.url.clone();
    let rt = start(c).await;
    let update = serde_json::json!({
        "update_id": 900,
        "message": {"message_id": 1, "date": 0, "text": "/start",
            "chat": {"id": 5, "type": "private", "first_name": "Eve"},
            "from": {"id": 5, "is_bot": false, "first_name": "Eve"}}
    });
    let mut events = rt.subscribe();
    let http = reqwest::Client::new();
    for secret in [Some("wrong-secret"), None] {
        let mut req = http.post(&url).json(&update);
        if let Some(s) = secret {
            req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
        }
        assert_eq!(req.send().await.unwrap().status(), 401);
    }
    // A wrong secret is refused from the headers alone: the server does not wait for a body
    // (here announced at 500 kB and never sent) before it answers.
    let addr = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_string();
    let head = format!(
        "POST /telegram HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\nx-telegram-bot-api-secret-token: wrong-secret\r\ncontent-length: 500000\r\n\r\n"
    );
    let answer = crate::http::peers::raw_exchange(
        addr.parse().unwrap(),
        head.as_bytes(),
        |got| got.contains("\r\n\r\n"),
        WAIT,
    )
    .await
    .expect("refused without the body");
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    // The right secret is accepted (and the update recorded) ...
    let ok = http
        .post(&url)
        .header("X-Telegram-Bot-Api-Secret-Token", "right-secret-0123456789")
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(rt.db().seen(900).unwrap());
    // ... but the rejected ones were not: only one handling of update 900 ever happened.
    let stats = rt.modules().remove("clicker").unwrap();
    tokio::time::timeout(WAIT, events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stats.calls.load(std::sync::atomic::Ordering::Relaxed), 1);
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_updates_are_logged_and_skipped_without_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let mut c = config(dir.path(), &fake, &[CLICKER]);
    use_webhook(&mut c, "right-secret-0123456789");
    let url = c.telegram.webhook.url.clone();
    let rt = start(c).await;
    let http = reqwest::Client::new();
    let post = |body: String| {
        http.post(&url)
            .header("X-Telegram-Bot-Api-Secret-Token", "right-secret-0123456789")
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for body in [
        "{not json".to_string(),
        "[1,2,3]".to_string(),
        r#"{"no_update_id": true}"#.to_string(),
        r#"{"update_id": 901, "message": {"text": "missing everything"}}"#.to_string(),
    ] {
        assert_eq!(post(body).await.unwrap().status(), 200);
    }
    assert!(
        rt.db().seen(901).unwrap(),
        "a malformed update is marked seen, not retried"
    );
    // A body over the limit is refused before it is read.
    let huge = format!(r#"{{"update_id": 902, "pad": "{}"}}"#, "x".repeat(2 << 20));
    // (The server may answer and close before the client finished writing: then the client
    // sees its write refused instead of the 413.)
    match post(huge).await {
        Ok(response) => assert_eq!(response.status(), 413),
        Err(e) => {
            let e = format!("{e:?}");
            assert!(
                e.contains("BrokenPipe") || e.contains("ConnectionReset"),
                "{e}"
            );
        }
    }
    // And the bot still works, through the fake's own webhook delivery.
    let alice = TestUser::alice();
    fake.send_text(&alice, "/start");
    // Webhook deliveries may overlap: let the registration land before the click.
    fake.wait_for_bot_text(alice.id, "Hello", WAIT)
        .await
        .unwrap();
    send_expecting(&fake, &alice, "Click", "Clicks: 1").await;
    rt.stop().await;
}
