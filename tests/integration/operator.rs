//! Operator tools: `botbox kv`, `botbox backup`, `botbox restore`, scheduled backups, the admin API.

use std::{path::Path, time::Duration};

use crate::support::*;
use botbox_test_artifacts::CLICKER;

/// Runs the real binary with `args` against the data in `root`; returns (success, stdout, stderr).
pub(crate) async fn botbox(
    root: &Path,
    args: &[&str],
    stdin: Option<&str>,
) -> (bool, String, String) {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_botbox"))
        .args(args)
        .env("BOTBOX_DATA_DIR", root.join("data"))
        .env_remove("BOTBOX_ADMIN_TOKEN")
        .current_dir(root)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run botbox");
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).await.unwrap();
    }
    drop(input);
    let out = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub(crate) async fn register(fake: &FakeBotApi, user: &TestUser, clicks: u32) {
    fake.send_text(user, "/start");
    for _ in 0..clicks {
        fake.send_text(user, "Click");
    }
    fake.wait_for_bot_text(user.id, &format!("Clicks: {clicks}"), WAIT)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_export_and_import_change_a_stopped_bots_data() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let alice = TestUser::alice();
    let rt = start(config(dir.path(), &fake, &[CLICKER])).await;
    register(&fake, &alice, 2).await;
    rt.stop().await;

    let (ok, export, err) = botbox(dir.path(), &["kv", "export", "clicker"], None).await;
    assert!(ok, "{err}");
    // Her record: a binary key (`user/` + her id as 8 bytes) with a JSON value.
    assert!(
        export
            .lines()
            .any(|l| l.contains("\"Alice\"") && l.contains("key_hex") && l.contains("\"clicks\"")),
        "alice's record in:\n{export}"
    );
    // Rename her everywhere: edit the export, import it back.
    let edited = export.replace("\"Alice\"", "\"Alicia\"");
    let lines = edited.lines().count();
    let (ok, out, err) = botbox(dir.path(), &["kv", "import", "clicker"], Some(&edited)).await;
    assert!(ok, "{err}");
    assert!(out.contains(&format!("imported {lines}")), "{out}");
    // A malformed line is refused with its line number, and nothing is written.
    let (ok, _, err) = botbox(
        dir.path(),
        &["kv", "import", "clicker"],
        Some("{\"key\":\"x\",\"json\":1}\nnot json\n"),
    )
    .await;
    assert!(!ok && err.contains("line 2"), "{err}");
    let (ok, _, _) = botbox(dir.path(), &["kv", "get", "clicker", "x"], None).await;
    assert!(!ok, "the first line of the failed import was not written");

    let rt = start(config(dir.path(), &fake, &[])).await;
    fake.send_text(&alice, "Rating");
    let rating = fake
        .wait_for_bot_text(alice.id, "Total:", WAIT)
        .await
        .unwrap();
    assert_eq!(rating.text, "Total: 1\n1: Alicia - 2");
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_commands_reach_a_running_bot_through_its_authenticated_admin_api() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let alice = TestUser::alice();
    let rt = start(config(dir.path(), &fake, &[CLICKER])).await;
    register(&fake, &alice, 1).await;

    let (ok, scan, err) = botbox(dir.path(), &["kv", "scan", "clicker", "user/"], None).await;
    assert!(ok, "{err}");
    assert_eq!(scan.lines().count(), 1, "{scan}");
    assert!(scan.contains("\"name\":\"Alice\""), "{scan}");
    let (ok, _, err) = botbox(dir.path(), &["kv", "set", "clicker", "note", "hello"], None).await;
    assert!(ok, "{err}");
    let (ok, out, _) = botbox(dir.path(), &["kv", "get", "clicker", "note"], None).await;
    assert!(ok);
    assert_eq!(out.trim(), "hello");
    let (ok, _, _) = botbox(dir.path(), &["kv", "del", "clicker", "note"], None).await;
    assert!(ok);
    let (ok, _, err) = botbox(dir.path(), &["kv", "get", "clicker", "note"], None).await;
    assert!(!ok && err.contains("no key"), "{err}");
    let (ok, _, err) = botbox(dir.path(), &["kv", "get", "nosuch", "k"], None).await;
    assert!(!ok && err.contains("no module"), "{err}");
    // The bot kept serving, and saw nothing of it.
    send_expecting(&fake, &alice, "Click", "Clicks: 2").await;

    // Without the token: 401.
    let addr = std::fs::read_to_string(dir.path().join("data/admin.addr")).unwrap();
    let resp = reqwest::Client::new()
        .get(format!("http://{}/v1/kv/clicker/scan", addr.trim()))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_during_a_stream_of_writes_restores_a_consistent_state_and_a_damaged_one_is_refused()
 {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig {
        limits: fake_bot_api::Limits::unlimited(),
        ..FakeConfig::default()
    })
    .unwrap();
    let alice = TestUser::alice();
    // Replies as fast as clicks come (Telegram's per-chat limit would stretch the test).
    let mut c = config(dir.path(), &fake, &[CLICKER]);
    c.outbox.chat_per_second = 1000.0;
    c.outbox.chat_burst = 1000;
    let rt = start(c).await;
    register(&fake, &alice, 1).await;
    // Clicks keep coming while the backup is taken.
    let stream = {
        let (fake, alice) = (fake.clone(), alice.clone());
        tokio::spawn(async move {
            for _ in 0..200 {
                fake.send_text(&alice, "Click");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let file = dir.path().join("snap.bbk");
    let (ok, out, err) = botbox(
        dir.path(),
        &["backup", "--out", file.to_str().unwrap()],
        None,
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("sha256"), "{out}");
    // It holds every module's data: readable by its owner only, and no temporary file left.
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "snapshot mode {mode:o}");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
    // A restore while running is refused.
    let (ok, _, err) = botbox(dir.path(), &["restore", file.to_str().unwrap()], None).await;
    assert!(!ok, "restored under a running bot: {err}");
    stream.await.unwrap();
    fake.wait_for_bot_text(alice.id, "Clicks: 201", WAIT)
        .await
        .unwrap();
    rt.stop().await;

    // A damaged or truncated copy is refused and changes nothing.
    let bytes = std::fs::read(&file).unwrap();
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 0xff;
    for (name, damaged) in [
        ("flipped", flipped),
        ("truncated", bytes[..bytes.len() - 10].to_vec()),
    ] {
        let path = dir.path().join(format!("{name}.bbk"));
        std::fs::write(&path, &damaged).unwrap();
        let (ok, _, err) = botbox(dir.path(), &["restore", path.to_str().unwrap()], None).await;
        assert!(!ok, "a {name} backup was restored");
        assert!(err.contains("not restored"), "{err}");
    }
    let rt = start(config(dir.path(), &fake, &[])).await;
    send_expecting(&fake, &alice, "Click", "Clicks: 202").await;
    rt.stop().await;

    // The good one restores one consistent moment: the rating index and the user's record agree.
    let (ok, out, err) = botbox(dir.path(), &["restore", file.to_str().unwrap()], None).await;
    assert!(ok, "{err}");
    assert!(out.contains("restored"), "{out}");
    let rt = start(config(dir.path(), &fake, &[])).await;
    // Replies that were queued at the moment of the backup are delivered too (the outbox is
    // part of the snapshot); the answers to new updates come after them.
    let after = |v: &fake_bot_api::StateView<'_>, from: usize, pred: &dyn Fn(&str) -> bool| {
        v.transcript(alice.id)
            .iter()
            .skip(from)
            .any(|e| e.from_bot && pred(&e.text))
    };
    let before = fake.transcript(alice.id).len();
    fake.send_text(&alice, "Rating");
    // The replies queued in the snapshot (up to 200) leave first, at the chat's ~1 per second.
    let patience = Duration::from_secs(240);
    fake.wait_until(patience, |v| after(v, before, &|t| t.starts_with("Total:")))
        .await
        .unwrap();
    let rating = fake
        .transcript(alice.id)
        .into_iter()
        .skip(before)
        .find(|e| e.text.starts_with("Total:"))
        .unwrap()
        .text;
    let n: u64 = rating
        .strip_prefix("Total: 1\n1: Alice - ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{rating}"));
    assert!(
        (1..201).contains(&n),
        "the backup was taken mid-stream: {n}"
    );
    let before = fake.transcript(alice.id).len();
    fake.send_text(&alice, "Click");
    let next = format!("Clicks: {}", n + 1);
    fake.wait_until(WAIT, |v| after(v, before, &|t| t == next))
        .await
        .unwrap();
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backups_appear_and_only_the_newest_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let mut c = config(dir.path(), &fake, &[CLICKER]);
    c.backup.interval_secs = 1;
    c.backup.keep = 2;
    let backups = c.backup_dir();
    let rt = start(c).await;
    let list = || -> Vec<String> {
        let mut v: Vec<_> = std::fs::read_dir(&backups)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    // A snapshot being written is `.partial` until it is complete.
                    .filter(|name| name.ends_with(".bbk"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    // Wait for a third generation: the first must then be gone.
    let mut first: Option<String> = None;
    loop {
        let files = list();
        assert!(files.len() <= 2, "kept more than 2: {files:?}");
        match &first {
            None => first = files.first().cloned(),
            Some(f) if !files.contains(f) && files.len() == 2 => break,
            Some(_) => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no rotation: {files:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    rt.stop().await;
    for f in list() {
        let bytes = std::fs::read(backups.join(&f)).unwrap();
        botbox::backup::verify(bytes.as_slice()).unwrap_or_else(|e| panic!("{f}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_sent_to_the_operators_chat_rebuild_a_blank_machine() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let operators = TestUser::new(555, "Operators");
    fake.open_chat(&operators);
    let alice = TestUser::alice();
    let mut c = config(dir.path(), &fake, &[CLICKER]);
    c.backup.telegram_chat_id = Some(operators.id);
    // Small parts, so that the snapshot needs several.
    c.backup.telegram_part_bytes = 200;
    let rt = start(c).await;
    register(&fake, &alice, 3).await;
    // The shutdown backup goes to the operators' chat.
    rt.stop().await;
    let documents = fake
        .transcript(operators.id)
        .iter()
        .filter(|e| e.document.is_some())
        .count();
    assert!(
        documents >= 2,
        "the snapshot was sent in parts: {documents}"
    );
    let pinned = fake
        .pinned_message(operators.id)
        .expect("a pinned manifest");
    assert!(pinned.text.starts_with("botbox backup"), "{}", pinned.text);

    // A blank machine knows only the token, the chat and where to put the data.
    let blank = tempfile::tempdir().unwrap();
    let config_file = blank.path().join("botbox.toml");
    std::fs::write(
        &config_file,
        format!(
            "[telegram]\ntoken = {:?}\napi_url = {:?}\n[backup]\ntelegram_chat_id = {}\n",
            fake.token(),
            fake.api_url().to_string(),
            operators.id
        ),
    )
    .unwrap();
    let (ok, out, err) = botbox(
        blank.path(),
        &[
            "restore",
            "--from-telegram",
            "--config",
            config_file.to_str().unwrap(),
        ],
        None,
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("restored"), "{out}");
    let rt = start(config(blank.path(), &fake, &[CLICKER])).await;
    send_expecting(&fake, &alice, "Click", "Clicks: 4").await;
    rt.stop().await;
}
