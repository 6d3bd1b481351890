//! `botbox backup`: a snapshot of the running or stopped bot, optionally sent to Telegram.

use std::path::PathBuf;

use anyhow::Context;

use super::target::{Target, call, target};
use crate::Config;

/// A snapshot written by `botbox backup`.
pub struct Written {
    /// Where.
    pub path: PathBuf,
    /// What the plain snapshot holds.
    pub info: crate::backup::SnapshotInfo,
    /// The file's bytes: sealed when `backup.encrypt_to` or `backup.passphrase_file` is set.
    pub bytes: Vec<u8>,
    /// Whether they are sealed.
    pub encrypted: bool,
}

/// Runs `botbox backup`: writes a snapshot to `out_file` (default
/// `<data_dir>/backups/botbox-<unix time>.bbk`), sealed as the configuration asks.
pub async fn backup(
    config: &Config,
    out_file: Option<PathBuf>,
    postgres: Option<&str>,
) -> anyhow::Result<Written> {
    let seal = crate::backup::Seal::from_config(&config.backup)?;
    let path = out_file.unwrap_or_else(|| {
        let now = crate::clock::unix_secs();
        config
            .data_dir
            .join("backups")
            .join(crate::backup::backup_file_name(now))
    });
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let bytes = match postgres {
        Some(url) => snapshot_of_postgres(url).await?,
        None => snapshot_of_data_dir(config).await?,
    };
    let info = crate::backup::verify(bytes.as_slice()).context("the snapshot does not verify")?;
    let encrypted = seal.is_on();
    let bytes = seal.seal(bytes)?;
    write_whole(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(Written {
        path,
        info,
        bytes,
        encrypted,
    })
}

/// Writes `bytes` to `path` whole or not at all: into a private temporary file beside it
/// (0600: a snapshot holds every module's data), flushed to disk, then renamed over `path`.
fn write_whole(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut part = tempfile::Builder::new()
        .prefix(".botbox-backup-")
        .suffix(".part")
        .tempfile_in(dir)?;
    part.write_all(bytes)?;
    part.as_file().sync_all()?;
    part.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Sends a snapshot written by [`backup`] to the operators' chat (`botbox backup --telegram`).
pub async fn send_to_telegram(config: &Config, written: &Written) -> anyhow::Result<()> {
    let chat = config
        .backup
        .telegram_chat_id
        .context("set backup.telegram_chat_id: the operators' chat")?;
    let url = reqwest::Url::parse(&config.telegram.api_url).context("telegram.api_url")?;
    let bot = teloxide_core::Bot::new(config.telegram.token.expose()).set_api_url(url);
    crate::backup::schedule::send(&bot, config, chat, &written.bytes, &written.info).await?;
    Ok(())
}

/// A snapshot of the bot in the data directory: through the running bot's admin API, or from
/// its database when it is stopped.
async fn snapshot_of_data_dir(config: &Config) -> anyhow::Result<Vec<u8>> {
    Ok(match target(config).await? {
        Target::Offline { db, .. } => {
            let mut out = Vec::new();
            crate::backup::write_snapshot(db.raw(), &mut out)?;
            out
        }
        Target::Online { url, token, http } => {
            let u = format!("{url}/v1/backup");
            call(&url, &token, http.post(&u))
                .await?
                .bytes()
                .await?
                .to_vec()
        }
    })
}

/// A snapshot of the bot in the PostgreSQL database at `url` (running or not: one consistent
/// read), in the same format as the embedded store's.
async fn snapshot_of_postgres(url: &str) -> anyhow::Result<Vec<u8>> {
    let store = crate::store::pg::PgStore::open(url).await?;
    let spool = tempfile::tempdir().context("a temporary directory")?;
    let db = redb::Database::create(spool.path().join("snapshot.redb"))?;
    store.backup_into(&db).await?;
    let mut out = Vec::new();
    crate::backup::write_snapshot(&db, &mut out)?;
    Ok(out)
}
