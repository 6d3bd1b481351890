//! The namespace's usage in escrow (`usage.rs`), with nodes adding keys at once: far from the
//! quota they do not conflict on the usage, near it they stop exactly at the quota.

use tokio::sync::Barrier;

use super::*;
use crate::store::kv::{Applied, Namespace, Write};

/// A quota that nothing here comes near.
const FAR: Quota = Quota {
    max_bytes: 1 << 30,
    max_keys: 1 << 20,
};

/// Nodes adding keys at once.
const NODES: u32 = 8;

/// Which usage slot a node's connection takes.
#[derive(Clone, Copy)]
enum Slot {
    /// The first free one from this.
    Own(u32),
    /// This one, which other nodes use too.
    Shared(i32),
}

/// A node: its own pool on the server of `pg`, whose connection takes usage slot `slot`.
async fn node(pg: &throwaway_postgres::Postgres, slot: Slot, quota: Quota) -> Arc<PgNamespace> {
    let pool = Pool::open(&pg.url()).await.expect("pool");
    match slot {
        Slot::Own(first) => pool.first_slot(first),
        Slot::Shared(slot) => pool.share_slot(slot),
    }
    let ns = PgNamespace::open(Arc::new(pool), "m", LIMITS, quota);
    Arc::new(ns.await.expect("namespace"))
}

