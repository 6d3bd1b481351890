//! The KV target: a module's sequence of reads, writes, scans and commits against a real
//! namespace (over an in-memory redb), checked step by step against a plain sorted map.

use std::{collections::BTreeMap, ops::Bound, sync::Arc};

use redb::{Database, TableDefinition};

use super::Input;
use crate::store::kv::{Applied, KvError, KvLimits, Namespace, Quota, Txn};

const LIMITS: KvLimits = KvLimits {
    max_key: 6,
    max_value: 12,
    max_scan: 4,
};
const QUOTA: Quota = Quota {
    max_bytes: 120,
    max_keys: 10,
};
const TABLE: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("kv:fuzz");

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

/// What the module should see: the committed map with its transaction's writes over it.
struct Model {
    committed: Map,
    view: Map,
}

impl Model {
    fn usage(map: &Map) -> (u64, u64) {
        let bytes = map.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
        (bytes as u64, map.len() as u64)
    }

    /// Whether going from the view to `next` breaks the quota in a dimension it grows.
    fn over_quota(&self, next: &Map) -> bool {
        let ((b0, k0), (b1, k1)) = (Self::usage(&self.view), Self::usage(next));
        (k1 > k0 && k1 > QUOTA.max_keys) || (b1 > b0 && b1 > QUOTA.max_bytes)
    }
}

/// A key from a small alphabet (so that keys collide and share prefixes), 0 to 7 bytes long:
/// the empty key and keys over the limit included.
fn key(input: &mut Input<'_>) -> Vec<u8> {
    let len = input.byte() as usize % (LIMITS.max_key + 2);
    (0..len)
        .map(|_| b"a\x00\xffb"[input.byte() as usize % 4])
        .collect()
}

fn valid(key: &[u8]) -> bool {
    !key.is_empty() && key.len() <= LIMITS.max_key
}

/// Runs the operations the bytes spell; panics when the namespace and the model disagree.
pub fn kv_keys(data: &[u8]) {
    let db = Arc::new(
        Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .expect("an in-memory database"),
    );
    let ns = Namespace::open(db.clone(), "fuzz", LIMITS, QUOTA).expect("an empty namespace");
    let mut model = Model {
        committed: Map::new(),
        view: Map::new(),
    };
    let mut txn = ns.begin();
    // Applied writes not yet durable (the committer's queue): (sequence, writes).
    let mut queued = Vec::new();
    let mut input = Input(data);
    for _ in 0..64 {
        if input.0.is_empty() {
            break;
        }
        match input.byte() % 8 {
            0 => {
                let (k, v) = (key(&mut input), input.bytes(LIMITS.max_value + 1).to_vec());
                let mut next = model.view.clone();
                next.insert(k.clone(), v.clone());
                let expected = expect(&k, Some(&v), model.over_quota(&next));
                check("set", ns.set(&mut txn, &k, &v), expected, &mut model, next);
            }
            1 => {
                let k = key(&mut input);
                let mut next = model.view.clone();
                let existed = next.remove(&k).is_some();
                let got = ns.delete(&mut txn, &k);
                if let Ok(e) = got {
                    assert_eq!(e, existed, "delete says whether {k:?} existed");
                }
                check(
                    "delete",
                    got.map(drop),
                    expect(&k, None, false),
                    &mut model,
                    next,
                );
            }
            2 => {
                let k = key(&mut input);
                match ns.get(&mut txn, &k) {
                    Ok(v) => assert_eq!(v.as_ref(), model.view.get(&k), "get {k:?}"),
                    Err(e) => assert!(!valid(&k), "get {k:?}: {e:?}"),
                }
            }
            3 => {
                let (prefix, after) = (key(&mut input), maybe_key(&mut input));
                let end = prefix_end(&prefix);
                let limit = u32::from(input.byte() % 6);
                pages(&ns, &mut txn, &model, &prefix, end, after, limit);
            }
            4 => {
                let (start, end) = (key(&mut input), maybe_key(&mut input));
                let (after, limit) = (maybe_key(&mut input), u32::from(input.byte() % 6));
                pages(&ns, &mut txn, &model, &start, end, after, limit);
            }
            5 => {
                let (k, delta) = (key(&mut input), i64::from(input.byte() as i8));
                let old = model.view.get(&k).cloned();
                let got = ns.increment(&mut txn, &k, delta);
                match (&got, old.as_deref().map(<[u8; 8]>::try_from)) {
                    (Err(KvError::InvalidKey(_)), _) => assert!(!valid(&k)),
                    (Err(KvError::WrongType(_)), Some(Err(_))) => {}
                    (Err(KvError::WrongType(_)), Some(Ok(b))) => {
                        assert!(i64::from_be_bytes(b).checked_add(delta).is_none());
                    }
                    (Err(KvError::QuotaExceeded(_)), _) => {}
                    (Ok(n), old) => {
                        let old = old.map_or(0, |b| i64::from_be_bytes(b.expect("8 bytes")));
                        assert_eq!(*n, old + delta);
                        model.view.insert(k, n.to_be_bytes().to_vec());
                    }
                    (Err(e), old) => panic!("increment {k:?} from {old:?}: {e:?}"),
                }
            }
            6 => {
                let writes: Vec<_> = (0..input.byte() % 5)
                    .map(|_| {
                        let k = key(&mut input);
                        let v = (input.byte() % 3 != 0)
                            .then(|| input.bytes(LIMITS.max_value + 1).to_vec());
                        (k, v)
                    })
                    .collect();
                let mut next = model.view.clone();
                let mut invalid = None;
                for (k, v) in &writes {
                    invalid = invalid.or(expect(k, v.as_deref(), false).err());
                    match v {
                        Some(v) => next.insert(k.clone(), v.clone()),
                        None => next.remove(k),
                    };
                }
                let expected = match invalid {
                    Some(e) => Err(e),
                    None => expect(b"k", None, model.over_quota(&next)),
                };
                check(
                    "batch",
                    ns.batch(&mut txn, &writes),
                    expected,
                    &mut model,
                    next,
                );
            }
            _ => match input.byte() % 3 {
                0 => {
                    ns.abort(&mut txn);
                    model.view = model.committed.clone();
                    txn = ns.begin();
                }
                1 => {
                    commit(&ns, &mut txn, &mut model, &mut queued);
                    txn = ns.begin();
                }
                _ => make_durable(&db, &ns, &mut queued),
            },
        }
        let usage = ns.usage(&txn);
        assert_eq!((usage.bytes, usage.keys), Model::usage(&model.view));
    }
    ns.abort(&mut txn);
}

