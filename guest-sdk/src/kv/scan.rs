//! Walking a key prefix in order, one bounded page at a time.

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

/// One page of a scan.
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
    let page = wit::scan(prefix.as_ref(), after, limit)?;
    Ok(Page {
        entries: page
            .entries
            .into_iter()
            .map(|entry| Entry {
                key: entry.key,
                value: entry.value,
            })
            .collect(),
        next: page.next,
    })
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
    Scan {
        prefix: prefix.as_ref().to_vec(),
        after: None,
        remaining: None,
        page_size: Scan::DEFAULT_PAGE_SIZE,
        buffer: VecDeque::new(),
        done: false,
    }
}

/// An iterator over a key prefix, made by [`scan`]. Yields `Err` once and then ends if a page
/// cannot be read.
#[derive(Debug, Clone)]
#[must_use = "a scan does nothing until iterated"]
pub struct Scan {
    prefix: Vec<u8>,
    after: Option<Vec<u8>>,
    remaining: Option<usize>,
    page_size: u32,
    buffer: VecDeque<Entry>,
    done: bool,
}

impl Scan {
    /// How many entries a page asks for unless [`page_size`](Self::page_size) says otherwise.
    pub const DEFAULT_PAGE_SIZE: u32 = 64;

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
        mut fetch: impl FnMut(&[u8], Option<&[u8]>, u32) -> Result<Page, Error>,
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
            match fetch(&self.prefix, self.after.as_deref(), want) {
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
        self.next_with(|prefix, after, limit| scan_page(prefix, after, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sorted store that serves pages of at most `cap` entries, as the host does.
    fn store(
        keys: &[&str],
        cap: u32,
    ) -> impl FnMut(&[u8], Option<&[u8]>, u32) -> Result<Page, Error> {
        let keys: Vec<Vec<u8>> = keys.iter().map(|key| key.as_bytes().to_vec()).collect();
        move |prefix, after, limit| {
            let limit = limit.min(cap) as usize;
            let mut matching = keys.iter().filter(|key| {
                key.starts_with(prefix) && after.is_none_or(|after| key.as_slice() > after)
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
        mut fetch: impl FnMut(&[u8], Option<&[u8]>, u32) -> Result<Page, Error>,
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
    fn a_limit_bounds_both_the_entries_and_the_page_size() {
        let keys = ["k1", "k2", "k3", "k4"];
        let mut asked = Vec::new();
        let mut inner = store(&keys, 100);
        let fetch = |prefix: &[u8], after: Option<&[u8]>, limit: u32| {
            asked.push(limit);
            inner(prefix, after, limit)
        };
        assert_eq!(collect(scan("k").limit(3), fetch), ["k1", "k2", "k3"]);
        assert_eq!(asked, [3]);
    }

    #[test]
    fn an_error_ends_the_scan() {
        let mut scan = scan("x");
        let mut fetch = |_: &[u8], _: Option<&[u8]>, _: u32| Err(Error::Io("disk".into()));
        assert!(matches!(
            scan.next_with(&mut fetch),
            Some(Err(Error::Io(_)))
        ));
        assert!(scan.next_with(&mut fetch).is_none());
    }
}
