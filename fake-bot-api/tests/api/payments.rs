//! Stars payments: invoice → Pay → pre-checkout answer → successful_payment → refund →
//! refunded_payment; declines, late answers, bad invoices and double refunds.

use std::time::Duration;

use fake_bot_api::{CheckoutOutcome, FakeBotApi, FakeConfig, Limits, TestUser};
use serde_json::{Value, json};

use super::support::{PATIENCE, post_json};

fn invoice(chat: i64, payload: &str) -> Value {
    json!({
        "chat_id": chat, "title": "Stickers", "description": "Twelve stickers",
        "payload": payload, "currency": "XTR", "prices": [{"label": "Stickers", "amount": 25}],
    })
}

/// The raw updates waiting, confirmed (the next call starts after them).
async fn take_updates(fake: &FakeBotApi) -> Vec<Value> {
    let (status, body) = post_json(fake, "getUpdates", json!({"timeout": 0})).await;
    assert_eq!(status, 200, "{body}");
    let updates = body["result"].as_array().cloned().unwrap_or_default();
    if let Some(last) = updates.last().and_then(|u| u["update_id"].as_i64()) {
        post_json(
            fake,
            "getUpdates",
            json!({"offset": last + 1, "timeout": 0}),
        )
        .await;
    }
    updates
}

