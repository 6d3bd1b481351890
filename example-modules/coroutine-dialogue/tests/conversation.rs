//! The dialogues in conversation with real users, through a real bot (`botbox-test`): answers,
//! wrong answers, buttons, `/cancel`, and the inactivity timeout with the clock moved by hand.

use std::time::Duration;

use botbox_test::Bot;
use serde_json::Value;

#[test]
fn sum_asks_for_two_numbers_rejects_others_and_answers_their_sum() {
    let bot = Bot::start();
    let alice = bot.user("Alice");
    alice.send("/sum");
    alice.expect_reply("Send me the first number.");
    alice.send("forty");
    alice.expect_reply("That is not a whole number. Please send a number like 42.");
    alice.send("40");
    alice.expect_reply("Now send the second number.");
    alice.send("2");
    alice.expect_reply("40 + 2 = 42");
}

#[test]
fn two_users_dialogues_do_not_mix() {
    let bot = Bot::start();
    let alice = bot.user("Alice");
    let bob = bot.user("Bob");
    alice.send("/sum");
    alice.expect_reply("Send me the first number.");
    bob.send("/sum");
    bob.expect_reply("Send me the first number.");
    alice.send("1");
    bob.send("100");
    alice.send("2");
    bob.send("200");
    alice.expect_reply("Now send the second number.");
    alice.expect_reply("1 + 2 = 3");
    bob.expect_reply("Now send the second number.");
    bob.expect_reply("100 + 200 = 300");
}

#[test]
fn a_silent_user_is_told_after_the_configured_timeout_and_not_before() {
    let bot = Bot::builder().config("timeout_secs = 600").start();
    let alice = bot.user("Alice");
    alice.send("/sum");
    alice.expect_reply("Send me the first number.");

    bot.advance(Duration::from_secs(590));
    alice.expect_no_reply();
    bot.advance(Duration::from_secs(20));
    alice.expect_reply("You did not answer for 600 seconds, so I stopped waiting.");

    // The dialogue is over: a number now starts nothing.
    alice.send("5");
    alice.expect_no_reply();
}

#[test]
fn the_profile_questionnaire_uses_buttons_and_saves_the_answers() {
    let bot = Bot::start();
    let alice = bot.user("Alice");
    alice.send("/profile");
    alice.expect_reply("What is your name?");
    alice.send("Alice");
    alice.expect_reply("Nice to meet you, Alice. How old are you?");
    alice.send("200");
    alice.expect_reply("Please send your age as a whole number from 1 to 120.");
    alice.send("30");
    let question = alice.expect_reply("Which language do you write bots in?");
    assert!(question.has_button("Rust"), "{question:?}");
    alice.send("Rust");
    alice.expect_reply("Please press one of the buttons above.");
    alice.press("Rust");
    alice.expect_reply("Rust, good choice. Which city do you live in?");
    // She thinks about it for a minute and a half: the module reads the moved clock too.
    bot.advance(Duration::from_secs(90));
    alice.expect_no_reply();
    alice.send("Lisbon");
    alice.expect_reply("Saved. Your profile:\nName: Alice\nAge: 30\nLanguage: Rust\nCity: Lisbon");
    alice.expect_reply("You answered in 90 s.");

    let profile: Value = bot
        .kv_json(format!("profile/{}", alice.id()))
        .expect("the profile is saved");
    assert_eq!(profile["city"], "Lisbon");
    alice.send("/myprofile");
    alice.expect_reply("Name: Alice\nAge: 30");
}

#[test]
fn cancel_ends_the_running_dialogue() {
    let bot = Bot::start();
    let alice = bot.user("Alice");
    alice.send("/cancel");
    alice.expect_reply("Nothing to cancel.");
    alice.send("/profile");
    alice.expect_reply("What is your name?");
    alice.send("/cancel");
    alice.expect_reply("Cancelled.");
    alice.send("/myprofile");
    alice.expect_reply("You have no profile yet: send /profile.");
}
