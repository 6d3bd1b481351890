//! The operator's backup keys (`backup.encrypt_to`, `backup.passphrase_file`): read and
//! checked here, at start, so a wrong key or a missing passphrase file stops the start rather
//! than a backup; `backup/crypt.rs` seals and opens snapshots with them.

use std::{path::Path, str::FromStr};

use age::secrecy::SecretString;

use super::BackupConfig;
use crate::{Error, Result};

/// The error for setting both ways of encrypting.
pub(crate) const BOTH: &str = "`backup.encrypt_to` and `backup.passphrase_file` cannot both be set: \
     an age file sealed with a passphrase has no other recipients (choose one)";

/// Parses one `backup.encrypt_to` entry.
pub(crate) fn parse_recipient(key: &str) -> Result<age::x25519::Recipient> {
    age::x25519::Recipient::from_str(key.trim()).map_err(|e| {
        Error::Config(format!(
            "`backup.encrypt_to`: {key:?} is not an age public key (age1…, from `age-keygen`): {e}"
        ))
    })
}

/// Reads a passphrase file: its first line, which may not be empty.
pub(crate) fn read_passphrase(path: &Path) -> Result<SecretString> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        return Err(Error::Config(format!(
            "the passphrase file {} is empty",
            path.display()
        )));
    }
    Ok(SecretString::from(line.to_owned()))
}

/// Checks the key settings: not both, every recipient an age public key, the passphrase file
/// readable and not empty.
pub(crate) fn check(config: &BackupConfig) -> Result<()> {
    match (&config.encrypt_to[..], &config.passphrase_file) {
        ([], None) => Ok(()),
        ([], Some(file)) => read_passphrase(file).map(drop),
        (keys, None) => keys.iter().try_for_each(|k| parse_recipient(k).map(drop)),
        (_, Some(_)) => Err(Error::Config(BOTH.into())),
    }
}
