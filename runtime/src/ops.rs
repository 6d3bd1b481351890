//! Module management from outside the admin API: the watched modules directory, the circuit
//! breaker, and operators' commands in Telegram (`/install` with a `.wasm` document, `/modules`,
//! `/rollback <name>`).
//!
//! Messages to operators go straight through the Bot API, not through the outbox: they are few
//! (one per operator command or breaker trip), and they must reach the operators even when the
//! outbox is the thing that is stuck.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime},
};

use teloxide_core::{
    net::Download,
    prelude::Requester,
    types::{ChatId, FileId, Message, Update, UpdateKind},
};
use tokio::sync::{mpsc, watch};

use crate::{Runtime, module::ModuleEvent, registry::Registry};

/// The largest module accepted through Telegram (bots may download at most 20 MB).
const MAX_TELEGRAM_MODULE: u32 = 20 * 1024 * 1024;

/// Stops modules whose circuit breaker tripped, and tells the operators.
pub(crate) async fn breaker_watch(
    rt: Runtime,
    mut events: mpsc::UnboundedReceiver<ModuleEvent>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let event = tokio::select! {
            e = events.recv() => match e { Some(e) => e, None => return },
            _ = shutdown.changed() => return,
        };
        match event {
            ModuleEvent::BreakerTripped { module, reason } => {
                let n = rt.inner.config.sandbox.breaker_quarantines;
                let why = format!("circuit breaker: {n} updates in a row failed (last: {reason})");
                tracing::error!(module = %module, "stopping the module: {why}");
                if let Err(e) = rt.inner.registry.disable(&module, &why).await {
                    tracing::error!(module = %module, "cannot stop the module: {e}");
                    continue;
                }
                let text = format!(
                    "⚠️ Module `{module}` was stopped: {n} updates in a row failed.\nLast error: {}\nFix it and send a new version with /install, or /rollback {module}.",
                    cut(&reason, 600)
                );
                tell_operators(&rt, &text).await;
            }
        }
    }
}

async fn tell_operators(rt: &Runtime, text: &str) {
    for op in &rt.inner.config.telegram.operators {
        if let Err(e) = rt.inner.bot.send_message(ChatId(*op), text).await {
            tracing::warn!(operator = op, "cannot tell the operator: {e}");
        }
    }
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max).chain(std::iter::once('…')).collect()
    }
}

/// An operator's command to the host.
#[derive(Debug)]
pub(crate) enum OpCommand {
    /// `/install` as the caption of a document.
    Install {
        chat: i64,
        file_id: String,
        file_name: String,
        size: u32,
    },
    /// `/install` without a document.
    InstallWithoutFile { chat: i64 },
    /// `/modules`.
    List { chat: i64 },
    /// `/rollback <name>`.
    Rollback { chat: i64, name: String },
}

/// The host's own command in `update`, when an operator sent one. Anyone else's `/install`,
/// `/modules` or `/rollback` is not the host's business (a module may answer it).
pub(crate) fn operator_command(rt: &Runtime, update: &Update) -> Option<OpCommand> {
    let UpdateKind::Message(m) = &update.kind else {
        return None;
    };
    if rt.inner.config.telegram.operators.is_empty()
        || !rt.inner.registry.router().is_operator(m.from.as_ref())
    {
        return None;
    }
    parse(m, &rt.inner.registry.router())
}

fn parse(m: &Message, router: &crate::router::Router) -> Option<OpCommand> {
    let chat = m.chat.id.0;
    let text = m.text().or_else(|| m.caption())?;
    let (cmd, args) = router.command_of(text)?;
    match cmd.as_str() {
        "install" => Some(match m.document() {
            Some(d) => OpCommand::Install {
                chat,
                file_id: d.file.id.0.clone(),
                file_name: d.file_name.clone().unwrap_or_else(|| "module.wasm".into()),
                size: d.file.size,
            },
            None => OpCommand::InstallWithoutFile { chat },
        }),
        "modules" => Some(OpCommand::List { chat }),
        "rollback" => Some(OpCommand::Rollback {
            chat,
            name: args.trim().to_string(),
        }),
        _ => None,
    }
}

