//! The KV's behaviours (those of store/kv/tests.rs and more), one list run against both
//! backends: each is a test `name::redb` and a test `name::postgres`.

use super::{backends::Backend, *};
use crate::store::kv::MAX_BATCH;

backends::on_both_backends!(
    a_transaction_reads_its_own_writes_and_others_see_them_once_committed,
    concurrent_increments_conflict_instead_of_losing_one,
    a_scan_and_a_write_into_its_range_that_each_depend_on_the_other_do_not_both_commit,
    scan_pages_merge_pending_writes_and_deletes_in_key_order,
    bad_keys_and_values_are_error_values,
    a_write_over_the_quota_is_refused_and_a_shrinking_one_is_not,
    compare_and_swap_writes_only_when_the_value_is_the_expected_one,
    a_batch_is_judged_by_what_its_writes_do_together,
    an_unlimited_quota_allows_writes,
    namespaces_are_private_and_usage_is_counted_per_namespace,
    a_transaction_dropped_open_is_rolled_back,
);

async fn a_transaction_reads_its_own_writes_and_others_see_them_once_committed<B: Backend>() {
    let (_db, ns, _) = B::start(ROOMY).await;
    let mut a = ns.begin().await;
    ns.set(&mut a, b"k", b"1").await.unwrap();
    assert_eq!(ns.get(&mut a, b"k").await.unwrap(), Some(b"1".to_vec()));
    let mut b = ns.begin().await;
    assert_eq!(ns.get(&mut b, b"k").await.unwrap(), None);
    ns.abort(&mut b).await;
    assert!(ns.commit(&mut a).await);
    let mut c = ns.begin().await;
    assert_eq!(ns.get(&mut c, b"k").await.unwrap(), Some(b"1".to_vec()));
    ns.abort(&mut c).await;
}

async fn concurrent_increments_conflict_instead_of_losing_one<B: Backend>() {
    let (_db, ns, _) = B::start(ROOMY).await;
    let mut a = ns.begin().await;
    let mut b = ns.begin().await;
    assert_eq!(ns.increment(&mut a, b"n", 1).await.unwrap(), 1);
    assert_eq!(ns.increment(&mut b, b"n", 1).await.unwrap(), 1);
    assert!(ns.commit(&mut a).await);
    assert!(
        !ns.commit(&mut b).await,
        "the second writer read a stale value"
    );
    let mut b2 = ns.begin().await;
    assert_eq!(ns.increment(&mut b2, b"n", 1).await.unwrap(), 2);
    assert!(ns.commit(&mut b2).await);
}

async fn a_scan_and_a_write_into_its_range_that_each_depend_on_the_other_do_not_both_commit<
    B: Backend,
>() {
    // Write skew: `reader` counts the keys under `a` into `count`; `inside` adds a key under
    // `a` after reading `count`. Both committing fits no serial order.
    let (_db, ns, _) = B::start(ROOMY).await;
    let mut seed = ns.begin().await;
    for k in [b"a1", b"a2", b"b1"] {
        ns.set(&mut seed, k, b"v").await.unwrap();
    }
    assert!(ns.commit(&mut seed).await);
    let mut reader = ns.begin().await;
    let (page, next) = ns.scan(&mut reader, b"a", None, 10).await.unwrap();
    assert_eq!((page.len(), next), (2, None));
    let mut inside = ns.begin().await;
    assert_eq!(ns.get(&mut inside, b"count").await.unwrap(), None);
    ns.set(&mut inside, b"a0", b"w").await.unwrap();
    ns.set(&mut reader, b"count", b"2").await.unwrap();
    assert!(ns.commit(&mut inside).await);
    assert!(!ns.commit(&mut reader).await);
}

/// Where the backends differ, and may: SSI lets a transaction that wrote nothing commit after
/// its scan went stale (it serialises before the writer); redb's validation runs it again.
#[tokio::test]
async fn on_postgresql_a_scan_whose_transaction_writes_nothing_commits_after_a_write_into_it() {
    let (_pg, _pool, ns) = server(LIMITS, ROOMY).await;
    let mut looker = ns.begin().await.unwrap();
    ns.scan(&mut looker, b"a", None, 10).await.unwrap();
    let mut writer = ns.begin().await.unwrap();
    ns.set(&mut writer, b"a9", b"w").await.unwrap();
    assert!(commit(&ns, &mut writer).await);
    assert!(commit(&ns, &mut looker).await);
}

