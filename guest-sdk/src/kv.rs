//! The module's key-value store: a private namespace of byte keys and byte values, ordered by key.
//!
//! Writes made while handling an update become durable together with the update's outgoing
//! messages, atomically, when the handler returns `Ok`; if it fails or panics they are discarded.
//! Reads see the handler's own earlier writes. The host serialises concurrent handlers: one whose
//! reads were changed underneath it is simply run again, so a read-modify-write needs no locking.
//!
//! Keys sort as bytes, so a well-chosen key is an index: [`Key`] builds keys from big-endian
//! numbers that sort like the numbers, and [`scan`] walks a prefix in order, one bounded page at a
//! time. [`get_json`] and [`set_json`] store any serde type as JSON.
//!
//! ```no_run
//! # fn main() -> Result<(), botbox_sdk::kv::Error> {
//! use botbox_sdk::kv;
//!
//! let visits = kv::increment("visits", 1)?;
//! kv::set("greeting", "hello")?;
//! for entry in kv::scan("user/").limit(10) {
//!     let entry = entry?;
//!     // entry.key, entry.value
//! }
//! # Ok(()) }
//! ```
//!
//! # Evolving stored types
//!
//! Values written by an old version of the module stay in the store when a new version loads,
//! and there is no migration step. Change JSON-stored types so that old values still read:
//!
//! - **New fields** get `#[serde(default)]` (or `#[serde(default = "...")]`), so values written
//!   before the field existed read with the default.
//! - **Renamed fields** keep their old name as `#[serde(alias = "old_name")]`; the next
//!   [`set_json`] writes the new name.
//! - **Removed fields** can simply go: serde ignores unknown fields unless the type says
//!   `#[serde(deny_unknown_fields)]`, so do not say that on stored types.
//! - **Incompatible changes** (a field changes meaning or type) go under a new key, such as
//!   `user/v2/<id>` beside `user/<id>`: read the new key, fall back to the old one and convert,
//!   and write only the new one. Old keys fade away as records are touched.
//!
//! ```
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Player {
//!     #[serde(alias = "nick")] // was called `nick` in version 1
//!     name: String,
//!     #[serde(default)] // added in version 2; version 1 values read as 0
//!     clicks: u64,
//! }
//! ```

mod json;
mod key;
mod scan;

pub use json::{get_json, set_json};
pub use key::{Key, KeyReader};
pub use scan::{Entry, Page, Scan, scan, scan_page};

use crate::__private::botbox::bot::kv as wit;

/// Why a KV call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key is empty or longer than the host's key limit (the message says the limit).
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// The value is larger than the host's value limit (the message says the limit).
    #[error("value too large: {0}")]
    ValueTooLarge(String),
    /// The module's quota of bytes or keys would be exceeded; nothing was written.
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
    /// A stored value is not what the operation needs, e.g. [`increment`] on a value that is not
    /// an 8-byte big-endian integer.
    #[error("wrong type: {0}")]
    WrongType(String),
    /// The host could not read its database.
    #[error("storage failure: {0}")]
    Io(String),
    /// A stored value could not be decoded as the requested type.
    #[error("cannot decode the value of {key}: {reason}")]
    Decode {
        /// The key, shown as text where it is UTF-8 and escaped elsewhere.
        key: String,
        /// What was wrong with the value.
        reason: String,
    },
    /// A value could not be encoded as JSON.
    #[error("cannot encode a value as JSON: {0}")]
    Encode(String),
}

impl From<wit::Error> for Error {
    fn from(error: wit::Error) -> Self {
        match error {
            wit::Error::InvalidKey(message) => Self::InvalidKey(message),
            wit::Error::ValueTooLarge(message) => Self::ValueTooLarge(message),
            wit::Error::QuotaExceeded(message) => Self::QuotaExceeded(message),
            wit::Error::WrongType(message) => Self::WrongType(message),
            wit::Error::Io(message) => Self::Io(message),
        }
    }
}

impl Error {
    pub(crate) fn decode(key: &[u8], reason: impl std::fmt::Display) -> Self {
        Self::Decode {
            key: key.escape_ascii().to_string(),
            reason: reason.to_string(),
        }
    }
}

/// Returns the value stored under `key`, if any.
pub fn get(key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, Error> {
    Ok(wit::get(key.as_ref())?)
}

/// Stores `value` under `key`, replacing any earlier value.
pub fn set(key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), Error> {
    Ok(wit::set(key.as_ref(), value.as_ref())?)
}

/// Removes `key`; returns whether it existed.
pub fn delete(key: impl AsRef<[u8]>) -> Result<bool, Error> {
    Ok(wit::delete(key.as_ref())?)
}

/// Adds `delta` (which may be negative) to the counter under `key`, stores the sum and returns
/// it. An absent key counts as 0. Counters are stored as 8-byte big-endian signed integers.
pub fn increment(key: impl AsRef<[u8]>, delta: i64) -> Result<i64, Error> {
    Ok(wit::increment(key.as_ref(), delta)?)
}

/// Reads the counter under `key` without changing it: 0 when absent. Unlike `increment(key, 0)`
/// this is not a write, so it does not conflict with handlers that read the same key.
pub fn get_counter(key: impl AsRef<[u8]>) -> Result<i64, Error> {
    let key = key.as_ref();
    match get(key)? {
        None => Ok(0),
        Some(value) => decode_counter(key, &value),
    }
}

fn decode_counter(key: &[u8], value: &[u8]) -> Result<i64, Error> {
    let bytes: [u8; 8] = value
        .try_into()
        .map_err(|_| Error::decode(key, format!("a counter is 8 bytes, found {}", value.len())))?;
    Ok(i64::from_be_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_decode_from_eight_big_endian_bytes() {
        assert_eq!(decode_counter(b"n", &(-3i64).to_be_bytes()), Ok(-3));
        let error = decode_counter(b"n\x01", b"abc").unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot decode the value of n\\x01: a counter is 8 bytes, found 3"
        );
    }

    #[test]
    fn host_errors_keep_their_message() {
        let error = Error::from(wit::Error::ValueTooLarge("limit 65536 bytes".into()));
        assert_eq!(error.to_string(), "value too large: limit 65536 bytes");
    }
}
