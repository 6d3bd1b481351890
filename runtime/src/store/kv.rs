//! Module KV namespaces with optimistic concurrency control.
//!
//! A module runs as several shards at once, and all of them share one namespace. Each handler
//! call runs in a [`Txn`]: its writes are buffered, its reads are remembered. When the handler
//! returns, [`Namespace::validate_and_apply`] checks under the namespace lock that nothing it read
//! (single keys, and the key ranges of its scans) was written by a transaction applied after it
//! started. If something was, the handler is run again from scratch — its messages were only
//! buffered, so nothing leaks. Otherwise its writes go into the namespace's *overlay* under a new
//! sequence number and the unit of work is handed to the group committer, still under the lock,
//! so overlay order is commit order.
//!
//! The overlay holds writes that are applied but maybe not yet durable; readers look there before
//! redb. An entry leaves the overlay once it is durable and no running transaction started
//! before it (so conflict checks never need it again). If the process dies before the commit,
//! the overlay dies with it, and so does every transaction that read from it: none of them was
//! acknowledged, and their updates are handled again after the restart.
//!
//! Every key and size here comes from a module: the host checks them (see `check_key`).

use std::{collections::BTreeMap, ops::Bound, sync::Arc};

use parking_lot::Mutex;
use redb::{Database, ReadableDatabase, TableDefinition};

use super::kv_table_name;

/// A KV failure as the module sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvError {
    /// Empty or oversized key.
    InvalidKey(String),
    /// Oversized value.
    ValueTooLarge(String),
    /// Quota exceeded.
    QuotaExceeded(String),
    /// Stored value has the wrong shape.
    WrongType(String),
    /// Database failure.
    Io(String),
}

/// Size limits the host enforces on module keys and values.
#[derive(Debug, Clone, Copy)]
pub struct KvLimits {
    /// Largest key.
    pub max_key: usize,
    /// Largest value.
    pub max_value: usize,
    /// Most entries per scan page.
    pub max_scan: u32,
}

struct OverlayEntry {
    seq: u64,
    value: Option<Arc<[u8]>>,
    durable: bool,
}

#[derive(Default)]
struct State {
    /// Sequence number of the last applied transaction.
    seq: u64,
    /// Applied writes by key (see the module docs).
    overlay: BTreeMap<Vec<u8>, OverlayEntry>,
    /// Start sequence numbers of running transactions, with counts.
    active: BTreeMap<u64, usize>,
    /// Entries marked durable since the last prune.
    durable_since_prune: usize,
}

/// One module's namespace.
pub struct Namespace {
    module: Arc<str>,
    table: String,
    db: Arc<Database>,
    limits: KvLimits,
    state: Mutex<State>,
}

/// A read-write transaction of one handler call.
pub struct Txn {
    start: u64,
    reads: Vec<Vec<u8>>,
    scans: Vec<(Vec<u8>, Bound<Vec<u8>>)>,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    open: bool,
}

/// The outcome of [`Namespace::validate_and_apply`].
pub enum Applied<T> {
    /// Applied under this sequence number; `T` is what the caller's closure returned.
    Ok(u64, T),
    /// Something the transaction read changed; run it again.
    Conflict,
}

impl Namespace {
    /// The namespace of `module`.
    pub fn new(db: Arc<Database>, module: &str, limits: KvLimits) -> Namespace {
        Namespace {
            module: module.into(),
            table: kv_table_name(module),
            db,
            limits,
            state: Mutex::default(),
        }
    }

    /// The module's name.
    pub fn module(&self) -> &Arc<str> {
        &self.module
    }

    /// Starts a transaction.
    pub fn begin(&self) -> Txn {
        let mut s = self.state.lock();
        let start = s.seq;
        *s.active.entry(start).or_default() += 1;
        Txn {
            start,
            reads: Vec::new(),
            scans: Vec::new(),
            writes: BTreeMap::new(),
            open: true,
        }
    }

    /// Ends a transaction without applying it.
    pub fn abort(&self, txn: &mut Txn) {
        if txn.open {
            txn.open = false;
            let mut s = self.state.lock();
            release(&mut s, txn.start);
        }
    }

    fn check_key(&self, key: &[u8]) -> Result<(), KvError> {
        // Module-controlled size: checked here.
        if key.is_empty() || key.len() > self.limits.max_key {
            return Err(KvError::InvalidKey(format!(
                "keys must be 1..={} bytes, this one has {}",
                self.limits.max_key,
                key.len()
            )));
        }
        Ok(())
    }

