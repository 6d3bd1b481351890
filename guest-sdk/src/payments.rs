//! Payments in Telegram Stars (currency `XTR`): issue an invoice, approve or decline the
//! buyer's pre-checkout query, record the payment, refund it.
//!
//! The host adds this module's tag to every invoice's payload (and takes it off again), so the
//! invoice's updates come to this module and no other, whatever it asked for: the
//! [`PreCheckoutQuery`] (an update of kind `pre_checkout_query`), then the message with the
//! [`SuccessfulPayment`], later perhaps one with the [`RefundedPayment`]. A payload has at most
//! 128 bytes less the tag (the host says how many fit when one is too long).
//!
//! Telegram gives the bot 10 seconds to answer a pre-checkout query. Answer it while handling
//! its update ([`answer_pre_checkout`]; the host refuses an answer to another module's query or
//! from another update); if no answer has left by `payments.answer_within_ms` (8 s by
//! default), the host declines it for the module, and the buyer is not charged.
//!
//! Credit a purchase when the [`SuccessfulPayment`] arrives, keyed by its
//! `telegram_payment_charge_id`: the host delivers that update's effects exactly once (its
//! KV writes commit with the update's done mark), and the key makes a redelivered copy
//! harmless besides.
//!
//! ```no_run
//! # fn handle(update: &botbox_sdk::Update) -> Result<(), botbox_sdk::Error> {
//! use botbox_sdk::payments::{self, StarsInvoice};
//!
//! if update.is_command("buy") {
//!     let chat = update.chat_id().ok_or("no chat")?;
//!     StarsInvoice::new("Sticker pack", "Twelve stickers", "pack-1", 25).send(chat)?;
//! } else if let Some(query) = update.pre_checkout_query() {
//!     payments::answer_pre_checkout(&query, Ok(()))?;
//! } else if let Some(paid) = update.successful_payment() {
//!     let key = format!("paid/{}", paid.telegram_payment_charge_id);
//!     botbox_sdk::kv::set(key, &paid.invoice_payload)?;
//! }
//! # Ok(()) }
//! ```

use serde::{Deserialize, Serialize};

use crate::{
    Ticket, Update,
    bot_api::{ApiUser, Call, Error},
};

/// An invoice in Telegram Stars: one item, a price in stars.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StarsInvoice {
    /// The product's name, 1-32 characters.
    pub title: String,
    /// What it is, 1-255 characters.
    pub description: String,
    /// What the module needs to know what was bought (an item id, an order id): comes back in
    /// every update of this invoice.
    pub payload: String,
    /// The price in stars (1 to 10,000).
    pub stars: u32,
}

impl StarsInvoice {
    /// An invoice for `stars` stars.
    pub fn new(
        title: impl Into<String>,
        description: impl Into<String>,
        payload: impl Into<String>,
        stars: u32,
    ) -> Self {
        Self {
            title: title.into(),
            description: description.into(),
            payload: payload.into(),
            stars,
        }
    }

    /// The `sendInvoice` call to `chat_id`, for more parameters (a photo, a keyboard whose first
    /// button pays).
    pub fn call(&self, chat_id: i64) -> Call {
        Call::new("sendInvoice")
            .param("chat_id", chat_id)
            .params(&self.fields())
    }

    /// Sends the invoice to `chat_id`, with Telegram's Pay button (queued like a message).
    pub fn send(&self, chat_id: i64) -> Result<Ticket, Error> {
        self.call(chat_id).send()?.ticket()
    }

    /// A link that opens this invoice anywhere (`createInvoiceLink`), made now.
    pub fn link(&self) -> Result<String, Error> {
        Call::new("createInvoiceLink")
            .params(&self.fields())
            .send()?
            .result::<String>()
    }

    fn fields(&self) -> serde_json::Value {
        serde_json::json!({
            "title": self.title,
            "description": self.description,
            "payload": self.payload,
            "currency": "XTR",
            "prices": [{ "label": self.title, "amount": self.stars }],
        })
    }
}

/// A buyer pressed Pay: approve or decline with [`answer_pre_checkout`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PreCheckoutQuery {
    /// The query's id.
    pub id: String,
    /// The buyer.
    pub from: ApiUser,
    /// `XTR` for stars.
    pub currency: String,
    /// The price, in stars for `XTR`.
    pub total_amount: i64,
    /// The invoice's payload as the module wrote it.
    pub invoice_payload: String,
}

/// A payment went through: credit it (once, by `telegram_payment_charge_id`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SuccessfulPayment {
    /// `XTR` for stars.
    pub currency: String,
    /// What was paid, in stars for `XTR`.
    pub total_amount: i64,
    /// The invoice's payload as the module wrote it.
    pub invoice_payload: String,
    /// Telegram's id of the charge: what [`refund`] names.
    pub telegram_payment_charge_id: String,
}

/// A payment was refunded (by [`refund`], or by Telegram).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RefundedPayment {
    /// `XTR` for stars.
    pub currency: String,
    /// What was refunded.
    pub total_amount: i64,
    /// The invoice's payload as the module wrote it.
    pub invoice_payload: String,
    /// The charge that was refunded.
    pub telegram_payment_charge_id: String,
}

impl Update {
    /// The pre-checkout query, when the update is one (about this module's invoice).
    pub fn pre_checkout_query(&self) -> Option<PreCheckoutQuery> {
        (self.other() == Some("pre_checkout_query"))
            .then(|| self.other_body().and_then(Result::ok))
            .flatten()
    }

    /// The successful payment, when the update is its message.
    pub fn successful_payment(&self) -> Option<SuccessfulPayment> {
        self.payment_field("successful_payment")
    }

    /// The refunded payment, when the update is its message.
    pub fn refunded_payment(&self) -> Option<RefundedPayment> {
        self.payment_field("refunded_payment")
    }

    /// `field` of the update's message, read into `T`.
    fn payment_field<T: serde::de::DeserializeOwned>(&self, field: &str) -> Option<T> {
        self.message()?;
        let mut raw: serde_json::Value = serde_json::from_str(self.raw_json()).ok()?;
        serde_json::from_value(raw.get_mut("message")?.get_mut(field)?.take()).ok()
    }
}

/// Approves (`Ok(())`) or declines (`Err(reason)`, shown to the buyer) the pre-checkout query
/// of the update being handled. It leaves right after the update's commit.
pub fn answer_pre_checkout(
    query: &PreCheckoutQuery,
    verdict: Result<(), &str>,
) -> Result<(), Error> {
    let call = Call::new("answerPreCheckoutQuery")
        .param("pre_checkout_query_id", &query.id)
        .param("ok", verdict.is_ok());
    match verdict {
        Ok(()) => call.send(),
        Err(reason) => call.param("error_message", reason).send(),
    }
    .map(|_| ())
}

/// Gives `user_id` back the stars of the charge `charge_id` (`refundStarPayment`, made now; the
/// operator grants it with `bot_api_grants = ["stars"]`). A [`RefundedPayment`] follows.
pub fn refund(user_id: i64, charge_id: &str) -> Result<(), Error> {
    Call::new("refundStarPayment")
        .param("user_id", user_id)
        .param("telegram_payment_charge_id", charge_id)
        .send()
        .map(|_| ())
}