async fn scan_pages_merge_pending_writes_and_deletes_in_key_order<B: Backend>() {
    let (_db, ns, _) = B::start(ROOMY).await;
    let mut t = ns.begin().await;
    for k in [b"p1", b"p2", b"p3", b"p4", b"q1"] {
        ns.set(&mut t, k, b"v").await.unwrap();
    }
    assert!(ns.commit(&mut t).await);
    let mut t = ns.begin().await;
    ns.delete(&mut t, b"p2").await.unwrap();
    ns.set(&mut t, b"p25", b"x").await.unwrap();
    let mut keys = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let (page, next) = ns.scan(&mut t, b"p", after.as_deref(), 100).await.unwrap();
        assert!(page.len() <= 3, "the host caps the page size");
        keys.extend(page.into_iter().map(|(k, _)| String::from_utf8(k).unwrap()));
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(keys, ["p1", "p25", "p3", "p4"]);
    // A range with an end, and one past the last byte value.
    let (page, _) = ns
        .range(&mut t, b"p25", Some(b"p4"), None, 10)
        .await
        .unwrap();
    let keys: Vec<_> = page.into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, [b"p25".to_vec(), b"p3".to_vec()]);
    ns.set(&mut t, &[0xff, 0xff], b"top").await.unwrap();
    let (page, next) = ns.scan(&mut t, &[0xff], None, 10).await.unwrap();
    assert_eq!((page.len(), next), (1, None));
    ns.abort(&mut t).await;
}

async fn bad_keys_and_values_are_error_values<B: Backend>() {
    let (_db, ns, _) = B::start(ROOMY).await;
    let mut t = ns.begin().await;
    assert!(matches!(
        ns.get(&mut t, b"").await,
        Err(KvError::InvalidKey(_))
    ));
    assert!(matches!(
        ns.set(&mut t, &[0u8; 17], b"").await,
        Err(KvError::InvalidKey(_))
    ));
    assert!(matches!(
        ns.set(&mut t, b"k", &[0u8; 33]).await,
        Err(KvError::ValueTooLarge(_))
    ));
    ns.set(&mut t, b"s", b"text").await.unwrap();
    assert!(matches!(
        ns.increment(&mut t, b"s", 1).await,
        Err(KvError::WrongType(_))
    ));
    assert!(matches!(
        ns.scan(&mut t, &[0u8; 17], None, 1).await,
        Err(KvError::InvalidKey(_))
    ));
    ns.abort(&mut t).await;
}

async fn a_write_over_the_quota_is_refused_and_a_shrinking_one_is_not<B: Backend>() {
    let quota = Quota {
        max_bytes: 100,
        max_keys: 3,
    };
    let (_db, ns, _) = B::start(quota).await;
    let mut t = ns.begin().await;
    for k in [b"a", b"b", b"c"] {
        ns.set(&mut t, k, b"v").await.unwrap();
    }
    assert!(matches!(
        ns.set(&mut t, b"d", b"v").await,
        Err(KvError::QuotaExceeded(_))
    ));
    // Overwriting an existing key adds no key; deleting frees one.
    ns.set(&mut t, b"a", b"w").await.unwrap();
    ns.delete(&mut t, b"a").await.unwrap();
    ns.set(&mut t, b"d", b"v").await.unwrap();
    // A batch that does not fit writes nothing.
    let batch = [(b"e".to_vec(), Some(b"v".to_vec())), (b"b".to_vec(), None)];
    assert!(matches!(
        ns.batch(&mut t, &batch[..1]).await,
        Err(KvError::QuotaExceeded(_))
    ));
    assert_eq!(ns.get(&mut t, b"e").await.unwrap(), None);
    ns.batch(&mut t, &[batch[1].clone(), batch[0].clone()])
        .await
        .unwrap();
    assert_eq!(ns.usage(&mut t).await.unwrap().keys, 3);
    assert!(ns.commit(&mut t).await);
    let mut t2 = ns.begin().await;
    let usage = ns.usage(&mut t2).await.unwrap();
    assert_eq!((usage.keys, usage.bytes), (3, 6));
    ns.abort(&mut t2).await;
}

