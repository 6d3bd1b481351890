//! The clicker in conversation with real users, through a real bot (`botbox-test`).

use botbox_sdk::kv::Key;
use botbox_test::Bot;
use serde_json::Value;

#[test]
fn clicks_are_counted_per_user_and_the_rating_lists_the_best_first() {
    let bot = Bot::start();
    let alice = bot.user("Alice");
    let bob = bot.user("Bob");

    alice.send("/start");
    alice.expect_reply("Hello, Alice! Press Click to count, Rating to see the best.");
    for n in 1..=3 {
        alice.send("Click");
        alice.expect_reply(&format!("Clicks: {n}"));
    }
    bob.send("/start");
    bob.expect_reply("Hello, Bob!");
    bob.send("Click");
    bob.expect_reply("Clicks: 1");

    bob.send("Rating");
    let rating = bob.expect_reply("Total: 2");
    assert_eq!(rating.text, "Total: 2\n1: Alice - 3\n2: Bob - 1");

    let record: Value = bot
        .kv_json(Key::new("user/").i64(alice.id()))
        .expect("Alice is registered");
    assert_eq!(record["clicks"], 3);
    assert_eq!(record["name"], "Alice");
    assert_eq!(bot.kv_counter("users"), 2);
    assert_eq!(bot.kv_scan("rank/").len(), 2, "one rating entry per user");
}

#[test]
fn a_click_before_start_asks_to_register_and_counts_nothing() {
    let bot = Bot::start();
    let carol = bot.user("Carol");
    carol.send("Click");
    carol.expect_reply("Please send /start first.");
    carol.send("Rating");
    carol.expect_reply("Please send /start first.");
    assert_eq!(
        bot.kv_scan("").len(),
        0,
        "nothing stored: {:?}",
        bot.kv_scan("")
    );
}

#[test]
fn coming_back_keeps_the_count_and_other_text_is_ignored() {
    let bot = Bot::start();
    let alice = bot.user("Alice");
    alice.send("/start");
    alice.expect_reply("Hello, Alice!");
    alice.send("Click");
    alice.expect_reply("Clicks: 1");
    alice.send("what is this?");
    alice.expect_no_reply();
    alice.send("/start");
    alice.expect_reply("Welcome back, Alice! Clicks: 1");
}

#[test]
fn in_a_group_each_member_counts_for_themselves() {
    let bot = Bot::start();
    let alice = bot.user("Alice");
    let bob = bot.user("Bob");
    let team = bot.group("Team");
    team.send(&alice, "/start");
    team.expect_reply("Hello, Alice!");
    team.send(&bob, "/start@botbox_test_bot");
    team.expect_reply("Hello, Bob!");
    team.send(&alice, "Click");
    team.expect_reply("Clicks: 1");
    team.send(&alice, "Click");
    team.expect_reply("Clicks: 2");
    team.send(&bob, "Click");
    team.expect_reply("Clicks: 1");
    // Nothing went to their private chats.
    alice.expect_no_reply();
    assert_eq!(team.messages().iter().filter(|m| m.from_bot).count(), 5);
}
