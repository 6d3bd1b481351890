//! Faults a server meets in a year, with the real binary: frozen for a while (SIGSTOP), the Bot
//! API answering errors for a while. What the user sees: every message answered once, in order.

use std::time::Duration;

use botbox_test_artifacts::CLICKER;
use fake_bot_api::Failure;

use crate::support::*;

/// Sends `signal` (`STOP`, `CONT`) to the process `child`.
fn signal(child: &tokio::process::Child, signal: &str) {
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_frozen_past_every_timeout_answers_what_came_meanwhile_once_when_it_thaws() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let modules = modules_dir(dir.path(), &[CLICKER]);
    let config_file = write_config(dir.path(), &fake, &modules, "");
    let mut bot = spawn_bot(&config_file);
    let alice = TestUser::alice();
    send_expecting(&fake, &alice, "/start", "").await;
    send_expecting(&fake, &alice, "Click", "Clicks: 1").await;

    // Frozen (SIGSTOP, a paused VM) for longer than the Bot API client's timeouts while the
    // user goes on clicking.
    signal(&bot, "STOP");
    for _ in 0..3 {
        fake.send_text(&alice, "Click");
    }
    tokio::time::sleep(Duration::from_secs(20)).await;
    signal(&bot, "CONT");

    fake.wait_for_bot_text(alice.id, "Clicks: 4", WAIT)
        .await
        .expect("the clicks sent while frozen are answered");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        clicks_of(&fake, alice.id),
        [1, 2, 3, 4],
        "each once, in order"
    );
    bot.start_kill().unwrap();
    let _ = bot.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_api_answering_errors_for_half_a_minute_costs_little_cpu_and_loses_no_reply() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let modules = modules_dir(dir.path(), &[CLICKER]);
    let config_file = write_config(dir.path(), &fake, &modules, "");
    let mut bot = spawn_bot(&config_file);
    let alice = TestUser::alice();
    send_expecting(&fake, &alice, "/start", "").await;
    send_expecting(&fake, &alice, "Click", "Clicks: 1").await;
    let addr = std::fs::read_to_string(dir.path().join("data/admin.addr")).unwrap();
    let metrics_url = format!("http://{}/metrics", addr.trim());
    let pid = bot.id().expect("running");

    // A proxy's 502 pages for 15 s, then answers that are not JSON for 15 s, to every call.
    let page = Failure::Raw {
        status: 502,
        body: "<html><h1>502 Bad Gateway</h1></html>".into(),
    };
    let garbage = Failure::Raw {
        status: 200,
        body: "{not json".into(),
    };
    let cpu_before = cpu_seconds(pid);
    for method in ["getUpdates", "sendMessage"] {
        fake.fail_all(method, Duration::from_secs(15), page.clone());
    }
    for _ in 0..3 {
        fake.send_text(&alice, "Click");
    }
    tokio::time::sleep(Duration::from_secs(15)).await;
    for method in ["getUpdates", "sendMessage"] {
        fake.fail_all(method, Duration::from_secs(15), garbage.clone());
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    let page = reqwest::get(&metrics_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metric(&page, "botbox_polling_failures_total") > 0.0,
        "{page}"
    );
    assert!(
        metric(&page, "botbox_polling_backoff_seconds") > 0.0,
        "{page}"
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    let cpu = cpu_seconds(pid) - cpu_before;
    // Waiting costs next to nothing; a retry loop without backoff would burn a core.
    assert!(cpu < 6.0, "{cpu:.2} CPU seconds in 30 s of errors");

    fake.wait_for_bot_text(alice.id, "Clicks: 4", Duration::from_secs(90))
        .await
        .expect("the clicks sent during the errors are answered");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        clicks_of(&fake, alice.id),
        [1, 2, 3, 4],
        "each once, in order"
    );
    // Polling recovers on its own: its backoff goes back to 0 at its next good poll (replies
    // may arrive while it still waits out the last one).
    let started = tokio::time::Instant::now();
    loop {
        let page = reqwest::get(&metrics_url)
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metric(&page, "botbox_polling_backoff_seconds") == 0.0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(90), "{page}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bot.start_kill().unwrap();
    let _ = bot.wait().await;
}
