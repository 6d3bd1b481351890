//! The control plane: how operators and the host itself act on a running bot from outside the
//! data path. The admin API, the web console, operators' commands in Telegram, the circuit
//! breaker and the watched modules directory all act through the same
//! [`crate::modules::Registry`] calls.
//!
//! Messages to operators go straight through the Bot API, not through the outbox: they are few
//! (one per operator command or breaker trip), and they must reach the operators even when the
//! outbox is the thing that is stuck.

pub mod admin;
pub(crate) mod breaker;
pub(crate) mod command_menu;
pub mod console;
pub(crate) mod operator_commands;
pub(crate) mod watcher;

use teloxide_core::{Bot, prelude::Requester, types::ChatId};

/// Sends `text` to every operator, straight through the Bot API.
pub(crate) async fn tell_operators(bot: &Bot, operators: &[i64], text: &str) {
    for op in operators {
        if let Err(e) = bot.send_message(ChatId(*op), text).await {
            tracing::warn!(operator = op, "cannot tell the operator: {e}");
        }
    }
}
