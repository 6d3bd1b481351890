//! The module's key-value store: a private namespace of byte keys and byte values, ordered by key.
//!
//! Writes made while handling an update become durable together with the update's outgoing
//! messages, atomically, when the handler returns `Ok`; if it fails or panics they are discarded.
//! Reads see the handler's own earlier writes. The host serialises concurrent handlers: one whose
//! reads were changed underneath it is simply run again, so a read-modify-write needs no locking.
//!
//! Keys sort as bytes, so a well-chosen key is an index: [`Key`] builds keys from big-endian
//! numbers that sort like the numbers, [`scan`] walks a prefix and [`range`] the keys between two
//! bounds, in order, one bounded page at a time. [`get_json`] and [`set_json`] store any serde
//! type as JSON.
//!
//! The operations:
//!
//! - [`get`], [`set`], [`delete`]; [`get_json`], [`set_json`] for serde types;
//! - [`increment`] and [`get_counter`] for counters;
//! - [`scan`] / [`scan_page`] over a prefix and [`range`] / [`range_page`] over `start..end`, with
//!   a cursor and a limit (the host caps every page, whatever the module asks);
//! - [`compare_and_swap`] to change a value only if it is still what the handler saw;
//! - [`batch`] to apply several [`Write`]s all together or not at all;
//! - [`usage`] for the bytes and keys stored and the module's quota.
//!
//! # Namespace and quota
//!
//! Every key lives in the module's own namespace: whatever bytes a key holds (`../other`, NUL,
//! non-UTF-8), it names one of the module's keys and never another module's or the host's. A key
//! is 1 byte up to the host's key limit (1 KiB by default); an empty or longer key is an
//! [`Error::InvalidKey`]. A module's store is bounded in bytes (keys plus values) and in keys:
//! the smaller of what its [`Manifest`](crate::Manifest) declares and what the operator allows.
//! A write that would go past either bound fails with [`Error::QuotaExceeded`] and changes
//! nothing; the data already stored stays as it was.
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

mod batch;
mod json;
mod key;
mod scan;
mod usage;

pub use batch::{Write, batch};
pub use json::{get_json, set_json};
pub use key::{Key, KeyReader};
pub use scan::{Entry, Page, Scan, range, range_page, scan, scan_page};
pub use usage::{Usage, usage};

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
///
/// Fails with [`Error::InvalidKey`] when the key is empty or too long; the same holds for every
/// call that takes a key.
pub fn get(key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, Error> {
    Ok(wit::get(key.as_ref())?)
}

/// Stores `value` under `key`, replacing any earlier value.
///
/// Fails with [`Error::ValueTooLarge`] when the value is over the host's value limit and with
/// [`Error::QuotaExceeded`] when the store would go past the module's quota; nothing is written
/// then.
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

/// Replaces the value under `key` by `new` (removes the key when `new` is `None`), but only if
/// the current value equals `expected` (`None`: only if the key does not exist). Returns whether
/// it did.
///
/// Handlers never need it to guard against each other (the host reruns a handler whose reads
/// changed underneath it); it states a condition in one call, e.g. "claim this name unless it is
/// taken", and is the building block for values shared with code outside the handler.
///
/// Fails with [`Error::InvalidKey`] like every call that takes a key; with
/// [`Error::ValueTooLarge`] or [`Error::QuotaExceeded`] only when it would write, like [`set`]. A
/// swap that does not happen changes nothing.
///
/// ```no_run
/// # fn main() -> Result<(), botbox_sdk::kv::Error> {
/// use botbox_sdk::kv;
///
/// let claimed = kv::compare_and_swap("name/ann", None, Some(b"user 7".as_slice()))?;
/// # Ok(()) }
/// ```
pub fn compare_and_swap(
    key: impl AsRef<[u8]>,
    expected: Option<&[u8]>,
    new: Option<&[u8]>,
) -> Result<bool, Error> {
    Ok(wit::compare_and_swap(key.as_ref(), expected, new)?)
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
