//! Payments in tests: a user presses Pay on the bot's invoice, the module approves or declines
//! the pre-checkout query, and Telegram charges (in Telegram Stars) or not.

use serde_json::{Value, json};

use crate::User;

/// What became of a payment a user started (see [`User::pay`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Checkout {
    /// The bot approved and Telegram charged: the charge id, which the payment's
    /// `successful_payment` carries and refunds name.
    Paid {
        /// Telegram's id of the charge.
        charge_id: String,
    },
    /// The bot declined (or the host, for a module that did not answer in time), with the
    /// reason the buyer reads.
    Declined {
        /// The reason.
        reason: String,
    },
    /// Nobody answered within Telegram's 10 seconds: the payment failed, nothing was charged.
    TimedOut,
}

impl Checkout {
    fn from_json(value: &Value) -> Checkout {
        let text = |k: &str| value[k].as_str().unwrap_or_default().to_string();
        match value["outcome"].as_str() {
            Some("paid") => Checkout::Paid {
                charge_id: text("charge_id"),
            },
            Some("declined") => Checkout::Declined {
                reason: text("reason"),
            },
            _ => Checkout::TimedOut,
        }
    }
}

impl User<'_> {
    /// Presses Pay on the newest invoice the bot sent to the private chat, then waits until the
    /// pre-checkout query is answered (or Telegram's deadline passes) and the bot settles: a
    /// [`Checkout::Paid`] payment's `successful_payment` has been handled by then.
    pub fn pay(&self) -> Checkout {
        let value = self.bot.call(json!({
            "op": "pay", "user": self.id(), "name": self.name(),
        }));
        Checkout::from_json(&value)
    }

    /// [`User::pay`], which must succeed: the charge id.
    pub fn expect_paid(&self) -> String {
        match self.pay() {
            Checkout::Paid { charge_id } => charge_id,
            other => panic!(
                "botbox-test: expected {}'s payment to go through, but it ended {other:?}",
                self.name()
            ),
        }
    }
}
