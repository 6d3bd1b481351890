//! A quota lowered after spares were granted under the old one (`usage.rs`): growth is refused
//! as redb refuses it, on one node and on several at once; and the rebalance's arithmetic.

use super::{backends::Backend, *};
use crate::store::pg::usage::{Plan, SLOTS, Slot, rebalance};

backends::on_both_backends!(a_lowered_quota_refuses_growth_past_it_and_allows_shrinking);

fn keys(max_keys: u64) -> Quota {
    Quota {
        max_bytes: 1 << 20,
        max_keys,
    }
}

fn over(what: &str) -> Result<(), KvError> {
    Err(KvError::QuotaExceeded(format!(
        "the module may keep {what}"
    )))
}

async fn a_lowered_quota_refuses_growth_past_it_and_allows_shrinking<B: Backend>() {
    let (_db, ns, _) = B::start(ROOMY).await;
    let one = async |k: &[u8]| {
        let mut t = ns.begin().await;
        let r = ns.set(&mut t, k, b"v").await;
        assert!(ns.commit(&mut t).await);
        r
    };
    // Five keys under a quota of 1000 (on PostgreSQL, their slot got a spare of more than 8).
    for k in [b"a", b"b", b"c", b"d", b"e"] {
        one(k).await.unwrap();
    }
    ns.set_quota(keys(8));
    for k in [b"f", b"g", b"h"] {
        one(k).await.unwrap();
    }
    assert_eq!(one(b"i").await, over("8 keys; this would make 9"));
    // Below what the namespace holds: no growth, but the same size and shrinking are fine.
    ns.set_quota(Quota {
        max_bytes: 10,
        max_keys: 4,
    });
    let mut t = ns.begin().await;
    ns.set(&mut t, b"a", b"w").await.unwrap();
    assert_eq!(
        ns.set(&mut t, b"a", b"ww").await,
        over("10 bytes of keys and values; this would make 17")
    );
    assert_eq!(
        ns.set(&mut t, b"i", b"v").await,
        over("4 keys; this would make 9")
    );
    assert!(ns.delete(&mut t, b"b").await.unwrap());
    assert!(ns.commit(&mut t).await);
    ns.set_quota(ROOMY);
    one(b"i").await.unwrap();
    let mut t = ns.begin().await;
    let usage = ns.usage(&mut t).await.unwrap();
    assert_eq!((usage.keys, usage.bytes), (8, 16));
    ns.abort(&mut t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_whose_slots_were_granted_spares_under_a_larger_quota_stop_at_the_lowered_one() {
    let pg = throwaway_postgres::Postgres::start().expect("a throwaway PostgreSQL");
    let mut nodes = Vec::new();
    for slot in [0, 16] {
        let pool = Pool::open(&pg.url()).await.expect("pool");
        pool.first_slot(slot);
        let ns = PgNamespace::open(Arc::new(pool), "m", LIMITS, keys(10_000)).await;
        nodes.push(Arc::new(ns.expect("namespace")));
    }
    for (n, ns) in nodes.iter().enumerate() {
        for i in 0..3 {
            let key = format!("{n}/{i}").into_bytes();
            until_committed!(ns, |t| ns.set(&mut t, &key, b"v"));
        }
    }
    let spare = "SELECT count(*) FROM botbox_kv_usage \
                 WHERE ns = 'm' AND slot IN (0, 16) AND spare_keys > 8";
    assert_eq!(
        pg.psql(spare).unwrap(),
        "2",
        "each slot may add more than 8 keys"
    );
    // Both nodes learn the new quota, then add keys at once until it refuses.
    let ended: Vec<_> = nodes
        .iter()
        .enumerate()
        .map(|(n, ns)| {
            ns.set_quota(keys(8));
            let ns = ns.clone();
            tokio::spawn(async move {
                for added in 0..10 {
                    let key = format!("{n}/more{added}").into_bytes();
                    let (r, _) =
                        until_committed!(ns, |t| async { Ok(ns.set(&mut t, &key, b"v").await) });
                    if let Err(refusal) = r {
                        return (added, refusal);
                    }
                }
                panic!("node {n} added 10 keys")
            })
        })
        .collect();
    let mut added = 0;
    for e in ended {
        let (a, refusal) = e.await.unwrap();
        added += a;
        assert_eq!(Err(refusal), over("8 keys; this would make 9"));
    }
    assert_eq!(added, 2);
    let count = "SELECT count(*) FROM botbox_kv WHERE ns = 'm'";
    assert_eq!(pg.psql(count).unwrap(), "8");
}

fn slot(slot: i32, used: i64, spare: i64, quota: i64) -> Slot {
    Slot {
        slot,
        used: [0, used],
        spare: [0, spare],
        quota: [0, quota],
    }
}

#[test]
fn a_rebalance_grants_shares_of_what_is_free_and_takes_spares_back_only_when_it_must() {
    // (No bytes to share out: the keys tell the story.)
    let quota = [0, 100];
    let share = |free: i64| free / i64::from(SLOTS);
    let rows = [slot(0, 10, 50, 100), slot(1, 5, 0, 100)];
    // 100 - 15 used - 50 spare of slot 0 = 35 free: the growth and a share of the rest.
    let plan = rebalance(&rows, 1, [0, 1], quota);
    assert_eq!(
        (plan.spare[1], plan.room[1], plan.others),
        (1 + share(34), 35, vec![])
    );
    // Growth past what is free: slot 0's spare goes back.
    let plan = rebalance(&rows, 1, [0, 40], quota);
    assert_eq!(
        (plan.spare[1], plan.room[1], plan.others),
        (40 + share(45), 85, vec![slot(0, 10, 0, 100)])
    );
    // A spare granted under another quota goes back even when what is free holds the growth.
    let rows = [slot(0, 10, 50, 1000), slot(1, 5, 0, 100)];
    let Plan { spare, others, .. } = rebalance(&rows, 1, [0, 1], quota);
    assert_eq!(
        (spare[1], others),
        (1 + share(84), vec![slot(0, 10, 0, 100)])
    );
    // Far from the quota, a slot without a spare gets a quarter share.
    let rows = [slot(0, 0, 0, 0), slot(1, 0, 0, 0)];
    let plan = rebalance(&rows, 1, [0, 1], [0, 100_000]);
    let quarter = share(99_999) / 4;
    assert_eq!(
        (plan.spare[1], plan.room[1], plan.others),
        (
            1 + share(99_999),
            100_000 - quarter,
            vec![slot(0, 0, quarter, 100_000)]
        )
    );
}