fn maybe_key(input: &mut Input<'_>) -> Option<Vec<u8>> {
    (input.byte() & 1 != 0).then(|| key(input))
}

/// The error kind a write of `key` (`value`, `None` for a delete) must get, if any.
fn expect(key: &[u8], value: Option<&[u8]>, over_quota: bool) -> Result<(), &'static str> {
    if !valid(key) {
        Err("invalid-key")
    } else if value.is_some_and(|v| v.len() > LIMITS.max_value) {
        Err("value-too-large")
    } else if over_quota {
        Err("quota-exceeded")
    } else {
        Ok(())
    }
}

fn check(
    what: &str,
    got: Result<(), KvError>,
    expected: Result<(), &str>,
    model: &mut Model,
    next: Map,
) {
    let kind = got.as_ref().map_err(|e| match e {
        KvError::InvalidKey(_) => "invalid-key",
        KvError::ValueTooLarge(_) => "value-too-large",
        KvError::QuotaExceeded(_) => "quota-exceeded",
        KvError::WrongType(_) => "wrong-type",
        KvError::Io(_) => "io",
    });
    assert_eq!(kind.copied(), expected, "{what}: {got:?}");
    if got.is_ok() {
        model.view = next;
    }
}

/// Reads a range page by page, as a module would, and compares it with the model.
fn pages(
    ns: &Namespace,
    txn: &mut Txn,
    model: &Model,
    start: &[u8],
    end: Option<Vec<u8>>,
    after: Option<Vec<u8>>,
    limit: u32,
) {
    let too_long = |k: Option<&[u8]>| k.is_some_and(|k| k.len() > LIMITS.max_key);
    let refused = too_long(Some(start)) || too_long(end.as_deref()) || too_long(after.as_deref());
    let lower = match &after {
        Some(a) if a.as_slice() >= start => Bound::Excluded(a.clone()),
        _ => Bound::Included(start.to_vec()),
    };
    let upper = end.clone().map_or(Bound::Unbounded, Bound::Excluded);
    let empty = matches!((&lower, &upper), (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(u)) if l >= u);
    let wanted: Vec<_> = if empty {
        Vec::new()
    } else {
        let range = model.view.range::<Vec<u8>, _>((lower, upper));
        range.map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    let mut seen = Vec::new();
    let mut cursor = after;
    for _ in 0..=wanted.len() + 2 {
        let page = ns.range(txn, start, end.as_deref(), cursor.as_deref(), limit);
        let (entries, next) = match page {
            Err(e) => return assert!(refused && seen.is_empty(), "range: {e:?}"),
            Ok(page) => page,
        };
        assert!(
            !refused,
            "a range with a bound over the key limit was served"
        );
        assert!(entries.len() <= limit.clamp(1, LIMITS.max_scan) as usize);
        seen.extend(entries);
        match next {
            None => {
                assert_eq!(seen, wanted, "range from {start:?} to {end:?}");
                return;
            }
            Some(n) => cursor = Some(n),
        }
    }
    panic!("paging from {start:?} to {end:?} does not end: {seen:?} of {wanted:?}");
}

/// The smallest key past every key with `prefix` (as `scan` bounds it), if any.
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

/// A commit waiting for the committer: its sequence number and its writes (`None` deletes).
type Queued = (u64, Vec<(Vec<u8>, Option<Vec<u8>>)>);

/// Applies the transaction to the namespace's overlay and queues it for the committer.
fn commit(ns: &Namespace, txn: &mut Txn, model: &mut Model, queued: &mut Vec<Queued>) {
    match ns.validate_and_apply(txn, |seq, writes| (seq, writes)) {
        Applied::Ok(_, (seq, writes)) => {
            model.committed = model.view.clone();
            queued.push((seq, writes));
        }
        Applied::Conflict => panic!("a lone transaction within its quota conflicted"),
    }
}

/// Writes the queued transactions to redb and marks them durable, as the committer does.
fn make_durable(db: &Database, ns: &Namespace, queued: &mut Vec<Queued>) {
    let w = db.begin_write().expect("a write transaction");
    {
        let mut table = w.open_table(TABLE).expect("the namespace's table");
        for (_, writes) in queued.iter() {
            for (k, v) in writes {
                match v {
                    Some(v) => drop(table.insert(k.as_slice(), v.as_slice()).expect("insert")),
                    None => drop(table.remove(k.as_slice()).expect("remove")),
                }
            }
        }
    }
    w.commit().expect("commit");
    for (seq, writes) in queued.drain(..) {
        ns.mark_durable(&writes, seq);
    }
}
