//! `botbox dev` with the shop: a person buys in the terminal — the invoice is shown with its
//! price, `:pay` pays it, the terminal says the payment went through and shows the receipt.

use crate::dev_terminal::DevTerminal;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn botbox_dev_shows_an_invoice_and_pays_it_with_pay() {
    let dir = tempfile::tempdir().unwrap();
    let mut dev = DevTerminal::start(dir.path(), botbox_test_artifacts::SHOP);
    dev.say("/shop", "(Buy Sticker pack for 25 ⭐)").await;
    dev.say(
        "Buy Sticker pack for 25 ⭐",
        "Invoice: Sticker pack — 25 ⭐",
    )
    .await;
    dev.read_until("(Pay ⭐25)").await;
    dev.say(":pay", "payment made: charge").await;
    dev.read_until("Thank you! Sticker pack is yours for 25 ⭐.")
        .await;
    // The person at the terminal is the operator: the sale is theirs to see.
    dev.say("/sales", "Sold: 1 for 25 ⭐.").await;
    dev.close().await;
}
