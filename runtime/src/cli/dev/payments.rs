//! Payments in `botbox dev`: the bot's invoices are shown with their price, and `:pay` (or the
//! Pay button's label) pays the newest one in Telegram Stars; what became of the payment is
//! printed when the bot answered.

use anyhow::Context as _;
use fake_bot_api::{ChatEntry, CheckoutOutcome, FakeBotApi, TestUser};

/// Handles `line` if it pays an invoice; `false` when it does not.
pub(super) fn handle(fake: &FakeBotApi, user: &TestUser, line: &str) -> anyhow::Result<bool> {
    let invoice = fake.newest_invoice(user.id).map(|(id, _)| id);
    let entry = invoice.and_then(|id| {
        fake.transcript(user.id)
            .into_iter()
            .find(|e| e.message_id == id)
    });
    let pays = line == ":pay"
        || entry
            .as_ref()
            .and_then(|e| e.inline_button(line))
            .is_some_and(|b| b.pay);
    if !pays {
        return Ok(false);
    }
    let invoice = invoice.context("the bot has sent you no invoice to pay")?;
    fake.pay(user, user.id, invoice)?;
    println!("you pressed Pay: the bot has 10 seconds to confirm the order");
    Ok(true)
}

/// The lines shown for an invoice the bot sent as `entry` in `chat`: what it sells and its price.
pub(super) fn describe(fake: &FakeBotApi, chat: i64, entry: &ChatEntry) -> Option<String> {
    let i = fake.invoice(chat, entry.message_id)?;
    let price = if i.currency == "XTR" {
        format!("{} ⭐", i.total_amount)
    } else {
        format!("{} {}", i.total_amount, i.currency)
    };
    Some(format!(
        "Invoice: {} — {price}\n{}\n(type `:pay` to pay)",
        i.title, i.description
    ))
}

/// What became of a payment, for the terminal.
pub(super) fn show(outcome: &CheckoutOutcome) -> String {
    match outcome {
        CheckoutOutcome::Approved { charge_id } => format!("payment made: charge {charge_id}"),
        CheckoutOutcome::Declined { error_message } => {
            format!("payment declined by the bot: {error_message}")
        }
        CheckoutOutcome::TimedOut => {
            "payment failed: the bot did not confirm within 10 seconds (nothing was charged)".into()
        }
        CheckoutOutcome::Pending => "payment pending".into(),
    }
}
