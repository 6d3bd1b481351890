//! The `botbox` command.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// A Telegram bot runtime whose features are sandboxed WebAssembly modules.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the bot against Telegram (token from the config file or BOTBOX_TOKEN).
    Run {
        /// The configuration file; `botbox.toml` is used when it exists.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Chat with the bot in this terminal: a local Telegram simulator, no token needed.
    Dev(botbox::dev::DevArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let default_level = match cli.command {
        Command::Dev(_) => "warn",
        Command::Run { .. } => "info",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BOTBOX_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        match cli.command {
            Command::Run { config } => run(config).await,
            Command::Dev(args) => botbox::dev::run(args).await,
        }
    })
}

async fn run(config: Option<PathBuf>) -> anyhow::Result<()> {
    let path = config.or_else(|| {
        let p = PathBuf::from("botbox.toml");
        p.exists().then_some(p)
    });
    let config = botbox::Config::load(path.as_deref()).context("cannot load the configuration")?;
    let runtime = botbox::Runtime::start(config)
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
