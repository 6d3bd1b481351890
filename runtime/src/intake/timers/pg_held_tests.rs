//! Due timers with several nodes on PostgreSQL: each node reads the timers of the partitions it
//! holds only (at the epochs it holds them at), so two nodes' reads are disjoint and together
//! every due timer; a view whose epoch moved on reads none of that partition's.

use std::{
    collections::{BTreeSet, HashSet},
    time::Duration,
};

use throwaway_postgres::Postgres;

use super::FAIR;
use crate::store::{
    NewTimer, TimerRecord,
    pg::{
        Fence, PARTITIONS, PgStore, Unit, UnitOutcome,
        kv::PgNamespace,
        partition_of,
        tests::{LIMITS, ROOMY},
    },
};

fn timer(id: u64, chat_id: Option<i64>) -> NewTimer {
    NewTimer {
        id,
        due_ms: 1_000 + id,
        record: TimerRecord {
            module: "m".into(),
            chat_id,
            payload_hex: String::new(),
        },
        bytes: 0,
    }
}

#[tokio::test]
async fn two_nodes_read_disjoint_due_timers_each_of_its_own_partitions() {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let store = PgStore::open(&server.url()).await.expect("store");
    let lease = Duration::from_secs(15);
    let half = PARTITIONS as usize / 2;
    store.join("a", PARTITIONS, lease).await.expect("join");
    let a = store.claim("a", half).await.expect("claim");
    store.join("b", PARTITIONS, lease).await.expect("join");
    let b = store.claim("b", half).await.expect("claim");

    // Timers of 40 chats and one of no chat, scheduled by a unit as a handler schedules them.
    let mut timers: Vec<NewTimer> = (1..=40).map(|i| timer(i, Some(5000 + i as i64))).collect();
    timers.push(timer(41, None));
    let ns = PgNamespace::open(store.pool().clone(), "m", LIMITS, ROOMY)
        .await
        .expect("namespace");
    let unit = Unit {
        timers: timers.clone(),
        ..Unit::default()
    };
    let mut txn = ns.begin().await.expect("begin");
    let outcome = ns.commit_unit(&mut txn, &unit).await.expect("commit");
    assert!(matches!(outcome, UnitOutcome::Committed { .. }));

    let running: HashSet<String> = ["m".to_string()].into();
    let read = async |held: &[Fence]| -> BTreeSet<u64> {
        let due = store.due_timers_fair(1_000_000, &running, FAIR, Some(held));
        due.await.expect("read").iter().map(|t| t.id).collect()
    };
    let (of_a, of_b) = (read(&a).await, read(&b).await);
    assert!(of_a.is_disjoint(&of_b), "{of_a:?} {of_b:?}");
    let all: BTreeSet<u64> = timers.iter().map(|t| t.id).collect();
    assert_eq!(&of_a | &of_b, all, "every due timer is someone's");
    let part = |t: &NewTimer| partition_of(t.record.chat_id.unwrap_or(0), PARTITIONS);
    for (held, read) in [(&a, &of_a), (&b, &of_b)] {
        let mine: BTreeSet<u64> = (timers.iter())
            .filter(|t| held.iter().any(|f| f.partition == part(t)))
            .map(|t| t.id)
            .collect();
        assert_eq!(read, &mine, "a node reads its partitions' timers");
    }
    assert!(!of_a.is_empty() && !of_b.is_empty());

    // A view of the partitions whose epochs moved on (another node claimed them since) reads
    // nothing of them; no partition held, nothing at all.
    let stale: Vec<Fence> = (a.iter())
        .map(|f| Fence {
            epoch: f.epoch + 1,
            ..*f
        })
        .collect();
    assert!(read(&stale).await.is_empty());
    assert!(read(&[]).await.is_empty());
}
