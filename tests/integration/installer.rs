//! `installer/install.sh`, run for real into a temporary prefix against the fake Bot API: the
//! non-interactive install, the interactive one driven through its prompts on a terminal
//! (a pty made by `script`), upgrades, removal, and the service unit it writes. Pairing with
//! the operator is in `installer/pairing.rs`, getting the program (a release, a build) in
//! `installer/getting.rs`.

mod getting;
mod pairing;

use std::{
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
};

use crate::support::*;
use botbox_test_artifacts::CLICKER;

pub const INSTALLER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../installer/install.sh");
pub const BOTBOX: &str = env!("CARGO_BIN_EXE_botbox");

/// A directory holding the modules the installer installs (the built example modules).
pub fn modules_from(root: &Path) -> PathBuf {
    let dir = root.join("release-modules");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(CLICKER, dir.join("clicker.wasm")).unwrap();
    dir
}

/// The options every test gives: this build's binary and modules, the fake, a free admin port.
pub fn base_args(prefix: &Path, modules: &Path, fake: &FakeBotApi) -> Vec<String> {
    vec![
        "--no-systemd".into(),
        "--prefix".into(),
        prefix.display().to_string(),
        "--api-url".into(),
        fake.api_url().to_string(),
        "--binary".into(),
        BOTBOX.into(),
        "--modules-from".into(),
        modules.display().to_string(),
        "--admin-listen".into(),
        "127.0.0.1:0".into(),
    ]
}

pub struct Run {
    pub status: ExitStatus,
    pub output: String,
}

/// Runs the installer with no terminal and no standard input, as automation would.
pub async fn install(args: &[String]) -> Run {
    install_with_env(args, &[]).await
}

