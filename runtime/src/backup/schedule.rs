//! Backups on a schedule (`backup.interval_secs`, keeping the newest `backup.keep`), and the
//! copies sent to the operators' Telegram chat: each scheduled snapshot and one at shutdown.

use std::{path::Path, sync::Arc};

use teloxide_core::Bot;
use tokio::sync::watch;

use crate::{Config, Error, Result, store::Db};

/// Writes a snapshot every `backup.interval_secs` and keeps the newest `backup.keep`.
pub(crate) async fn run(
    db: Arc<Db>,
    bot: Bot,
    config: Config,
    mut shutdown: watch::Receiver<bool>,
) {
    let every = std::time::Duration::from_secs(config.backup.interval_secs);
    let dir = config.backup_dir();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        let (db, dir, keep) = (db.clone(), dir.clone(), config.backup.keep);
        let result = tokio::task::spawn_blocking(move || -> Result<std::path::PathBuf> {
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            let now = crate::clock::unix_secs();
            let path = dir.join(super::backup_file_name(now));
            // Written under a temporary name, so a crash never leaves a half file that looks
            // like a backup.
            let partial = path.with_extension("partial");
            let file = std::fs::File::create(&partial).map_err(|e| Error::io(&partial, e))?;
            let mut out = std::io::BufWriter::new(file);
            super::write_snapshot(db.raw(), &mut out)?;
            let file = out
                .into_inner()
                .map_err(|e| Error::io(&partial, e.into_error()))?;
            file.sync_all().map_err(|e| Error::io(&partial, e))?;
            std::fs::rename(&partial, &path).map_err(|e| Error::io(&path, e))?;
            super::prune_backups(&dir, keep)?;
            Ok(path)
        })
        .await;
        match result {
            Ok(Ok(path)) => {
                tracing::info!(file = %path.display(), "scheduled backup written");
                if let Some(chat) = config.backup.telegram_chat_id
                    && let Err(e) =
                        send_file_to_telegram(&bot, chat, &path, config.backup.telegram_part_bytes)
                            .await
                {
                    tracing::error!("backup not sent to Telegram: {e}");
                }
            }
            Ok(Err(e)) => tracing::error!("scheduled backup failed: {e}"),
            Err(e) => tracing::error!("scheduled backup failed: {e}"),
        }
    }
}

async fn send_file_to_telegram(bot: &Bot, chat: i64, path: &Path, part_bytes: usize) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let info = super::verify(bytes.as_slice())?;
    let manifest = super::telegram::send(bot, chat, &bytes, &info, part_bytes).await?;
    tracing::info!(
        chat,
        parts = manifest.parts.len(),
        "backup sent to Telegram"
    );
    Ok(())
}

/// A last snapshot at shutdown, sent to the operators' chat, so the chat has everything up to
/// the stop (when `backup.telegram_chat_id` is set).
pub(crate) async fn at_shutdown(db: Arc<Db>, bot: &Bot, config: &Config) {
    if let Some(chat) = config.backup.telegram_chat_id {
        // A last snapshot at shutdown, so the chat has everything up to the stop.
        let snapshot = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            super::write_snapshot(db.raw(), &mut out).map(|info| (out, info))
        })
        .await;
        let part_bytes = config.backup.telegram_part_bytes;
        let sent = match snapshot {
            Ok(Ok((bytes, info))) => {
                super::telegram::send(bot, chat, &bytes, &info, part_bytes).await
            }
            Ok(Err(e)) => Err(e),
            Err(e) => Err(Error::Join(e.to_string())),
        };
        match sent {
            Ok(m) => tracing::info!(
                chat,
                parts = m.parts.len(),
                "shutdown backup sent to Telegram"
            ),
            Err(e) => tracing::error!("shutdown backup not sent to Telegram: {e}"),
        }
    }
}