#[tokio::test]
async fn an_invoice_is_paid_approved_charged_refunded_and_listed() {
    let fake = FakeBotApi::start(FakeConfig {
        limits: Limits::unlimited(),
        ..FakeConfig::default()
    })
    .unwrap();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let (status, sent) = post_json(&fake, "sendInvoice", invoice(alice.id, "m1:stickers")).await;
    assert_eq!(status, 200, "{sent}");
    let message_id = sent["result"]["message_id"].as_i64().unwrap();
    assert_eq!(sent["result"]["invoice"]["total_amount"], 25);
    assert_eq!(
        sent["result"]["reply_markup"]["inline_keyboard"][0][0]["pay"],
        true
    );
    let (_, invoice_entry) = fake.newest_invoice(alice.id).expect("the invoice");
    assert_eq!(invoice_entry.payload, "m1:stickers");

    let query = fake.pay(&alice, alice.id, message_id).unwrap();
    let updates = take_updates(&fake).await;
    let asked = &updates.last().unwrap()["pre_checkout_query"];
    assert_eq!(asked["id"], query.as_str());
    assert_eq!(asked["invoice_payload"], "m1:stickers");
    assert_eq!(asked["total_amount"], 25);
    assert_eq!(fake.checkout(&query), CheckoutOutcome::Pending);

    let (status, _) = post_json(
        &fake,
        "answerPreCheckoutQuery",
        json!({"pre_checkout_query_id": query, "ok": true}),
    )
    .await;
    assert_eq!(status, 200);
    let CheckoutOutcome::Approved { charge_id } = fake.checkout(&query) else {
        panic!("approved")
    };
    let updates = take_updates(&fake).await;
    let paid = &updates.last().unwrap()["message"];
    assert_eq!(paid["chat"]["id"], alice.id);
    assert_eq!(paid["from"]["id"], alice.id);
    assert_eq!(
        paid["successful_payment"]["telegram_payment_charge_id"],
        charge_id.as_str()
    );
    assert_eq!(paid["successful_payment"]["invoice_payload"], "m1:stickers");
    // Answered once only.
    let (status, again) = post_json(
        &fake,
        "answerPreCheckoutQuery",
        json!({"pre_checkout_query_id": query, "ok": true}),
    )
    .await;
    assert_eq!(status, 400, "{again}");

    let refund = json!({"user_id": alice.id, "telegram_payment_charge_id": charge_id});
    let (status, body) = post_json(&fake, "refundStarPayment", refund.clone()).await;
    assert_eq!(status, 200, "{body}");
    let updates = take_updates(&fake).await;
    assert_eq!(
        updates.last().unwrap()["message"]["refunded_payment"]["telegram_payment_charge_id"],
        charge_id.as_str()
    );
    let (status, twice) = post_json(&fake, "refundStarPayment", refund).await;
    assert_eq!(
        (status, twice["description"].as_str()),
        (400, Some("Bad Request: CHARGE_ALREADY_REFUNDED"))
    );
    let (_, unknown) = post_json(
        &fake,
        "refundStarPayment",
        json!({"user_id": alice.id, "telegram_payment_charge_id": "nope"}),
    )
    .await;
    assert_eq!(unknown["description"], "Bad Request: CHARGE_NOT_FOUND");

    let (_, listed) = post_json(&fake, "getStarTransactions", json!({})).await;
    let list = listed["result"]["transactions"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{listed}");
    assert_eq!(list[0]["source"]["invoice_payload"], "m1:stickers");
    assert!(list[1].get("receiver").is_some());
    let (_, balance) = post_json(&fake, "getMyStarBalance", json!({})).await;
    assert_eq!(balance["result"]["amount"], 0);
    assert!(fake.payments()[0].refunded);
}

#[tokio::test]
async fn a_declined_or_late_answer_charges_nothing_and_bad_invoices_are_refused() {
    let fake = FakeBotApi::start(FakeConfig {
        limits: Limits::unlimited(),
        pre_checkout_timeout: Duration::from_millis(300),
        ..FakeConfig::default()
    })
    .unwrap();
    let bob = TestUser::bob();
    fake.open_chat(&bob);
    let (_, sent) = post_json(&fake, "sendInvoice", invoice(bob.id, "x")).await;
    let message_id = sent["result"]["message_id"].as_i64().unwrap();

    let declined = fake.pay(&bob, bob.id, message_id).unwrap();
    let (status, _) = post_json(
        &fake,
        "answerPreCheckoutQuery",
        json!({"pre_checkout_query_id": declined, "ok": false}),
    )
    .await;
    assert_eq!(status, 400, "a decline needs its error_message");
    post_json(
        &fake,
        "answerPreCheckoutQuery",
        json!({"pre_checkout_query_id": declined, "ok": false, "error_message": "Sold out"}),
    )
    .await;
    assert_eq!(
        fake.checkout(&declined),
        CheckoutOutcome::Declined {
            error_message: "Sold out".into()
        }
    );

    let late = fake.pay(&bob, bob.id, message_id).unwrap();
    assert_eq!(
        fake.wait_for_checkout(&late, PATIENCE).await.unwrap(),
        CheckoutOutcome::TimedOut
    );
    let (status, too_old) = post_json(
        &fake,
        "answerPreCheckoutQuery",
        json!({"pre_checkout_query_id": late, "ok": true}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        too_old["description"]
            .as_str()
            .unwrap()
            .contains("query is too old")
    );
    assert!(fake.payments().is_empty());

    let mut long = invoice(bob.id, &"p".repeat(129));
    let (status, body) = post_json(&fake, "sendInvoice", long.clone()).await;
    assert_eq!(
        (status, body["description"].as_str()),
        (400, Some("Bad Request: INVOICE_PAYLOAD_INVALID"))
    );
    long["payload"] = json!("ok");
    long["prices"] = json!([{"label": "a", "amount": 5}, {"label": "b", "amount": 5}]);
    let (status, body) = post_json(&fake, "sendInvoice", long).await;
    assert_eq!(
        (status, body["description"].as_str()),
        (400, Some("Bad Request: STARS_INVOICE_INVALID"))
    );
    let mut link = invoice(bob.id, "linked");
    link.as_object_mut().unwrap().remove("chat_id");
    let (_, made) = post_json(&fake, "createInvoiceLink", link).await;
    let query = fake
        .pay_link(&bob, made["result"].as_str().unwrap())
        .unwrap();
    assert_eq!(fake.checkout(&query), CheckoutOutcome::Pending);
}
