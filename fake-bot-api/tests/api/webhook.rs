//! setWebhook, deliveries to a receiver on 127.0.0.1, retries, and the getUpdates conflict.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use axum::{extract::State, http::HeaderMap, http::StatusCode, routing::post};
use fake_bot_api::TestUser;
use teloxide_core::{prelude::*, types::Update};
use tokio::sync::mpsc;

use super::support::{PATIENCE, message_of, post_json, start};

/// One delivery as the receiver saw it: the secret header and the body.
type Delivery = (Option<String>, String);

/// A receiver that answers 500 to its first `failures` requests and 200 after; returns its URL.
async fn receiver(failures: usize) -> (reqwest::Url, mpsc::UnboundedReceiver<Delivery>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let state = Arc::new((AtomicUsize::new(failures), tx));
    let app = axum::Router::new()
        .route(
            "/hook",
            post(
                |State(state): State<Arc<(AtomicUsize, mpsc::UnboundedSender<Delivery>)>>,
                 headers: HeaderMap,
                 body: String| async move {
                    let secret = headers
                        .get("X-Telegram-Bot-Api-Secret-Token")
                        .and_then(|value| value.to_str().ok())
                        .map(str::to_owned);
                    let _ = state.1.send((secret, body));
                    let failing = state
                        .0
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    if failing {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    }
                },
            ),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url.parse().expect("url"), rx)
}

#[tokio::test]
async fn a_webhook_receives_each_update_with_the_secret_header() {
    let (fake, bot) = start();
    let (url, mut deliveries) = receiver(0).await;
    let alice = TestUser::alice();
    fake.send_text(&alice, "dropped by drop_pending_updates");
    bot.set_webhook(url.clone())
        .secret_token("s3cret_token-1")
        .max_connections(1)
        .drop_pending_updates(true)
        .await
        .expect("set");
    fake.send_text(&alice, "hook me");

    let (secret, body) = tokio::time::timeout(PATIENCE, deliveries.recv())
        .await
        .expect("a delivery")
        .expect("the receiver runs");
    assert_eq!(secret.as_deref(), Some("s3cret_token-1"));
    let update: Update = serde_json::from_str(&body).expect("an Update");
    assert_eq!(message_of(&update).text(), Some("hook me"));
    fake.wait_until(PATIENCE, |view| {
        view.pending_updates() == 0 && view.counters().webhook_deliveries == 1
    })
    .await
    .expect("the delivery is accepted");

    let info = bot.get_webhook_info().await.expect("info");
    assert_eq!(info.url, Some(url));
    assert_eq!(
        (info.pending_update_count, info.max_connections),
        (0, Some(1))
    );

    let (status, body) = post_json(&fake, "getUpdates", serde_json::json!({})).await;
    assert_eq!(status, 409);
    assert_eq!(
        body["description"],
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
    );
    bot.delete_webhook().await.expect("deleted");
    fake.send_text(&alice, "polled again");
    let polled = bot.get_updates().await.expect("getUpdates works again");
    assert_eq!(message_of(&polled[0]).text(), Some("polled again"));
}

#[tokio::test]
async fn a_failed_webhook_delivery_is_retried_until_the_receiver_accepts_it() {
    let (fake, bot) = start();
    let (url, mut deliveries) = receiver(1).await;
    bot.set_webhook(url).await.expect("set");
    let update_id = fake.send_text(&TestUser::bob(), "retry me");

    let mut bodies = Vec::new();
    for _ in 0..2 {
        let (secret, body) = tokio::time::timeout(PATIENCE, deliveries.recv())
            .await
            .expect("a delivery")
            .expect("the receiver runs");
        assert_eq!(secret, None, "no secret was set");
        bodies.push(body);
    }
    assert_eq!(bodies[0], bodies[1], "the same update again");
    let update: Update = serde_json::from_str(&bodies[1]).expect("an Update");
    assert_eq!(i64::from(update.id.0), update_id);
    fake.wait_until(PATIENCE, |view| view.counters().webhook_deliveries == 1)
        .await
        .expect("accepted the second time");
    let counters = fake.counters();
    assert_eq!((counters.webhook_failures, fake.pending_updates()), (1, 0));
    let info = bot.get_webhook_info().await.expect("info");
    assert_eq!(
        info.last_error_message.as_deref(),
        Some("Wrong response from the webhook: 500 Internal Server Error")
    );
}
