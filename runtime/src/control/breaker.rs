//! The circuit breaker: a module whose updates keep failing is stopped, and the operators are
//! told in Telegram. Shards report trips as [`ModuleEvent`]s on a channel; this task acts.

use std::sync::Arc;

use teloxide_core::Bot;
use tokio::sync::{mpsc, watch};

use crate::{
    Config,
    modules::{ModuleEvent, Registry},
    text,
};

/// Stops modules whose circuit breaker tripped, and tells the operators.
pub(crate) async fn run(
    registry: Arc<Registry>,
    bot: Bot,
    config: Arc<Config>,
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
                let n = config.sandbox.breaker_quarantines;
                let why = format!("circuit breaker: {n} updates in a row failed (last: {reason})");
                tracing::error!(module = %module, "stopping the module: {why}");
                if let Err(e) = registry.disable(&module, &why).await {
                    tracing::error!(module = %module, "cannot stop the module: {e}");
                    continue;
                }
                let text = format!(
                    "⚠️ Module `{module}` was stopped: {n} updates in a row failed.\nLast error: {}\nFix it and send a new version with /install, or /rollback {module}.",
                    text::cut(&reason, 600)
                );
                super::tell_operators(&bot, &config.telegram.operators, &text).await;
            }
        }
    }
}
