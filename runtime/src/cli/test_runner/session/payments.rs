//! `pay`: a user presses Pay on the bot's newest invoice in their chat; the answer says what
//! became of the payment once its pre-checkout query was answered and the bot settled.

use std::time::Duration;

use anyhow::Context as _;
use fake_bot_api::CheckoutOutcome;
use serde_json::{Value, json};

use super::Session;

/// Longer than Telegram's deadline (10 s): the fake decides by then.
const CHECKOUT_WAIT: Duration = Duration::from_secs(15);

impl Session {
    /// `user` pays the newest invoice the bot sent to their private chat.
    pub(in crate::cli::test_runner) async fn pay(
        &self,
        user: i64,
        name: String,
    ) -> anyhow::Result<Value> {
        self.settle().await?;
        let user = self.user(user, name);
        let (invoice, _) = self
            .fake
            .newest_invoice(user.id)
            .context("the bot has sent no invoice to this chat")?;
        let query = self.fake.pay(&user, user.id, invoice)?;
        let outcome = self.fake.wait_for_checkout(&query, CHECKOUT_WAIT).await?;
        self.settle().await?;
        Ok(match outcome {
            CheckoutOutcome::Approved { charge_id } => {
                json!({ "outcome": "paid", "charge_id": charge_id })
            }
            CheckoutOutcome::Declined { error_message } => {
                json!({ "outcome": "declined", "reason": error_message })
            }
            CheckoutOutcome::TimedOut | CheckoutOutcome::Pending => {
                json!({ "outcome": "timed_out" })
            }
        })
    }
}
