//! Carries out commands to the host (recognized at intake, see [`crate::intake::HostCommand`]):
//! operators' commands and everyone's `/help`, and answers in their chat.

use std::sync::Arc;

use teloxide_core::{
    Bot,
    net::Download,
    prelude::Requester,
    types::{ChatId, FileId},
};
use tokio::sync::{mpsc, watch};

use crate::{
    intake::HostCommand,
    modules::{
        Registry,
        registry::{Action, Awaiting, Expect, Installed},
    },
    text,
};

/// The largest module accepted through Telegram (bots may download at most 20 MB).
const MAX_TELEGRAM_MODULE: u32 = 20 * 1024 * 1024;

/// Carries out each command as it comes, until shutdown; commands run side by side, so a slow
/// download does not hold up `/modules`.
pub(crate) async fn run(
    registry: Arc<Registry>,
    bot: Bot,
    mut commands: mpsc::UnboundedReceiver<HostCommand>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let cmd = tokio::select! {
            c = commands.recv() => match c { Some(c) => c, None => return },
            _ = shutdown.changed() => return,
        };
        tokio::spawn(carry_out(registry.clone(), bot.clone(), cmd));
    }
}

/// Carries out an operator's command and answers in the chat.
async fn carry_out(registry: Arc<Registry>, bot: Bot, cmd: HostCommand) {
    let (chat, answer) = match cmd {
        HostCommand::Help { chat, commands } => (chat, help(&commands)),
        HostCommand::InstallWithoutFile { chat } => (
            chat,
            "Send the module's .wasm file as a document with the caption /install.".to_string(),
        ),
        HostCommand::Install {
            chat,
            file_id,
            file_name,
            size,
        } => (
            chat,
            install(&registry, &bot, &file_id, &file_name, size).await,
        ),
        HostCommand::List { chat } => {
            let list = registry.list();
            let text = if list.is_empty() {
                "No modules.".to_string()
            } else {
                list.iter()
                    .map(|m| {
                        format!(
                            "• {} {} — {}{} ({} calls, {} errors, {} traps)",
                            m.name,
                            m.version,
                            m.state,
                            m.disabled_reason
                                .as_deref()
                                .map(|r| format!(": {}", text::cut(r, 100)))
                                .unwrap_or_default(),
                            m.calls,
                            m.errors,
                            m.traps
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            (chat, text)
        }
        HostCommand::Approve { chat, name } => {
            let text = if name.is_empty() {
                "Usage: /approve <module name>".to_string()
            } else {
                match registry.approve(&name).await {
                    Ok(done) => done_text(&done),
                    Err(e) => format!("Not approved, nothing changed: {e}"),
                }
            };
            (chat, text)
        }
        HostCommand::Rollback { chat, name } => {
            let text = if name.is_empty() {
                "Usage: /rollback <module name>".to_string()
            } else {
                match registry.rollback(&name).await {
                    Ok(done) => format!("Rolled back {} to version {}.", done.name, done.version),
                    Err(e) => format!("Not rolled back: {e}"),
                }
            };
            (chat, text)
        }
    };
    if let Err(e) = bot
        .send_message(ChatId(chat), text::cut(&answer, 4000))
        .await
    {
        tracing::warn!(chat, "cannot answer the operator: {e}");
    }
}

/// The answer to `/help`: every command the sender may use, one per line.
fn help(commands: &[(String, String)]) -> String {
    if commands.is_empty() {
        return "This bot has no commands yet.".to_string();
    }
    let lines: Vec<String> = commands
        .iter()
        .map(|(cmd, description)| format!("/{cmd} — {description}"))
        .collect();
    format!("Commands:\n{}", lines.join("\n"))
}

async fn install(
    registry: &Registry,
    bot: &Bot,
    file_id: &str,
    file_name: &str,
    size: u32,
) -> String {
    if !file_name.ends_with(".wasm") {
        return format!("`{file_name}` is not a .wasm file: send the module's component file.");
    }
    if size > MAX_TELEGRAM_MODULE {
        return format!(
            "The file is {size} bytes; bots can download at most {MAX_TELEGRAM_MODULE}. Use `botbox module add` on the server instead."
        );
    }
    let file = match bot.get_file(FileId(file_id.to_string())).await {
        Ok(f) => f,
        Err(e) => return format!("Cannot get the file from Telegram: {e}"),
    };
    let mut bytes = Vec::new();
    if let Err(e) = bot.download_file(&file.path, &mut bytes).await {
        return format!("Cannot download the file: {e}");
    }
    match registry
        .install_expecting(&bytes, Expect::NewOrAsk, false)
        .await
    {
        Ok(done) => done_text(&done),
        Err(e) if Awaiting::of(&e).is_some() => {
            let a = Awaiting::of(&e).expect("checked above");
            format!(
                "{} is running; this file is {} {}. It asks for:\n{}\nNothing changes until you send /approve {}",
                a.name,
                a.name,
                a.version,
                a.changes.lines().join("\n"),
                a.name
            )
        }
        Err(e) => format!("Refused, nothing changed: {e}"),
    }
}

/// What a change did, with what the module now asks for.
fn done_text(done: &Installed) -> String {
    let head = match done.action {
        Action::Unchanged => return format!("{} {} is already running.", done.name, done.version),
        Action::Added => format!("Installed {} {}.", done.name, done.version),
        _ => format!(
            "Swapped {} to version {}. /rollback {} returns to the previous one.",
            done.name, done.version, done.name
        ),
    };
    format!("{head}\n{}", done.changes.lines().join("\n"))
}
