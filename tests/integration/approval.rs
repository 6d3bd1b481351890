//! A module's identity and what it asks for (issue 16, hole 3): a file cannot take over another
//! module's name, and a new version that asks for more (an HTTP host, timers, another kind of
//! update) waits for the operator's approval on every path (the CLI, the watched directory, a
//! restart, Telegram), while the version it would replace keeps serving.

use std::time::Duration;

use crate::support::*;
use crate::swap::{cli, fast_config};
use botbox::cli::module::ModuleCommand;
use botbox_test_artifacts::{CLICKER, CLICKER_V2, CLICKER_V3, ECHO};

/// What the clicker running v3 now asks for beyond v1, as the operator is shown it.
const MORE: [&str; 3] = [
    "+ HTTP host api.example.com",
    "+ timers",
    "+ updates: edited messages",
];

fn swap(file: &str, approve: bool) -> ModuleCommand {
    ModuleCommand::Swap {
        name: "clicker".into(),
        file: file.into(),
        approve,
    }
}

fn approve() -> ModuleCommand {
    ModuleCommand::Approve {
        name: "clicker".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_asking_for_more_shows_what_and_waits_for_approval_while_the_old_version_serves() {
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let c = fast_config(dir.path(), &fake, &[CLICKER]);
    let rt = start(c.clone()).await;
    let alice = TestUser::alice();
    fake.send_text(&alice, "/start");
    send_expecting(&fake, &alice, "Click", "Clicks: 1").await;

    // Asking for no more: swapped at once, the answer says so.
    let out = cli(&c, swap(CLICKER_V2, false)).await.unwrap();
    assert!(
        out.starts_with("swapped: clicker 2.0.0") && out.contains("no change in what it asks for"),
        "{out}"
    );
    send_expecting(&fake, &alice, "Click", "Clicks (v2): 2").await;

    // Asking for more, at no terminal: refused with what it asks for, kept aside.
    let err = cli(&c, swap(CLICKER_V3, false)).await.unwrap_err();
    assert!(err.contains("botbox module approve clicker"), "{err}");
    let info = rt.registry().info("clicker").unwrap();
    assert_eq!(info.version, "2.0.0");
    let awaiting = info.awaiting_approval.expect("v3 awaits approval");
    assert_eq!(awaiting.version, "3.0.0");
    assert_eq!(
        awaiting.changes.asks_for_more,
        MORE.map(|l| l[2..].to_string())
    );
    let list = cli(&c, ModuleCommand::List).await.unwrap();
    assert!(
        list.contains("version 3.0.0 awaits approval: + HTTP host api.example.com"),
        "{list}"
    );
    send_expecting(&fake, &alice, "Click", "Clicks (v2): 3").await;

    // Approved: it serves, with the data of the versions before it.
    let out = cli(&c, approve()).await.unwrap();
    assert!(out.starts_with("swapped: clicker 3.0.0"), "{out}");
    for line in MORE {
        assert!(out.contains(line), "{out}");
    }
    send_expecting(&fake, &alice, "Click", "Clicks (v3): 4").await;
    assert!(
        rt.registry()
            .info("clicker")
            .unwrap()
            .awaiting_approval
            .is_none()
    );
    let err = cli(&c, approve()).await.unwrap_err();
    assert!(
        err.contains("nothing awaits approval for `clicker`"),
        "{err}"
    );

    // Back to v1 and to v3 again with --approve given beforehand.
    cli(&c, swap(CLICKER, false)).await.unwrap();
    send_expecting(&fake, &alice, "Click", "Clicks: 5").await;
    let out = cli(&c, swap(CLICKER_V3, true)).await.unwrap();
    assert!(out.starts_with("swapped: clicker 3.0.0"), "{out}");
    send_expecting(&fake, &alice, "Click", "Clicks (v3): 6").await;
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_cannot_take_another_module_s_name_and_a_replaced_file_asking_for_more_waits() {
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let mut c = fast_config(dir.path(), &fake, &[CLICKER]);
    c.sandbox.watch_interval_ms = 100;
    let rt = start(c.clone()).await;
    let alice = TestUser::alice();
    fake.send_text(&alice, "/start");
    send_expecting(&fake, &alice, "Click", "Clicks: 1").await;

    // Another file whose manifest names `clicker` does not become the clicker; a marker file
    // added after it shows the watcher has looked at both.
    std::fs::copy(CLICKER_V2, c.modules_dir.join("cool-game.wasm")).unwrap();
    std::fs::copy(ECHO, c.modules_dir.join("echo.wasm")).unwrap();
    wait_until_running(&rt, "echo").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let info = rt.registry().info("clicker").unwrap();
    assert_eq!(info.version, "0.1.0");
    assert!(info.file.ends_with("clicker.wasm"), "{}", info.file);
    send_expecting(&fake, &alice, "Click", "Clicks: 2").await;
    std::fs::remove_file(c.modules_dir.join("cool-game.wasm")).unwrap();

    // The clicker's own file replaced by a version asking for more: it waits, v1 serves.
    let tmp = c.modules_dir.join("clicker.tmp");
    std::fs::copy(CLICKER_V3, &tmp).unwrap();
    std::fs::rename(&tmp, c.modules_dir.join("clicker.wasm")).unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while rt
        .registry()
        .info("clicker")
        .unwrap()
        .awaiting_approval
        .is_none()
    {
        assert!(tokio::time::Instant::now() < deadline, "v3 was not seen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    send_expecting(&fake, &alice, "Click", "Clicks: 3").await;

    // Still waiting after a restart: v1 serves from the versions kept, the file holds v3.
    rt.stop().await;
    let rt = start(c.clone()).await;
    let info = rt.registry().info("clicker").unwrap();
    assert_eq!(info.version, "0.1.0");
    assert_eq!(info.state, "running");
    assert_eq!(info.awaiting_approval.unwrap().version, "3.0.0");
    send_expecting(&fake, &alice, "Click", "Clicks: 4").await;
    let out = cli(&c, approve()).await.unwrap();
    assert!(out.starts_with("swapped: clicker 3.0.0"), "{out}");
    send_expecting(&fake, &alice, "Click", "Clicks (v3): 5").await;

    // Approved once, it is what a restart runs.
    rt.stop().await;
    let rt = start(c.clone()).await;
    assert_eq!(rt.registry().info("clicker").unwrap().version, "3.0.0");
    send_expecting(&fake, &alice, "Click", "Clicks (v3): 6").await;
    rt.stop().await;
}

async fn wait_until_running(rt: &botbox::Runtime, name: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !rt.registry().info(name).is_ok_and(|m| m.state == "running") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
