//! What a store shared by several nodes must do beyond the embedded one: an update or a timer is
//! applied once whichever node finishes it (and however often), a webhook update is recorded once
//! whichever node received it, a refused transaction leaves nothing of its unit, and a server
//! killed with SIGKILL leaves each unit whole or absent.

use std::collections::BTreeSet;

use super::*;
use crate::store::pg::{PgStore, Unit, UnitOutcome};

/// Two "nodes" on one server: two stores, each with its own connections and namespace `m`.
async fn two_nodes() -> (Postgres, [(PgStore, PgNamespace); 2]) {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let store = PgStore::open(&server.url()).await.expect("store");
        let ns = PgNamespace::open(store.pool().clone(), "m", LIMITS, ROOMY).await;
        nodes.push((store, ns.expect("namespace")));
    }
    let nodes: [(PgStore, PgNamespace); 2] = nodes.try_into().ok().expect("two");
    (server, nodes)
}

/// A handler on `ns` that adds 1 to `k` and queues `text`, committed with `unit`.
async fn click(ns: &PgNamespace, text: &str, unit: Unit) -> UnitOutcome {
    loop {
        let mut t = ns.begin().await.expect("begin");
        ns.increment(&mut t, b"k", 1).await.expect("increment");
        let unit = Unit {
            outbox: vec![message("m", 1, text, None)],
            ..unit.clone()
        };
        match ns.commit_unit(&mut t, &unit).await.expect("commit") {
            UnitOutcome::Conflict => continue,
            other => return other,
        }
    }
}

async fn counter(ns: &PgNamespace) -> Option<Vec<u8>> {
    let mut t = ns.begin().await.expect("begin");
    let v = ns.get(&mut t, b"k").await.expect("get");
    ns.abort(&mut t).await;
    v
}

#[tokio::test]
async fn an_update_finished_by_a_second_node_is_refused_whole() {
    let (_server, [(a, ns_a), (_b, ns_b)]) = two_nodes().await;
    a.record(&[(30, "{}".into(), vec!["m".into()])], &[])
        .await
        .unwrap();
    let unit = Unit {
        update_id: Some(30),
        ..Unit::default()
    };
    let first = click(&ns_a, "first", unit.clone()).await;
    assert!(matches!(first, UnitOutcome::Committed { .. }), "{first:?}");
    let second = click(&ns_b, "second", unit).await;
    let UnitOutcome::AlreadyDone(why) = second else {
        panic!("applied twice: {second:?}");
    };
    assert!(
        why.contains("update 30 was handled by module m already"),
        "{why}"
    );
    assert_eq!(counter(&ns_a).await, Some(1i64.to_be_bytes().to_vec()));
    assert_eq!(
        a.outbox().await.unwrap().len(),
        1,
        "only the first reply is queued"
    );
    // The refused node's connection is fine for its next unit.
    let other = Unit::default();
    assert!(matches!(
        click(&ns_b, "x", other).await,
        UnitOutcome::Committed { .. }
    ));
}

