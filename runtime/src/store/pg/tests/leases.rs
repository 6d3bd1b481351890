//! Partitions, leases and the fence: partitions are shared out among live nodes, a node that
//! stops renewing loses them to the next claim at a new epoch, and what a paused node still tries
//! to commit is refused whole.

use std::time::Duration;

use super::*;
use crate::store::pg::{Fence, PgStore, Unit, UnitOutcome, partition_of};

const SHORT: Duration = Duration::from_millis(800);
const LONG: Duration = Duration::from_secs(600);

/// Longer than [`SHORT`]: a lease of that length has run out after it.
async fn past_the_short_lease() {
    tokio::time::sleep(SHORT + Duration::from_millis(400)).await;
}

async fn stores(n: usize) -> (Postgres, Vec<PgStore>) {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(PgStore::open(&server.url()).await.expect("store"));
    }
    (server, out)
}

fn ids(f: &[Fence]) -> Vec<u32> {
    f.iter().map(|f| f.partition).collect()
}

/// A click of `chat` handled under `fence`: the counter +1 and a reply, with update 5 done.
fn click(fence: Fence, chat: i64) -> Unit {
    Unit {
        update_id: Some(5),
        outbox: vec![message("m", chat, "Clicks: 1", None)],
        fence: Some(fence),
        ..Unit::default()
    }
}

/// Commits `t` with `unit`; after a conflict, runs the click again (as the host runs a handler
/// again) until the outcome is not a conflict.
async fn settle(ns: &PgNamespace, mut t: PgTxn, unit: &Unit) -> UnitOutcome {
    loop {
        match ns.commit_unit(&mut t, unit).await.unwrap() {
            UnitOutcome::Conflict => {
                t = ns.begin().await.unwrap();
                ns.increment(&mut t, b"clicks", 1).await.unwrap();
            }
            other => return other,
        }
    }
}

#[tokio::test]
async fn partitions_are_shared_out_and_a_silent_nodes_ones_move_at_a_new_epoch() {
    let (_server, s) = stores(2).await;
    s[0].join("a", 8, SHORT).await.unwrap();
    s[1].join("b", 8, LONG).await.unwrap();
    let a = s[0].claim("a", 4).await.unwrap();
    assert_eq!(ids(&a), [0, 1, 2, 3]);
    assert!(a.iter().all(|f| f.epoch == 1));
    let b = s[1].claim("b", 8).await.unwrap();
    assert_eq!(
        ids(&b),
        [4, 5, 6, 7],
        "a's partitions stay a's while its lease holds"
    );
    assert!(s[1].claim("b", 8).await.unwrap().is_empty());
    past_the_short_lease().await;
    let taken = s[1].claim("b", 8).await.unwrap();
    assert_eq!(ids(&taken), [0, 1, 2, 3], "a stopped renewing");
    assert!(taken.iter().all(|f| f.epoch == 2), "{taken:?}");
    assert!(s[0].owned("a").await.unwrap().is_empty());
    assert_eq!(s[1].owned("b").await.unwrap().len(), 8);
}

#[tokio::test]
async fn a_paused_node_cannot_commit_after_its_partition_moved() {
    let (server, s) = stores(2).await;
    s[0].join("a", 4, SHORT).await.unwrap();
    let chat = 1234;
    let p = partition_of(chat, 4);
    let held = s[0].claim("a", 4).await.unwrap()[p as usize];
    s[0].record(&[(5, "{}".into(), vec!["m".into()])], &[])
        .await
        .unwrap();
    let ns_a = PgNamespace::open(s[0].pool().clone(), "m", LIMITS, ROOMY)
        .await
        .unwrap();
    let mut t = ns_a.begin().await.unwrap();
    ns_a.increment(&mut t, b"clicks", 1).await.unwrap();
    // Node a stops here (SIGSTOP, a long GC pause, a cut cable) past its lease; b takes over.
    past_the_short_lease().await;
    s[1].join("b", 4, LONG).await.unwrap();
    let now_b = s[1].claim("b", 4).await.unwrap()[p as usize];
    assert_eq!(now_b.epoch, held.epoch + 1);
    // a wakes up and commits what it was doing: refused whole (first as a conflict, as its
    // snapshot predates the takeover; run again, by the fence).
    let late = settle(&ns_a, t, &click(held, chat)).await;
    let UnitOutcome::Fenced(why) = late else {
        panic!("a late commit went through: {late:?}");
    };
    assert!(why.contains("moved to another node"), "{why}");
    assert_eq!(server.psql("SELECT count(*) FROM botbox_kv").unwrap(), "0");
    assert_eq!(
        server.psql("SELECT count(*) FROM botbox_outbox").unwrap(),
        "0"
    );
    assert_eq!(
        server.psql("SELECT update_id FROM botbox_pending").unwrap(),
        "5"
    );
    // Renewing does not give a its partition back: its epoch stays stale.
    s[0].renew("a", LONG).await.unwrap();
    let mut t = ns_a.begin().await.unwrap();
    ns_a.increment(&mut t, b"clicks", 1).await.unwrap();
    let again = settle(&ns_a, t, &click(held, chat)).await;
    assert!(matches!(again, UnitOutcome::Fenced(_)), "{again:?}");
    // The owner handles the update, once.
    let ns_b = PgNamespace::open(s[1].pool().clone(), "m", LIMITS, ROOMY)
        .await
        .unwrap();
    let mut t = ns_b.begin().await.unwrap();
    assert_eq!(ns_b.increment(&mut t, b"clicks", 1).await.unwrap(), 1);
    let done = ns_b.commit_unit(&mut t, &click(now_b, chat)).await.unwrap();
    assert!(matches!(done, UnitOutcome::Committed { .. }), "{done:?}");
    assert_eq!(
        server.psql("SELECT count(*) FROM botbox_outbox").unwrap(),
        "1"
    );
}

