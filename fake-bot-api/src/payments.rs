//! Payments in Telegram Stars, as Telegram plays them: the bot sends an invoice (a message with
//! a Pay button) or makes an invoice link; a user pays it (a `pre_checkout_query` update); the
//! bot answers within the deadline (10 s, `FakeConfig::pre_checkout_timeout`); an approved
//! payment is charged and reported (a message with a `successful_payment`); a refund is
//! reported the same way (`refunded_payment`). The methods are in `methods/invoices.rs`.

use std::{collections::HashMap, time::Duration};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::{FakeBotApi, json, model::TestUser, state::State};

/// An invoice the bot issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invoice {
    /// The product's name.
    pub title: String,
    /// Its description.
    pub description: String,
    /// `XTR` for Telegram Stars.
    pub currency: String,
    /// The price (in stars for `XTR`).
    pub total_amount: i64,
    /// The payload as the bot sent it.
    pub payload: String,
}

/// What became of a pre-checkout query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckoutOutcome {
    /// Not answered, and its deadline has not passed.
    Pending,
    /// The bot approved: the user was charged.
    Approved {
        /// `telegram_payment_charge_id`.
        charge_id: String,
    },
    /// The bot declined, with what the user reads.
    Declined {
        /// The bot's `error_message`.
        error_message: String,
    },
    /// Nobody answered within the deadline: the payment failed, nothing was charged.
    TimedOut,
}

/// A charge Telegram made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payment {
    /// `telegram_payment_charge_id`.
    pub charge_id: String,
    /// The buyer.
    pub user_id: i64,
    /// The chat the `successful_payment` went to.
    pub chat_id: i64,
    /// What was paid.
    pub total_amount: i64,
    /// The invoice's payload.
    pub payload: String,
    /// Whether it was refunded.
    pub refunded: bool,
    /// When, Unix seconds.
    pub date: i64,
}

/// A pre-checkout query and where it stands.
#[derive(Debug)]
pub(crate) struct Checkout {
    pub(crate) user: Value,
    pub(crate) user_id: i64,
    pub(crate) chat_id: i64,
    pub(crate) invoice: Invoice,
    pub(crate) asked: Instant,
    pub(crate) outcome: CheckoutOutcome,
}

/// Everything payments remember.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    /// Invoices sent as messages, by (chat, message id).
    pub(crate) invoices: HashMap<(i64, i64), Invoice>,
    /// Invoice links, by link.
    pub(crate) links: HashMap<String, Invoice>,
    pub(crate) checkouts: HashMap<String, Checkout>,
    pub(crate) payments: Vec<Payment>,
    next_number: u64,
}

impl Ledger {
    /// A new number for ids (queries, charges, links).
    pub(crate) fn next_number(&mut self) -> u64 {
        self.next_number += 1;
        self.next_number
    }

    /// The query's outcome now: a pending one past `timeout` has timed out.
    pub(crate) fn decide(&mut self, id: &str, timeout: Duration) -> Option<CheckoutOutcome> {
        let checkout = self.checkouts.get_mut(id)?;
        if checkout.outcome == CheckoutOutcome::Pending && checkout.asked.elapsed() > timeout {
            checkout.outcome = CheckoutOutcome::TimedOut;
        }
        Some(checkout.outcome.clone())
    }
}

impl State {
    /// `user` pays `invoice` from `chat_id`: queues the pre-checkout query; returns its id.
    fn start_checkout(&mut self, user: &TestUser, chat_id: i64, invoice: Invoice) -> String {
        let id = format!("{}", 7_700_000_000_000_u64 + self.payments.next_number());
        let from = json::user(user);
        self.enqueue(
            "pre_checkout_query",
            json!({
                "id": id,
                "from": from,
                "currency": invoice.currency,
                "total_amount": invoice.total_amount,
                "invoice_payload": invoice.payload,
            }),
        );
        self.payments.checkouts.insert(
            id.clone(),
            Checkout {
                user: from,
                user_id: user.id,
                chat_id,
                invoice,
                asked: Instant::now(),
                outcome: CheckoutOutcome::Pending,
            },
        );
        id
    }
}

impl FakeBotApi {
    /// `user` presses Pay on the invoice `message_id` of `chat_id`: queues a
    /// `pre_checkout_query` update and returns the query's id. An invoice can be paid again
    /// and again, each time a new query.
    pub fn pay(&self, user: &TestUser, chat_id: i64, message_id: i64) -> anyhow::Result<String> {
        self.inner.shared.write(|state| {
            let invoice = state
                .payments
                .invoices
                .get(&(chat_id, message_id))
                .cloned()
                .with_context(|| format!("message {message_id} of chat {chat_id} is no invoice"))?;
            Ok(state.start_checkout(user, chat_id, invoice))
        })
    }

    /// `user` opens the invoice link `link` and pays: as [`Self::pay`], the payment's message
    /// going to the user's private chat.
    pub fn pay_link(&self, user: &TestUser, link: &str) -> anyhow::Result<String> {
        self.inner.shared.write(|state| {
            let Some(invoice) = state.payments.links.get(link).cloned() else {
                bail!("{link} is no invoice link of this bot");
            };
            state.open_chat(user.id, json::private_chat(user));
            Ok(state.start_checkout(user, user.id, invoice))
        })
    }

    /// The invoice the bot sent as message `message_id` of `chat_id`, if it is one.
    pub fn invoice(&self, chat_id: i64, message_id: i64) -> Option<Invoice> {
        self.inner
            .shared
            .read(|state| state.payments.invoices.get(&(chat_id, message_id)).cloned())
    }

    /// The newest invoice the bot sent to `chat_id`: its message id and the invoice.
    pub fn newest_invoice(&self, chat_id: i64) -> Option<(i64, Invoice)> {
        self.inner.shared.read(|state| {
            state
                .payments
                .invoices
                .iter()
                .filter(|((chat, _), _)| *chat == chat_id)
                .max_by_key(|((_, id), _)| *id)
                .map(|((_, id), invoice)| (*id, invoice.clone()))
        })
    }

    /// What became of the pre-checkout query `query_id` so far.
    pub fn checkout(&self, query_id: &str) -> CheckoutOutcome {
        let timeout = self.inner.shared.config.pre_checkout_timeout;
        self.inner.shared.write(|state| {
            state
                .payments
                .decide(query_id, timeout)
                .unwrap_or(CheckoutOutcome::TimedOut)
        })
    }

    /// Waits until the query `query_id` is decided (answered, or past its deadline).
    pub async fn wait_for_checkout(
        &self,
        query_id: &str,
        timeout: Duration,
    ) -> anyhow::Result<CheckoutOutcome> {
        let until = Instant::now() + timeout;
        loop {
            let outcome = self.checkout(query_id);
            if outcome != CheckoutOutcome::Pending {
                return Ok(outcome);
            }
            if Instant::now() > until {
                bail!("the pre-checkout query {query_id} was not decided in {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Every charge made so far, oldest first.
    pub fn payments(&self) -> Vec<Payment> {
        self.inner
            .shared
            .read(|state| state.payments.payments.clone())
    }
}
