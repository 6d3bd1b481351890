//! The newest backup manifest this bot has sent to (or restored from) its Telegram chat,
//! remembered in its data directory, so that `restore --from-telegram` can tell when the pinned
//! manifest is an older one: in a group, any member allowed to pin can pin an old manifest
//! again, and restoring it would roll the bot back.
//!
//! The record is `<data_dir>/backup-telegram-newest.json`, outside the database so that a
//! restore does not replace it. A blank machine has none: there, the date that `restore` prints
//! before it replaces anything is the operator's check.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::telegram::Manifest;
use crate::{Error, Result};

/// What is remembered of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// When its snapshot was taken, Unix seconds.
    pub created: u64,
    /// Its snapshot's SHA-256.
    pub sha256: String,
}

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("backup-telegram-newest.json")
}

/// The newest manifest remembered in `data_dir`, if any (an unreadable record counts as none).
pub fn load(data_dir: &Path) -> Option<Seen> {
    let text = std::fs::read(path(data_dir)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Remembers `manifest` unless a newer one is remembered already.
pub fn remember(data_dir: &Path, manifest: &Manifest) -> Result<()> {
    if load(data_dir).is_some_and(|seen| seen.created > manifest.created) {
        return Ok(());
    }
    let seen = Seen {
        created: manifest.created,
        sha256: manifest.sha256.clone(),
    };
    std::fs::create_dir_all(data_dir).map_err(|e| Error::io(data_dir, e))?;
    let file = path(data_dir);
    let json = serde_json::to_vec(&seen).expect("plain struct");
    let mut part = tempfile::NamedTempFile::new_in(data_dir).map_err(|e| Error::io(data_dir, e))?;
    std::io::Write::write_all(&mut part, &json).map_err(|e| Error::io(&file, e))?;
    part.persist(&file).map_err(|e| Error::io(&file, e.error))?;
    Ok(())
}

/// Refuses `manifest` if it is older than the newest one remembered in `data_dir`, unless
/// `allow_older`.
pub fn check(data_dir: &Path, manifest: &Manifest, allow_older: bool) -> Result<()> {
    match load(data_dir) {
        Some(seen) if seen.created > manifest.created && !allow_older => {
            Err(Error::Backup(format!(
                "the pinned manifest is from {}, older than the newest backup this bot sent or \
                 restored ({}): someone may have pinned an old manifest again. Nothing was \
                 restored; give --allow-older to restore it anyway",
                utc(manifest.created),
                utc(seen.created)
            )))
        }
        _ => Ok(()),
    }
}

/// `unix` seconds as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(unix: u64) -> String {
    let days = unix / 86_400;
    let secs = unix % 86_400;
    // Howard Hinnant's civil-from-days, for days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates_are_the_calendar_ones() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(super::utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(super::utc(1_798_761_599), "2026-12-31 23:59:59 UTC");
    }
}
