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

use std::{
    collections::{BTreeMap, HashMap},
    ops::Bound,
    sync::Arc,
};

use parking_lot::Mutex;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::kv_table_name;

mod checks;

pub(crate) use checks::{
    cap, check_key, check_quota, check_range, check_value, incremented, prefix_end, track,
};

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

/// Most writes in one batch.
pub const MAX_BATCH: usize = 10_000;
/// Most bytes of keys (and written values) one transaction may track: what it read, scanned
/// and wrote, held by the host until the commit, outside the module's memory limit.
pub const MAX_TRACKED_BYTES: usize = 64 << 20;

/// A page of entries and the cursor of the next page.
pub type Page = (Vec<(Vec<u8>, Vec<u8>)>, Option<Vec<u8>>);

/// One write of a batch: `None` deletes.
pub type Write = (Vec<u8>, Option<Vec<u8>>);

/// How much a namespace may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Quota {
    /// Bytes of keys plus values.
    pub max_bytes: u64,
    /// Keys.
    pub max_keys: u64,
}

/// A namespace's use of its quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of keys plus values.
    pub bytes: u64,
    /// Keys.
    pub keys: u64,
    /// The quota.
    pub quota: Quota,
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

struct State {
    /// Sequence number of the last applied transaction.
    seq: u64,
    /// Applied writes by key (see the module docs).
    overlay: BTreeMap<Vec<u8>, OverlayEntry>,
    /// Start sequence numbers of running transactions, with counts.
    active: BTreeMap<u64, usize>,
    /// Bytes (keys plus values) and keys stored, overlay included.
    bytes: u64,
    keys: u64,
    quota: Quota,
    /// Entries marked durable since the last prune.
    durable_since_prune: usize,
}

/// One module's namespace.
pub struct Namespace {
    module: Arc<str>,
    table: String,
    db: Arc<Database>,
    limits: KvLimits,
    state: Arc<Mutex<State>>,
    /// Timers of the module committed and not fired or cancelled yet.
    pending_timers: std::sync::atomic::AtomicI64,
    /// Their records' bytes.
    pending_timer_bytes: std::sync::atomic::AtomicI64,
}

/// A read-write transaction of one handler call.
pub struct Txn {
    start: u64,
    reads: Vec<Vec<u8>>,
    scans: Vec<(Vec<u8>, Bound<Vec<u8>>)>,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Size of each written key's value before this transaction (`None`: absent).
    before: HashMap<Vec<u8>, Option<usize>>,
    /// Change in bytes and keys this transaction makes.
    delta_bytes: i64,
    delta_keys: i64,
    /// Bytes of keys and values the transaction tracks (bounded by [`MAX_TRACKED_BYTES`]).
    tracked: usize,
    open: bool,
    /// The namespace's state, to end the transaction if it is dropped open (a call cancelled
    /// because its task stopped, say while it waited for an HTTP response).
    state: Arc<Mutex<State>>,
}

/// The outcome of [`Namespace::validate_and_apply`].
pub enum Applied<T> {
    /// Applied under this sequence number; `T` is what the caller's closure returned.
    Ok(u64, T),
    /// Something the transaction read changed; run it again.
    Conflict,
}