    fn read_committed(&self, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        if let Some(e) = self.state.lock().overlay.get(key) {
            return Ok(e.value.as_deref().map(<[u8]>::to_vec));
        }
        let io = |e: &dyn std::fmt::Display| KvError::Io(e.to_string());
        let txn = self.db.begin_read().map_err(|e| io(&e))?;
        let def = TableDefinition::<&[u8], &[u8]>::new(&self.table);
        match txn.open_table(def) {
            Ok(t) => Ok(t.get(key).map_err(|e| io(&e))?.map(|v| v.value().to_vec())),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(io(&e)),
        }
    }

    /// Reads `key` as the transaction sees it.
    pub fn get(&self, txn: &mut Txn, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        self.check_key(key)?;
        if let Some(v) = txn.writes.get(key) {
            return Ok(v.clone());
        }
        txn.reads.push(key.to_vec());
        self.read_committed(key)
    }

    /// Buffers a write.
    pub fn set(&self, txn: &mut Txn, key: &[u8], value: &[u8]) -> Result<(), KvError> {
        self.check_key(key)?;
        // Module-controlled size: checked here.
        if value.len() > self.limits.max_value {
            return Err(KvError::ValueTooLarge(format!(
                "values must be at most {} bytes, this one has {}",
                self.limits.max_value,
                value.len()
            )));
        }
        txn.writes.insert(key.to_vec(), Some(value.to_vec()));
        Ok(())
    }

    /// Buffers a delete; says whether the key existed.
    pub fn delete(&self, txn: &mut Txn, key: &[u8]) -> Result<bool, KvError> {
        let existed = self.get(txn, key)?.is_some();
        txn.writes.insert(key.to_vec(), None);
        Ok(existed)
    }

    /// Adds `delta` to the big-endian i64 under `key`.
    pub fn increment(&self, txn: &mut Txn, key: &[u8], delta: i64) -> Result<i64, KvError> {
        let current = match self.get(txn, key)? {
            None => 0,
            Some(v) => {
                let bytes: [u8; 8] = v.as_slice().try_into().map_err(|_| {
                    KvError::WrongType(format!(
                        "increment needs an 8-byte big-endian integer, the value has {} bytes",
                        v.len()
                    ))
                })?;
                i64::from_be_bytes(bytes)
            }
        };
        let next = current
            .checked_add(delta)
            .ok_or_else(|| KvError::WrongType("increment overflows i64".into()))?;
        self.set(txn, key, &next.to_be_bytes())?;
        Ok(next)
    }

