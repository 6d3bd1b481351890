//! Backups on a schedule (`backup.interval_secs`, keeping the newest `backup.keep`), and the
//! copies sent to the operators' Telegram chat: each scheduled snapshot and one at shutdown.
//! All of them are sealed as `backup.encrypt_to` or `backup.passphrase_file` ask.

use std::{path::Path, sync::Arc};

use teloxide_core::Bot;
use tokio::sync::watch;

use super::{Seal, SnapshotInfo, source::Source};
use crate::{
    Config, Error, Result,
    store::{Db, pg::PgStore},
};

/// The seal the configuration asks for; `None` (after logging why) if it cannot be had.
pub(crate) fn seal(config: &Config) -> Option<Seal> {
    match Seal::from_config(&config.backup) {
        Ok(seal) => Some(seal),
        Err(e) => {
            tracing::error!("no backups are written: {e}");
            None
        }
    }
}

/// Writes a snapshot every `backup.interval_secs` and keeps the newest `backup.keep`.
pub(crate) async fn run(
    db: Arc<Db>,
    pg: Option<Arc<PgStore>>,
    bot: Bot,
    config: Config,
    mut shutdown: watch::Receiver<bool>,
) {
    let every = std::time::Duration::from_secs(config.backup.interval_secs);
    let dir = config.backup_dir();
    let Some(seal) = seal(&config).map(Arc::new) else {
        return;
    };
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        let source = match Source::of(&db, pg.as_deref()).await {
            Ok(source) => source,
            Err(e) => {
                tracing::error!("scheduled backup failed: {e}");
                continue;
            }
        };
        let (dir, keep, seal) = (dir.clone(), config.backup.keep, seal.clone());
        let result = tokio::task::spawn_blocking(move || {
            // Written under a temporary name, so a crash never leaves a half file that looks
            // like a backup.
            let written = super::write_backup_file(source.raw(), &dir, &seal)?;
            super::prune_backups(&dir, keep)?;
            Ok::<_, Error>(written)
        })
        .await;
        match result {
            Ok(Ok((path, info))) => {
                tracing::info!(file = %path.display(), "scheduled backup written");
                if let Some(chat) = config.backup.telegram_chat_id
                    && let Err(e) = send_file_to_telegram(&bot, &config, chat, &path, &info).await
                {
                    tracing::error!("backup not sent to Telegram: {e}");
                }
            }
            Ok(Err(e)) => tracing::error!("scheduled backup failed: {e}"),
            Err(e) => tracing::error!("scheduled backup failed: {e}"),
        }
    }
}

pub(crate) async fn send_file_to_telegram(
    bot: &Bot,
    config: &Config,
    chat: i64,
    path: &Path,
    info: &SnapshotInfo,
) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    send(bot, config, chat, &bytes, info).await
}

/// Sends a snapshot file (sealed or not) to the operators' chat, and remembers its manifest as
/// the newest (see [`super::newest`]).
pub(crate) async fn send(
    bot: &Bot,
    config: &Config,
    chat: i64,
    bytes: &[u8],
    info: &SnapshotInfo,
) -> Result<()> {
    let part_bytes = config.backup.telegram_part_bytes;
    let manifest = super::telegram::send(bot, chat, bytes, info, part_bytes).await?;
    super::newest::remember(&config.data_dir, &manifest)?;
    tracing::info!(
        chat,
        parts = manifest.parts.len(),
        encrypted = manifest.encrypted,
        "backup sent to Telegram"
    );
    Ok(())
}

/// A last snapshot at shutdown, sent to the operators' chat, so the chat has everything up to
/// the stop (when `backup.telegram_chat_id` is set).
pub(crate) async fn at_shutdown(db: Arc<Db>, pg: Option<&PgStore>, bot: &Bot, config: &Config) {
    let Some(chat) = config.backup.telegram_chat_id else {
        return;
    };
    let Some(seal) = seal(config) else {
        return;
    };
    let source = match Source::of(&db, pg).await {
        Ok(source) => source,
        Err(e) => {
            tracing::error!("shutdown backup not sent to Telegram: {e}");
            return;
        }
    };
    let snapshot = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let info = super::write_snapshot(source.raw(), &mut out)?;
        Ok::<_, Error>((seal.seal(out)?, info))
    })
    .await;
    let sent = match snapshot {
        Ok(Ok((bytes, info))) => send(bot, config, chat, &bytes, &info).await,
        Ok(Err(e)) => Err(e),
        Err(e) => Err(Error::Join(e.to_string())),
    };
    if let Err(e) = sent {
        tracing::error!("shutdown backup not sent to Telegram: {e}");
    }
}