#[tokio::test]
async fn a_node_whose_lease_ran_out_commits_again_at_a_new_epoch_once_renewed_if_nobody_took_over()
{
    let (_server, s) = stores(1).await;
    s[0].join("a", 2, SHORT).await.unwrap();
    let held = s[0].claim("a", 2).await.unwrap()[partition_of(7, 2) as usize];
    s[0].record(&[(5, "{}".into(), vec!["m".into()])], &[])
        .await
        .unwrap();
    let ns = PgNamespace::open(s[0].pool().clone(), "m", LIMITS, ROOMY)
        .await
        .unwrap();
    let mut t = ns.begin().await.unwrap();
    ns.increment(&mut t, b"clicks", 1).await.unwrap();
    past_the_short_lease().await;
    let late = settle(&ns, t, &click(held, 7)).await;
    let UnitOutcome::Fenced(why) = late else {
        panic!("committed past its lease: {late:?}");
    };
    assert!(why.contains("lease"), "{why}");
    assert!(
        s[0].renew("a", LONG).await.unwrap(),
        "the renewal says the lease had run out"
    );
    let mut t = ns.begin().await.unwrap();
    ns.increment(&mut t, b"clicks", 1).await.unwrap();
    let stale = settle(&ns, t, &click(held, 7)).await;
    assert!(
        matches!(stale, UnitOutcome::Fenced(_)),
        "a unit begun under the lapsed lease's epoch is refused: {stale:?}"
    );
    let now_held = s[0].owned("a").await.unwrap()[held.partition as usize];
    assert_eq!(now_held.epoch, held.epoch + 1);
    let mut t = ns.begin().await.unwrap();
    ns.increment(&mut t, b"clicks", 1).await.unwrap();
    let now = ns.commit_unit(&mut t, &click(now_held, 7)).await.unwrap();
    assert!(matches!(now, UnitOutcome::Committed { .. }), "{now:?}");
    assert!(
        !s[0].renew("a", LONG).await.unwrap(),
        "a renewal within the lease moves nothing"
    );
}

#[tokio::test]
async fn released_partitions_go_to_the_next_claim() {
    let (_server, s) = stores(2).await;
    s[0].join("a", 4, LONG).await.unwrap();
    s[1].join("b", 4, LONG).await.unwrap();
    assert_eq!(s[0].claim("a", 4).await.unwrap().len(), 4);
    s[0].release("a", &[1, 3]).await.unwrap();
    let b = s[1].claim("b", 4).await.unwrap();
    assert_eq!(ids(&b), [1, 3]);
    assert!(b.iter().all(|f| f.epoch == 2));
    assert_eq!(ids(&s[0].owned("a").await.unwrap()), [0, 2]);
}

#[test]
fn chats_spread_over_every_partition() {
    let mut counts = vec![0u32; 1024];
    for chat in 1..=200_000i64 {
        counts[partition_of(chat, 1024) as usize] += 1;
        assert_eq!(partition_of(-chat, 1024), partition_of(-chat, 1024));
    }
    let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
    // 195 a partition on average.
    assert!(*min > 120 && *max < 280, "uneven: {min}..{max}");
    assert!(partition_of(-1001234567890, 1024) < 1024);
}
