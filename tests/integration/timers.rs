//! Durable timers: they fire once, in their chat, after restarts too; cancelling works; the
//! capability and the quota are enforced.

use std::time::Duration;

use crate::support::*;
use botbox::{Config, Options, Runtime, clock::Clock};
use botbox_test_artifacts::{REMINDER, TIMER_PROBE};

pub(crate) fn setup(root: &std::path::Path) -> (FakeBotApi, Config) {
    let fake = unlimited_fake();
    let mut c = config(root, &fake, &[TIMER_PROBE]);
    c.outbox.chat_per_second = 100.0;
    c.outbox.chat_burst = 100;
    (fake, c)
}

/// Sends a command and returns the bot's answer that starts with `prefix`.
async fn ask(fake: &FakeBotApi, user: &TestUser, text: &str, prefix: &str) -> String {
    let before = bot_texts(fake, user.id).len();
    fake.send_text(user, text);
    fake.wait_until(WAIT, |v| {
        v.transcript(user.id)
            .iter()
            .filter(|e| e.from_bot)
            .skip(before)
            .any(|e| e.text.starts_with(prefix))
    })
    .await
    .unwrap_or_else(|e| panic!("no answer to {text}: {e}"));
    bot_texts(fake, user.id)
        .into_iter()
        .skip(before)
        .find(|t| t.starts_with(prefix))
        .unwrap()
}

fn count(fake: &FakeBotApi, chat: i64, text: &str) -> usize {
    bot_texts(fake, chat).iter().filter(|t| *t == text).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_fires_once_in_its_chat_and_a_cancelled_one_never() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, c) = setup(dir.path());
    fires_once_and_a_cancelled_one_never(&fake, c, |rt| {
        rt.db().due_timers(u64::MAX, 10).unwrap().len()
    })
    .await;
}

/// The timers' first behaviours on the store `c` names; `pending` counts the timers left in it.
pub(crate) async fn fires_once_and_a_cancelled_one_never(
    fake: &FakeBotApi,
    c: Config,
    pending: impl Fn(&Runtime) -> usize,
) {
    let rt = start(c).await;
    let alice = TestUser::alice();
    let bob = TestUser::bob();
    ask(fake, &alice, "/remind 300 tea", "scheduled").await;
    let doomed = ask(fake, &bob, "/remind 500 never", "scheduled").await;
    let id = doomed.trim_start_matches("scheduled ");
    assert_eq!(
        ask(fake, &bob, &format!("/cancel {id}"), "cancelled").await,
        "cancelled true"
    );
    // Another module's or an unknown id is not ours to cancel.
    assert_eq!(
        ask(fake, &bob, "/cancel 987654321", "cancelled").await,
        "cancelled false"
    );
    ask(fake, &bob, "/remind 800 after", "scheduled").await;
    fake.wait_for_bot_text(alice.id, "fired: tea (late: no)", WAIT)
        .await
        .unwrap();
    fake.wait_for_bot_text(bob.id, "fired: after", WAIT)
        .await
        .unwrap();
    // "never" was due before "after" and did not fire; "tea" fired once, in alice's chat only.
    assert!(!bot_texts(fake, bob.id).iter().any(|t| t.contains("never")));
    assert!(!bot_texts(fake, bob.id).iter().any(|t| t.contains("tea")));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count(fake, alice.id, "fired: tea (late: no)"), 1);
    // A timer whose handling fails is done too: it does not fire again and again.
    ask(fake, &alice, "/fail 100", "scheduled").await;
    ask(fake, &alice, "/remind 600 marker", "scheduled").await;
    fake.wait_for_bot_text(alice.id, "fired: marker", WAIT)
        .await
        .unwrap();
    assert_eq!(pending(&rt), 0);
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_due_while_the_bot_was_down_fires_after_the_start_late() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, c) = setup(dir.path());
    fires_late_after_a_stop(&fake, c).await;
}

