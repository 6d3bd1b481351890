//! Modules changed while the bot runs: swap, rollback, refused versions, the admin API's token,
//! `botbox module ...`, the watched modules directory, operators' commands in Telegram.

use std::time::Duration;

use crate::support::*;
use botbox::{
    Config,
    cli::module::{ModuleCommand, module},
    modules::registry::ModuleInfo,
};
use botbox_test_artifacts::{CLICKER, CLICKER_BROKEN, CLICKER_V2, ECHO};

fn fast_fake() -> FakeBotApi {
    unlimited_fake()
}

pub(super) fn fast_config(root: &std::path::Path, fake: &FakeBotApi, wasm: &[&str]) -> Config {
    let mut c = config(root, fake, wasm);
    c.outbox.chat_per_second = 1000.0;
    c.outbox.chat_burst = 1000;
    c.outbox.global_per_second = 1000;
    c.sandbox.watch_interval_ms = 0;
    c
}

/// The click replies the bot sent to `chat`, as (version, count): v1 says `Clicks: N`, v2
/// `Clicks (v2): N`.
fn clicks(fake: &FakeBotApi, chat: i64) -> Vec<(u8, u64)> {
    bot_texts(fake, chat)
        .iter()
        .filter_map(|t| {
            if let Some(n) = t.strip_prefix("Clicks (v2): ") {
                Some((2, n.parse().unwrap()))
            } else {
                t.strip_prefix("Clicks: ").map(|n| (1, n.parse().unwrap()))
            }
        })
        .collect()
}

/// Runs `botbox module <cmd>` (the CLI's code, against the running bot's admin API).
pub(super) async fn cli(c: &Config, cmd: ModuleCommand) -> Result<String, String> {
    let mut out = Vec::new();
    match module(c, cmd, &mut out).await {
        Ok(()) => Ok(String::from_utf8(out).unwrap()),
        Err(e) => Err(format!("{e:#}")),
    }
}

