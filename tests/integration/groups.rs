//! Groups through the runtime and the fake Bot API: a join request the requester never answers
//! is declined by the guard's durable timer, across a restart; a module without the operator's
//! `members` grant, or acting outside the chats it was narrowed to, acts on nobody.

use std::time::Duration;

use botbox::{Options, Runtime, clock::Clock, config::ModuleSettings};
use botbox_test_artifacts::GUARD;
use fake_bot_api::JoinDecision;

use crate::support::*;

const GROUP: i64 = -1_001_234_567_890;

fn guard_settings(member_chats: Vec<i64>) -> ModuleSettings {
    ModuleSettings {
        bot_api_grants: vec!["members".into()],
        member_chats,
        ..ModuleSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_request_nobody_answers_is_declined_by_a_timer_that_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let mut c = config(dir.path(), &fake, &[GUARD]);
    c.modules
        .insert("guard".into(), guard_settings(vec![GROUP]));
    let clock = Clock::default();
    let options = || Options {
        clock: clock.clone(),
        ..Options::default()
    };
    let rt = Runtime::start_with(c.clone(), options()).await.unwrap();
    let bob = TestUser::bob();
    fake.request_to_join(&bob, GROUP, "Crabs");
    fake.wait_for_bot_text(bob.id, "You asked to join Crabs", WAIT)
        .await
        .unwrap();
    rt.stop().await;

    // Down for a while; the request's five minutes pass meanwhile.
    clock.advance(Duration::from_secs(301));
    let rt = Runtime::start_with(c, options()).await.unwrap();
    fake.wait_for_bot_text(bob.id, "Time is up", WAIT)
        .await
        .unwrap();
    // The decline goes to the group's queue, the message to Bob's: either may arrive first.
    let deadline = tokio::time::Instant::now() + WAIT;
    while fake.join_decision(GROUP, bob.id) != Some(JoinDecision::Declined) {
        assert!(tokio::time::Instant::now() < deadline, "never declined");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        fake.moderation_actions(),
        [("declineChatJoinRequest".to_string(), GROUP, bob.id)]
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acting_on_members_needs_the_grant_and_stays_in_the_chats_it_is_narrowed_to() {
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let mut c = config(dir.path(), &fake, &[GUARD]);
    // Granted, but for another group only.
    c.modules
        .insert("guard".into(), guard_settings(vec![-1_009]));
    let rt = start(c).await;
    let (ada, sam) = (TestUser::alice(), TestUser::bob());
    fake.set_member_status(GROUP, &ada, fake_bot_api::MemberStatus::Administrator);
    fake.send_text_in_group(GROUP, "Crabs", &sam, "spam");
    let spam = fake.transcript(GROUP)[0].message_id;
    fake.send_reply(&ada, GROUP, spam, "/ban").unwrap();
    let refused = fake
        .wait_for_bot_text(GROUP, "I could not ban Bob", WAIT)
        .await
        .unwrap();
    assert!(refused.text.contains("member_chats"), "{}", refused.text);
    assert!(fake.moderation_actions().is_empty());
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_warns_when_the_bot_is_not_an_admin_of_a_group_a_module_acts_in() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let other = -1_009;
    fake.send_text_in_group(GROUP, "Crabs", &TestUser::alice(), "hello");
    fake.send_text_in_group(other, "Ops", &TestUser::alice(), "hello");
    let bot = TestUser::new(fake.config().bot_id(), "Bot");
    fake.set_member_status(GROUP, &bot, fake_bot_api::MemberStatus::Member);
    let modules = modules_dir(dir.path(), &[GUARD]);
    let file = write_config(
        dir.path(),
        &fake,
        &modules,
        &format!(
            "[modules.guard]\nbot_api_grants = [\"members\"]\nmember_chats = [{GROUP}, {other}]\n"
        ),
    );
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_botbox"))
        .args(["doctor", "--config"])
        .arg(&file)
        .env_remove("BOTBOX_TOKEN")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.contains(&format!(
            "WARNING  the bot is `member` in {GROUP}, not an administrator"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("ok       the bot is an administrator of {other}")),
        "{out}"
    );
}
