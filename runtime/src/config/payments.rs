//! `[payments]`: how long a module has to answer a pre-checkout query before the host answers
//! it "no" (Telegram waits 10 seconds, then fails the payment without a word to the buyer).

use serde::Deserialize;

use crate::{Error, Result};

/// Payments settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentsConfig {
    /// Milliseconds a module has to answer a pre-checkout query before the host declines it
    /// (500-9500; Telegram's own deadline is 10 s, and the host's answer needs a moment too).
    pub answer_within_ms: u64,
    /// What the buyer reads when the host declines in the module's place (1-255 characters).
    pub declined_message: String,
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        PaymentsConfig {
            answer_within_ms: 8_000,
            declined_message:
                "The bot could not confirm this order in time. You were not charged; please try again."
                    .into(),
        }
    }
}

impl PaymentsConfig {
    /// How long a module has to answer a pre-checkout query.
    pub fn answer_within(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.answer_within_ms)
    }

    /// Checks the ranges; the error names the setting.
    pub fn validate(&self) -> Result<()> {
        if !(500..=9_500).contains(&self.answer_within_ms) {
            return Err(Error::Config(format!(
                "`payments.answer_within_ms` must be 500..=9500 (Telegram gives a pre-checkout query 10 s), not {}",
                self.answer_within_ms
            )));
        }
        let chars = self.declined_message.chars().count();
        if !(1..=255).contains(&chars) {
            return Err(Error::Config(format!(
                "`payments.declined_message` must have 1 to 255 characters, not {chars}"
            )));
        }
        Ok(())
    }
}
