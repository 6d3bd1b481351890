//! The guard in conversation: join requests answered by a button or declined by the durable
//! timer, and /mute and /ban by admins in reply to a member's message.

use botbox_test::{Bot, JoinDecision};

/// The guard with the operator's `members` grant.
fn guard() -> Bot {
    Bot::builder().grant("members").start()
}

#[test]
fn a_join_request_is_approved_when_the_requester_presses_the_button() {
    let bot = guard();
    let alice = bot.user("Alice");
    let group = bot.group("Crabs");
    group.request_join(&alice);
    alice.expect_reply("You asked to join Crabs. Press the button within 5 minutes");
    assert_eq!(group.join_decision(&alice), Some(JoinDecision::Pending));
    alice.press(guard::joins::BUTTON);
    alice.expect_reply("Welcome to Crabs!");
    assert_eq!(group.join_decision(&alice), Some(JoinDecision::Approved));
    let welcome = group.expect_reply("Welcome, Alice!");
    // The request's timer was cancelled: nothing more happens when it would have fired; the
    // welcome deleted itself meanwhile.
    bot.advance(guard::joins::ANSWER_WITHIN);
    alice.expect_no_reply();
    assert_eq!(group.join_decision(&alice), Some(JoinDecision::Approved));
    let gone = group
        .messages()
        .into_iter()
        .find(|m| m.id == welcome.id)
        .unwrap();
    assert!(gone.deleted, "{gone:?}");
}

#[test]
fn a_join_request_nobody_answers_is_declined_when_its_time_is_up() {
    let bot = guard();
    let bob = bot.user("Bob");
    let group = bot.group("Crabs");
    group.request_join(&bob);
    bob.expect_reply("Press the button");
    bot.advance(guard::joins::ANSWER_WITHIN / 2);
    assert_eq!(group.join_decision(&bob), Some(JoinDecision::Pending));
    bot.advance(guard::joins::ANSWER_WITHIN / 2);
    bob.expect_reply("Time is up: your request to join Crabs was declined.");
    assert_eq!(group.join_decision(&bob), Some(JoinDecision::Declined));
    // A press after that changes nothing.
    bob.press(guard::joins::BUTTON);
    bob.expect_no_reply();
    assert_eq!(group.join_decision(&bob), Some(JoinDecision::Declined));
}

#[test]
fn an_admin_mutes_and_bans_in_reply_and_nobody_else_can() {
    let bot = guard();
    let (admin, spammer, member) = (bot.user("Ada"), bot.user("Sam"), bot.user("Mo"));
    let group = bot.group("Crabs");
    group.make_admin(&admin);
    group.send(&spammer, "buy cheap crabs");
    let spam = group
        .messages()
        .into_iter()
        .find(|m| m.text == "buy cheap crabs")
        .unwrap();

    group.reply(&member, &spam, "/ban");
    group.expect_reply(guard::moderation::ADMINS_ONLY);
    assert_eq!(group.member(&spammer).status, None);

    group.reply(&admin, &spam, "/mute 10m");
    group.expect_reply("Muted Sam for 10m.");
    let (permissions, until) = group.member(&spammer).restricted.expect("restricted");
    assert_eq!(permissions["can_send_messages"], false);
    assert!(until > 0);

    group.reply(&admin, &spam, "/mute soon");
    group.expect_reply(guard::moderation::MUTE_USAGE);

    group.reply(&admin, &spam, "/ban");
    group.expect_reply("Banned Sam.");
    assert_eq!(group.member(&spammer).status.as_deref(), Some("kicked"));
}

#[test]
fn without_the_members_grant_nothing_is_done_and_the_admin_is_told_why() {
    let bot = Bot::start();
    let (admin, spammer) = (bot.user("Ada"), bot.user("Sam"));
    let group = bot.group("Crabs");
    group.make_admin(&admin);
    group.send(&spammer, "spam");
    let spam = group
        .messages()
        .into_iter()
        .find(|m| m.text == "spam")
        .unwrap();
    group.reply(&admin, &spam, "/ban");
    let refused = group.expect_reply("I could not ban Sam");
    assert!(
        refused.text.contains("bot_api_grants = [\"members\"]"),
        "{}",
        refused.text
    );
    assert_eq!(group.member(&spammer).status, None);
}

#[test]
fn a_flooder_is_muted_and_only_an_admin_lifts_it() {
    let bot = guard();
    let (admin, flooder, calm) = (bot.user("Ada"), bot.user("Fred"), bot.user("Cal"));
    let group = bot.group("Crabs");
    group.make_admin(&admin);
    // Five messages in ten seconds are fine, and so are five more later.
    for i in 0..5 {
        group.send(&calm, &format!("hello {i}"));
    }
    bot.advance(std::time::Duration::from_secs(11));
    for i in 0..5 {
        group.send(&calm, &format!("again {i}"));
    }
    group.expect_no_reply();
    // The sixth within ten seconds mutes.
    for i in 0..6 {
        group.send(&flooder, &format!("spam {i}"));
    }
    group.expect_reply("Fred is muted for 10 minutes: more than 5 messages in 10 seconds.");
    let (permissions, _) = group.member(&flooder).restricted.expect("muted");
    assert_eq!(permissions["can_send_messages"], false);
    assert!(group.member(&calm).restricted.is_none());

    group.press(&calm, guard::flood::LIFT);
    assert_eq!(
        group.member(&flooder).restricted.unwrap().0["can_send_messages"],
        false,
        "a member cannot lift it"
    );
    group.press(&admin, guard::flood::LIFT);
    assert_eq!(group.last_message().text, "Lifted by Ada.");
    assert_eq!(
        group.member(&flooder).restricted.unwrap().0["can_send_messages"],
        true
    );
}
