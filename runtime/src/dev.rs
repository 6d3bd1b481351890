//! `botbox dev`: the runtime against an in-process fake Telegram, with a chat in the terminal.
//!
//! The person at the terminal is a Telegram user. Each line they type is a message to the bot;
//! a line equal to the label of an inline button on the bot's latest message presses that
//! button (reply-keyboard buttons send their label as a message anyway, as in Telegram). The
//! bot's messages are printed with their keyboards: `[Label]` for reply keyboards, `(Label)`
//! for inline buttons. End of input (Ctrl-D) waits for the bot's last replies, then quits.

use std::{
    io::Write,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Context;
use fake_bot_api::{ChatEntry, ChatEvent, FakeBotApi, FakeConfig, Markup, TestUser};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::{Config, Runtime, config::Secret};

/// Options of `botbox dev`.
#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// Load the modules in this directory instead of building the example modules from source.
    #[arg(long)]
    pub modules: Option<PathBuf>,
    /// Keep the bot's data here; by default a temporary directory, deleted on exit.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Your first name in the chat.
    #[arg(long, default_value = "Dev")]
    pub name: String,
}

/// Runs the simulator until end of input.
pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    let temp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| temp.path().join("data"));
    let modules_dir = match &args.modules {
        Some(dir) => dir.clone(),
        None => build_examples(temp.path()).await?,
    };
    // Update ids continue above those a kept data dir has seen, as Telegram's would.
    let first_update_id = match &args.data_dir {
        Some(dir) if dir.join("botbox.redb").exists() => {
            let last = crate::store::Db::open(dir)?.last_seen()?.unwrap_or(0);
            i64::try_from(last).unwrap_or(i64::MAX - 1) + 1
        }
        _ => 1,
    };
    let fake = FakeBotApi::start(FakeConfig {
        first_update_id,
        ..FakeConfig::default()
    })?;
    let mut config = Config {
        data_dir,
        modules_dir,
        ..Config::default()
    };
    config.telegram.token = Secret::new(fake.token());
    config.telegram.api_url = fake.api_url().to_string();
    config.telegram.poll_timeout_secs = 1;
    let runtime = Runtime::start(config)
        .await
        .context("cannot start the runtime")?;
    let user = TestUser::new(1000, args.name.clone());
    let modules = runtime.modules().into_keys().collect::<Vec<_>>().join(", ");
    println!(
        "botbox dev: you are {} chatting with @{} (modules: {modules}).\n\
         Type a message, or a button's label to press it. Ctrl-D quits.",
        user.first_name,
        fake.bot_username(),
    );
    let mut events = fake.subscribe();
    let printer = tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            print_event(&event);
        }
    });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let pressable = last_bot_message(&fake, user.id).is_some_and(|m| {
            m.inline_button(line)
                .is_some_and(|b| b.callback_data.is_some())
        });
        if pressable {
            fake.press_inline_label(&user, user.id, line)?;
        } else {
            fake.send_text(&user, line);
        }
    }
    wait_until_quiet(&fake, &runtime).await;
    printer.abort();
    runtime.stop().await;
    fake.shutdown();
    Ok(())
}

fn last_bot_message(fake: &FakeBotApi, chat: i64) -> Option<ChatEntry> {
    fake.transcript(chat)
        .into_iter()
        .rev()
        .find(|e| e.from_bot && !e.deleted)
}

/// Waits until every update was fetched and no reply came for a while (at most 30 s).
async fn wait_until_quiet(fake: &FakeBotApi, runtime: &Runtime) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut last = (usize::MAX, u64::MAX);
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let now = (
            fake.pending_updates(),
            runtime
                .outbox_stats()
                .delivered
                .load(std::sync::atomic::Ordering::Relaxed),
        );
        if now.0 == 0 && now == last && runtime.db().outbox().is_ok_and(|o| o.is_empty()) {
            return;
        }
        last = now;
    }
}

fn print_event(event: &ChatEvent) {
    let mut out = std::io::stdout().lock();
    let _ = match event {
        ChatEvent::BotSent { entry, .. } => print_message(&mut out, "bot", entry),
        ChatEvent::BotEdited { entry, .. } => print_message(&mut out, "bot (edited)", entry),
        ChatEvent::BotDeleted { entry, .. } => {
            writeln!(
                out,
                "bot deleted: {}",
                entry.text.lines().next().unwrap_or_default()
            )
        }
        ChatEvent::CallbackAnswered { answer, .. } => match &answer.text {
            Some(t) => writeln!(out, "bot (notification): {t}"),
            None => Ok(()),
        },
    };
    let _ = out.flush();
}

fn print_message(out: &mut impl Write, who: &str, entry: &ChatEntry) -> std::io::Result<()> {
    let mut lines = entry.text.lines();
    writeln!(out, "{who}: {}", lines.next().unwrap_or_default())?;
    let pad = " ".repeat(who.len() + 2);
    for l in lines {
        writeln!(out, "{pad}{l}")?;
    }
    match &entry.reply_markup {
        Some(Markup::Keyboard(k)) => {
            for row in &k.rows {
                let row: Vec<_> = row.iter().map(|l| format!("[{l}]")).collect();
                writeln!(out, "{pad}{}", row.join(" "))?;
            }
        }
        Some(Markup::Inline(rows)) => {
            for row in rows {
                let row: Vec<_> = row.iter().map(|b| format!("({})", b.text)).collect();
                writeln!(out, "{pad}{}", row.join(" "))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Builds the example modules from this source tree; returns a directory holding them.
async fn build_examples(temp: &Path) -> anyhow::Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("no source tree")?
        .to_path_buf();
    let manifest = root.join("example-modules/Cargo.toml");
    anyhow::ensure!(
        manifest.exists(),
        "the example modules' sources are not at {}; pass --modules DIR",
        manifest.display()
    );
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("botbox-guests");
    eprintln!("building the example modules (first time: about a minute)...");
    let built = tokio::task::spawn_blocking(move || {
        botbox_guest_build::build(&manifest, &target, botbox_guest_build::Profile::Release)
    })
    .await??;
    let dir = temp.join("modules");
    std::fs::create_dir_all(&dir)?;
    for wasm in built {
        let name = wasm.file_name().context("module file name")?;
        std::fs::copy(&wasm, dir.join(name))?;
    }
    Ok(dir)
}
