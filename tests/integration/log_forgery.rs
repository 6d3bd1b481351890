//! Text a module controls cannot forge a log line or drive the operator's terminal: its log
//! lines, stderr and error strings keep to one line each, with control characters escaped, in
//! the process log, `botbox module logs` and the quarantine listing.

use botbox::cli::module::{ModuleCommand, module};
use botbox_test_artifacts::{CLICKER, HOSTILE};

use crate::support::*;

async fn cli(c: &botbox::Config, cmd: ModuleCommand) -> String {
    let mut out = Vec::new();
    module(c, cmd, &mut out).await.expect("the CLI answers");
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_s_newlines_and_escape_sequences_reach_the_operator_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let c = config(dir.path(), &fake, &[CLICKER, HOSTILE]);
    let rt = start(c.clone()).await;
    let user = TestUser::new(81, "User");
    fake.send_text(&user, "/forgelog");
    // It panics, is retried, and is quarantined (max_attempts is 2 in tests).
    fake.wait_until(WAIT, |_| {
        rt.modules()["hostile"]
            .quarantined
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    })
    .await
    .expect("the panicking update is quarantined");

    let logs = cli(
        &c,
        ModuleCommand::Logs {
            name: "hostile".into(),
            lines: 50,
        },
    )
    .await;
    let quarantine = cli(&c, ModuleCommand::Quarantine).await;
    for shown in [&logs, &quarantine] {
        assert!(
            !shown.contains('\u{1b}') && !shown.contains('\u{7}'),
            "a terminal escape reached the operator: {shown:?}"
        );
        assert!(
            !shown.lines().any(|l| l.starts_with("2026-12-04T00:00:00Z")),
            "a forged line stands on its own: {shown}"
        );
    }
    assert!(
        logs.contains(r"forged\n2026-12-04T00:00:00Z  INFO botbox: operator approved \u{1b}[2J"),
        "{logs}"
    );
    assert!(quarantine.contains(r"forged\n2026-12-04"), "{quarantine}");
    rt.stop().await;
}
