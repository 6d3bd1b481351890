//! The deadline of pre-checkout queries. Telegram fails a payment whose pre-checkout query the
//! bot did not answer within 10 seconds, and tells the buyer nothing useful; a module can be
//! busy, backlogged behind a full queue, or failing. So when a query arrives the host starts a
//! timer of `payments.answer_within_ms`, and if the module's answer has not left by then, the
//! host answers "no" with `payments.declined_message` (no charge is made). A query no module
//! takes (its invoice's module is gone or disabled) is declined at once.

use serde_json::{Map, Value};

use super::Intake;
use crate::{
    bot_api::{payments, transport::Transport},
    outbox::checkouts::Answerer,
};

/// How long after it arrived a query is surely past Telegram's deadline (10 s) and forgotten.
const TELEGRAM_DEADLINE: std::time::Duration = std::time::Duration::from_secs(12);

impl Intake {
    /// Watches a new update's pre-checkout query, if it is one: `routed` says whether a module
    /// will get it.
    pub(super) fn watch_checkout(&self, raw: &Value, routed: bool) {
        if crate::bot_api::update_kinds::kind_of(raw) != Some("pre_checkout_query") {
            return;
        }
        let Some(query) = payments::query_id(raw) else {
            return;
        };
        let inner = &self.inner;
        let (id, checkouts) = (query.to_string(), inner.checkouts.clone());
        let transport = Transport::of(&inner.bot);
        let (within, message) = (
            inner.payments.answer_within(),
            inner.payments.declined_message.clone(),
        );
        if !routed {
            tracing::warn!(query = %id, payload = payments::invoice_payload(raw).unwrap_or(""), "a pre-checkout query for an invoice no running module issued: declined");
            tokio::spawn(async move { decline(&transport, &id, &message).await });
            return;
        }
        checkouts.open(&id);
        tokio::spawn(async move {
            tokio::time::sleep(within).await;
            if checkouts.claim(&id, Answerer::Host) {
                tracing::warn!(query = %id, "the module did not answer a pre-checkout query in time: the host declined it");
                decline(&transport, &id, &message).await;
            }
            tokio::time::sleep(TELEGRAM_DEADLINE.saturating_sub(within)).await;
            checkouts.forget(&id);
        });
    }
}

/// Answers the pre-checkout query `id` "no", with `message` for the buyer.
async fn decline(transport: &Transport, id: &str, message: &str) {
    let mut params = Map::new();
    params.insert("pre_checkout_query_id".into(), Value::from(id));
    params.insert("ok".into(), Value::Bool(false));
    params.insert("error_message".into(), Value::from(message));
    let timeout = std::time::Duration::from_secs(2);
    if let Err(e) = transport
        .call("answerPreCheckoutQuery", &params, &[], timeout)
        .await
    {
        tracing::warn!(query = %id, "declining a pre-checkout query failed: {e}");
    }
}
