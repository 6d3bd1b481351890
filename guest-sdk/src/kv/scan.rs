//! Walking a key prefix or a key range in order, one bounded page at a time.

use std::collections::VecDeque;

use super::{Error, wit};

/// One key and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key.
    pub key: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
}

/// One page of a scan or a range.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// The entries found, in ascending key order.
    pub entries: Vec<Entry>,
    /// Pass this as `after` to get the next page; `None` when the scan is complete.
    pub next: Option<Vec<u8>>,
}

/// Lists at most `limit` entries whose keys start with `prefix`, in ascending key order, starting
/// after the key `after` when given. The host may return fewer than `limit` (it caps page sizes)
/// while more remain: continue from [`Page::next`] until it is `None`. [`scan`] does that for you.
pub fn scan_page(
    prefix: impl AsRef<[u8]>,
    after: Option<&[u8]>,
    limit: u32,
) -> Result<Page, Error> {
    Ok(wit::scan(prefix.as_ref(), after, limit)?.into())
}

/// Lists at most `limit` entries with `start <= key < end` (no upper bound when `end` is
/// `None`), in ascending key order, starting after the key `after` when given. Like
/// [`scan_page`], a page may hold fewer than `limit` entries while more remain: continue from
/// [`Page::next`] until it is `None`. [`range`] does that for you.
///
/// Fails with [`Error::InvalidKey`] when a bound or `after` is longer than the host's key limit.
pub fn range_page(
    start: impl AsRef<[u8]>,
    end: Option<&[u8]>,
    after: Option<&[u8]>,
    limit: u32,
) -> Result<Page, Error> {
    Ok(wit::range(start.as_ref(), end, after, limit)?.into())
}

impl From<wit::Page> for Page {
    fn from(page: wit::Page) -> Self {
        Self {
            entries: page
                .entries
                .into_iter()
                .map(|entry| Entry {
                    key: entry.key,
                    value: entry.value,
                })
                .collect(),
            next: page.next,
        }
    }
}

/// Iterates over the entries whose keys start with `prefix`, in ascending key order, fetching
/// them from the host a page at a time as the iteration proceeds.
///
/// Bound the work with [`Scan::limit`] rather than `.take(n)`: a limit also keeps the pages the
/// host reads small, so the 15 first entries of a prefix with a million keys cost one small read.
///
/// ```no_run
/// # fn main() -> Result<(), botbox_sdk::kv::Error> {
/// let top: Vec<_> = botbox_sdk::kv::scan("rank/").limit(15).collect::<Result<_, _>>()?;
/// # Ok(()) }
/// ```
pub fn scan(prefix: impl AsRef<[u8]>) -> Scan {
    Scan::new(Span::Prefix(prefix.as_ref().to_vec()))
}

/// Iterates over the entries with `start <= key < end` (no upper bound when `end` is `None`), in
/// ascending key order, fetching them a page at a time like [`scan`].
///
/// A range suits keys built with [`Key`](super::Key), whose order is the order of the numbers in
/// them: all the events of one day, say, or the users ranked between two scores.
///
/// ```no_run
/// # fn main() -> Result<(), botbox_sdk::kv::Error> {
/// use botbox_sdk::kv::{self, Key};
///
/// // Events from time 1000 (inclusive) to 2000 (exclusive).
/// let end = Key::new("event/").u64(2000);
/// for entry in kv::range(Key::new("event/").u64(1000), Some(end.as_bytes())) {
///     let entry = entry?;
/// }
/// // Everything from `m` on.
/// let rest = kv::range("m", None).limit(10).count();
/// # Ok(()) }
/// ```
pub fn range(start: impl AsRef<[u8]>, end: Option<&[u8]>) -> Scan {
    Scan::new(Span::Range {
        start: start.as_ref().to_vec(),
        end: end.map(<[u8]>::to_vec),
    })
}

/// Which keys a [`Scan`] visits.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Span {
    /// Keys starting with the prefix.
    Prefix(Vec<u8>),
    /// Keys with `start <= key < end`.
    Range {
        start: Vec<u8>,
        end: Option<Vec<u8>>,
    },
}

impl Span {
    fn fetch(&self, after: Option<&[u8]>, limit: u32) -> Result<Page, Error> {
        match self {
            Self::Prefix(prefix) => scan_page(prefix, after, limit),
            Self::Range { start, end } => range_page(start, end.as_deref(), after, limit),
        }
    }
}

/// An iterator over a key prefix or a key range, made by [`scan`] or [`range`]. Yields `Err`
/// once and then ends if a page cannot be read.
#[derive(Debug, Clone)]
#[must_use = "a scan does nothing until iterated"]
pub struct Scan {
    span: Span,
    after: Option<Vec<u8>>,
    remaining: Option<usize>,
    page_size: u32,
    buffer: VecDeque<Entry>,
    done: bool,
}

impl Scan {
    /// How many entries a page asks for unless [`page_size`](Self::page_size) says otherwise.
    pub const DEFAULT_PAGE_SIZE: u32 = 64;

    fn new(span: Span) -> Self {
        Self {
            span,
            after: None,
            remaining: None,
            page_size: Self::DEFAULT_PAGE_SIZE,
            buffer: VecDeque::new(),
            done: false,
        }
    }

