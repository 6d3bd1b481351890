//! Commands to the host in Telegram, recognized at intake and carried out by the control plane:
//! operators' `/install` with a `.wasm` document, `/modules`, `/rollback <name>` and
//! `/approve <name>`, and
//! everyone's `/help` when no module answers it itself.

use teloxide_core::types::{Update, UpdateKind};

use crate::modules::Router;

/// A command to the host.
#[derive(Debug)]
pub enum HostCommand {
    /// `/help`, which no module owns: the host lists every module's commands.
    Help {
        /// Where to answer.
        chat: i64,
        /// The commands, with their descriptions, the sender may use.
        commands: Vec<(String, String)>,
    },
    /// `/install` as the caption of a document.
    Install {
        /// Where to answer.
        chat: i64,
        /// Telegram's id of the document.
        file_id: String,
        /// Its name.
        file_name: String,
        /// Its size in bytes.
        size: u32,
    },
    /// `/install` without a document.
    InstallWithoutFile {
        /// Where to answer.
        chat: i64,
    },
    /// `/modules`.
    List {
        /// Where to answer.
        chat: i64,
    },
    /// `/approve <name>`: the version awaiting approval replaces the module.
    Approve {
        /// Where to answer.
        chat: i64,
        /// The module.
        name: String,
    },
    /// `/rollback <name>`.
    Rollback {
        /// Where to answer.
        chat: i64,
        /// The module.
        name: String,
    },
}

/// The host's own command in `update`: `/help` from anyone when no module owns it, the others
/// when an operator typed them in their private chat with the bot. Anyone else's `/install`, `/modules` or `/rollback` is not the
/// host's business (a module may answer it).
pub(crate) fn parse(update: &Update, router: &Router) -> Option<HostCommand> {
    let UpdateKind::Message(m) = &update.kind else {
        return None;
    };
    let chat = m.chat.id.0;
    let text = m.text().or_else(|| m.caption())?;
    let (cmd, args) = router.command_of(text)?;
    let operator = router.is_operator(m.from.as_ref());
    if cmd == "help" && !router.owns_command("help") {
        return Some(HostCommand::Help {
            chat,
            commands: router.described_commands(operator),
        });
    }
    // An operator's command counts only when the operator typed it in their private chat
    // with the bot: not forwarded (anyone can forward an operator's old message), not in a
    // group (where others see and can reply to the answers).
    if !operator || !m.chat.is_private() || m.forward_origin().is_some() {
        return None;
    }
    match cmd.as_str() {
        "install" => Some(match m.document() {
            Some(d) => HostCommand::Install {
                chat,
                file_id: d.file.id.0.clone(),
                file_name: d.file_name.clone().unwrap_or_else(|| "module.wasm".into()),
                size: d.file.size,
            },
            None => HostCommand::InstallWithoutFile { chat },
        }),
        "modules" => Some(HostCommand::List { chat }),
        "rollback" => Some(HostCommand::Rollback {
            chat,
            name: args.trim().to_string(),
        }),
        "approve" => Some(HostCommand::Approve {
            chat,
            name: args.trim().to_string(),
        }),
        _ => None,
    }
}
