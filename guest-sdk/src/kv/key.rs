//! Keys that sort like the values they are built from.

/// Builds a key from parts whose byte order matches their natural order, so that a [`scan`]
/// of a prefix visits records sorted by the parts that follow it.
///
/// Numbers are written in fixed width, big-endian: `u64(2)` sorts before `u64(10)`, and
/// [`u64_desc`](Self::u64_desc) reverses the order (largest first). Text parts are variable-length,
/// so put at most one and put it last.
///
/// ```
/// use botbox_sdk::kv::{Key, KeyReader};
///
/// // A ranking: most clicks first, then earliest registration.
/// let key = Key::new("rank/").u64_desc(17).u64(3);
/// let mut reader = KeyReader::new(key.as_bytes(), "rank/").unwrap();
/// assert_eq!(reader.u64_desc(), Some(17));
/// assert_eq!(reader.u64(), Some(3));
/// assert!(Key::new("rank/").u64_desc(18) < Key::new("rank/").u64_desc(17));
/// ```
///
/// [`scan`]: super::scan
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Key(Vec<u8>);

impl Key {
    /// A key that starts with `prefix` (often text ending in `/`, such as `"user/"`).
    pub fn new(prefix: impl AsRef<[u8]>) -> Self {
        Self(prefix.as_ref().to_vec())
    }

    /// Appends raw bytes.
    pub fn bytes(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.0.extend_from_slice(bytes.as_ref());
        self
    }

    /// Appends text as UTF-8. Variable-length: best as the last part.
    pub fn str(self, text: &str) -> Self {
        self.bytes(text)
    }

    /// Appends `value` as 8 big-endian bytes: smaller values sort first.
    pub fn u64(self, value: u64) -> Self {
        self.bytes(value.to_be_bytes())
    }

    /// Appends `value` so that larger values sort first (8 big-endian bytes of `u64::MAX - value`).
    pub fn u64_desc(self, value: u64) -> Self {
        self.u64(u64::MAX - value)
    }

    /// Appends `value` as 8 bytes that sort like signed numbers: negative ones first. Telegram's
    /// user and chat ids fit here.
    pub fn i64(self, value: i64) -> Self {
        self.u64(flip_sign(value))
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The key's bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl AsRef<[u8]> for Key {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Key> for Vec<u8> {
    fn from(key: Key) -> Self {
        key.0
    }
}

/// Reads back the parts of a key built with [`Key`], in the order they were appended.
#[derive(Debug, Clone)]
pub struct KeyReader<'a> {
    rest: &'a [u8],
}

impl<'a> KeyReader<'a> {
    /// Starts reading `key` after `prefix`; `None` if `key` does not start with it.
    pub fn new(key: &'a [u8], prefix: impl AsRef<[u8]>) -> Option<Self> {
        key.strip_prefix(prefix.as_ref()).map(|rest| Self { rest })
    }

    /// Reads a part written by [`Key::u64`]; `None` if fewer than 8 bytes are left.
    pub fn u64(&mut self) -> Option<u64> {
        let (head, rest) = self.rest.split_first_chunk::<8>()?;
        self.rest = rest;
        Some(u64::from_be_bytes(*head))
    }

    /// Reads a part written by [`Key::u64_desc`].
    pub fn u64_desc(&mut self) -> Option<u64> {
        self.u64().map(|value| u64::MAX - value)
    }

    /// Reads a part written by [`Key::i64`].
    pub fn i64(&mut self) -> Option<i64> {
        self.u64().map(unflip_sign)
    }

    /// The bytes not read yet (a trailing [`Key::str`] or [`Key::bytes`] part).
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }
}

fn flip_sign(value: i64) -> u64 {
    value.cast_unsigned() ^ (1 << 63)
}

fn unflip_sign(value: u64) -> i64 {
    (value ^ (1 << 63)).cast_signed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_sort_like_their_values() {
        let ascending = [0u64, 1, 255, 256, u64::MAX];
        for pair in ascending.windows(2) {
            assert!(Key::new("n").u64(pair[0]) < Key::new("n").u64(pair[1]));
            assert!(Key::new("n").u64_desc(pair[0]) > Key::new("n").u64_desc(pair[1]));
        }
        let signed = [i64::MIN, -1_000_000_000_000, -1, 0, 1, i64::MAX];
        for pair in signed.windows(2) {
            assert!(Key::new("n").i64(pair[0]) < Key::new("n").i64(pair[1]));
        }
    }

    #[test]
    fn parts_read_back_in_order() {
        let key = Key::new("p/").i64(-100123).u64_desc(5).str("tail");
        let mut reader = KeyReader::new(key.as_bytes(), "p/").unwrap();
        assert_eq!(reader.i64(), Some(-100123));
        assert_eq!(reader.u64_desc(), Some(5));
        assert_eq!(reader.rest(), b"tail");
        assert_eq!(reader.u64(), None);
    }

    #[test]
    fn a_reader_needs_the_prefix() {
        assert!(KeyReader::new(b"other/1", "p/").is_none());
    }
}
