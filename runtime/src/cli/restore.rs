//! `botbox restore`: a checked snapshot replaces the stopped bot's data, from a file or from
//! the operators' Telegram chat.

use std::io::Write;

use anyhow::Context;

use crate::{
    Config,
    backup::{self, Keys, newest},
};

/// The keys given on the command line; without any, the configuration's own
/// `backup.passphrase_file` (a machine that makes passphrase-sealed backups can read them).
fn keys_or_configured(config: &Config, keys: &Keys) -> anyhow::Result<Option<Keys>> {
    match &config.backup.passphrase_file {
        Some(file) if keys.is_empty() => Ok(Some(Keys::from_files(None, Some(file))?)),
        _ => Ok(None),
    }
}

/// Runs `botbox restore --from-telegram`: fetches the snapshot pinned in the operators' chat
/// (`backup.telegram_chat_id`, with the bot token), says what it is about to restore, checks it,
/// and replaces the database (which may not exist yet: a blank machine).
///
/// A manifest older than the newest one this machine sent or restored is refused unless
/// `allow_older` (see [`newest`]).
pub async fn restore_from_telegram(
    config: &Config,
    keys: &Keys,
    allow_older: bool,
    out: &mut impl Write,
) -> anyhow::Result<backup::SnapshotInfo> {
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
    writeln!(
        out,
        "the pinned backup: taken {}, {} bytes in {} part(s), {}, {}",
        newest::utc(manifest.created),
        manifest.bytes,
        manifest.parts.len(),
        if manifest.tables == 0 && manifest.records == 0 {
            "tables and records not recorded".to_string()
        } else {
            format!("{} records in {} tables", manifest.records, manifest.tables)
        },
        if manifest.encrypted {
            "encrypted"
        } else {
            "not encrypted"
        }
    )?;
    newest::check(&config.data_dir, &manifest, allow_older)?;
    let configured = keys_or_configured(config, keys)?;
    // The snapshot must be the one the manifest names before it replaces anything.
    let info = backup::restore_with(
        bytes.as_slice(),
        &config.data_dir,
        configured.as_ref().unwrap_or(keys),
        Some(&manifest.sha256),
    )
    .context("the backup from Telegram was not restored")?;
    newest::remember(&config.data_dir, &manifest)?;
    Ok(info)
}

/// Runs `botbox restore FILE`: checks the snapshot, then replaces the stopped runtime's database.
pub fn restore(
    config: &Config,
    file: &std::path::Path,
    keys: &Keys,
) -> anyhow::Result<backup::SnapshotInfo> {
    let input =
        std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    let configured = keys_or_configured(config, keys)?;
    let info = backup::restore_with(
        std::io::BufReader::new(input),
        &config.data_dir,
        configured.as_ref().unwrap_or(keys),
        None,
    )
    .with_context(|| format!("{} was not restored", file.display()))?;
    Ok(info)
}

/// Runs `botbox restore FILE --postgres URL`: checks the snapshot, then copies it into the
/// PostgreSQL database at `url`, which must hold no bot yet (one transaction: all or nothing).
pub async fn restore_into_postgres(
    config: &Config,
    file: &std::path::Path,
    keys: &Keys,
    url: &str,
) -> anyhow::Result<backup::SnapshotInfo> {
    let not_restored = || format!("{} was not restored into PostgreSQL", file.display());
    let input =
        std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    let configured = keys_or_configured(config, keys)?;
    let spool = tempfile::tempdir().context("a temporary directory")?;
    let (info, db) = backup::read_into_new(
        std::io::BufReader::new(input),
        configured.as_ref().unwrap_or(keys),
        &spool.path().join("snapshot.redb"),
    )
    .with_context(not_restored)?;
    let store = crate::store::pg::PgStore::open(url)
        .await
        .with_context(not_restored)?;
    store.restore_from(&db).await.with_context(not_restored)?;
    Ok(info)
}
