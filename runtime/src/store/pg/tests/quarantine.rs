//! Quarantine on PostgreSQL (`quarantine.rs`), as any node's admin API uses it: a given-up
//! update read back with its JSON, dropped, or handed back — owed again by its module alone,
//! untaken, in its chat's partition, so that the partition's owner (and only it) takes it.

use std::time::Duration;

use super::*;
use crate::store::pg::{Fence, PgStore, ToRecord, Unit, UnitOutcome, partition_of};

const PARTS: u32 = 4;

/// Two nodes on one database, `a` holding partitions 0 and 1, `b` 2 and 3; namespace `m` on `a`.
async fn two_nodes() -> (
    Postgres,
    PgStore,
    Vec<Fence>,
    PgStore,
    Vec<Fence>,
    PgNamespace,
) {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let a = PgStore::open(&server.url()).await.expect("store");
    let b = PgStore::open(&server.url()).await.expect("store");
    let lease = Duration::from_secs(600);
    a.join("a", PARTS, lease).await.unwrap();
    b.join("b", PARTS, lease).await.unwrap();
    let held_a = a.claim("a", 2).await.unwrap();
    let held_b = b.claim("b", 2).await.unwrap();
    let ns = PgNamespace::open(a.pool().clone(), "m", LIMITS, ROOMY)
        .await
        .expect("namespace");
    (server, a, held_a, b, held_b, ns)
}

/// A chat of partition 3 (held by `b`).
fn chat_of_b() -> i64 {
    (1..).find(|c| partition_of(*c, PARTS) == 3).unwrap()
}

fn raw(id: u64, chat: i64) -> String {
    format!(
        r#"{{"update_id":{id},"message":{{"message_id":1,"date":0,"chat":{{"id":{chat},"type":"private"}},"text":"hi"}}}}"#
    )
}

/// Records update `id` of chat `chat` for `m` and gives it up (as a shard does after its
/// attempts), through node `a` which holds nothing of it: the unit is not fenced.
async fn quarantined(a: &PgStore, ns: &PgNamespace, id: u64, chat: i64) {
    let modules = vec!["m".to_string()];
    let raw = raw(id, chat);
    let update = ToRecord {
        id,
        raw: &raw,
        modules: &modules,
        part: partition_of(chat, PARTS),
    };
    a.record_taking(&[update], &[], &[]).await.unwrap();
    let mut t = ns.begin().await.unwrap();
    let unit = Unit {
        update_id: Some(id),
        quarantine: Some("trapped: unreachable".into()),
        ..Unit::default()
    };
    let outcome = ns.commit_unit(&mut t, &unit).await.unwrap();
    assert!(
        matches!(outcome, UnitOutcome::Committed { .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_handed_back_update_is_taken_once_by_the_owner_of_its_chat_alone() {
    let (_server, a, held_a, b, held_b, ns) = two_nodes().await;
    let chat = chat_of_b();
    quarantined(&a, &ns, 7, chat).await;
    assert!(b.take_owed(&held_b, true, 100).await.unwrap().is_empty());
    b.query(
        "INSERT INTO botbox_crashes (update_id, starts) VALUES (7, 3)",
        &[],
    )
    .await
    .unwrap();

    let shown = b.quarantined_update("m", 7).await.unwrap().expect("shown");
    assert_eq!(shown.reason, "trapped: unreachable");
    assert_eq!(shown.update.as_deref(), Some(raw(7, chat).as_str()));

    // Handed back through node a, which does not hold the chat.
    let part = |_: &str| Ok(partition_of(chat, PARTS));
    let back = a.requeue_quarantined("m", 7, part).await.unwrap();
    assert_eq!(back, raw(7, chat));
    assert!(a.quarantined().await.unwrap().is_empty());
    assert!(a.quarantined_update("m", 7).await.unwrap().is_none());
    let crashes = a.query("SELECT count(*) FROM botbox_crashes", &[]).await;
    assert_eq!(
        crashes.unwrap()[0].get::<_, i64>(0),
        0,
        "its crashes forgotten"
    );

    assert!(
        a.take_owed(&held_a, true, 100).await.unwrap().is_empty(),
        "not the owner: a takes nothing"
    );
    let taken = b.take_owed(&held_b, false, 100).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(
        (
            taken[0].update_id,
            taken[0].modules.clone(),
            taken[0].raw.clone()
        ),
        (7, vec!["m".to_string()], raw(7, chat))
    );
    assert!(
        b.take_owed(&held_b, true, 100).await.unwrap().is_empty(),
        "taken once"
    );

    let again = a.requeue_quarantined("m", 7, part).await.unwrap_err();
    assert!(matches!(again, crate::Error::NotFound(_)), "{again}");
}

#[tokio::test]
async fn a_dropped_update_is_gone_and_an_unparsable_one_stays_quarantined() {
    let (_server, a, _held_a, b, held_b, ns) = two_nodes().await;
    quarantined(&a, &ns, 8, chat_of_b()).await;
    quarantined(&a, &ns, 9, chat_of_b()).await;

    b.drop_quarantined("m", 8).await.unwrap();
    let gone = a.drop_quarantined("m", 8).await.unwrap_err();
    assert!(matches!(gone, crate::Error::NotFound(_)), "{gone}");

    // The partition cannot be told (the caller's parse failed): nothing changes.
    let bad = |_: &str| Err(crate::Error::Corrupt("a kept update: not an update".into()));
    let e = a.requeue_quarantined("m", 9, bad).await.unwrap_err();
    assert!(e.to_string().contains("not an update"), "{e}");
    let left: Vec<u64> = (a.quarantined().await.unwrap().iter())
        .map(|q| q.1)
        .collect();
    assert_eq!(left, [9], "still quarantined, 8 dropped");
    assert!(
        b.take_owed(&held_b, true, 100).await.unwrap().is_empty(),
        "nothing owed"
    );
}
