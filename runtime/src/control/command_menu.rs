//! The bot's command menu in Telegram (the list behind the `/` button), kept to what the modules
//! declare: every user sees the commands anyone may use, each operator (in their private chat
//! with the bot) those and the operators' own, including the host's `/modules`, `/rollback` and
//! `/install`. Published with `setMyCommands` at start and after each change of modules, once
//! the changes settle, and only when the menu differs from what was published.

use std::{sync::Arc, time::Duration};

use teloxide_core::{
    Bot,
    payloads::SetMyCommandsSetters,
    prelude::Requester,
    types::{BotCommand, BotCommandScope, ChatId, Recipient},
};
use tokio::sync::watch;

use crate::modules::{Registry, Router};

/// Changes of modules closer together than this publish one menu.
const SETTLE: Duration = Duration::from_millis(500);
/// How long to wait before trying again after Telegram refused the menu.
const RETRY: Duration = Duration::from_secs(30);
/// Telegram's most commands in one menu.
const MAX_COMMANDS: usize = 100;

/// The host's commands, for operators.
const HOST_COMMANDS: &[(&str, &str)] = &[
    ("modules", "The modules, their versions and state"),
    ("rollback", "Roll a module back: /rollback <name>"),
    (
        "approve",
        "Swap in a module version awaiting approval: /approve <name>",
    ),
    (
        "install",
        "Install or swap a module: send its .wasm with this caption",
    ),
];

/// The menus to publish: everyone's, and the operators'.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Menus {
    everyone: Vec<(String, String)>,
    operators: Vec<(String, String)>,
}

impl Menus {
    fn of(router: &Router) -> Menus {
        let help = (!router.owns_command("help"))
            .then(|| ("help".to_string(), "List the commands".to_string()));
        let everyone: Vec<_> = router
            .described_commands(false)
            .into_iter()
            .chain(help.clone())
            .take(MAX_COMMANDS)
            .collect();
        let host = HOST_COMMANDS
            .iter()
            .map(|(c, d)| (c.to_string(), d.to_string()));
        let operators = router
            .described_commands(true)
            .into_iter()
            .filter(|(c, _)| !HOST_COMMANDS.iter().any(|(h, _)| h == c))
            .chain(help)
            .chain(host)
            .take(MAX_COMMANDS)
            .collect();
        Menus {
            everyone,
            operators,
        }
    }
}

/// Keeps the bot's command menu in step with the modules until shutdown.
pub(crate) async fn run(
    registry: Arc<Registry>,
    bot: Bot,
    operators: Vec<i64>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut changes = registry.watch_router();
    let mut published: Option<Menus> = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(SETTLE) => {}
            _ = shutdown.changed() => return,
        }
        changes.borrow_and_update();
        let menus = Menus::of(&registry.router());
        if published.as_ref() != Some(&menus) {
            match publish(&bot, &menus, &operators).await {
                Ok(()) => published = Some(menus),
                Err(e) => {
                    tracing::warn!(
                        "cannot set the bot's command menu: {e}; trying again in {RETRY:?}"
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(RETRY) => continue,
                        _ = shutdown.changed() => return,
                    }
                }
            }
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            _ = shutdown.changed() => return,
        }
    }
}

async fn publish(
    bot: &Bot,
    menus: &Menus,
    operators: &[i64],
) -> Result<(), teloxide_core::RequestError> {
    bot.set_my_commands(commands(&menus.everyone)).await?;
    for &operator in operators {
        let scope = BotCommandScope::Chat {
            chat_id: Recipient::Id(ChatId(operator)),
        };
        // An operator who never opened a chat with the bot has no menu to set: say so, and go on.
        if let Err(e) = bot
            .set_my_commands(commands(&menus.operators))
            .scope(scope)
            .await
        {
            tracing::warn!(operator, "cannot set the operator's command menu: {e}");
        }
    }
    tracing::info!(
        commands = menus.everyone.len(),
        "published the bot's command menu"
    );
    Ok(())
}

fn commands(list: &[(String, String)]) -> Vec<BotCommand> {
    list.iter()
        .map(|(c, d)| BotCommand::new(c.clone(), d.clone()))
        .collect()
}
