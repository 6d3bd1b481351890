//! The bot token stays in the host: never in the log, never visible to a module.

use std::process::Stdio;

use crate::support::*;
use botbox_test_artifacts::CLICKER;
use tokio::io::AsyncReadExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_never_appears_in_the_log_even_at_trace_level() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let modules = modules_dir(dir.path(), &[CLICKER]);
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_botbox"))
        .arg("run")
        .env("BOTBOX_TOKEN", fake.token())
        .env("BOTBOX_API_URL", fake.api_url().to_string())
        .env("BOTBOX_DATA_DIR", dir.path().join("data"))
        .env("BOTBOX_MODULES_DIR", &modules)
        // Everything at trace level except the compiler, which only slows the test down.
        .env(
            "BOTBOX_LOG",
            "trace,cranelift_codegen=info,wasmtime_internal_cranelift=info",
        )
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Read the output while the bot runs: a full pipe would block it.
    let mut stderr = child.stderr.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = tokio::spawn(async move {
        let (mut err, mut out) = (String::new(), String::new());
        let _ = tokio::join!(
            stderr.read_to_string(&mut err),
            stdout.read_to_string(&mut out)
        );
        err + &out
    });
    let alice = TestUser::alice();
    fake.send_text(&alice, "/start");
    send_expecting(&fake, &alice, "Click", "Clicks: 1").await;
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let log = reader.await.unwrap();
    assert!(
        log.contains("connected to the Bot API"),
        "the log was captured: {log:.2000}"
    );
    let secret = fake.token().split(':').nth(1).unwrap();
    assert!(!log.contains(secret), "the token leaked into the log");
}
