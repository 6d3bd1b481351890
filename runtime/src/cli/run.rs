//! `botbox run`: the bot against Telegram until Ctrl-C, SIGTERM or a fatal error.

use anyhow::Context;

/// Runs the bot described by `config` until it is told to stop.
pub async fn run(config: crate::Config) -> anyhow::Result<()> {
    let runtime = crate::Runtime::start(config)
        .await
        .context("cannot start")?;
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
