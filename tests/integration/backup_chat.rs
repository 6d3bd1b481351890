//! Backups in the operators' Telegram chat: sent encrypted, restored on a blank machine only
//! with the identity, an older manifest pinned again refused, and what the doctor says of the
//! chat. The real binary against the fake Bot API over HTTP.

use std::{path::Path, process::Stdio};

use age::secrecy::ExposeSecret;
use botbox_test_artifacts::CLICKER;
use teloxide_core::{
    prelude::Requester,
    types::{ChatId, MessageId},
};

use crate::{
    operator::{botbox, register},
    support::*,
};

fn age_key(dir: &Path) -> (std::path::PathBuf, String) {
    let identity = age::x25519::Identity::generate();
    let path = dir.join("operator.key");
    std::fs::write(&path, identity.to_string().expose_secret()).unwrap();
    (path, identity.to_public().to_string())
}

/// A configuration file in `dir` for the fake's bot, sending backups to `chat`.
fn chat_config(dir: &Path, fake: &FakeBotApi, chat: i64, backup: &str) -> String {
    let file = dir.join("botbox.toml");
    std::fs::write(
        &file,
        format!(
            "data_dir = {:?}\nmodules_dir = {:?}\n[telegram]\ntoken = {:?}\napi_url = {:?}\n\
             [http]\naddr = \"127.0.0.1:0\"\n[backup]\ntelegram_chat_id = {chat}\n{backup}",
            dir.join("data"),
            modules_dir(dir, &[]),
            fake.token(),
            fake.api_url().to_string(),
        ),
    )
    .unwrap();
    file.to_str().unwrap().to_string()
}

/// The ids of the manifest messages the bot sent to `chat`, oldest first.
fn manifests(fake: &FakeBotApi, chat: i64) -> Vec<i64> {
    fake.transcript(chat)
        .iter()
        .filter(|e| e.from_bot && e.text.starts_with("botbox backup\n{"))
        .map(|e| e.message_id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_backups_in_telegram_restore_with_the_identity_and_an_older_pin_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let operators = TestUser::new(555, "Operators");
    fake.open_chat(&operators);
    let alice = TestUser::alice();
    let (identity, public) = age_key(dir.path());
    let mut c = config(dir.path(), &fake, &[CLICKER]);
    c.backup.telegram_chat_id = Some(operators.id);
    c.backup.telegram_part_bytes = 200;
    c.backup.encrypt_to = vec![public.clone()];
    let rt = start(c).await;
    register(&fake, &alice, 3).await;
    rt.stop().await;

    // What the chat holds is sealed: no part shows the snapshot or a module's table.
    let parts: Vec<_> = fake
        .transcript(operators.id)
        .into_iter()
        .filter_map(|e| e.document)
        .collect();
    assert!(parts.len() >= 2, "{} parts", parts.len());
    assert!(parts[0].bytes.starts_with(b"age-encryption.org/v1\n"));
    for part in &parts {
        assert!(
            !part
                .bytes
                .windows(8)
                .any(|w| w == b"BOTBOXBK" || w == b"kv:click")
        );
    }
    let pinned = fake.pinned_message(operators.id).expect("a manifest");
    assert!(
        pinned.text.contains("\"encrypted\":true"),
        "{}",
        pinned.text
    );

    // A blank machine: without the identity nothing is restored, with it everything is.
    let blank = tempfile::tempdir().unwrap();
    let file = chat_config(blank.path(), &fake, operators.id, "");
    let (ok, out, err) = botbox(
        blank.path(),
        &["restore", "--from-telegram", "-c", &file],
        None,
    )
    .await;
    assert!(!ok, "restored without the identity");
    assert!(out.contains("the pinned backup: taken 20"), "{out}");
    assert!(
        out.contains("records in") && out.contains(", encrypted"),
        "{out}"
    );
    assert!(err.contains("give the age identity file"), "{err}");
    assert!(!blank.path().join("data/botbox.redb").exists());
    let id = identity.to_str().unwrap();
    let args = ["restore", "--from-telegram", "-c", &file, "--identity", id];
    let (ok, out, err) = botbox(blank.path(), &args, None).await;
    assert!(ok, "{err}");
    assert!(out.contains("restored"), "{out}");
    let rt = start(config(blank.path(), &fake, &[CLICKER])).await;
    send_expecting(&fake, &alice, "Click", "Clicks: 4").await;
    rt.stop().await;

    // The first machine sends a newer backup (a second later: manifests are dated in seconds),
    // then someone pins the first manifest again.
    let first = manifests(&fake, operators.id)[0];
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let file = chat_config(
        dir.path(),
        &fake,
        operators.id,
        &format!("encrypt_to = [{public:?}]\n"),
    );
    let (ok, _, err) = botbox(dir.path(), &["backup", "--telegram", "-c", &file], None).await;
    assert!(ok, "{err}");
    let bot = teloxide_core::Bot::new(fake.token()).set_api_url(fake.api_url());
    bot.pin_chat_message(ChatId(operators.id), MessageId(first as i32))
        .await
        .unwrap();
    let db = dir.path().join("data/botbox.redb");
    let before = std::fs::read(&db).unwrap();
    let args = ["restore", "--from-telegram", "-c", &file, "--identity", id];
    let (ok, _, err) = botbox(dir.path(), &args, None).await;
    assert!(!ok, "an older manifest was restored");
    assert!(
        err.contains("older than the newest backup this bot sent or restored")
            && err.contains("--allow-older"),
        "{err}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), before);
    let mut args = args.to_vec();
    args.push("--allow-older");
    let (ok, _, err) = botbox(dir.path(), &args, None).await;
    assert!(ok, "{err}");
}

async fn doctor(config: &str) -> String {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_botbox"))
        .args(["doctor", "--config", config])
        .env_remove("BOTBOX_TOKEN")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_warns_of_unencrypted_backups_and_of_a_group_as_the_backup_chat() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let alice = TestUser::alice();
    let group = -1_001_234_567_890;
    fake.send_text_in_group(group, "Ops", &alice, "hello");
    let file = chat_config(dir.path(), &fake, group, "");
    let out = doctor(&file).await;
    assert!(
        out.contains(&format!(
            "WARNING  backups go to Telegram chat {group} unencrypted"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("WARNING  the backup chat {group} is a supergroup"))
            && out.contains("pin an older manifest again"),
        "{out}"
    );

    // Encrypted, to the operator's private chat: nothing to warn of.
    let operator = TestUser::new(555, "Operator");
    fake.open_chat(&operator);
    let (_, public) = age_key(dir.path());
    let file = chat_config(
        dir.path(),
        &fake,
        operator.id,
        &format!("encrypt_to = [{public:?}]\n"),
    );
    let out = doctor(&file).await;
    assert!(
        out.contains("ok       backups sent to Telegram are encrypted with age")
            && out.contains("ok       the backup chat 555 is a private chat"),
        "{out}"
    );
    assert!(!out.contains("WARNING"), "{out}");
}