/// [`install`] with these environment variables set.
pub async fn install_with_env(args: &[String], env: &[(&str, String)]) -> Run {
    let out = tokio::process::Command::new("bash")
        .arg(INSTALLER)
        .args(args)
        .env_remove("BOTBOX_TOKEN")
        .env_remove("BOTBOX_BINARY")
        .env_remove("BOTBOX_RELEASE_URL")
        .env_remove("BOTBOX_BUILD_DIR")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run the installer");
    Run {
        status: out.status,
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

pub async fn install_ok(args: &[String]) -> String {
    let run = install(args).await;
    assert!(
        run.status.success(),
        "the installer failed:\n{}",
        run.output
    );
    run.output
}

fn non_interactive(prefix: &Path, modules: &Path, fake: &FakeBotApi) -> Vec<String> {
    let mut args = base_args(prefix, modules, fake);
    args.extend([
        "--yes".into(),
        "--token".into(),
        fake.token().into(),
        "--operator-id".into(),
        TestUser::alice().id.to_string(),
    ]);
    args
}

/// The installed bot, started the way the installer says to.
pub fn start_installed(prefix: &Path) -> tokio::process::Child {
    tokio::process::Command::new(prefix.join("bin/botbox"))
        .args(["run", "--config"])
        .arg(prefix.join("botbox.toml"))
        .env("BOTBOX_LOG", "warn")
        // Tests run side by side: modules' HTTP on a port of its own.
        .env("BOTBOX_HTTP_ADDR", "127.0.0.1:0")
        .current_dir(prefix)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the installed botbox")
}

/// Stops the bot as systemd does (SIGTERM) and waits for it.
pub async fn stop(mut bot: tokio::process::Child) {
    let pid = bot.id().expect("running").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = tokio::time::timeout(WAIT, bot.wait())
        .await
        .expect("botbox stops after SIGTERM")
        .unwrap();
    assert!(
        status.success(),
        "botbox exited with {status:?} after SIGTERM"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_interactive_install_puts_everything_in_place_and_the_bot_answers() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let prefix = dir.path().join("botbox");
    let modules = modules_from(dir.path());
    let output = install_ok(&non_interactive(&prefix, &modules, &fake)).await;
    assert!(output.contains("your bot is @botbox_test_bot"), "{output}");
    assert!(output.contains("Done: botbox is installed."), "{output}");

    let binary = prefix.join("bin/botbox");
    assert_eq!(
        std::fs::read(&binary).unwrap(),
        std::fs::read(BOTBOX).unwrap()
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&binary).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "the program is executable");
        let data = std::fs::metadata(prefix.join("data")).unwrap();
        assert!(data.is_dir());
        assert_eq!(
            data.permissions().mode() & 0o077,
            0,
            "only the bot reads its data"
        );
    }
    assert!(prefix.join("modules/clicker.wasm").is_file());
    let config = std::fs::read_to_string(prefix.join("botbox.toml")).unwrap();
    assert!(config.contains(&format!("token = \"{}\"", fake.token())));
    assert!(config.contains(&format!("telegram_chat_id = {}", TestUser::alice().id)));
    let parsed = botbox::Config::from_toml(&config).expect("the written configuration is valid");
    assert_eq!(parsed.telegram.operators, [TestUser::alice().id]);
    assert_eq!(parsed.data_dir, prefix.join("data"));
    assert_eq!(parsed.modules_dir, prefix.join("modules"));
    assert!(prefix.join("README.txt").is_file());

    let bot = start_installed(&prefix);
    let alice = TestUser::alice();
    fake.send_text(&alice, "/start");
    fake.wait_for_bot_text(alice.id, "", WAIT).await.unwrap();
    send_expecting(&fake, &alice, "Click", "Clicks: 1").await;
    stop(bot).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_installed_service_unit_passes_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let prefix = dir.path().join("botbox");
    let modules = modules_from(dir.path());
    install_ok(&non_interactive(&prefix, &modules, &fake)).await;
    let unit = prefix.join("botbox.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    assert!(
        text.contains(&format!(
            "ExecStart={}/bin/botbox run --config {}/botbox.toml",
            prefix.display(),
            prefix.display()
        )),
        "{text}"
    );
    assert!(
        !text.contains("@PREFIX@") && !text.contains("@USER@"),
        "every placeholder is filled in: {text}"
    );
    // The hardening this unit adds beyond running as a plain user in a read-only system.
    for directive in [
        "SystemCallFilter=@system-service",
        "SystemCallFilter=~@privileged @resources",
        "SystemCallErrorNumber=EPERM",
        "ProtectProc=invisible",
        "ProcSubset=pid",
        "IPAddressDeny=169.254.0.0/16 fd00:ec2::254/128 100.100.100.200/32",
        "NoNewPrivileges=yes",
    ] {
        assert!(
            text.lines().any(|line| line == directive),
            "the unit sets {directive}: {text}"
        );
    }
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("systemd-analyze is installed (apt-get install systemd)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {stderr}");
    // Unknown or misspelt settings are only warned about: there must be none.
    assert!(
        !stderr.contains(unit.to_str().unwrap()) && !stderr.contains("botbox.service"),
        "systemd-analyze verify warns: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerunning_the_installer_upgrades_in_place_and_keeps_the_configuration_and_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let prefix = dir.path().join("botbox");
    let modules = modules_from(dir.path());
    install_ok(&non_interactive(&prefix, &modules, &fake)).await;
    let config_before = std::fs::read(prefix.join("botbox.toml")).unwrap();

    let bot = start_installed(&prefix);
    let alice = TestUser::alice();
    fake.send_text(&alice, "/start");
    fake.wait_for_bot_text(alice.id, "", WAIT).await.unwrap();
    send_expecting(&fake, &alice, "Click", "Clicks: 1").await;
    stop(bot).await;

    // The upgrade: another token is not taken, an old program file is replaced.
    std::fs::write(prefix.join("bin/botbox"), b"#!/bin/sh\necho botbox 0.0.1\n").unwrap();
    let mut args = base_args(&prefix, &modules, &fake);
    args.extend(["--yes".into(), "--token".into(), "999:OTHER".into()]);
    let output = install_ok(&args).await;
    assert!(output.contains("this upgrades it"), "{output}");
    assert!(output.contains("botbox 0.0.1 → botbox"), "{output}");
    assert_eq!(
        std::fs::read(prefix.join("botbox.toml")).unwrap(),
        config_before,
        "the configuration is kept"
    );
    assert_eq!(
        std::fs::read(prefix.join("bin/botbox")).unwrap(),
        std::fs::read(BOTBOX).unwrap()
    );

    // The data is kept: Alice's click counts on.
    let bot = start_installed(&prefix);
    send_expecting(&fake, &alice, "Click", "Clicks: 2").await;
    stop(bot).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uninstall_keeps_the_data_and_purge_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let prefix = dir.path().join("botbox");
    let modules = modules_from(dir.path());
    install_ok(&non_interactive(&prefix, &modules, &fake)).await;
    let bot = start_installed(&prefix);
    let alice = TestUser::alice();
    fake.send_text(&alice, "/start");
    fake.wait_for_bot_text(alice.id, "", WAIT).await.unwrap();
    stop(bot).await;
    assert!(prefix.join("data/botbox.redb").is_file());

    let remove = |purge: bool| {
        let mut args = vec![
            "--no-systemd".to_string(),
            "--yes".into(),
            "--prefix".into(),
            prefix.display().to_string(),
        ];
        args.push(if purge { "--purge" } else { "--uninstall" }.into());
        args
    };
    let output = install_ok(&remove(false)).await;
    assert!(output.contains("Kept"), "{output}");
    assert!(
        !prefix.join("bin/botbox").exists(),
        "the program is removed"
    );
    assert!(
        prefix.join("data/botbox.redb").is_file(),
        "the data is kept"
    );
    assert!(
        prefix.join("botbox.toml").is_file(),
        "the configuration is kept"
    );

    // Installing again finds everything as it was.
    install_ok(&non_interactive(&prefix, &modules, &fake)).await;
    let bot = start_installed(&prefix);
    send_expecting(&fake, &alice, "Click", "Clicks: 1").await;
    stop(bot).await;

    install_ok(&remove(true)).await;
    assert!(!prefix.exists(), "--purge removes everything");
    // Removing what is not there says so.
    let again = install(&remove(false)).await;
    assert!(!again.status.success());
    assert!(
        again.output.contains("there is no botbox installed"),
        "{}",
        again.output
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_given_to_a_non_interactive_install_is_explained_and_changes_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let prefix = dir.path().join("botbox");
    let modules = modules_from(dir.path());
    let mut args = base_args(&prefix, &modules, &fake);
    args.extend(["--yes".into(), "--token".into(), "123456:WRONG".into()]);
    let run = install(&args).await;
    assert!(!run.status.success(), "{}", run.output);
    assert!(
        run.output.contains("Telegram does not know this token"),
        "{}",
        run.output
    );
    assert!(run.output.contains("@BotFather"), "{}", run.output);
    assert!(
        !prefix.join("botbox.toml").exists(),
        "no configuration written"
    );
}