fn admin(c: &Config) -> (String, String) {
    let addr = std::fs::read_to_string(c.data_dir.join("admin.addr")).unwrap();
    let token = std::fs::read_to_string(c.data_dir.join("admin.token")).unwrap();
    (format!("http://{}", addr.trim()), token.trim().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapping_while_updates_stream_in_handles_each_once_in_order_by_one_version() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fast_fake();
    let c = fast_config(dir.path(), &fake, &[CLICKER]);
    let rt = start(c.clone()).await;
    let users: Vec<_> = (1..=6)
        .map(|i| TestUser::new(1000 + i, format!("U{i}")))
        .collect();
    for u in &users {
        fake.send_text(u, "/start");
        fake.wait_for_bot_text(u.id, "Hello", WAIT).await.unwrap();
    }
    let (url, token) = admin(&c);
    let v1 = std::fs::read(CLICKER).unwrap();
    let v2 = std::fs::read(CLICKER_V2).unwrap();

    // Swap v1 → v2 → v1 ... through the admin API while every user keeps clicking.
    let swapper = tokio::spawn(async move {
        let http = reqwest::Client::new();
        for i in 0..8 {
            let body = if i % 2 == 0 { v2.clone() } else { v1.clone() };
            let r = http
                .put(format!("{url}/v1/modules/clicker"))
                .bearer_auth(&token)
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(
                r.status().is_success(),
                "swap {i}: {}",
                r.text().await.unwrap()
            );
            let done: serde_json::Value = r.json().await.unwrap();
            assert_eq!(done["action"], "swapped", "{done}");
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    });
    let mut round = 0u64;
    while !swapper.is_finished() || round < 10 {
        round += 1;
        for u in &users {
            fake.send_text(u, "Click");
        }
        for u in &users {
            fake.wait_until(WAIT, |v| {
                v.transcript(u.id)
                    .iter()
                    .filter(|e| e.from_bot && e.text.starts_with("Clicks"))
                    .count()
                    >= round as usize
            })
            .await
            .unwrap();
        }
    }
    swapper.await.unwrap();
    // The last swap was to v1; one more round with v2 shows the wording switches.
    let info = rt.registry().info("clicker").unwrap();
    assert_eq!(info.version, "0.1.0");
    assert!(info.previous.is_some(), "v2 is kept for rollback");

    let mut seen_versions = std::collections::BTreeSet::new();
    for u in &users {
        let replies = clicks(&fake, u.id);
        let counts: Vec<u64> = replies.iter().map(|r| r.1).collect();
        // Exactly once each, in order: the count goes 1, 2, 3 ... with no gap or repeat.
        assert_eq!(
            counts,
            (1..=round).collect::<Vec<_>>(),
            "user {}: {replies:?}",
            u.id
        );
        seen_versions.extend(replies.iter().map(|r| r.0));
    }
    assert_eq!(
        seen_versions.into_iter().collect::<Vec<_>>(),
        [1, 2],
        "both versions answered"
    );
    assert_eq!(
        rt.modules()["clicker"]
            .quarantined
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_restores_v1_a_broken_v3_is_refused_and_v2_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fast_fake();
    let c = fast_config(dir.path(), &fake, &[CLICKER]);
    let rt = start(c.clone()).await;
    let alice = TestUser::alice();
    fake.send_text(&alice, "/start");
    send_expecting(&fake, &alice, "Click", "Clicks: 1").await;

    let out = cli(
        &c,
        ModuleCommand::Swap {
            name: "clicker".into(),
            file: CLICKER_V2.into(),
            approve: false,
        },
    )
    .await
    .unwrap();
    assert!(out.starts_with("swapped: clicker 2.0.0"), "{out}");
    send_expecting(&fake, &alice, "Click", "Clicks (v2): 2").await;

    // Broken versions are refused, saying why, and v2 keeps serving.
    let err = cli(
        &c,
        ModuleCommand::Swap {
            name: "clicker".into(),
            file: CLICKER_BROKEN.into(),
            approve: false,
        },
    )
    .await
    .unwrap_err();
    assert!(
        err.contains("init") && err.contains("needs a migration"),
        "{err}"
    );
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"\0asm but not really a component").unwrap();
    let err = cli(
        &c,
        ModuleCommand::Swap {
            name: "clicker".into(),
            file: garbage,
            approve: false,
        },
    )
    .await
    .unwrap_err();
    assert!(err.contains("not a valid component"), "{err}");
    let err = cli(
        &c,
        ModuleCommand::Swap {
            name: "clicker".into(),
            file: ECHO.into(),
            approve: false,
        },
    )
    .await
    .unwrap_err();
    assert!(err.contains("is the module `echo`, not `clicker`"), "{err}");
    let err = cli(
        &c,
        ModuleCommand::Add {
            file: CLICKER.into(),
        },
    )
    .await
    .unwrap_err();
    assert!(err.contains("exists"), "{err}");
    send_expecting(&fake, &alice, "Click", "Clicks (v2): 3").await;

    let out = cli(
        &c,
        ModuleCommand::Rollback {
            name: "clicker".into(),
        },
    )
    .await
    .unwrap();
    assert!(out.starts_with("rolled back: clicker 0.1.0"), "{out}");
    send_expecting(&fake, &alice, "Click", "Clicks: 4").await;

    // The list and the log tell the story.
    let list = cli(&c, ModuleCommand::List).await.unwrap();
    assert!(
        list.contains("clicker") && list.contains("running"),
        "{list}"
    );
    let logs = cli(
        &c,
        ModuleCommand::Logs {
            name: "clicker".into(),
            lines: 20,
        },
    )
    .await
    .unwrap();
    for event in ["swapped: version 2.0.0", "rolled back: version 0.1.0"] {
        assert!(logs.contains(event), "{event} in {logs}");
    }

    // Disabled, the module gets nothing; enabled, it goes on from its data.
    cli(
        &c,
        ModuleCommand::Disable {
            name: "clicker".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(rt.registry().info("clicker").unwrap().state, "disabled");
    cli(
        &c,
        ModuleCommand::Enable {
            name: "clicker".into(),
        },
    )
    .await
    .unwrap();
    send_expecting(&fake, &alice, "Click", "Clicks: 5").await;
    let out = cli(
        &c,
        ModuleCommand::Config {
            name: "clicker".into(),
            values: vec!["greeting=hi".into(), "limit=3".into()],
        },
    )
    .await
    .unwrap();
    assert!(out.starts_with("reconfigured: clicker 0.1.0"), "{out}");

    // After a restart: still v1, and the rollback target is remembered.
    rt.stop().await;
    let rt = start(c.clone()).await;
    send_expecting(&fake, &alice, "Click", "Clicks: 6").await;
    let out = cli(
        &c,
        ModuleCommand::Rollback {
            name: "clicker".into(),
        },
    )
    .await
    .unwrap();
    assert!(out.starts_with("rolled back: clicker 2.0.0"), "{out}");
    send_expecting(&fake, &alice, "Click", "Clicks (v2): 7").await;
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_refuses_calls_without_the_right_token() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fast_fake();
    let c = fast_config(dir.path(), &fake, &[CLICKER]);
    let rt = start(c.clone()).await;
    let (url, token) = admin(&c);
    let http = reqwest::Client::new();
    for auth in [None, Some("wrong"), Some("")] {
        // A small body: the server answers 401 without reading an upload, and a large one
        // could still be in flight when the connection closes.
        let mut list = http.get(format!("{url}/v1/modules"));
        let mut swap = http.put(format!("{url}/v1/modules/clicker")).body("x");
        let mut remove = http.delete(format!("{url}/v1/modules/clicker"));
        if let Some(t) = auth {
            list = list.bearer_auth(t);
            swap = swap.bearer_auth(t);
            remove = remove.bearer_auth(t);
        }
        for req in [list, swap, remove] {
            assert_eq!(req.send().await.unwrap().status(), 401, "token {auth:?}");
        }
    }
    let list: Vec<ModuleInfo> = http
        .get(format!("{url}/v1/modules"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].name.as_str(), list[0].version.as_str()),
        ("clicker", "0.1.0")
    );
    assert_eq!(list[0].state, "running");
    assert_eq!(list[0].shards, c.sandbox.shards);
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_installs_from_telegram_and_everyone_else_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fast_fake();
    let operator = TestUser::new(777, "Op");
    let stranger = TestUser::new(555, "Stranger");
    let mut c = fast_config(dir.path(), &fake, &[CLICKER]);
    c.telegram.operators = vec![operator.id];
    let rt = start(c).await;
    let echo = std::fs::read(ECHO).unwrap();

    // A stranger's /install and /modules are not the host's business.
    fake.send_document(&stranger, "echo.wasm", echo.clone(), "/install");
    fake.send_text(&stranger, "/modules");
    fake.send_text(&operator, "/modules");
    let listed = fake
        .wait_for_bot_text(operator.id, "clicker 0.1.0", WAIT)
        .await
        .unwrap();
    assert!(!listed.text.contains("echo"), "{}", listed.text);
    assert!(bot_texts(&fake, stranger.id).is_empty());

    fake.send_document(&operator, "echo.wasm", echo, "/install");
    fake.wait_for_bot_text(operator.id, "Installed echo 0.1.0.", WAIT)
        .await
        .unwrap();
    send_expecting(&fake, &stranger, "hi", "echo: hi").await;

    // A swap from Telegram waits for the operator's confirmation, showing what changes.
    let v2 = std::fs::read(CLICKER_V2).unwrap();
    fake.send_document(&operator, "clicker.wasm", v2, "/install");
    let asked = fake
        .wait_for_bot_text(operator.id, "send /approve clicker", WAIT)
        .await
        .unwrap();
    assert!(
        asked.text.contains("this file is clicker 2.0.0")
            && asked.text.contains("no change in what it asks for"),
        "{}",
        asked.text
    );
    assert_eq!(rt.registry().info("clicker").unwrap().version, "0.1.0");
    send_expecting(
        &fake,
        &operator,
        "/approve clicker",
        "Swapped clicker to version 2.0.0",
    )
    .await;
    let broken = std::fs::read(CLICKER_BROKEN).unwrap();
    fake.send_document(&operator, "clicker.wasm", broken, "/install");
    fake.wait_for_bot_text(operator.id, "Refused, nothing changed", WAIT)
        .await
        .unwrap();
    send_expecting(
        &fake,
        &operator,
        "/rollback clicker",
        "Rolled back clicker to version 0.1.0.",
    )
    .await;
    // The stranger's /install never reached the host: still only the operator's modules.
    let names: Vec<_> = rt.registry().list().into_iter().map(|m| m.name).collect();
    assert_eq!(names, ["clicker", "echo"]);
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_modules_directory_is_watched_for_new_replaced_and_removed_files() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fast_fake();
    let mut c = fast_config(dir.path(), &fake, &[CLICKER]);
    c.sandbox.watch_interval_ms = 100;
    let rt = start(c.clone()).await;
    let alice = TestUser::alice();
    let running = |name: &str| rt.registry().info(name).is_ok_and(|m| m.state == "running");

    // A new file is added.
    std::fs::copy(ECHO, c.modules_dir.join("echo.wasm")).unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !running("echo") {
        assert!(tokio::time::Instant::now() < deadline, "echo was not added");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    send_expecting(&fake, &alice, "hello", "echo: hello").await;

    // A replaced file is swapped.
    let tmp = c.modules_dir.join("clicker.tmp");
    std::fs::copy(CLICKER_V2, &tmp).unwrap();
    std::fs::rename(&tmp, c.modules_dir.join("clicker.wasm")).unwrap();
    fake.send_text(&alice, "/start");
    let mut n = 0;
    loop {
        n += 1;
        fake.send_text(&alice, "Click");
        fake.wait_until(WAIT, |v| {
            v.transcript(alice.id)
                .iter()
                .filter(|e| e.from_bot && e.text.starts_with("Clicks"))
                .count()
                >= n
        })
        .await
        .unwrap();
        if clicks(&fake, alice.id).last().is_some_and(|r| r.0 == 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A broken file is refused and what serves stays.
    std::fs::copy(CLICKER_BROKEN, c.modules_dir.join("clicker.wasm")).unwrap();
    // A removed file is removed.
    std::fs::remove_file(c.modules_dir.join("echo.wasm")).unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while rt.registry().info("echo").is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "echo was not removed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rt.registry().info("clicker").unwrap().version, "2.0.0");
    let v2_before = clicks(&fake, alice.id).iter().filter(|r| r.0 == 2).count();
    fake.send_text(&alice, "Click");
    fake.wait_until(WAIT, |v| {
        v.transcript(alice.id)
            .iter()
            .filter(|e| e.from_bot && e.text.starts_with("Clicks (v2)"))
            .count()
            > v2_before
    })
    .await
    .unwrap();
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_module_stays_disabled_after_a_restart_until_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fast_fake();
    let c = fast_config(dir.path(), &fake, &[CLICKER_V2]);
    let rt = start(c.clone()).await;
    let alice = TestUser::alice();
    fake.send_text(&alice, "/start");
    send_expecting(&fake, &alice, "Click", "Clicks (v2): 1").await;
    cli(
        &c,
        ModuleCommand::Disable {
            name: "clicker".into(),
        },
    )
    .await
    .unwrap();
    rt.stop().await;

    let rt = start(c.clone()).await;
    let info = rt.registry().info("clicker").unwrap();
    assert_eq!(info.state, "disabled");
    assert_eq!(
        info.disabled_reason.as_deref(),
        Some("disabled by the operator")
    );
    assert!(rt.registry().get("clicker").is_none());
    let list = cli(&c, ModuleCommand::List).await.unwrap();
    assert!(list.contains("disabled by the operator"), "{list}");
    cli(
        &c,
        ModuleCommand::Enable {
            name: "clicker".into(),
        },
    )
    .await
    .unwrap();
    send_expecting(&fake, &alice, "Click", "Clicks (v2): 2").await;
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_only_commands_reach_the_module_only_from_an_operator() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fast_fake();
    let operator = TestUser::new(777, "Op");
    let stranger = TestUser::new(555, "Stranger");
    let mut c = fast_config(dir.path(), &fake, &[ECHO]);
    c.telegram.operators = vec![operator.id];
    // The operator marks echo's /buttons as theirs.
    c.modules.entry("echo".into()).or_default().admin_commands = vec!["buttons".into()];
    let rt = start(c).await;

    fake.send_text(&stranger, "/buttons");
    send_expecting(&fake, &stranger, "after", "echo: after").await;
    // Updates are handled in order: the stranger's /buttons reached nobody.
    assert_eq!(bot_texts(&fake, stranger.id), ["echo: after"]);

    fake.send_text(&operator, "/buttons");
    fake.wait_until(WAIT, |v| {
        v.transcript(operator.id)
            .iter()
            .any(|e| e.from_bot && e.reply_markup.is_some())
    })
    .await
    .unwrap();
    rt.stop().await;
}
