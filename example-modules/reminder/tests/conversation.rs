//! The reminder bot in conversation, with the clock moved by hand instead of waiting.

use std::time::Duration;

use botbox_test::Bot;

#[test]
fn a_reminder_arrives_when_due_and_not_before() {
    let bot = Bot::start();
    let alice = bot.user("Alice");
    alice.send("/remind 10m buy milk");
    alice.expect_reply("OK, in 10m: buy milk");

    bot.advance(Duration::from_secs(9 * 60));
    alice.expect_no_reply();
    bot.advance(Duration::from_secs(60));
    alice.expect_reply("Reminder: buy milk");
    assert!(
        bot.kv_scan("r/").is_empty(),
        "a fired reminder is forgotten"
    );

    bot.advance(Duration::from_secs(24 * 3600));
    alice.expect_no_reply();
}

#[test]
fn reminders_are_listed_per_user_and_cancelled_with_the_button() {
    let bot = Bot::start();
    let alice = bot.user("Alice");
    let bob = bot.user("Bob");
    alice.send("/remind 2h call mum");
    alice.expect_reply("OK, in 2h: call mum");
    bob.send("/remind 1d water plants");
    bob.expect_reply("OK, in 1d: water plants");

    alice.send("/reminders");
    let listed = alice.expect_reply("In 1h: call mum");
    assert!(listed.has_button("Cancel"));
    alice.expect_no_reply();
    alice.press("Cancel");
    assert_eq!(alice.last_message().text, "Cancelled.");

    bot.advance(Duration::from_secs(3 * 3600));
    alice.expect_no_reply();
    alice.send("/reminders");
    alice.expect_reply("You have no reminders.");
    bob.send("/reminders");
    bob.expect_reply("In 20h: water plants");
}

#[test]
fn wrong_input_is_answered_with_how_to_write_it() {
    let bot = Bot::start();
    let alice = bot.user("Alice");
    alice.send("/remind");
    alice.expect_reply("Send /remind <when> <what>");
    alice.send("/remind tomorrow buy milk");
    alice.expect_reply("I do not understand \"tomorrow\" as a time.");
    alice.send("/remind 45d holiday");
    alice.expect_reply("I do not understand \"45d\" as a time.");
    alice.send(&format!("/remind 1m {}", "x".repeat(501)));
    alice.expect_reply("Please keep a reminder under 500 characters.");
    assert!(bot.kv_scan("r/").is_empty());
}
