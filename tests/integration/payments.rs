//! Payments in Telegram Stars through the runtime and the fake Bot API: an invoice's updates
//! reach the module that issued it and no other, a pre-checkout query the module does not
//! answer in time is declined by the host, and a payment is credited exactly once across a
//! `kill -9` of the real binary.

use std::time::Duration;

use botbox_test_artifacts::{API_PROBE, SHOP};
use fake_bot_api::CheckoutOutcome;

use crate::support::*;

/// The shop's count of recorded sales.
fn shop_sold(runtime: &botbox::Runtime) -> i64 {
    let ns = runtime.registry().namespace("shop").expect("shop runs");
    let mut txn = ns.begin();
    let value = ns.get(&mut txn, b"sold").expect("a read");
    ns.abort(&mut txn);
    value.map_or(0, |v| i64::from_be_bytes(v.try_into().expect("a counter")))
}

/// Waits for a new invoice in `chat` (one newer than `after`); its message id.
async fn wait_for_invoice(fake: &FakeBotApi, chat: i64, after: Option<i64>) -> i64 {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some((id, _)) = fake.newest_invoice(chat)
            && Some(id) != after
        {
            return id;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no invoice in chat {chat}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_s_updates_reach_the_module_that_issued_the_invoice_and_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let c = config(dir.path(), &fake, &[SHOP, API_PROBE]);
    let runtime = start(c).await;
    let alice = TestUser::alice();

    // The shop's invoice: its query and its payment go to the shop, which records the sale.
    fake.send_text(&alice, "/shop");
    fake.wait_for_bot_text(alice.chat_id(), "For sale:", WAIT)
        .await
        .unwrap();
    fake.press_inline_label(&alice, alice.chat_id(), "Buy Sticker pack for 25 ⭐")
        .unwrap();
    let invoice = wait_for_invoice(&fake, alice.chat_id(), None).await;
    let query = fake.pay(&alice, alice.chat_id(), invoice).unwrap();
    let CheckoutOutcome::Approved { charge_id } =
        fake.wait_for_checkout(&query, WAIT).await.unwrap()
    else {
        panic!("the shop approves a sticker pack at its price");
    };
    fake.wait_for_bot_text(alice.chat_id(), &format!("Receipt: {charge_id}"), WAIT)
        .await
        .unwrap();
    assert_eq!(shop_sold(&runtime), 1);

    // The probe's invoices: approved and declined by the probe; the shop sees none of them.
    fake.send_text(&alice, "/invoice approve");
    let probe_invoice = wait_for_invoice(&fake, alice.chat_id(), Some(invoice)).await;
    let query = fake.pay(&alice, alice.chat_id(), probe_invoice).unwrap();
    let CheckoutOutcome::Approved { charge_id } =
        fake.wait_for_checkout(&query, WAIT).await.unwrap()
    else {
        panic!("the probe approves `approve`");
    };
    fake.wait_for_bot_text(alice.chat_id(), &format!("paid approve {charge_id}"), WAIT)
        .await
        .unwrap();
    fake.send_text(&alice, "/invoice decline");
    let declined = wait_for_invoice(&fake, alice.chat_id(), Some(probe_invoice)).await;
    let query = fake.pay(&alice, alice.chat_id(), declined).unwrap();
    assert_eq!(
        fake.wait_for_checkout(&query, WAIT).await.unwrap(),
        CheckoutOutcome::Declined {
            error_message: "probe says no".into()
        }
    );
    assert_eq!(
        shop_sold(&runtime),
        1,
        "the probe's payment is not the shop's"
    );
    let receipts = bot_texts(&fake, alice.chat_id())
        .iter()
        .filter(|t| t.starts_with("Thank you!"))
        .count();
    assert_eq!(receipts, 1, "the shop answered only its own payment");

    // A module answers only the query of the update it handles.
    fake.send_text(&alice, format!("/answerquery {query}"));
    let refused = fake
        .wait_for_bot_text(alice.chat_id(), "error: not-allowed", WAIT)
        .await
        .unwrap();
    assert!(
        refused
            .text
            .contains("answers the query of the update being handled"),
        "{}",
        refused.text
    );
    runtime.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_checkout_query_nobody_answers_in_time_is_declined_by_the_host_before_telegram_gives_up()
 {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let mut c = config(dir.path(), &fake, &[API_PROBE]);
    c.payments.answer_within_ms = 1_000;
    c.payments.declined_message = "Sorry, the shop is busy; nothing was charged.".into();
    let runtime = start(c).await;
    let alice = TestUser::alice();

    // The probe leaves `ignore` unanswered: the host declines at 1 s, well before Telegram's 10.
    fake.send_text(&alice, "/invoice ignore");
    let invoice = wait_for_invoice(&fake, alice.chat_id(), None).await;
    let started = std::time::Instant::now();
    let query = fake.pay(&alice, alice.chat_id(), invoice).unwrap();
    let outcome = fake.wait_for_checkout(&query, WAIT).await.unwrap();
    assert_eq!(
        outcome,
        CheckoutOutcome::Declined {
            error_message: "Sorry, the shop is busy; nothing was charged.".into()
        }
    );
    eprintln!("declined by the host after {:?}", started.elapsed());
    assert!(fake.payments().is_empty(), "nothing was charged");

    // An invoice whose module is gone: its query is declined at once, by the host.
    fake.send_text(&alice, "/invoice approve");
    let orphan = wait_for_invoice(&fake, alice.chat_id(), Some(invoice)).await;
    runtime.registry().remove("api-probe", false).await.unwrap();
    let query = fake.pay(&alice, alice.chat_id(), orphan).unwrap();
    assert!(matches!(
        fake.wait_for_checkout(&query, WAIT).await.unwrap(),
        CheckoutOutcome::Declined { .. }
    ));
    runtime.stop().await;
}

/// Buyers and payments each in the `kill -9` test.
const BUYERS: i64 = 8;
const PAYMENTS_EACH: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_between_telegram_s_payment_and_its_commit_neither_loses_nor_doubles_a_credit() {
    const OPERATOR: i64 = 9000;
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let modules = modules_dir(dir.path(), &[SHOP]);
    let config_file = write_config(
        dir.path(),
        &fake,
        &modules,
        "[outbox]\nchat_per_second = 50.0\nchat_burst = 50\nglobal_per_second = 1000\n[payments]\nanswer_within_ms = 3000\n",
    );
    let operators = OPERATOR.to_string();
    let env = [("BOTBOX_OPERATORS", operators.as_str())];
    let mut bot = spawn_bot_with_env(&config_file, &env);
    let buyers: Vec<TestUser> = (1..=BUYERS)
        .map(|i| TestUser::new(2000 + i, format!("B{i}")))
        .collect();
    let mut invoices = Vec::new();
    for b in &buyers {
        fake.send_text(b, "/shop");
        fake.wait_for_bot_text(b.id, "For sale:", WAIT)
            .await
            .unwrap();
        fake.press_inline_label(b, b.id, "Buy Sticker pack for 25 ⭐")
            .unwrap();
        invoices.push(wait_for_invoice(&fake, b.id, None).await);
    }

    // Every buyer pays again and again; the bot is killed once part of it is done.
    let mut queries = Vec::new();
    for _ in 0..PAYMENTS_EACH {
        for (b, invoice) in buyers.iter().zip(&invoices) {
            queries.push((b.id, fake.pay(b, b.id, *invoice).unwrap()));
        }
    }
    let receipts = |fake: &FakeBotApi| -> usize {
        buyers
            .iter()
            .map(|b| {
                bot_texts(fake, b.id)
                    .iter()
                    .filter(|t| t.contains("Receipt:"))
                    .count()
            })
            .sum()
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while receipts(&fake) < queries.len() / 4 {
        assert!(tokio::time::Instant::now() < deadline, "no receipts came");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bot.start_kill().unwrap();
    assert!(!bot.wait().await.unwrap().success());
    let at_kill = receipts(&fake);
    assert!(
        at_kill < queries.len(),
        "the kill came too late to test anything"
    );

    let mut bot = spawn_bot_with_env(&config_file, &env);
    let mut approved = Vec::new();
    let (mut declined, mut timed_out) = (0, 0);
    for (buyer, query) in &queries {
        match fake
            .wait_for_checkout(query, Duration::from_secs(60))
            .await
            .unwrap()
        {
            CheckoutOutcome::Approved { charge_id } => approved.push((*buyer, charge_id)),
            CheckoutOutcome::Declined { .. } => declined += 1,
            CheckoutOutcome::TimedOut => timed_out += 1,
            CheckoutOutcome::Pending => unreachable!("waited until decided"),
        }
    }
    // Every charge gets its receipt (none lost); a receipt repeats only if it was in flight at
    // the kill, then right after itself, at most once per chat.
    let mut repeats = 0;
    for (buyer, charge) in &approved {
        fake.wait_for_bot_text(*buyer, &format!("Receipt: {charge}"), WAIT)
            .await
            .unwrap();
    }
    for b in &buyers {
        let texts: Vec<String> = bot_texts(&fake, b.id)
            .into_iter()
            .filter(|t| t.contains("Receipt:"))
            .collect();
        let mut deduped = texts.clone();
        deduped.dedup();
        let mut unique = deduped.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            deduped.len(),
            "a receipt came back later: {texts:?}"
        );
        assert!(
            texts.len() - deduped.len() <= 1,
            "buyer {}: {texts:?}",
            b.id
        );
        repeats += texts.len() - deduped.len();
    }
    // The shop credited each charge once: its sales equal Telegram's payments.
    let operator = TestUser::new(OPERATOR, "Olga");
    fake.send_text(&operator, "/sales");
    let sales = fake
        .wait_for_bot_text(OPERATOR, "Sold:", WAIT)
        .await
        .unwrap();
    let charged = fake.payments().len();
    assert_eq!(charged, approved.len());
    assert!(
        sales
            .text
            .starts_with(&format!("Sold: {charged} for {} ⭐.", 25 * charged)),
        "{} (charged {charged})",
        sales.text
    );
    eprintln!(
        "payments: {} started, {} charged, {declined} declined, {timed_out} timed out; receipts at the kill {at_kill}, repeated {repeats}; credits lost 0, doubled 0",
        queries.len(),
        charged
    );
    bot.start_kill().unwrap();
    let _ = bot.wait().await;
}
