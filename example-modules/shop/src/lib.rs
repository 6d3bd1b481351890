//! shop: a small catalogue sold for Telegram Stars.
//!
//! - `/shop` lists the items, each with a Buy button; a press sends the item's invoice, whose
//!   Pay button is Telegram's.
//! - The buyer's pre-checkout query is approved when the item is still sold at the invoiced
//!   price, else declined with the reason (the host declines for the shop if it does not
//!   answer in time).
//! - A successful payment is recorded once, by Telegram's charge id, and answered with a
//!   receipt; `/purchases` lists the buyer's.
//! - Operators refund with `/refund <receipt>` (the shop needs the operator's `stars` grant);
//!   the refund is recorded when Telegram's refunded payment arrives, and the buyer is told.
//!   `/sales` shows the totals and Telegram's latest star transactions.
//!
//! Everything is in [`store`] (the records) and [`sales`] (what happens on each update).

pub mod catalogue;
pub mod sales;
pub mod store;

use botbox_sdk::{Error, Manifest, Module, Update};

/// The module.
pub struct Shop;

impl Module for Shop {
    fn init() -> Result<Manifest, Error> {
        Ok(Manifest::new("shop", env!("CARGO_PKG_VERSION"))
            .command("shop", "See what is for sale, and buy with Telegram Stars")
            .command("purchases", "Your purchases and their receipts")
            .admin_command("refund", "Refund a purchase: /refund <receipt>")
            .admin_command("sales", "Sales totals and the latest star transactions"))
    }

    fn handle_update(update: &Update) -> Result<(), Error> {
        if let Some(query) = update.pre_checkout_query() {
            return sales::check_out(&query);
        }
        if let Some(paid) = update.successful_payment() {
            return sales::paid(update, &paid);
        }
        if let Some(refunded) = update.refunded_payment() {
            return sales::refunded(update, &refunded);
        }
        if let Some(press) = update.callback() {
            return sales::buy(press);
        }
        match update.command() {
            Some("shop") => sales::list(update),
            Some("purchases") => sales::purchases(update),
            Some("refund") => sales::refund(update),
            Some("sales") => sales::totals(update),
            _ => Ok(()),
        }
    }
}

botbox_sdk::export_module!(Shop);
