//! `installer/install.sh`, run for real into a temporary prefix against the fake Bot API: the
//! non-interactive install, the interactive one driven through its prompts on a terminal
//! (a pty made by `script`), upgrades, removal, and the service unit it writes.

use std::{
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    sync::Arc,
    time::Duration,
};

use crate::support::*;
use botbox_test_artifacts::CLICKER;
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const INSTALLER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../installer/install.sh");
const BOTBOX: &str = env!("CARGO_BIN_EXE_botbox");

/// A directory holding the modules the installer installs (the built example modules).
fn modules_from(root: &Path) -> PathBuf {
    let dir = root.join("release-modules");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(CLICKER, dir.join("clicker.wasm")).unwrap();
    dir
}

/// The options every test gives: this build's binary and modules, the fake, a free admin port.
fn base_args(prefix: &Path, modules: &Path, fake: &FakeBotApi) -> Vec<String> {
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

struct Run {
    status: ExitStatus,
    output: String,
}

/// Runs the installer with no terminal and no standard input, as automation would.
async fn install(args: &[String]) -> Run {
    let out = tokio::process::Command::new("bash")
        .arg(INSTALLER)
        .args(args)
        .env_remove("BOTBOX_TOKEN")
        .env_remove("BOTBOX_BINARY")
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

async fn install_ok(args: &[String]) -> String {
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
fn start_installed(prefix: &Path) -> tokio::process::Child {
    tokio::process::Command::new(prefix.join("bin/botbox"))
        .args(["run", "--config"])
        .arg(prefix.join("botbox.toml"))
        .env("BOTBOX_LOG", "warn")
        .current_dir(prefix)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the installed botbox")
}

/// Stops the bot as systemd does (SIGTERM) and waits for it.
async fn stop(mut bot: tokio::process::Child) {
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
        !text.contains('@'),
        "every placeholder is filled in: {text}"
    );
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

/// A terminal session: the installer runs under `script`, which gives it a pseudo-terminal;
/// the test reads what it prints and types answers.
struct Terminal {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    screen: Arc<Mutex<String>>,
    /// How much of the screen was consumed by earlier `expect`s.
    seen: usize,
}

/// Drops terminal escape sequences (colours) and carriage returns.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                if chars.next() == Some('[') {
                    for c in chars.by_ref() {
                        if c.is_ascii_alphabetic() {
                            break;
                        }
                    }
                }
            }
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

impl Terminal {
    fn start(command: &str) -> Terminal {
        let mut child = tokio::process::Command::new("script")
            .args(["-qfec", command, "/dev/null"])
            .env("TERM", "dumb")
            .env("BOTBOX_OPERATOR_TIMEOUT", "60")
            .env_remove("BOTBOX_TOKEN")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("script (util-linux) runs");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let screen = Arc::new(Mutex::new(String::new()));
        let s = screen.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            let mut raw = Vec::new();
            while let Ok(n) = stdout.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                raw.extend_from_slice(&buf[..n]);
                *s.lock() = plain(&String::from_utf8_lossy(&raw));
            }
        });
        Terminal {
            child,
            stdin,
            screen,
            seen: 0,
        }
    }

    /// Waits until the installer prints `needle` (after what earlier calls consumed).
    async fn expect(&mut self, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            {
                let screen = self.screen.lock();
                if let Some(at) = screen[self.seen..].find(needle) {
                    let end = self.seen + at + needle.len();
                    let rest = screen[end..].to_string();
                    self.seen = end;
                    return rest;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the installer never printed {needle:?}; the screen:\n{}",
                self.screen.lock()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn type_line(&mut self, line: &str) {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        self.stdin.flush().await.unwrap();
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_interactive_installer_explains_a_wrong_token_asks_again_and_finds_the_operator() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let prefix = dir.path().join("botbox");
    let modules = modules_from(dir.path());
    let command = std::iter::once("bash".to_string())
        .chain(std::iter::once(INSTALLER.to_string()))
        .chain(base_args(&prefix, &modules, &fake))
        .map(|a| shell_quote(&a))
        .collect::<Vec<_>>()
        .join(" ");
    let mut term = Terminal::start(&command);

    term.expect("Continue? [Y/n]").await;
    term.type_line("").await;
    term.expect("Paste the token here and press Enter:").await;
    {
        let screen = term.screen.lock();
        assert!(
            screen.contains("@BotFather"),
            "says where tokens come from: {screen}"
        );
    }
    term.type_line("123456:WRONG-TOKEN").await;
    term.expect("Telegram does not know this token").await;
    term.expect("Let's try again.").await;
    term.expect("Paste the token here and press Enter:").await;
    term.type_line("my token").await;
    term.expect("That is not a bot token").await;
    term.expect("Paste the token here and press Enter:").await;
    term.type_line(fake.token()).await;
    term.expect("your bot is @botbox_test_bot").await;

    // The operator is asked to send the bot a number, and does.
    let rest = term.expect("send the bot this number:").await;
    let code: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(code.len(), 6, "a six-digit number: {rest:?}");
    let alice = TestUser::alice();
    let stranger = TestUser::bob();
    fake.send_text(&stranger, "hello bot");
    fake.send_text(&alice, "/start");
    fake.send_text(&alice, &code);
    term.expect(&format!(
        "hello, Alice! Your Telegram user id is {}.",
        alice.id
    ))
    .await;
    term.expect("Done: botbox is installed.").await;
    let status = tokio::time::timeout(WAIT, term.child.wait())
        .await
        .expect("the installer finishes")
        .unwrap();
    assert!(status.success(), "{}", term.screen.lock());

    let config = std::fs::read_to_string(prefix.join("botbox.toml")).unwrap();
    assert!(config.contains(&format!("token = \"{}\"", fake.token())));
    assert!(config.contains(&format!("telegram_chat_id = {}", alice.id)));
    assert!(config.contains(&format!("operators = [{}]", alice.id)));
    assert!(!config.contains("WRONG"));
    // The installed bot works.
    let bot = start_installed(&prefix);
    fake.send_text(&alice, "/start");
    send_expecting(&fake, &alice, "Click", "Clicks: 1").await;
    stop(bot).await;
}
