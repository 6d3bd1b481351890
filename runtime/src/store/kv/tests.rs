use super::*;

fn ns() -> (tempfile::TempDir, Namespace) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Arc::new(Database::create(dir.path().join("t.redb")).expect("db"));
    let limits = KvLimits {
        max_key: 16,
        max_value: 32,
        max_scan: 3,
    };
    let quota = Quota {
        max_bytes: 1 << 20,
        max_keys: 1000,
    };
    (dir, Namespace::open(db, "m", limits, quota).expect("open"))
}

/// A namespace with a small scan page and `quota`.
fn ns_with(quota: Quota) -> (tempfile::TempDir, Namespace) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Arc::new(Database::create(dir.path().join("t.redb")).expect("db"));
    let limits = KvLimits {
        max_key: 16,
        max_value: 32,
        max_scan: 10,
    };
    (dir, Namespace::open(db, "m", limits, quota).expect("open"))
}

fn apply(ns: &Namespace, txn: &mut Txn) -> bool {
    matches!(ns.validate_and_apply(txn, |_, _| ()), Applied::Ok(..))
}

#[test]
fn a_transaction_reads_its_own_writes_and_others_see_them_once_applied() {
    let (_d, ns) = ns();
    let mut a = ns.begin();
    ns.set(&mut a, b"k", b"1").unwrap();
    assert_eq!(ns.get(&mut a, b"k").unwrap(), Some(b"1".to_vec()));
    let mut b = ns.begin();
    assert_eq!(ns.get(&mut b, b"k").unwrap(), None);
    ns.abort(&mut b);
    assert!(apply(&ns, &mut a));
    let mut c = ns.begin();
    assert_eq!(ns.get(&mut c, b"k").unwrap(), Some(b"1".to_vec()));
    ns.abort(&mut c);
}

#[test]
fn concurrent_increments_conflict_instead_of_losing_one() {
    let (_d, ns) = ns();
    let mut a = ns.begin();
    let mut b = ns.begin();
    assert_eq!(ns.increment(&mut a, b"n", 1).unwrap(), 1);
    assert_eq!(ns.increment(&mut b, b"n", 1).unwrap(), 1);
    assert!(apply(&ns, &mut a));
    assert!(!apply(&ns, &mut b), "the second writer read a stale value");
    let mut b2 = ns.begin();
    assert_eq!(ns.increment(&mut b2, b"n", 1).unwrap(), 2);
    assert!(apply(&ns, &mut b2));
}

#[test]
fn a_write_inside_a_scanned_range_is_a_conflict_and_outside_is_not() {
    let (_d, ns) = ns();
    let mut seed = ns.begin();
    for k in [b"a1", b"a2", b"a3", b"a4", b"b1"] {
        ns.set(&mut seed, k, b"v").unwrap();
    }
    assert!(apply(&ns, &mut seed));
    let mut reader = ns.begin();
    let (page, next) = ns.scan(&mut reader, b"a", None, 2).unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(next.as_deref(), Some(&b"a2"[..]));
    let mut outside = ns.begin();
    ns.set(&mut outside, b"a4", b"w").unwrap();
    assert!(apply(&ns, &mut outside));
    let mut snapshot = ns.begin();
    ns.abort(&mut snapshot);
    assert!(apply(&ns, &mut reader), "a4 is past where the scan stopped");
    let mut reader2 = ns.begin();
    ns.scan(&mut reader2, b"a", None, 10).unwrap();
    let mut inside = ns.begin();
    ns.set(&mut inside, b"a0", b"w").unwrap();
    assert!(apply(&ns, &mut inside));
    assert!(!apply(&ns, &mut reader2));
}

#[test]
fn scan_pages_merge_pending_writes_and_deletes_in_key_order() {
    let (_d, ns) = ns();
    let mut t = ns.begin();
    for k in [b"p1", b"p2", b"p3", b"p4", b"q1"] {
        ns.set(&mut t, k, b"v").unwrap();
    }
    assert!(apply(&ns, &mut t));
    let mut t = ns.begin();
    ns.delete(&mut t, b"p2").unwrap();
    ns.set(&mut t, b"p25", b"x").unwrap();
    let mut keys = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let (page, next) = ns.scan(&mut t, b"p", after.as_deref(), 100).unwrap();
        assert!(page.len() <= 3, "the host caps the page size");
        keys.extend(page.into_iter().map(|(k, _)| String::from_utf8(k).unwrap()));
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(keys, ["p1", "p25", "p3", "p4"]);
    ns.abort(&mut t);
}

