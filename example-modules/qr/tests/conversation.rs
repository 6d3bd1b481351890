//! The QR bot in conversation. Making a code needs the host's `bot-api` (contract 0.1.2): the
//! photo arrives as a message whose text is its caption.

use botbox_test::Bot;

#[test]
fn a_text_is_answered_with_its_code() {
    let bot = Bot::start();
    let alice = bot.user("Alice");
    alice.send("/qr https://example.com");
    alice.expect_reply("QR code: https://example.com");
    alice.send("hello there");
    alice.expect_reply("QR code: hello there");
}

#[test]
fn qr_alone_says_how_to_use_it() {
    let bot = Bot::start();
    let alice = bot.user("Alice");
    alice.send("/qr");
    alice.expect_reply("Send /qr <text>");
}

#[test]
fn a_text_over_the_capacity_is_refused_with_the_limit() {
    let bot = Bot::start();
    let alice = bot.user("Alice");
    alice.send(&format!("/qr {}", "x".repeat(3000)));
    alice.expect_reply(
        "That text is too long for a QR code: 3000 bytes, and a code holds at most 2331.",
    );
    alice.expect_no_reply();
}

#[test]
fn in_a_group_only_the_command_is_answered() {
    let bot = Bot::start();
    let alice = bot.user("Alice");
    let team = bot.group("Team");
    team.send(&alice, "see you at 5");
    team.expect_no_reply();
    team.send(&alice, "/qr see you at 5");
    team.expect_reply("QR code: see you at 5");
}
