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

#[test]
fn an_inline_query_is_answered_with_the_code_uploaded_once_and_then_by_its_file_id() {
    let bot = Bot::start();
    let alice = bot.user("Alice");
    alice.send("/qr hi");
    alice.expect_reply("QR code: hi");

    // The first query for a text uploads its code to Alice's chat, then answers with it.
    let query = alice.inline("hello");
    assert_eq!(query.answer(), None, "the upload is looked for by a timer");
    bot.advance(qr::inline::POLL);
    let first = query.expect_answer();
    assert_eq!(first.ids(), ["qr"]);
    assert_eq!(first.results[0]["type"], "photo");
    assert_eq!(first.results[0]["caption"], "QR code: hello");
    let file_id = first.results[0]["photo_file_id"]
        .as_str()
        .unwrap()
        .to_string();
    alice.expect_reply("QR code: hello");

    // Later queries for the text, from anyone, are answered at once with the same file id.
    let bob = bot.user("Bob");
    let again = bob.inline("hello").expect_answer();
    assert_eq!(again.results[0]["photo_file_id"], file_id.as_str());
    alice.expect_no_reply();
    bob.expect_no_reply();
    again_chosen(&bot, &bob);
}

fn again_chosen(bot: &Bot, bob: &botbox_test::User<'_>) {
    let query = bob.inline("hello");
    query.expect_answer();
    query.choose("qr");
    bot.settle();
    assert_eq!(bot.kv_counter("inline-chosen"), 1);
}

#[test]
fn an_inline_query_from_someone_who_never_wrote_to_the_bot_says_to_write_first() {
    let bot = Bot::start();
    let stranger = bot.user("Stranger");
    let query = stranger.inline("hello");
    bot.advance(qr::inline::POLL);
    let answer = query.expect_answer();
    assert_eq!(answer.ids(), ["help"]);
    assert_eq!(answer.results[0]["title"], "Write to me first");
}

#[test]
fn with_a_cache_chat_the_codes_go_there_and_an_empty_query_gets_no_results() {
    let bot = Bot::builder().config("cache_chat_id = 4242").start();
    let keeper = bot.user_with_id("Keeper", 4242);
    keeper.send("/start");
    let alice = bot.user("Alice");
    let query = alice.inline("hello");
    bot.advance(qr::inline::POLL);
    assert_eq!(query.expect_answer().ids(), ["qr"]);
    keeper.expect_reply("QR code: hello");
    alice.expect_no_reply();
    assert!(alice.inline("  ").expect_answer().results.is_empty());
}