/// A timer due while the bot on the store `c` names was down fires after its start, late.
pub(crate) async fn fires_late_after_a_stop(fake: &FakeBotApi, c: Config) {
    let rt = start(c.clone()).await;
    let alice = TestUser::alice();
    ask(fake, &alice, "/remind 1000 wake up", "scheduled").await;
    rt.stop().await;
    // Down for longer than the timer had, and two seconds more.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(
        !bot_texts(fake, alice.id)
            .iter()
            .any(|t| t.starts_with("fired"))
    );
    let rt = start(c).await;
    fake.wait_for_bot_text(alice.id, "fired: wake up (late: yes)", WAIT)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count(fake, alice.id, "fired: wake up (late: yes)"), 1);
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quota_and_the_capability_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, mut c) = setup(dir.path());
    c.sandbox.max_timers = 5;
    let rt = start(c.clone()).await;
    let alice = TestUser::alice();
    let answer = ask(&fake, &alice, "/many 8", "scheduled").await;
    assert!(
        answer.starts_with("scheduled 5, then") && answer.contains("at most 5 timers pending"),
        "{answer}"
    );
    // Committed timers count too.
    let answer = ask(&fake, &alice, "/many 1", "scheduled").await;
    assert!(answer.starts_with("scheduled 0, then"), "{answer}");
    rt.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let (fake, mut c) = setup(dir.path());
    c.modules.entry("timer-probe".into()).or_default().timers = Some(false);
    let rt = start(c).await;
    let answer = ask(&fake, &alice, "/remind 10 x", "error").await;
    assert!(answer.contains("the operator turned them off"), "{answer}");
    let info = rt.registry().info("timer-probe").unwrap();
    assert!(!info.capabilities.unwrap().timers);
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bytes_of_pending_timers_are_capped_and_counted_again_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, mut c) = setup(dir.path());
    c.sandbox.max_timer_bytes = 16 << 10;
    let rt = start(c.clone()).await;
    let alice = TestUser::alice();
    let mut scheduled = 0;
    let mut refused = String::new();
    for _ in 0..5 {
        let answer = ask(&fake, &alice, "/many 100", "scheduled").await;
        let n: usize = answer
            .trim_start_matches("scheduled ")
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap();
        scheduled += n;
        if n < 100 {
            refused = answer;
            break;
        }
    }
    assert!(
        refused.contains("pending timers may take at most 16384 bytes"),
        "{refused}"
    );
    let (count, bytes) = rt.db().timer_counts().unwrap()["timer-probe"];
    assert_eq!(count as usize, scheduled);
    assert!(bytes <= 16 << 10, "{bytes} bytes stored");
    rt.stop().await;
    // After a restart the stored timers count against the cap again.
    let rt = start(c).await;
    let answer = ask(&fake, &alice, "/many 1", "scheduled").await;
    assert!(answer.starts_with("scheduled 0, then"), "{answer}");
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_update_cannot_schedule_more_than_a_hundred_timers() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, c) = setup(dir.path());
    let rt = start(c).await;
    let alice = TestUser::alice();
    let answer = ask(&fake, &alice, "/many 150", "scheduled").await;
    assert!(
        answer.starts_with("scheduled 100, then")
            && answer.contains("at most 100 timers per update"),
        "{answer}"
    );
    assert_eq!(rt.db().due_timers(u64::MAX, 1000).unwrap().len(), 100);
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_due_timers_of_a_disabled_module_hold_back_no_other_module_s_timers() {
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let mut c = config(dir.path(), &fake, &[TIMER_PROBE, REMINDER]);
    c.outbox.chat_per_second = 100.0;
    c.outbox.chat_burst = 100;
    let clock = Clock::default();
    let options = Options {
        clock: clock.clone(),
        ..Options::default()
    };
    let rt = Runtime::start_with(c, options).await.unwrap();
    // 2,500 timers an hour away, then their module is disabled: once due they stand first in
    // line, and no one takes them.
    let probe = TestUser::new(501, "Probe");
    for _ in 0..25 {
        assert_eq!(
            ask(&fake, &probe, "/many 100", "scheduled").await,
            "scheduled 100"
        );
    }
    rt.registry().disable("timer-probe", "test").await.unwrap();
    let alice = TestUser::alice();
    send_expecting(&fake, &alice, "/remind 2h tea", "OK, in 2h: tea").await;
    clock.advance(Duration::from_secs(3 * 3600));
    fake.wait_for_bot_text(alice.id, "Reminder: tea", WAIT)
        .await
        .expect("the reminder fires though 2,500 older due timers wait");
    // Removing the module takes its timers with it.
    rt.registry().remove("timer-probe", true).await.unwrap();
    let left = rt.db().timer_counts().unwrap();
    assert_eq!(left.get("timer-probe"), None, "{left:?}");
    rt.stop().await;
}