async fn compare_and_swap_writes_only_when_the_value_is_the_expected_one<B: Backend>() {
    let (_db, ns, _) = B::start(ROOMY).await;
    let mut t = ns.begin().await;
    let cas = |e: Option<&'static [u8]>, n: Option<&'static [u8]>| (e, n);
    for ((expected, new), swapped) in [
        (cas(None, Some(b"1")), true),
        (cas(None, Some(b"2")), false),
        (cas(Some(b"9"), Some(b"2")), false),
        (cas(Some(b"1"), None), true),
    ] {
        let r = ns.compare_and_swap(&mut t, b"k", expected, new).await;
        assert_eq!(r.unwrap(), swapped);
    }
    assert_eq!(ns.get(&mut t, b"k").await.unwrap(), None);
    ns.abort(&mut t).await;
}

async fn a_batch_is_judged_by_what_its_writes_do_together<B: Backend>() {
    let quota = Quota {
        max_bytes: 100,
        max_keys: 2,
    };
    let (_db, ns, _) = B::start(quota).await;
    let mut t = ns.begin().await;
    let set = |k: &[u8], v: &[u8]| (k.to_vec(), Some(v.to_vec()));
    ns.batch(&mut t, &[set(b"a", b"1"), set(b"b", b"2")])
        .await
        .unwrap();
    // Full: a new key is refused alone, but fits together with a delete made before or after it.
    assert!(matches!(
        ns.set(&mut t, b"c", b"3").await,
        Err(KvError::QuotaExceeded(_))
    ));
    ns.batch(&mut t, &[set(b"c", b"3"), (b"a".to_vec(), None)])
        .await
        .unwrap();
    assert_eq!(ns.usage(&mut t).await.unwrap().keys, 2);
    assert!(matches!(
        ns.batch(&mut t, &vec![(b"x".to_vec(), None); MAX_BATCH + 1])
            .await,
        Err(KvError::ValueTooLarge(_))
    ));
    assert!(ns.commit(&mut t).await);
    let mut t = ns.begin().await;
    let (page, _) = ns.scan(&mut t, b"", None, 10).await.unwrap();
    let keys: Vec<_> = page.into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, [b"b".to_vec(), b"c".to_vec()]);
    ns.abort(&mut t).await;
}

async fn an_unlimited_quota_allows_writes<B: Backend>() {
    let quota = Quota {
        max_bytes: u64::MAX,
        max_keys: u64::MAX,
    };
    let (_db, ns, _) = B::start(quota).await;
    let mut t = ns.begin().await;
    ns.set(&mut t, b"k", b"v").await.unwrap();
    ns.batch(&mut t, &[(b"l".to_vec(), Some(b"w".to_vec()))])
        .await
        .unwrap();
    assert!(ns.commit(&mut t).await);
}

async fn namespaces_are_private_and_usage_is_counted_per_namespace<B: Backend>() {
    let (_db, ns, other) = B::start(ROOMY).await;
    let mut t = ns.begin().await;
    ns.set(&mut t, b"k", b"mine").await.unwrap();
    assert!(ns.commit(&mut t).await);
    let mut o = other.begin().await;
    assert_eq!(other.get(&mut o, b"k").await.unwrap(), None);
    assert_eq!(other.scan(&mut o, b"", None, 10).await.unwrap().0, vec![]);
    assert_eq!(other.usage(&mut o).await.unwrap().keys, 0);
    other.abort(&mut o).await;
}

async fn a_transaction_dropped_open_is_rolled_back<B: Backend>() {
    let (_db, ns, _) = B::start(ROOMY).await;
    let mut t = ns.begin().await;
    ns.set(&mut t, b"k", b"v").await.unwrap();
    ns.scan(&mut t, b"", None, 1).await.unwrap();
    // A call cancelled while it waited drops its transaction unfinished (writes sent).
    drop(t);
    let mut t = ns.begin().await;
    assert_eq!(ns.get(&mut t, b"k").await.unwrap(), None);
    ns.abort(&mut t).await;
}