    /// Starts after the key `key` (exclusive), e.g. the last key seen on an earlier call.
    pub fn after(mut self, key: impl AsRef<[u8]>) -> Self {
        self.after = Some(key.as_ref().to_vec());
        self
    }

    /// Yields at most `count` entries in total, and never asks the host for more than that.
    pub fn limit(mut self, count: usize) -> Self {
        self.remaining = Some(count);
        self
    }

    /// Asks the host for `size` entries per page (at least 1; the host may cap it).
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = size.max(1);
        self
    }

    fn next_with(
        &mut self,
        mut fetch: impl FnMut(&Span, Option<&[u8]>, u32) -> Result<Page, Error>,
    ) -> Option<Result<Entry, Error>> {
        if self.remaining == Some(0) {
            return None;
        }
        while self.buffer.is_empty() {
            if self.done {
                return None;
            }
            let want = match self.remaining {
                Some(remaining) => self
                    .page_size
                    .min(u32::try_from(remaining).unwrap_or(u32::MAX)),
                None => self.page_size,
            };
            match fetch(&self.span, self.after.as_deref(), want) {
                Ok(page) => {
                    self.done = page.next.is_none();
                    self.after = page.next;
                    self.buffer.extend(page.entries);
                }
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
            }
        }
        if let Some(remaining) = &mut self.remaining {
            *remaining -= 1;
        }
        self.buffer.pop_front().map(Ok)
    }
}

impl Iterator for Scan {
    type Item = Result<Entry, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_with(Span::fetch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sorted store that serves pages of at most `cap` entries, as the host does.
    fn store(
        keys: &[&str],
        cap: u32,
    ) -> impl FnMut(&Span, Option<&[u8]>, u32) -> Result<Page, Error> {
        let keys: Vec<Vec<u8>> = keys.iter().map(|key| key.as_bytes().to_vec()).collect();
        move |span, after, limit| {
            let limit = limit.min(cap) as usize;
            let in_span = |key: &[u8]| match span {
                Span::Prefix(prefix) => key.starts_with(prefix),
                Span::Range { start, end } => {
                    key >= start.as_slice() && end.as_ref().is_none_or(|end| key < end.as_slice())
                }
            };
            let mut matching = keys.iter().filter(|key| {
                in_span(key.as_slice()) && after.is_none_or(|after| key.as_slice() > after)
            });
            let entries: Vec<Entry> = matching
                .by_ref()
                .take(limit)
                .map(|key| Entry {
                    key: key.clone(),
                    value: Vec::new(),
                })
                .collect();
            let next = match matching.next() {
                Some(_) => entries.last().map(|entry| entry.key.clone()),
                None => None,
            };
            Ok(Page { entries, next })
        }
    }

    fn collect(
        mut scan: Scan,
        mut fetch: impl FnMut(&Span, Option<&[u8]>, u32) -> Result<Page, Error>,
    ) -> Vec<String> {
        std::iter::from_fn(|| scan.next_with(&mut fetch))
            .map(|entry| String::from_utf8(entry.unwrap().key).unwrap())
            .collect()
    }

    #[test]
    fn a_scan_follows_pages_to_the_end() {
        let keys = ["a/1", "a/2", "a/3", "a/4", "a/5", "b/1"];
        assert_eq!(
            collect(scan("a/").page_size(2), store(&keys, 10)),
            ["a/1", "a/2", "a/3", "a/4", "a/5"]
        );
        assert_eq!(collect(scan("a/"), store(&keys, 2)).len(), 5);
        assert_eq!(
            collect(scan("a/").after("a/3"), store(&keys, 10)),
            ["a/4", "a/5"]
        );
    }

    #[test]
    fn a_range_stops_before_its_end_and_pages_like_a_scan() {
        let keys = ["a", "b", "c", "d", "e", "f"];
        assert_eq!(
            collect(
                range("b", Some(b"e".as_slice())).page_size(2),
                store(&keys, 10)
            ),
            ["b", "c", "d"]
        );
        assert_eq!(
            collect(range("c", None), store(&keys, 1)),
            ["c", "d", "e", "f"]
        );
        assert_eq!(
            collect(
                range("", Some(b"c".as_slice())).after("a"),
                store(&keys, 10)
            ),
            ["b"]
        );
    }

    #[test]
    fn a_limit_bounds_both_the_entries_and_the_page_size() {
        let keys = ["k1", "k2", "k3", "k4"];
        let mut asked = Vec::new();
        let mut inner = store(&keys, 100);
        let fetch = |span: &Span, after: Option<&[u8]>, limit: u32| {
            asked.push(limit);
            inner(span, after, limit)
        };
        assert_eq!(collect(scan("k").limit(3), fetch), ["k1", "k2", "k3"]);
        assert_eq!(asked, [3]);
    }

    #[test]
    fn an_error_ends_the_scan() {
        let mut scan = scan("x");
        let mut fetch = |_: &Span, _: Option<&[u8]>, _: u32| Err(Error::Io("disk".into()));
        assert!(matches!(
            scan.next_with(&mut fetch),
            Some(Err(Error::Io(_)))
        ));
        assert!(scan.next_with(&mut fetch).is_none());
    }
}
