//! The shop in conversation: buying with Telegram Stars, the receipt, the buyer's purchases,
//! an operator's refund and the totals.

use botbox_test::{Bot, Checkout};

/// The operator's Telegram user id.
const OPERATOR: i64 = 9000;

/// The shop with an operator, and the grant refunds and transactions need.
fn shop() -> Bot {
    Bot::builder().operator(OPERATOR).grant("stars").start()
}

#[test]
fn a_buyer_pays_with_stars_and_gets_a_receipt_and_the_purchase_is_listed() {
    let bot = shop();
    let alice = bot.user("Alice");
    alice.send("/shop");
    alice.expect_reply("Sticker pack — 25 ⭐");
    alice.press("Buy Sticker pack for 25 ⭐");
    alice.expect_reply("Sticker pack");
    let charge = alice.expect_paid();
    alice.expect_reply(&format!(
        "Thank you! Sticker pack is yours for 25 ⭐. Receipt: {charge}"
    ));
    alice.send("/purchases");
    alice.expect_reply(&format!("Sticker pack — 25 ⭐ — receipt {charge}"));
    assert_eq!(bot.kv_counter("sold"), 1);
    assert_eq!(bot.kv_counter("sold-stars"), 25);
}

#[test]
fn nothing_bought_yet_is_said_plainly() {
    let bot = shop();
    let bob = bot.user("Bob");
    bob.send("/purchases");
    bob.expect_reply("You have no purchases yet. See /shop.");
}

#[test]
fn an_operator_refunds_a_purchase_and_the_buyer_is_told_once() {
    let bot = shop();
    let alice = bot.user("Alice");
    alice.send("/shop");
    alice.expect_reply("For sale:");
    alice.press("Buy Night theme for 50 ⭐");
    alice.expect_reply("Night theme\nA dark theme for the bot's messages.");
    let charge = alice.expect_paid();
    alice.expect_reply("Night theme is yours");

    let operator = bot.user_with_id("Olga", OPERATOR);
    operator.send(&format!("/refund {charge}"));
    operator.expect_reply("Refunding 50 ⭐ for Night theme; the buyer will be told.");
    alice.expect_reply("Your purchase of Night theme was refunded: 50 ⭐ are back.");
    operator.send(&format!("/refund {charge}"));
    operator.expect_reply("That purchase was refunded already.");
    alice.expect_no_reply();
    alice.send("/purchases");
    alice.expect_reply("(refunded)");

    operator.send("/sales");
    let report = operator.expect_reply("Sold: 1 for 50 ⭐. Refunded: 1 for 50 ⭐.");
    assert!(report.text.contains("+50 ⭐"), "{}", report.text);
    assert!(report.text.contains("-50 ⭐"), "{}", report.text);
}

#[test]
fn only_operators_refund_and_a_wrong_receipt_is_named() {
    let bot = shop();
    let alice = bot.user("Alice");
    alice.send("/refund anything");
    alice.expect_no_reply();
    let operator = bot.user_with_id("Olga", OPERATOR);
    operator.send("/refund nope-42");
    operator.expect_reply("No purchase has the receipt nope-42.");
    operator.send("/refund");
    operator.expect_reply("Which purchase? /refund <receipt>");
}

#[test]
fn without_the_stars_grant_a_refund_is_refused_with_the_reason() {
    let bot = Bot::builder().operator(OPERATOR).start();
    let alice = bot.user("Alice");
    alice.send("/shop");
    alice.press("Buy Sticker pack for 25 ⭐");
    let charge = alice.expect_paid();
    let operator = bot.user_with_id("Olga", OPERATOR);
    operator.send(&format!("/refund {charge}"));
    operator.expect_reply("The refund was refused");
    operator.expect_no_reply();
    assert!(
        matches!(alice.pay(), Checkout::Paid { .. }),
        "the invoice can be paid again"
    );
}
