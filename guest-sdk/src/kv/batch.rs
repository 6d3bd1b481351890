//! Several writes applied all together or not at all.

use serde::Serialize;

use super::{Error, json, wit};

/// One write of a [`batch`]: store a value under a key, or remove a key.
///
/// ```
/// use botbox_sdk::kv::Write;
///
/// let writes = [
///     Write::set("user/7", "Ann"),
///     Write::set_json("settings/7", &["en", "dark"])?,
///     Write::delete("invite/7"),
/// ];
/// assert_eq!(writes[2].key(), b"invite/7");
/// # Ok::<(), botbox_sdk::kv::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write(wit::Write);

impl Write {
    /// Stores `value` under `key`, replacing any earlier value.
    pub fn set(key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        Self(wit::Write::Set(wit::Entry {
            key: key.as_ref().to_vec(),
            value: value.as_ref().to_vec(),
        }))
    }

    /// Stores `value` as JSON under `key`, like [`set_json`](super::set_json). Fails with
    /// [`Error::Encode`] when `value` cannot be written as JSON.
    pub fn set_json<T: Serialize + ?Sized>(
        key: impl AsRef<[u8]>,
        value: &T,
    ) -> Result<Self, Error> {
        Ok(Self::set(key, json::encode(value)?))
    }

    /// Removes `key` (nothing happens if it is absent).
    pub fn delete(key: impl AsRef<[u8]>) -> Self {
        Self(wit::Write::Delete(key.as_ref().to_vec()))
    }

    /// The key this write changes.
    pub fn key(&self) -> &[u8] {
        match &self.0 {
            wit::Write::Set(entry) => &entry.key,
            wit::Write::Delete(key) => key,
        }
    }

    /// The value this write stores; `None` for a deletion.
    pub fn value(&self) -> Option<&[u8]> {
        match &self.0 {
            wit::Write::Set(entry) => Some(&entry.value),
            wit::Write::Delete(_) => None,
        }
    }
}

/// Applies `writes` in order, all of them or none.
///
/// A handler's writes are already atomic as a whole (they commit together when it returns `Ok`);
/// a batch adds all-or-nothing *within* the handler: when one write is invalid or the writes
/// together would exceed the module's quota, the call fails, nothing of the batch is written, and
/// the handler can still recover (free space, report the error) and return `Ok`. Later writes
/// to the same key win.
///
/// Fails with [`Error::InvalidKey`] or [`Error::ValueTooLarge`] when a write breaks the host's
/// limits, and with [`Error::QuotaExceeded`] when the store would hold more bytes or keys than
/// the module's quota (see [`usage`](super::usage)). In a batch that frees space and fills it,
/// put the deletions before the writes they make room for.
///
/// ```no_run
/// # fn main() -> Result<(), botbox_sdk::kv::Error> {
/// use botbox_sdk::kv::{self, Write};
///
/// // Move an invitation to the members, or leave both untouched.
/// kv::batch([Write::delete("invite/7"), Write::set("member/7", "Ann")])?;
/// # Ok(()) }
/// ```
pub fn batch(writes: impl IntoIterator<Item = Write>) -> Result<(), Error> {
    let writes: Vec<wit::Write> = writes.into_iter().map(|write| write.0).collect();
    Ok(wit::batch(&writes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_say_what_they_change() {
        let set = Write::set("k", [1, 2]);
        assert_eq!((set.key(), set.value()), (&b"k"[..], Some(&[1u8, 2][..])));
        let delete = Write::delete(b"\xffk");
        assert_eq!((delete.key(), delete.value()), (&b"\xffk"[..], None));
        let json = Write::set_json("j", &serde_json::json!({"a": 1})).unwrap();
        assert_eq!(json.value(), Some(&br#"{"a":1}"#[..]));
    }
}
