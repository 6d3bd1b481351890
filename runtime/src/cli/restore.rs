//! `botbox restore`: a checked snapshot replaces the stopped bot's data, from a file or from
//! the operators' Telegram chat.

use anyhow::Context;

use crate::{Config, backup};

/// Runs `botbox restore --from-telegram`: fetches the snapshot pinned in the operators' chat
/// (`backup.telegram_chat_id`, with the bot token), checks it, and replaces the database (which
/// may not exist yet: a blank machine).
pub async fn restore_from_telegram(config: &Config) -> anyhow::Result<backup::SnapshotInfo> {
    let chat = config
        .backup
        .telegram_chat_id
        .context("set backup.telegram_chat_id: the chat the backups were sent to")?;
    anyhow::ensure!(
        !config.telegram.token.is_empty(),
        "the bot token is needed (telegram.token or BOTBOX_TOKEN)"
    );
    let url = reqwest::Url::parse(&config.telegram.api_url).context("telegram.api_url")?;
    let bot = teloxide_core::Bot::new(config.telegram.token.expose()).set_api_url(url);
    let (manifest, bytes) = backup::telegram::fetch(&bot, chat).await?;
    // The snapshot must be the one the manifest names before it replaces anything.
    let checked = backup::verify(bytes.as_slice())
        .context("the backup from Telegram does not verify; nothing was restored")?;
    anyhow::ensure!(
        checked.sha256 == manifest.sha256,
        "the snapshot from Telegram is not the one the pinned manifest names; nothing was restored"
    );
    let info = backup::restore(bytes.as_slice(), &config.data_dir)
        .context("the backup from Telegram was not restored")?;
    Ok(info)
}

/// Runs `botbox restore FILE`: checks the snapshot, then replaces the stopped runtime's database.
pub fn restore(config: &Config, file: &std::path::Path) -> anyhow::Result<backup::SnapshotInfo> {
    let input =
        std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    let info = backup::restore(std::io::BufReader::new(input), &config.data_dir)
        .with_context(|| format!("{} was not restored", file.display()))?;
    Ok(info)
}