/// Runs `f(node)` on every node at once; their results in node order.
async fn on_every_node<T: Send + 'static, F>(
    nodes: &[Arc<PgNamespace>],
    f: impl Fn(u32, Arc<PgNamespace>) -> F,
) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
{
    let handles: Vec<_> = (0..)
        .zip(nodes)
        .map(|(i, ns)| tokio::spawn(f(i, ns.clone())))
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

/// One number of a `psql` answer.
fn number(pg: &throwaway_postgres::Postgres, sql: &str) -> i64 {
    let answer = pg.psql(sql).expect("psql");
    answer
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{sql}: {answer}"))
}

/// The namespace's usage as its rows count it, and as its keys and values make it up.
fn counted_and_actual(pg: &throwaway_postgres::Postgres) -> ((i64, i64), (i64, i64)) {
    let usage = "FROM botbox_kv_usage WHERE ns = 'm'";
    let kv = "FROM botbox_kv WHERE ns = 'm'";
    (
        (
            number(pg, &format!("SELECT sum(keys) {usage}")),
            number(pg, &format!("SELECT sum(bytes) {usage}")),
        ),
        (
            number(pg, &format!("SELECT count(*) {kv}")),
            number(
                pg,
                &format!("SELECT coalesce(sum(length(k) + length(v)), 0) {kv}"),
            ),
        ),
    )
}

/// Rounds in which every node adds a key.
const ROUNDS: u32 = 25;

/// Every node adds a new key per round, all of a round's transactions open at once (each has
/// read its usage row before any commits); answers the runs PostgreSQL refused, per node.
async fn new_keys_in_rounds(slot_of: impl Fn(u32) -> Slot) -> Vec<u32> {
    let pg = throwaway_postgres::Postgres::start().expect("a throwaway PostgreSQL");
    let mut nodes = Vec::new();
    for n in 0..NODES {
        nodes.push(node(&pg, slot_of(n), FAR).await);
    }
    // Keys on both sides of each node's new ones, so that no two nodes' new keys share a page
    // of the index: PostgreSQL's predicate locks there are page-sized, and would make
    // conflicts of their own.
    let seed: Vec<Write> = (0..NODES)
        .flat_map(|n| {
            let side = |s: char| (0..400).map(move |i| format!("n{n}/{s}{i:04}").into_bytes());
            side('a').chain(side('z'))
        })
        .map(|k| (k, Some(b"seed".to_vec())))
        .collect();
    let (_, refused) = until_committed!(nodes[0], |t| nodes[0].batch(&mut t, &seed));
    assert_eq!(refused, 0);
    // Each node's first key, one node after the other: each slot gets its spare.
    for (n, ns) in (0..).zip(&nodes) {
        let key = format!("n{n}/m-first").into_bytes();
        let (_, refused) = until_committed!(ns, |t| ns.set(&mut t, &key, b"v"));
        assert_eq!(refused, 0);
    }
    let barrier = Arc::new(Barrier::new(NODES as usize));
    let refused = on_every_node(&nodes, |n, ns| {
        let barrier = barrier.clone();
        async move {
            let mut refused = 0;
            for round in 0..ROUNDS {
                let key = format!("n{n}/m{round:03}").into_bytes();
                let mut first = true;
                let ((), r) = until_committed!(ns, |t| async {
                    ns.set(&mut t, &key, b"value").await?;
                    if std::mem::take(&mut first) {
                        barrier.wait().await;
                    }
                    Ok(())
                });
                refused += r;
            }
            refused
        }
    })
    .await;
    let (counted, actual) = counted_and_actual(&pg);
    let keys = i64::from(NODES) * (800 + 1 + i64::from(ROUNDS));
    assert_eq!(actual.0, keys);
    assert_eq!(
        counted, actual,
        "the usage rows add up to the keys and values"
    );
    eprintln!("refused runs per node: {refused:?}");
    refused
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_adding_keys_on_their_own_usage_slots_never_conflict() {
    // All prefer slot 0: each claims the first one no other connection holds.
    let refused = new_keys_in_rounds(|_| Slot::Own(0)).await;
    assert_eq!(refused, vec![0; NODES as usize], "no conflict on the usage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_adding_keys_through_one_usage_slot_conflict_as_on_a_single_usage_row() {
    // What one usage row per namespace did: of each round's eight, one commits first.
    let refused = new_keys_in_rounds(|_| Slot::Shared(0)).await;
    assert!(
        refused.iter().sum::<u32>() >= (NODES - 1) * ROUNDS,
        "{refused:?}"
    );
}

/// What the redb backend answers a write of a new key of `size` bytes (key and value) to a
/// namespace that holds `keys` keys of `bytes` bytes.
fn redb_refusal(quota: Quota, keys: u64, bytes: u64, size: usize) -> KvError {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Arc::new(redb::Database::create(dir.path().join("t.redb")).expect("db"));
    let limits = KvLimits {
        max_value: 1 << 20,
        ..LIMITS
    };
    let unlimited = Quota {
        max_bytes: u64::MAX,
        max_keys: u64::MAX,
    };
    let ns = Namespace::open(db, "m", limits, unlimited).expect("open");
    let mut t = ns.begin();
    // `keys` keys of 2 bytes, one more key for the rest of the bytes.
    for i in 0..keys.saturating_sub(1) {
        ns.set(&mut t, &(i as u16).to_be_bytes(), b"").unwrap();
    }
    let rest = usize::try_from(bytes - 2 * keys.saturating_sub(1)).unwrap() - 3;
    ns.set(&mut t, b"big", &vec![0; rest]).unwrap();
    assert!(matches!(
        ns.validate_and_apply(&mut t, |_, _| ()),
        Applied::Ok(..)
    ));
    ns.set_quota(quota);
    let mut t = ns.begin();
    let refusal = ns
        .set(&mut t, b"new", &vec![0; size - 3])
        .expect_err("over the quota");
    ns.abort(&mut t);
    refusal
}

/// Every node adds keys of its own size (key and value) until the quota refuses one; answers
/// per node the keys it added and the refusal it got.
async fn until_full(pg: &throwaway_postgres::Postgres, quota: Quota) -> Vec<(u64, KvError)> {
    let mut nodes = Vec::new();
    // Nodes 4 apart share a slot: their transactions conflict on its row.
    for n in 0..NODES {
        nodes.push(node(pg, Slot::Shared(8 * (n % 4) as i32), quota).await);
    }
    on_every_node(&nodes, |n, ns| async move {
        let value = vec![b'v'; n as usize * 3];
        // Either quota below holds fewer keys than this.
        for added in 0..1000 {
            let key = format!("n{n}/{added:05}").into_bytes();
            let (r, _) = until_committed!(ns, |t| async { Ok(ns.set(&mut t, &key, &value).await) });
            if let Err(refusal) = r {
                return (added, refusal);
            }
        }
        panic!("node {n} added 1000 keys")
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_adding_keys_at_once_stop_exactly_at_the_key_quota() {
    let quota = Quota {
        max_bytes: 1 << 30,
        max_keys: 100,
    };
    let pg = throwaway_postgres::Postgres::start().expect("a throwaway PostgreSQL");
    let ended = until_full(&pg, quota).await;
    let added: u64 = ended.iter().map(|(a, _)| a).sum();
    assert_eq!(added, 100, "{ended:?}");
    let (counted, actual) = counted_and_actual(&pg);
    assert_eq!(actual.0, 100);
    assert_eq!(counted, actual);
    // Each node was refused with a full namespace, as redb refuses it.
    for (n, (_, refusal)) in (0..).zip(&ended) {
        let size = format!("n{n}/00000").len() + n as usize * 3;
        let redb = redb_refusal(quota, 100, actual.1 as u64, size);
        assert_eq!(refusal, &redb);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_adding_keys_at_once_never_pass_the_byte_quota() {
    let quota = Quota {
        max_bytes: 2000,
        max_keys: 1 << 20,
    };
    let pg = throwaway_postgres::Postgres::start().expect("a throwaway PostgreSQL");
    let ended = until_full(&pg, quota).await;
    let (counted, actual) = counted_and_actual(&pg);
    assert_eq!(counted, actual);
    assert!(actual.1 <= 2000, "{actual:?}");
    assert_eq!(actual.0, ended.iter().map(|(a, _)| *a as i64).sum::<i64>());
    // Each node was refused a key that did not fit, with redb's error for the usage it saw
    // (at most what the namespace ended with: it only grew).
    for (n, (_, refusal)) in (0..).zip(&ended) {
        let size = (format!("n{n}/00000").len() + n as usize * 3) as i64;
        assert!(actual.1 + size > 2000, "node {n} was refused {size} bytes");
        let KvError::QuotaExceeded(m) = refusal else {
            panic!("{refusal:?}")
        };
        let seen = m.rsplit(' ').next().unwrap().parse::<i64>().unwrap() - size;
        assert!(seen <= actual.1, "{m}");
        let redb = redb_refusal(quota, 10, seen as u64, size as usize);
        assert_eq!(refusal, &redb);
    }
}
