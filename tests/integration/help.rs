//! `/help`, tried as a new user would: the host answers with every module's commands (those only
//! operators may use, only to operators), unless a module answers it itself.

use crate::support::*;
use botbox::config::ModuleSettings;
use botbox_test_artifacts::{CLICKER, ECHO, REMINDER};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_lists_every_module_s_commands_and_operators_see_theirs_too() {
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let mut c = config(dir.path(), &fake, &[CLICKER, REMINDER]);
    let operator = TestUser::new(555, "Operator");
    c.telegram.operators = vec![operator.id];
    c.modules.insert(
        "reminder".into(),
        ModuleSettings {
            admin_commands: vec!["reminders".into()],
            ..ModuleSettings::default()
        },
    );
    let rt = start(c).await;

    let newcomer = TestUser::new(71, "Newcomer");
    send_expecting(&fake, &newcomer, "/help", "Commands:").await;
    let answer = bot_texts(&fake, newcomer.id).join("\n");
    assert!(
        answer.contains("/start — Register and show the Click and Rating buttons"),
        "{answer}"
    );
    assert!(
        answer.contains("/remind — Remind me: /remind 10m buy milk"),
        "{answer}"
    );
    assert!(
        !answer.contains("/reminders"),
        "an operators' command shown to a user: {answer}"
    );

    send_expecting(&fake, &operator, "/help", "Commands:").await;
    let answer = bot_texts(&fake, operator.id).join("\n");
    assert!(
        answer.contains("/reminders — List my pending reminders"),
        "{answer}"
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_that_declares_help_answers_it_and_the_host_stays_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let rt = start(config(dir.path(), &fake, &[CLICKER, ECHO])).await;
    let user = TestUser::new(72, "User");
    send_expecting(&fake, &user, "/help", "echo help: send any text").await;
    // Something after it, so that a late answer from the host would have arrived first.
    send_expecting(&fake, &user, "hello", "echo: hello").await;
    assert_eq!(
        bot_texts(&fake, user.id),
        ["echo help: send any text", "echo: hello"]
    );
    rt.stop().await;
}

/// The names in the menu of `scope`.
fn menu(fake: &FakeBotApi, scope: &str) -> Vec<String> {
    fake.bot_commands(scope)
        .into_iter()
        .map(|(c, _)| c)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_menu_follows_the_modules_and_operators_see_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let mut c = config(dir.path(), &fake, &[CLICKER, REMINDER]);
    c.telegram.operators = vec![555];
    c.modules.insert(
        "reminder".into(),
        ModuleSettings {
            admin_commands: vec!["reminders".into()],
            ..ModuleSettings::default()
        },
    );
    let rt = start(c).await;
    fake.wait_until(WAIT, |v| !v.bot_commands("chat:555").is_empty())
        .await
        .expect("the bot's command menus are set (everyone's first, then the operators')");
    assert_eq!(menu(&fake, "default"), ["start", "remind", "help"]);
    assert_eq!(
        menu(&fake, "chat:555"),
        [
            "start",
            "remind",
            "reminders",
            "help",
            "modules",
            "rollback",
            "approve",
            "install"
        ]
    );
    assert!(
        fake.bot_commands("default")
            .contains(&("remind".into(), "Remind me: /remind 10m buy milk".into()))
    );

    // A module removed: its commands leave the menu.
    rt.registry().remove("reminder", true).await.unwrap();
    fake.wait_until(WAIT, |v| {
        !v.bot_commands("chat:555")
            .iter()
            .any(|(c, _)| c == "reminders")
    })
    .await
    .expect("the menus follow the removal");
    assert_eq!(menu(&fake, "default"), ["start", "help"]);
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_s_command_counts_only_typed_in_the_private_chat_not_forwarded_or_in_a_group() {
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let mut c = config(dir.path(), &fake, &[CLICKER]);
    let operator = TestUser::new(555, "Operator");
    c.telegram.operators = vec![operator.id];
    let rt = start(c).await;
    // In a group, the host does not answer an operator's command.
    fake.send_text_in_group(-4242, "Team", &operator, "/modules");
    // Forwarded by the operator into their chat with the bot: someone else wrote it.
    let mallory = TestUser::new(666, "Mallory");
    fake.inject_raw_update(serde_json::json!({
        "update_id": 9_000_001,
        "message": {
            "message_id": 77, "date": 1_700_000_000, "text": "/modules",
            "chat": {"id": operator.id, "type": "private", "first_name": "Operator"},
            "from": {"id": operator.id, "is_bot": false, "first_name": "Operator"},
            "forward_origin": {"type": "user", "date": 1_600_000_000,
                "sender_user": {"id": mallory.id, "is_bot": false, "first_name": "Mallory"}},
            "forward_date": 1_600_000_000
        }
    }));
    // Typed in the private chat: answered. Twice, so that a late answer to the forwarded one
    // would have arrived in between.
    send_expecting(&fake, &operator, "/modules", "clicker").await;
    fake.send_text(&operator, "/modules");
    fake.wait_until(WAIT, |v| {
        v.transcript(operator.id)
            .iter()
            .filter(|e| e.from_bot && e.text.contains("clicker"))
            .count()
            >= 2
    })
    .await
    .expect("the second typed command is answered");
    assert!(
        bot_texts(&fake, -4242).is_empty(),
        "the host answered in a group"
    );
    let answers = bot_texts(&fake, operator.id)
        .iter()
        .filter(|t| t.contains("clicker"))
        .count();
    assert_eq!(answers, 2, "the host answered a forwarded command");
    rt.stop().await;
}
