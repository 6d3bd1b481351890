//! What the shop does on each update: list, invoice, check out, record, refund, report.

use botbox_sdk::bot_api::Call;
use botbox_sdk::outbox::{self, InlineButton, InlineKeyboard};
use botbox_sdk::payments::{
    self, PreCheckoutQuery, RefundedPayment, StarsInvoice, SuccessfulPayment,
};
use botbox_sdk::types::CallbackQuery;
use botbox_sdk::{Error, Message, Update, reply};

use crate::catalogue::{ITEMS, item};
use crate::store::{self, Purchase};

/// How many purchases `/purchases` lists.
const LISTED: usize = 20;
/// How many of Telegram's transactions `/sales` shows.
const TRANSACTIONS: usize = 5;
/// Why a query for an item no longer sold is declined.
pub const GONE: &str = "This item is no longer sold.";

/// `/shop`: the items, each with a Buy button.
pub fn list(update: &Update) -> Result<(), Error> {
    let chat = update.chat_id().ok_or("the update has no chat")?;
    let mut keyboard = InlineKeyboard::new();
    let mut text = String::from("For sale:");
    for i in ITEMS {
        text.push_str(&format!("\n{} — {} ⭐: {}", i.name, i.stars, i.description));
        keyboard = keyboard.row([InlineButton::callback(
            format!("Buy {} for {} ⭐", i.name, i.stars),
            format!("buy:{}", i.id),
        )]);
    }
    Message::new(chat, text).inline_keyboard(keyboard).send()?;
    Ok(())
}

/// A Buy button: the item's invoice, in the chat of the pressed message.
pub fn buy(press: &CallbackQuery) -> Result<(), Error> {
    outbox::answer_callback(press)?;
    let Some(i) = press.data.strip_prefix("buy:").and_then(item) else {
        return Ok(());
    };
    let chat = press.message.as_ref().map_or(press.from.id, |m| m.chat.id);
    StarsInvoice::new(i.name, i.description, i.id, i.stars).send(chat)?;
    Ok(())
}

/// The buyer pressed Pay: approve when the item is sold at the invoiced price.
pub fn check_out(query: &PreCheckoutQuery) -> Result<(), Error> {
    let verdict = match item(&query.invoice_payload) {
        None => Err(GONE.to_string()),
        Some(i) if query.currency != "XTR" || query.total_amount != i64::from(i.stars) => {
            Err(format!(
                "The price of {} is now {} ⭐; please buy it again from /shop.",
                i.name, i.stars
            ))
        }
        Some(_) => Ok(()),
    };
    payments::answer_pre_checkout(query, verdict.as_ref().map(|_| ()).map_err(String::as_str))?;
    Ok(())
}

/// A payment went through: recorded once, with a receipt.
pub fn paid(update: &Update, paid: &SuccessfulPayment) -> Result<(), Error> {
    let (Some(chat), Some(buyer)) = (update.chat_id(), update.from()) else {
        return Ok(());
    };
    let purchase = Purchase {
        user_id: buyer.id,
        chat_id: chat,
        item: paid.invoice_payload.clone(),
        stars: paid.total_amount,
        refunded: false,
    };
    if !store::record(&paid.telegram_payment_charge_id, &purchase)? {
        return Ok(());
    }
    reply(
        update,
        &format!(
            "Thank you! {} is yours for {} ⭐. Receipt: {}",
            name_of(&purchase.item),
            paid.total_amount,
            paid.telegram_payment_charge_id
        ),
    )?;
    Ok(())
}

/// A refund arrived: recorded, and the buyer told.
pub fn refunded(update: &Update, refund: &RefundedPayment) -> Result<(), Error> {
    let Some(p) = store::mark_refunded(&refund.telegram_payment_charge_id)? else {
        return Ok(());
    };
    let chat = update.chat_id().unwrap_or(p.chat_id);
    Message::new(
        chat,
        format!(
            "Your purchase of {} was refunded: {} ⭐ are back.",
            name_of(&p.item),
            p.stars
        ),
    )
    .send()?;
    Ok(())
}

/// `/purchases`: the sender's purchases.
pub fn purchases(update: &Update) -> Result<(), Error> {
    let buyer = update.from().ok_or("the update has no sender")?;
    let list = store::purchases_of(buyer.id, LISTED)?;
    if list.is_empty() {
        reply(update, "You have no purchases yet. See /shop.")?;
        return Ok(());
    }
    let mut text = String::from("Your purchases:");
    for (charge, p) in list {
        text.push_str(&format!(
            "\n{} — {} ⭐ — receipt {charge}",
            name_of(&p.item),
            p.stars
        ));
        if p.refunded {
            text.push_str(" (refunded)");
        }
    }
    reply(update, &text)?;
    Ok(())
}

/// `/refund <receipt>` (operators): asks Telegram to refund; the refund is recorded when
/// Telegram reports it.
pub fn refund(update: &Update) -> Result<(), Error> {
    let charge = update.command_args();
    if charge.is_empty() {
        reply(update, "Which purchase? /refund <receipt>")?;
        return Ok(());
    }
    let answer = match store::purchase(charge)? {
        None => format!("No purchase has the receipt {charge}."),
        Some(p) if p.refunded => "That purchase was refunded already.".to_string(),
        Some(p) => match payments::refund(p.user_id, charge) {
            Ok(()) => format!(
                "Refunding {} ⭐ for {}; the buyer will be told.",
                p.stars,
                name_of(&p.item)
            ),
            Err(e) => format!("The refund was refused: {e}"),
        },
    };
    reply(update, &answer)?;
    Ok(())
}

/// `/sales` (operators): the totals, and Telegram's latest star transactions.
pub fn totals(update: &Update) -> Result<(), Error> {
    let (sold, stars, refunds, refunded) = store::totals()?;
    let mut text = format!("Sold: {sold} for {stars} ⭐. Refunded: {refunds} for {refunded} ⭐.");
    let transactions = Call::new("getStarTransactions")
        .param("offset", 0)
        .param("limit", 100)
        .send()
        .and_then(|o| o.result::<serde_json::Value>());
    match transactions {
        Ok(t) => {
            let list = t["transactions"].as_array().cloned().unwrap_or_default();
            text.push_str(&format!(
                "\nTelegram's latest star transactions ({}):",
                list.len()
            ));
            for t in list.iter().rev().take(TRANSACTIONS) {
                let sign = if t.get("receiver").is_some() {
                    "-"
                } else {
                    "+"
                };
                text.push_str(&format!(
                    "\n{sign}{} ⭐ {}",
                    t["amount"],
                    t["id"].as_str().unwrap_or("")
                ));
            }
        }
        Err(e) => text.push_str(&format!("\nTelegram's transactions are not available: {e}")),
    }
    reply(update, &text)?;
    Ok(())
}

fn name_of(id: &str) -> &str {
    item(id).map_or(id, |i| i.name)
}