#[test]
fn bad_keys_and_values_are_error_values() {
    let (_d, ns) = ns();
    let mut t = ns.begin();
    assert!(matches!(ns.get(&mut t, b""), Err(KvError::InvalidKey(_))));
    assert!(matches!(
        ns.set(&mut t, &[0u8; 17], b""),
        Err(KvError::InvalidKey(_))
    ));
    assert!(matches!(
        ns.set(&mut t, b"k", &[0u8; 33]),
        Err(KvError::ValueTooLarge(_))
    ));
    ns.set(&mut t, b"s", b"text").unwrap();
    assert!(matches!(
        ns.increment(&mut t, b"s", 1),
        Err(KvError::WrongType(_))
    ));
    ns.abort(&mut t);
}

#[test]
fn a_write_over_the_quota_is_refused_and_a_shrinking_one_is_not() {
    let (_dir, ns) = ns_with(Quota {
        max_bytes: 100,
        max_keys: 3,
    });
    let mut t = ns.begin();
    for k in [b"a", b"b", b"c"] {
        ns.set(&mut t, k, b"v").unwrap();
    }
    assert!(matches!(
        ns.set(&mut t, b"d", b"v"),
        Err(KvError::QuotaExceeded(_))
    ));
    // Overwriting an existing key adds no key; deleting frees one.
    ns.set(&mut t, b"a", b"w").unwrap();
    ns.delete(&mut t, b"a").unwrap();
    ns.set(&mut t, b"d", b"v").unwrap();
    // A batch that does not fit writes nothing.
    let batch = [(b"e".to_vec(), Some(b"v".to_vec())), (b"b".to_vec(), None)];
    assert!(matches!(
        ns.batch(&mut t, &batch[..1]),
        Err(KvError::QuotaExceeded(_))
    ));
    assert_eq!(ns.get(&mut t, b"e").unwrap(), None);
    ns.batch(&mut t, &[batch[1].clone(), batch[0].clone()])
        .unwrap();
    assert_eq!(ns.usage(&t).keys, 3);
    assert!(apply(&ns, &mut t));
    let t2 = ns.begin();
    assert_eq!(ns.usage(&t2).keys, 3);
    assert_eq!(ns.usage(&t2).bytes, 6);
    let mut t2 = t2;
    ns.abort(&mut t2);
}

#[test]
fn compare_and_swap_writes_only_when_the_value_is_the_expected_one() {
    let (_d, ns) = ns();
    let mut t = ns.begin();
    assert!(ns.compare_and_swap(&mut t, b"k", None, Some(b"1")).unwrap());
    assert!(!ns.compare_and_swap(&mut t, b"k", None, Some(b"2")).unwrap());
    assert!(
        !ns.compare_and_swap(&mut t, b"k", Some(b"9"), Some(b"2"))
            .unwrap()
    );
    assert!(ns.compare_and_swap(&mut t, b"k", Some(b"1"), None).unwrap());
    assert_eq!(ns.get(&mut t, b"k").unwrap(), None);
    ns.abort(&mut t);
}

#[test]
fn a_batch_is_judged_by_what_its_writes_do_together() {
    let (_dir, ns) = ns_with(Quota {
        max_bytes: 100,
        max_keys: 2,
    });
    let mut t = ns.begin();
    ns.batch(
        &mut t,
        &[
            (b"a".to_vec(), Some(b"1".to_vec())),
            (b"b".to_vec(), Some(b"2".to_vec())),
        ],
    )
    .unwrap();
    // Full: a new key is refused alone, but fits together with a delete made before or after it.
    assert!(matches!(
        ns.set(&mut t, b"c", b"3"),
        Err(KvError::QuotaExceeded(_))
    ));
    ns.batch(
        &mut t,
        &[(b"c".to_vec(), Some(b"3".to_vec())), (b"a".to_vec(), None)],
    )
    .unwrap();
    assert_eq!(ns.usage(&t).keys, 2);
    assert!(matches!(
        ns.batch(&mut t, &vec![(b"x".to_vec(), None); MAX_BATCH + 1]),
        Err(KvError::ValueTooLarge(_))
    ));
    ns.abort(&mut t);
}

#[test]
fn an_unlimited_quota_allows_writes() {
    let (_dir, ns) = ns_with(Quota {
        max_bytes: u64::MAX,
        max_keys: u64::MAX,
    });
    let mut t = ns.begin();
    ns.set(&mut t, b"k", b"v").unwrap();
    ns.batch(&mut t, &[(b"l".to_vec(), Some(b"w".to_vec()))])
        .unwrap();
    assert!(apply(&ns, &mut t));
}

#[test]
fn a_transaction_dropped_open_stops_holding_back_the_overlay() {
    let (_dir, ns) = ns();
    let mut kept = ns.begin();
    let dropped = ns.begin();
    assert_eq!(ns.state.lock().active.values().sum::<usize>(), 2);
    // A call cancelled while it waited (its task stopped) drops its transaction unfinished.
    drop(dropped);
    assert_eq!(ns.state.lock().active.values().sum::<usize>(), 1);
    ns.abort(&mut kept);
    drop(kept);
    assert!(ns.state.lock().active.is_empty());
}