#[tokio::test]
async fn a_timer_fires_once_whichever_node_fires_it() {
    let (_server, [(a, ns_a), (_b, ns_b)]) = two_nodes().await;
    let schedule = Unit {
        timers: vec![crate::store::NewTimer {
            id: 40,
            due_ms: 1,
            record: crate::store::TimerRecord {
                module: "m".into(),
                chat_id: None,
                payload_hex: String::new(),
            },
            bytes: 0,
        }],
        ..Unit::default()
    };
    let mut t = ns_a.begin().await.unwrap();
    assert!(matches!(
        ns_a.commit_unit(&mut t, &schedule).await.unwrap(),
        UnitOutcome::Committed { .. }
    ));
    let fire = Unit {
        fired_timer: Some(40),
        ..Unit::default()
    };
    let (x, y) = tokio::join!(
        click(&ns_a, "fired", fire.clone()),
        click(&ns_b, "fired", fire)
    );
    let refused = [&x, &y]
        .iter()
        .filter(|o| matches!(o, UnitOutcome::AlreadyDone(_)))
        .count();
    assert_eq!(refused, 1, "{x:?} {y:?}");
    assert_eq!(counter(&ns_a).await, Some(1i64.to_be_bytes().to_vec()));
    assert_eq!(a.outbox().await.unwrap().len(), 1);
    assert!(a.due_timers(u64::MAX >> 1, 10).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_recording_the_same_webhook_updates_route_each_once() {
    let (_server, [(a, _), (b, _)]) = two_nodes().await;
    let (a, b) = (std::sync::Arc::new(a), std::sync::Arc::new(b));
    let batch = |ids: std::ops::Range<u64>| -> Vec<(u64, String, Vec<String>)> {
        ids.map(|i| (i, format!("{{\"update_id\":{i}}}"), vec!["m".to_string()]))
            .collect()
    };
    // Telegram retries a webhook delivery that timed out, possibly to another node: each node
    // gets every update, in batches that overlap differently.
    let run = |store: std::sync::Arc<PgStore>, step: u64| async move {
        let mut routed = Vec::new();
        let mut from = 1;
        loop {
            let to = (from + step).min(601);
            routed.extend(store.record(&batch(from..to), &[]).await.expect("record"));
            if to == 601 {
                break;
            }
            from = to - step / 3;
        }
        routed
    };
    let (ra, rb) = tokio::join!(
        tokio::spawn(run(a.clone(), 40)),
        tokio::spawn(run(b.clone(), 25))
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let (sa, sb): (BTreeSet<u64>, BTreeSet<u64>) =
        (ra.iter().copied().collect(), rb.iter().copied().collect());
    assert_eq!(ra.len() + rb.len(), 600, "every update routed exactly once");
    assert!(sa.is_disjoint(&sb));
    assert_eq!(
        sa.union(&sb).copied().collect::<Vec<_>>(),
        (1..=600).collect::<Vec<_>>()
    );
    assert_eq!(a.pending_updates().await.unwrap().len(), 600);
}

#[tokio::test]
async fn a_refused_transaction_leaves_nothing_of_its_unit() {
    let (_server, [(a, ns_a), (_b, ns_b)]) = two_nodes().await;
    let updates = vec![
        (1, "{}".into(), vec!["m".into()]),
        (2, "{}".into(), vec!["m".into()]),
    ];
    a.record(&updates, &[]).await.unwrap();
    // Both read the counter, then both try to commit: one of them does not serialize.
    let (mut t1, mut t2) = (ns_a.begin().await.unwrap(), ns_b.begin().await.unwrap());
    ns_a.increment(&mut t1, b"k", 1).await.unwrap();
    ns_b.increment(&mut t2, b"k", 1).await.unwrap();
    let u1 = Unit {
        update_id: Some(1),
        outbox: vec![message("m", 1, "one", None)],
        ..Unit::default()
    };
    let u2 = Unit {
        update_id: Some(2),
        outbox: vec![message("m", 2, "two", None)],
        ..Unit::default()
    };
    let o1 = ns_a.commit_unit(&mut t1, &u1).await.unwrap();
    let o2 = ns_b.commit_unit(&mut t2, &u2).await.unwrap();
    assert!(matches!(o1, UnitOutcome::Committed { .. }), "{o1:?}");
    assert_eq!(o2, UnitOutcome::Conflict);
    let queued = a.outbox().await.unwrap();
    assert_eq!(queued.len(), 1, "the refused unit's message is not queued");
    let pending: Vec<u64> = a
        .pending_updates()
        .await
        .unwrap()
        .iter()
        .map(|p| p.update_id)
        .collect();
    assert_eq!(pending, [2], "the refused unit's update is still owed");
    // Run again, it commits.
    assert!(matches!(
        click(&ns_b, "two", u2).await,
        UnitOutcome::Committed { .. }
    ));
    assert_eq!(counter(&ns_a).await, Some(2i64.to_be_bytes().to_vec()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_mid_stream_leaves_each_unit_whole_or_absent() {
    let mut server = Postgres::start().expect("a throwaway PostgreSQL");
    let store = PgStore::open(&server.url()).await.expect("store");
    let updates: Vec<_> = (1..=100_000u64)
        .map(|i| (i, "{}".to_string(), vec!["m".to_string()]))
        .collect();
    store.record(&updates[..2000], &[]).await.expect("record");
    let ns = PgNamespace::open(store.pool().clone(), "m", LIMITS, ROOMY)
        .await
        .unwrap();
    let ns = std::sync::Arc::new(ns);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let worker = tokio::spawn({
        let ns = ns.clone();
        async move {
            let mut acked = Vec::new();
            for u in 1..=2000u64 {
                let r = async {
                    let mut t = ns.begin().await?;
                    ns.set(&mut t, format!("u{u:05}").as_bytes(), b"x").await?;
                    let unit = Unit {
                        update_id: Some(u),
                        outbox: vec![message("m", u as i64, &format!("reply {u}"), None)],
                        ..Unit::default()
                    };
                    ns.commit_unit(&mut t, &unit).await
                }
                .await;
                let _ = tx.send(());
                match r {
                    Ok(UnitOutcome::Committed { .. }) => acked.push(u),
                    Ok(other) => panic!("update {u}: {other:?}"),
                    Err(_) => return (acked, u),
                }
            }
            (acked, 0)
        }
    });
    for _ in 0..30 {
        rx.recv().await.expect("units commit");
    }
    server.kill().expect("kill -9");
    let (acked, failed_at) = worker.await.unwrap();
    assert!(failed_at > 0, "the worker noticed the kill");
    server.restart().expect("restart");
    let kv = server
        .psql("SELECT convert_from(k, 'UTF8') FROM botbox_kv WHERE ns = 'm' ORDER BY k")
        .unwrap();
    let written: BTreeSet<u64> = kv.lines().map(|k| k[1..].parse().unwrap()).collect();
    let replies = server
        .psql("SELECT chat FROM botbox_outbox ORDER BY chat")
        .unwrap();
    let replied: BTreeSet<u64> = replies.lines().map(|c| c.parse().unwrap()).collect();
    let owed = server
        .psql("SELECT update_id FROM botbox_pending ORDER BY 1")
        .unwrap();
    let owed: BTreeSet<u64> = owed.lines().map(|c| c.parse().unwrap()).collect();
    for u in 1..=2000u64 {
        let done = !owed.contains(&u);
        assert_eq!(
            written.contains(&u),
            done,
            "update {u}: KV write vs done mark"
        );
        assert_eq!(replied.contains(&u), done, "update {u}: reply vs done mark");
    }
    for u in &acked {
        assert!(written.contains(u), "acknowledged update {u} is lost");
    }
    assert!(written.len() >= 30 && written.iter().all(|u| *u <= failed_at));
}
