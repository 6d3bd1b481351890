//! `download-queue-downloader`: downloads the links the bot's download-queue module hands out.
//! See `../README.md` for running it beside the bot.

use clap::Parser as _;
use download_queue_downloader::{Settings, serve};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DQ_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    serve::run(Settings::parse()).await
}
