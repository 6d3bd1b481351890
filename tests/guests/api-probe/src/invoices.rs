//! Payments in the probe: `/invoice <payload>` sends a 10-star invoice; its pre-checkout query is
//! approved, declined (`decline`: `probe says no`) or left unanswered (`ignore`) by its payload;
//! a successful payment is answered `paid <payload> <charge id>`; `/answerquery <id>` answers a
//! pre-checkout query this update is not (refused by the host).

use botbox_sdk::bot_api::{self, Call, Outcome};
use botbox_sdk::payments::{self, PreCheckoutQuery, StarsInvoice, SuccessfulPayment};
use botbox_sdk::{Error, Update, reply};

/// `/invoice <payload>`.
pub fn send(chat: i64, payload: &str) -> Result<Outcome, bot_api::Error> {
    let payload = if payload.is_empty() {
        "approve"
    } else {
        payload
    };
    StarsInvoice::new("Probe", "A probe's invoice", payload, 10)
        .call(chat)
        .send()
}

/// `/answerquery <id>`: answers a query that is not this update's.
pub fn answer_other(id: &str) -> Result<Outcome, bot_api::Error> {
    Call::new("answerPreCheckoutQuery")
        .param("pre_checkout_query_id", id)
        .param("ok", true)
        .send()
}

/// A pre-checkout query: by its payload.
pub fn check_out(query: &PreCheckoutQuery) -> Result<(), Error> {
    match query.invoice_payload.as_str() {
        "ignore" => Ok(()),
        "decline" => Ok(payments::answer_pre_checkout(query, Err("probe says no"))?),
        _ => Ok(payments::answer_pre_checkout(query, Ok(()))?),
    }
}

/// A successful payment: `paid <payload> <charge id>`.
pub fn paid(update: &Update, paid: &SuccessfulPayment) -> Result<(), Error> {
    reply(
        update,
        &format!(
            "paid {} {}",
            paid.invoice_payload, paid.telegram_payment_charge_id
        ),
    )?;
    Ok(())
}