    /// Lists up to `limit` entries with `prefix`, after `after`, merging the transaction's
    /// writes, the overlay and redb.
    #[expect(clippy::type_complexity, reason = "a page of entries and its cursor")]
    pub fn scan(
        &self,
        txn: &mut Txn,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: u32,
    ) -> Result<(Vec<(Vec<u8>, Vec<u8>)>, Option<Vec<u8>>), KvError> {
        // Module-controlled sizes: prefix and cursor are bounded like keys, the limit is capped.
        if prefix.len() > self.limits.max_key
            || after.is_some_and(|a| a.len() > self.limits.max_key)
        {
            return Err(KvError::InvalidKey(format!(
                "prefix and cursor must be at most {} bytes",
                self.limits.max_key
            )));
        }
        let limit = limit.clamp(1, self.limits.max_scan) as usize;
        let lower: Bound<Vec<u8>> = match after {
            Some(a) if a >= prefix => Bound::Excluded(a.to_vec()),
            _ => Bound::Included(prefix.to_vec()),
        };
        let upper: Bound<Vec<u8>> = match prefix_end(prefix) {
            Some(end) => Bound::Excluded(end),
            None => Bound::Unbounded,
        };
        let range = (lower.clone(), upper.clone());
        // Newer layers win: txn writes over overlay over redb.
        let mut merged: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        let io = |e: &dyn std::fmt::Display| KvError::Io(e.to_string());
        let overlay: Vec<(Vec<u8>, Option<Vec<u8>>)> = {
            let s = self.state.lock();
            s.overlay
                .range::<Vec<u8>, _>(range.clone())
                .map(|(k, e)| (k.clone(), e.value.as_deref().map(<[u8]>::to_vec)))
                .collect()
        };
        // Read from redb until `limit` live entries are certain (deletes in upper layers may
        // hide some, so read a few extra per hidden key).
        let hidden = overlay.iter().filter(|(_, v)| v.is_none()).count()
            + txn
                .writes
                .range::<Vec<u8>, _>(range.clone())
                .filter(|(_, v)| v.is_none())
                .count();
        let want = limit + hidden + 1;
        let rtxn = self.db.begin_read().map_err(|e| io(&e))?;
        let def = TableDefinition::<&[u8], &[u8]>::new(&self.table);
        let mut db_exhausted = true;
        match rtxn.open_table(def) {
            Ok(t) => {
                let lo = bound_ref(&lower);
                let hi = bound_ref(&upper);
                let iter = t.range::<&[u8]>((lo, hi)).map_err(|e| io(&e))?;
                for (n, row) in iter.enumerate() {
                    if n >= want {
                        db_exhausted = false;
                        break;
                    }
                    let (k, v) = row.map_err(|e| io(&e))?;
                    merged.insert(k.value().to_vec(), Some(v.value().to_vec()));
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(io(&e)),
        }
        let db_last = if db_exhausted {
            None
        } else {
            merged.keys().next_back().cloned()
        };
        for (k, v) in overlay {
            merged.insert(k, v);
        }
        for (k, v) in txn.writes.range::<Vec<u8>, _>(range) {
            merged.insert(k.clone(), v.clone());
        }
        let mut entries = Vec::new();
        let mut next = None;
        for (k, v) in merged {
            // Past the last redb key we read, redb may hold keys we have not seen.
            if db_last.as_ref().is_some_and(|last| &k > last) {
                break;
            }
            if let Some(v) = v {
                if entries.len() == limit {
                    next = entries.last().map(|(k, _): &(Vec<u8>, Vec<u8>)| k.clone());
                    break;
                }
                entries.push((k, v));
            }
        }
        if next.is_none() && db_last.is_some() {
            next = entries
                .last()
                .map(|(k, _)| k.clone())
                .or_else(|| db_last.clone());
        }
        // Remember what this scan depended on: from its start to where it stopped.
        let read_upper = match &next {
            Some(k) => Bound::Included(k.clone()),
            None => upper,
        };
        txn.scans.push((
            match lower {
                Bound::Included(k) | Bound::Excluded(k) => k,
                Bound::Unbounded => Vec::new(),
            },
            read_upper,
        ));
        Ok((entries, next))
    }

    /// Checks `txn` for conflicts; if there are none, applies its writes to the overlay and
    /// calls `then` (still under the lock, so that hand-offs happen in sequence order).
    pub fn validate_and_apply<T>(
        &self,
        txn: &mut Txn,
        then: impl FnOnce(u64, Vec<(Vec<u8>, Option<Vec<u8>>)>) -> T,
    ) -> Applied<T> {
        let mut s = self.state.lock();
        let start = txn.start;
        let changed = |e: &OverlayEntry| e.seq > start;
        let conflict = txn
            .reads
            .iter()
            .any(|k| s.overlay.get(k).is_some_and(changed))
            || txn.scans.iter().any(|(lo, hi)| {
                s.overlay
                    .range::<Vec<u8>, _>((Bound::Included(lo.clone()), hi.clone()))
                    .any(|(_, e)| changed(e))
            });
        txn.open = false;
        release(&mut s, start);
        if conflict {
            return Applied::Conflict;
        }
        let writes: Vec<_> = std::mem::take(&mut txn.writes).into_iter().collect();
        let seq = if writes.is_empty() {
            s.seq
        } else {
            s.seq += 1;
            let seq = s.seq;
            for (k, v) in &writes {
                s.overlay.insert(
                    k.clone(),
                    OverlayEntry {
                        seq,
                        value: v.as_deref().map(Arc::from),
                        durable: false,
                    },
                );
            }
            seq
        };
        Applied::Ok(seq, then(seq, writes))
    }

    /// Called by the committer once writes of `seq` are durable.
    pub fn mark_durable(&self, writes: &[(Vec<u8>, Option<Vec<u8>>)], seq: u64) {
        if writes.is_empty() {
            return;
        }
        let mut s = self.state.lock();
        for (k, _) in writes {
            if let Some(e) = s.overlay.get_mut(k)
                && e.seq == seq
            {
                e.durable = true;
                s.durable_since_prune += 1;
            }
        }
        // Pruning walks the overlay, so do it when it pays: amortised O(1) per write.
        if s.durable_since_prune >= 64.max(s.overlay.len() / 2) {
            s.durable_since_prune = 0;
            let horizon = s.active.keys().next().copied().unwrap_or(s.seq);
            s.overlay.retain(|_, e| !(e.durable && e.seq <= horizon));
        }
    }

    /// Entries in the overlay (for tests and metrics).
    pub fn overlay_len(&self) -> usize {
        self.state.lock().overlay.len()
    }
}

fn release(s: &mut State, start: u64) {
    if let Some(n) = s.active.get_mut(&start) {
        *n -= 1;
        if *n == 0 {
            s.active.remove(&start);
        }
    }
}

fn bound_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// The smallest key greater than every key starting with `prefix`, if any.
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

impl Drop for Txn {
    fn drop(&mut self) {
        debug_assert!(
            !self.open || std::thread::panicking(),
            "a KV transaction was dropped without abort or apply"
        );
    }
}

#[cfg(test)]
mod tests;