impl Namespace {
    /// The namespace of `module`, with its usage counted from the database.
    pub fn open(
        db: Arc<Database>,
        module: &str,
        limits: KvLimits,
        quota: Quota,
    ) -> Result<Namespace, KvError> {
        let table = kv_table_name(module);
        let (mut bytes, mut keys) = (0u64, 0u64);
        let io = |e: &dyn std::fmt::Display| KvError::Io(e.to_string());
        let txn = db.begin_read().map_err(|e| io(&e))?;
        match txn.open_table(TableDefinition::<&[u8], &[u8]>::new(&table)) {
            Ok(t) => {
                for row in t.iter().map_err(|e| io(&e))? {
                    let (k, v) = row.map_err(|e| io(&e))?;
                    bytes += (k.value().len() + v.value().len()) as u64;
                    keys += 1;
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(io(&e)),
        }
        Ok(Self::with_usage(db, module, limits, quota, bytes, keys))
    }

    /// A namespace for an instance that only runs `init` (where the KV store is not
    /// available), without the start-up scan that counts its usage.
    pub fn for_init(db: Arc<Database>, module: &str, limits: KvLimits) -> Namespace {
        let quota = Quota {
            max_bytes: 0,
            max_keys: 0,
        };
        Self::with_usage(db, module, limits, quota, 0, 0)
    }

    fn with_usage(
        db: Arc<Database>,
        module: &str,
        limits: KvLimits,
        quota: Quota,
        bytes: u64,
        keys: u64,
    ) -> Namespace {
        Namespace {
            module: module.into(),
            table: kv_table_name(module),
            db,
            limits,
            state: Arc::new(Mutex::new(State {
                seq: 0,
                overlay: BTreeMap::new(),
                active: BTreeMap::new(),
                durable_since_prune: 0,
                bytes,
                keys,
                quota,
            })),
            pending_timers: std::sync::atomic::AtomicI64::new(0),
            pending_timer_bytes: std::sync::atomic::AtomicI64::new(0),
        }
    }

    /// The module's name.
    pub fn module(&self) -> &Arc<str> {
        &self.module
    }

    /// Timers of the module committed and not fired or cancelled yet.
    pub fn pending_timers(&self) -> u64 {
        u64::try_from(
            self.pending_timers
                .load(std::sync::atomic::Ordering::Relaxed),
        )
        .unwrap_or(0)
    }

    /// Bytes the module's pending timers take in the store (their records).
    pub fn pending_timer_bytes(&self) -> u64 {
        u64::try_from(
            self.pending_timer_bytes
                .load(std::sync::atomic::Ordering::Relaxed),
        )
        .unwrap_or(0)
    }

    /// Counts timers (and their bytes) committed (positive) or fired and cancelled (negative).
    pub fn add_pending_timers(&self, delta: i64, bytes: i64) {
        self.pending_timers
            .fetch_add(delta, std::sync::atomic::Ordering::Relaxed);
        self.pending_timer_bytes
            .fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
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
            before: HashMap::new(),
            delta_bytes: 0,
            delta_keys: 0,
            tracked: 0,
            open: true,
            state: self.state.clone(),
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
        check_key(&self.limits, key)
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

    /// Counts `bytes` more that `txn` holds; refuses past [`MAX_TRACKED_BYTES`] (module-controlled
    /// growth: a loop of reads or deletes would otherwise hold memory without bound).
    fn track(txn: &mut Txn, bytes: usize) -> Result<(), KvError> {
        track(&mut txn.tracked, bytes)
    }

    /// Reads `key` as the transaction sees it.
    pub fn get(&self, txn: &mut Txn, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        self.check_key(key)?;
        if let Some(v) = txn.writes.get(key) {
            return Ok(v.clone());
        }
        Self::track(txn, key.len())?;
        txn.reads.push(key.to_vec());
        self.read_committed(key)
    }

    /// Counts a write of `key` (`None`: a delete) against the quota, before it is buffered;
    /// with `check`, refuses it when it makes the namespace bigger than its quota in a dimension
    /// it grows. Shrinking is always allowed, even above the quota (an operator may have
    /// narrowed it).
    fn account(
        &self,
        txn: &mut Txn,
        key: &[u8],
        new: Option<usize>,
        check: bool,
    ) -> Result<(), KvError> {
        let before = match txn.before.get(key) {
            Some(b) => *b,
            None => {
                // The key's old size decides the delta: remember it as read, so that a
                // concurrent change of it is a conflict.
                let b = self.read_committed(key)?.map(|v| v.len());
                txn.reads.push(key.to_vec());
                txn.before.insert(key.to_vec(), b);
                b
            }
        };
        let current = match txn.writes.get(key) {
            Some(v) => v.as_ref().map(Vec::len),
            None => before,
        };
        let size = |s: Option<usize>| s.map_or((0i64, 0i64), |l| ((key.len() + l) as i64, 1));
        let ((cb, ck), (nb, nk)) = (size(current), size(new));
        let (bytes, keys) = (txn.delta_bytes - cb + nb, txn.delta_keys - ck + nk);
        if check {
            self.check_quota(bytes, keys, nb > cb, nk > ck)?;
        }
        txn.delta_bytes = bytes;
        txn.delta_keys = keys;
        Ok(())
    }

    /// Whether a transaction changing usage by (`bytes`, `keys`) fits the quota in the
    /// dimensions it grows.
    fn check_quota(
        &self,
        bytes: i64,
        keys: i64,
        grows_bytes: bool,
        grows_keys: bool,
    ) -> Result<(), KvError> {
        let s = self.state.lock();
        checks::check_quota(
            s.quota,
            s.bytes as i64 + bytes,
            s.keys as i64 + keys,
            grows_bytes,
            grows_keys,
        )
    }

    fn check_value(&self, value: &[u8]) -> Result<(), KvError> {
        check_value(&self.limits, value)
    }

    /// Buffers a write.
    pub fn set(&self, txn: &mut Txn, key: &[u8], value: &[u8]) -> Result<(), KvError> {
        self.check_key(key)?;
        self.check_value(value)?;
        Self::track(txn, key.len() + value.len())?;
        self.account(txn, key, Some(value.len()), true)?;
        txn.writes.insert(key.to_vec(), Some(value.to_vec()));
        Ok(())
    }

    /// Buffers a delete; says whether the key existed.
    pub fn delete(&self, txn: &mut Txn, key: &[u8]) -> Result<bool, KvError> {
        let existed = self.get(txn, key)?.is_some();
        Self::track(txn, key.len())?;
        self.account(txn, key, None, true)?;
        txn.writes.insert(key.to_vec(), None);
        Ok(existed)
    }

    /// Replaces the value of `key` by `new` if it currently is `expected`.
    pub fn compare_and_swap(
        &self,
        txn: &mut Txn,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, KvError> {
        if self.get(txn, key)?.as_deref() != expected {
            return Ok(false);
        }
        match new {
            Some(v) => self.set(txn, key, v)?,
            None => {
                self.delete(txn, key)?;
            }
        }
        Ok(true)
    }

    /// Applies every write or none; the quota is checked on what the writes do together.
    pub fn batch(&self, txn: &mut Txn, writes: &[Write]) -> Result<(), KvError> {
        // Module-controlled count: bounded.
        if writes.len() > MAX_BATCH {
            return Err(KvError::ValueTooLarge(format!(
                "a batch has at most {MAX_BATCH} writes, this one {}",
                writes.len()
            )));
        }
        for (k, v) in writes {
            self.check_key(k)?;
            if let Some(v) = v {
                self.check_value(v)?;
            }
        }
        let bytes = writes
            .iter()
            .map(|(k, v)| k.len() + v.as_ref().map_or(0, Vec::len))
            .sum();
        Self::track(txn, bytes)?;
        let saved = (
            txn.writes.clone(),
            txn.before.clone(),
            txn.delta_bytes,
            txn.delta_keys,
            txn.reads.len(),
        );
        let result = writes.iter().try_for_each(|(k, v)| {
            self.account(txn, k, v.as_ref().map(Vec::len), false)?;
            txn.writes.insert(k.clone(), v.clone());
            Ok(())
        });
        let result = result.and_then(|()| {
            let grows_bytes = txn.delta_bytes > saved.2;
            let grows_keys = txn.delta_keys > saved.3;
            self.check_quota(txn.delta_bytes, txn.delta_keys, grows_bytes, grows_keys)
        });
        if let Err(e) = result {
            let (writes, before, bytes, keys, reads) = saved;
            (txn.writes, txn.before, txn.delta_bytes, txn.delta_keys) =
                (writes, before, bytes, keys);
            txn.reads.truncate(reads);
            return Err(e);
        }
        Ok(())
    }

    /// The namespace's usage as the transaction sees it.
    pub fn usage(&self, txn: &Txn) -> Usage {
        let s = self.state.lock();
        Usage {
            bytes: (s.bytes as i64 + txn.delta_bytes).max(0) as u64,
            keys: (s.keys as i64 + txn.delta_keys).max(0) as u64,
            quota: s.quota,
        }
    }

    /// The quota.
    pub fn quota(&self) -> Quota {
        self.state.lock().quota
    }

    /// Changes the quota (once the module's manifest is known).
    pub fn set_quota(&self, quota: Quota) {
        self.state.lock().quota = quota;
    }

    /// Adds `delta` to the big-endian i64 under `key`.
    pub fn increment(&self, txn: &mut Txn, key: &[u8], delta: i64) -> Result<i64, KvError> {
        let current = self.get(txn, key)?;
        let next = incremented(current.as_deref(), delta)?;
        self.set(txn, key, &next.to_be_bytes())?;
        Ok(next)
    }

    /// Lists up to `limit` entries with `prefix`, after `after` (see [`Self::range`]).
    pub fn scan(
        &self,
        txn: &mut Txn,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: u32,
    ) -> Result<Page, KvError> {
        let end = prefix_end(prefix);
        self.range(txn, prefix, end.as_deref(), after, limit)
    }

    /// Lists up to `limit` entries with `start <= key < end`, after `after`, merging the
    /// transaction's writes, the overlay and redb.
    pub fn range(
        &self,
        txn: &mut Txn,
        start: &[u8],
        end: Option<&[u8]>,
        after: Option<&[u8]>,
        limit: u32,
    ) -> Result<Page, KvError> {
        let limit = check_range(&self.limits, start, end, after, limit)?;
        let lower: Bound<Vec<u8>> = match after {
            Some(a) if a >= start => Bound::Excluded(a.to_vec()),
            _ => Bound::Included(start.to_vec()),
        };
        let upper: Bound<Vec<u8>> = match end {
            Some(end) => Bound::Excluded(end.to_vec()),
            None => Bound::Unbounded,
        };
        if let (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(u)) = (&lower, &upper)
            && l >= u
        {
            return Ok((Vec::new(), None));
        }
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
        let lower_len = match &lower {
            Bound::Included(k) | Bound::Excluded(k) => k.len(),
            Bound::Unbounded => 0,
        };
        let upper_len = match &read_upper {
            Bound::Included(k) | Bound::Excluded(k) => k.len(),
            Bound::Unbounded => 0,
        };
        Self::track(txn, lower_len + upper_len)?;
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
        // Two transactions may each fit the quota and not together: the later one is run
        // again, and then its write fails with `quota-exceeded`.
        let grows = txn.delta_bytes > 0 || txn.delta_keys > 0;
        let over = grows
            && (s.bytes as i64 + txn.delta_bytes > cap(s.quota.max_bytes)
                || s.keys as i64 + txn.delta_keys > cap(s.quota.max_keys));
        txn.open = false;
        release(&mut s, start);
        if conflict || over {
            return Applied::Conflict;
        }
        s.bytes = (s.bytes as i64 + txn.delta_bytes).max(0) as u64;
        s.keys = (s.keys as i64 + txn.delta_keys).max(0) as u64;
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

impl Drop for Txn {
    /// A transaction dropped without `abort` or `apply` (its call was cancelled) is aborted, so
    /// the overlay does not keep versions for a reader that is gone.
    fn drop(&mut self) {
        if self.open {
            self.open = false;
            release(&mut self.state.lock(), self.start);
        }
    }
}

#[cfg(test)]
mod tests;
