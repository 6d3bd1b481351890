//! `botbox run`: the bot against Telegram until Ctrl-C, SIGTERM or a fatal error.

use anyhow::Context;

/// Runs the bot described by `config` until it is told to stop.
pub async fn run(config: crate::Config) -> anyhow::Result<()> {
    let backups = config.backup_dir();
    let runtime = match crate::Runtime::start_with(config, super::compiling_in_children()).await {
        Ok(runtime) => runtime,
        Err(e @ crate::Error::DamagedDatabase { .. }) => {
            return Err(anyhow::anyhow!("{e}\n{}", way_back(&backups)));
        }
        Err(e) => return Err(anyhow::Error::new(e).context("cannot start")),
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        msg = runtime.fatal() => return Err(anyhow::anyhow!(msg)),
    }
    tracing::info!("stopping");
    runtime.stop().await;
    Ok(())
}

/// What to do about a damaged database: restore the newest backup, if there is one.
pub(crate) fn way_back(backups: &std::path::Path) -> String {
    match crate::backup::newest_backup(backups) {
        Some(file) => format!(
            "The way back: `botbox restore {}` (the newest backup; the damaged file is kept as botbox.redb.before-restore), then start again.",
            file.display()
        ),
        None => format!(
            "No backup was found in {}. With backups in the operators' Telegram chat: `botbox restore --from-telegram`. The damaged file was left as it is.",
            backups.display()
        ),
    }
}