/// Carries out an operator's command and answers in the chat.
pub(crate) async fn run_operator_command(rt: Runtime, cmd: OpCommand) {
    let (chat, answer) = match cmd {
        OpCommand::InstallWithoutFile { chat } => (
            chat,
            "Send the module's .wasm file as a document with the caption /install.".to_string(),
        ),
        OpCommand::Install {
            chat,
            file_id,
            file_name,
            size,
        } => (chat, install(&rt, &file_id, &file_name, size).await),
        OpCommand::List { chat } => {
            let list = rt.inner.registry.list();
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
                                .map(|r| format!(": {}", cut(r, 100)))
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
        OpCommand::Rollback { chat, name } => {
            let text = if name.is_empty() {
                "Usage: /rollback <module name>".to_string()
            } else {
                match rt.inner.registry.rollback(&name).await {
                    Ok(done) => format!("Rolled back {} to version {}.", done.name, done.version),
                    Err(e) => format!("Not rolled back: {e}"),
                }
            };
            (chat, text)
        }
    };
    if let Err(e) = rt
        .inner
        .bot
        .send_message(ChatId(chat), cut(&answer, 4000))
        .await
    {
        tracing::warn!(chat, "cannot answer the operator: {e}");
    }
}

async fn install(rt: &Runtime, file_id: &str, file_name: &str, size: u32) -> String {
    if !file_name.ends_with(".wasm") {
        return format!("`{file_name}` is not a .wasm file: send the module's component file.");
    }
    if size > MAX_TELEGRAM_MODULE {
        return format!(
            "The file is {size} bytes; bots can download at most {MAX_TELEGRAM_MODULE}. Use `botbox module add` on the server instead."
        );
    }
    let bot = &rt.inner.bot;
    let file = match bot.get_file(FileId(file_id.to_string())).await {
        Ok(f) => f,
        Err(e) => return format!("Cannot get the file from Telegram: {e}"),
    };
    let mut bytes = Vec::new();
    if let Err(e) = bot.download_file(&file.path, &mut bytes).await {
        return format!("Cannot download the file: {e}");
    }
    match rt.inner.registry.install(&bytes, None).await {
        Ok(done) => match done.action.as_str() {
            "unchanged" => format!("{} {} is already running.", done.name, done.version),
            "added" => format!("Installed {} {}.", done.name, done.version),
            _ => format!(
                "Swapped {} to version {}. /rollback {} returns to the previous one.",
                done.name, done.version, done.name
            ),
        },
        Err(e) => format!("Refused, nothing changed: {e}"),
    }
}

/// What the watcher saw of one file.
#[derive(Clone, PartialEq, Eq)]
struct Seen {
    len: u64,
    modified: Option<SystemTime>,
}

/// Watches the modules directory: a new file is added, a replaced one swapped, a removed one
/// removed. A file is acted on once it looked the same at two looks in a row (so a copy in
/// progress is not read half-written), and a file that failed is tried again only when it
/// changes.
pub(crate) async fn watch_modules_dir(
    registry: Arc<Registry>,
    dir: PathBuf,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut last: HashMap<PathBuf, Seen> = look(&dir);
    // Files dealt with as they look now (installed, found unchanged or refused): read again
    // only once they change. At first, those whose content is what a module runs.
    let known = registry.files();
    let mut settled: HashMap<PathBuf, Seen> = last
        .iter()
        .filter(|(path, _)| {
            known
                .get(*path)
                .is_some_and(|(_, hash)| file_hash(path).as_ref() == Some(hash))
        })
        .map(|(p, s)| (p.clone(), s.clone()))
        .collect();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        let now = look(&dir);
        let known = registry.files();
        for (path, seen) in &now {
            if last.get(path) != Some(seen) || settled.get(path) == Some(seen) {
                continue;
            }
            settled.insert(path.clone(), seen.clone());
            let Ok(bytes) = std::fs::read(path) else {
                continue;
            };
            let hash = hash_of(&bytes);
            if known.get(path).is_some_and(|(_, h)| *h == hash) {
                continue;
            }
            match registry.install(&bytes, Some(path)).await {
                Ok(done) => {
                    tracing::info!(file = %path.display(), module = %done.name, version = %done.version, "{} from the modules directory", done.action);
                }
                Err(e) => {
                    tracing::error!(file = %path.display(), "module file refused: {e}");
                }
            }
        }
        // Looked up again: an install above may have moved a module to another file.
        for (path, (name, _)) in &registry.files() {
            if !now.contains_key(path) && last.contains_key(path) && !path.exists() {
                match registry.remove(name, true).await {
                    Ok(()) => {
                        tracing::info!(module = %name, "removed: its file left the modules directory")
                    }
                    Err(e) => tracing::warn!(module = %name, "cannot remove: {e}"),
                }
            }
        }
        settled.retain(|p, _| now.contains_key(p));
        last = now;
    }
}

fn hash_of(bytes: &[u8]) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes))
}

fn file_hash(path: &Path) -> Option<String> {
    std::fs::read(path).ok().map(|b| hash_of(&b))
}

fn look(dir: &Path) -> HashMap<PathBuf, Seen> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return HashMap::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "wasm"))
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            meta.is_file().then(|| {
                (
                    e.path(),
                    Seen {
                        len: meta.len(),
                        modified: meta.modified().ok(),
                    },
                )
            })
        })
        .collect()
}
