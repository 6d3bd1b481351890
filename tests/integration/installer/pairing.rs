//! Pairing with the operator on a terminal: the installer shows a long random code, only that
//! code alone in a message typed by a person pairs, and the installer asks "is this you?" with
//! the sender's name before it makes them the operator (who receives every backup).

use std::{process::Stdio, sync::Arc, time::Duration};

use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{INSTALLER, base_args, modules_from, start_installed, stop};
use crate::support::*;

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

    /// Waits for the pairing code the installer shows and returns it, checking its form: 12
    /// characters from a 32-letter alphabet (60 random bits).
    async fn pairing_code(&mut self) -> String {
        let rest = self
            .expect("send the bot this code, alone in a message:")
            .await;
        let code: String = rest
            .trim_start()
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        assert_eq!(code.len(), 12, "a 12-character code: {rest:?}");
        assert!(
            code.chars()
                .all(|c| "ABCDEFGHJKLMNPQRSTUVWXYZ23456789".contains(c)),
            "{code}"
        );
        code
    }

    /// Runs the installer on a terminal up to the pairing code, which it returns.
    async fn up_to_the_pairing_code(
        prefix: &std::path::Path,
        modules: &std::path::Path,
        fake: &FakeBotApi,
    ) -> (Terminal, String) {
        let command = std::iter::once("bash".to_string())
            .chain(std::iter::once(INSTALLER.to_string()))
            .chain(base_args(prefix, modules, fake))
            .map(|a| shell_quote(&a))
            .collect::<Vec<_>>()
            .join(" ");
        let mut term = Terminal::start(&command);
        term.expect("Continue? [Y/n]").await;
        term.type_line("").await;
        term.expect("Paste the token here and press Enter:").await;
        term.type_line(fake.token()).await;
        term.expect("your bot is @botbox_test_bot").await;
        let code = term.pairing_code().await;
        (term, code)
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

    // The operator is asked to send the bot a code, does, and confirms it was them.
    let code = term.pairing_code().await;
    let alice = TestUser::alice();
    let stranger = TestUser::bob();
    fake.send_text(&stranger, "hello bot");
    fake.send_text(&alice, "/start");
    fake.send_text(&alice, &code);
    term.expect(&format!(
        "The code came from Alice (@alice), Telegram user id {}.",
        alice.id
    ))
    .await;
    term.expect("Is this you?").await;
    term.type_line("yes").await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_inside_a_longer_message_or_forwarded_does_not_pair_and_a_disowned_sender_voids_it()
 {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let prefix = dir.path().join("botbox");
    let modules = modules_from(dir.path());
    let (mut term, code) = Terminal::up_to_the_pairing_code(&prefix, &modules, &fake).await;
    let alice = TestUser::alice();
    let mallory = TestUser::new(666, "Mallory");

    // Many codes in one long message (the old six-digit code took ~245 such messages to cover
    // them all): holding the code is not enough.
    fake.send_text(&mallory, format!("000001 {code} 999999"));
    term.expect("a message from Mallory holds the code among other text: ignored")
        .await;
    // Alice forwards the code Mallory sent her: the words are Mallory's.
    fake.inject_raw_update(serde_json::json!({
        "update_id": 9_000_001,
        "message": {
            "message_id": 77, "date": 1_700_000_000, "text": code,
            "chat": {"id": alice.id, "type": "private", "first_name": "Alice"},
            "from": {"id": alice.id, "is_bot": false, "first_name": "Alice"},
            "forward_origin": {"type": "user", "date": 1_600_000_000,
                "sender_user": {"id": mallory.id, "is_bot": false, "first_name": "Mallory"}},
            "forward_date": 1_600_000_000
        }
    }));
    term.expect("Alice forwarded a message with the code: ignored")
        .await;

    // Mallory read the code over Alice's shoulder and sends it alone: the installer names
    // Mallory and asks; Alice says no, and that code is void.
    fake.send_text(&mallory, &code);
    term.expect("The code came from Mallory, Telegram user id 666.")
        .await;
    term.expect("Is this you?").await;
    term.type_line("maybe").await;
    term.expect("Please answer yes or no.").await;
    term.type_line("no").await;
    term.expect("then someone else sent the code: it is void")
        .await;
    let new_code = term.pairing_code().await;
    assert_ne!(new_code, code);
    fake.send_text(&mallory, &code);
    fake.send_text(&alice, new_code.to_lowercase());
    term.expect(&format!(
        "The code came from Alice (@alice), Telegram user id {}.",
        alice.id
    ))
    .await;
    term.type_line("yes").await;
    term.expect("Done: botbox is installed.").await;
    let status = tokio::time::timeout(WAIT, term.child.wait())
        .await
        .expect("the installer finishes")
        .unwrap();
    assert!(status.success(), "{}", term.screen.lock());
    let screen = term.screen.lock().clone();
    assert!(!screen.contains("Mallory (@"), "{screen}");
    let config = std::fs::read_to_string(prefix.join("botbox.toml")).unwrap();
    assert!(
        config.contains(&format!("operators = [{}]", alice.id)),
        "{config}"
    );
    assert!(config.contains(&format!("telegram_chat_id = {}", alice.id)));
    assert!(!config.contains("666"), "{config}");
}
