//! Updates owed with several nodes (`owed.rs`): the recording node takes those of its
//! partitions, the owner of a partition takes what others recorded there, and after a takeover
//! the new owner takes again what the last one took and did not finish — each row by one node.

use std::time::Duration;

use super::*;
use crate::store::pg::{Fence, PgStore, ToRecord, partition_of};

const LEASE: Duration = Duration::from_secs(600);
const PARTS: u32 = 4;

/// Two nodes on one database, `a` holding partitions 0 and 1, `b` 2 and 3.
async fn two_nodes() -> (Postgres, PgStore, Vec<Fence>, PgStore, Vec<Fence>) {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let a = PgStore::open(&server.url()).await.expect("store");
    let b = PgStore::open(&server.url()).await.expect("store");
    a.join("a", PARTS, LEASE).await.unwrap();
    b.join("b", PARTS, LEASE).await.unwrap();
    let held_a = a.claim("a", 2).await.unwrap();
    let held_b = b.claim("b", 2).await.unwrap();
    (server, a, held_a, b, held_b)
}

/// A chat in `partition`.
fn chat_in(partition: u32) -> i64 {
    (1..)
        .find(|c| partition_of(*c, PARTS) == partition)
        .unwrap()
}

fn ids(updates: &[crate::store::PendingUpdate]) -> Vec<u64> {
    updates.iter().map(|u| u.update_id).collect()
}

/// Updates 1..=4, one per partition, routed to `m` (update n in partition n - 1).
async fn record_four(by: &PgStore, held: &[Fence]) -> Vec<(u64, bool)> {
    let modules = vec!["m".to_string()];
    let updates: Vec<ToRecord<'_>> = (0..PARTS)
        .map(|p| ToRecord {
            id: u64::from(p) + 1,
            raw: "{}",
            modules: &modules,
            part: partition_of(chat_in(p), PARTS),
        })
        .collect();
    by.record_taking(&updates, &[], held).await.unwrap()
}

#[tokio::test]
async fn the_recording_node_takes_its_partitions_and_the_owners_take_the_rest_once() {
    let (_server, a, held_a, b, held_b) = two_nodes().await;
    assert_eq!(
        record_four(&a, &held_a).await,
        [(1, true), (2, true), (3, false), (4, false)]
    );
    assert!(
        record_four(&b, &held_b).await.is_empty(),
        "recorded once, whichever node receives it"
    );
    assert_eq!(
        ids(&b.take_owed(&held_b, false, 100).await.unwrap()),
        [3, 4]
    );
    assert!(b.take_owed(&held_b, false, 100).await.unwrap().is_empty());
    assert!(
        b.take_owed(&held_b, true, 100).await.unwrap().is_empty(),
        "taken at the present epoch: nothing stale"
    );
    assert!(
        a.take_owed(&held_a, true, 100).await.unwrap().is_empty(),
        "a took its own when it recorded them"
    );
    assert_eq!(
        ids(&b.taken_updates_for("m", 0, &held_b, 100).await.unwrap()),
        [3, 4],
        "the backlog reads what the node took"
    );
    assert_eq!(
        ids(&a.taken_updates_for("m", 0, &held_a, 100).await.unwrap()),
        [1, 2]
    );
}

#[tokio::test]
async fn after_a_takeover_the_new_owner_takes_what_the_last_one_left_unfinished() {
    let (_server, a, held_a, b, held_b) = two_nodes().await;
    record_four(&b, &held_b).await;
    a.take_owed(&held_a, false, 100).await.unwrap();
    // b gives partition 3 up (or dies); a claims it at a new epoch.
    b.release("b", &[3]).await.unwrap();
    let gained = a.claim("a", 1).await.unwrap();
    assert_eq!(gained.len(), 1);
    assert_eq!(gained[0].partition, 3);
    let mut held = held_a.clone();
    held.extend(gained);
    assert!(
        a.take_owed(&held, false, 100).await.unwrap().is_empty(),
        "b had taken it: not untaken"
    );
    assert_eq!(ids(&a.take_owed(&held, true, 100).await.unwrap()), [4]);
    assert!(
        b.taken_updates_for("m", 0, &held_b, 100)
            .await
            .unwrap()
            .iter()
            .all(|u| u.update_id != 4),
        "b's view of partition 3 is stale: its backlog no longer reads it"
    );
}

#[tokio::test]
async fn a_node_with_a_stale_epoch_takes_nothing() {
    let (_server, a, held_a, b, held_b) = two_nodes().await;
    record_four(&a, &held_a).await;
    // b's partitions move to new epochs (b's lease ran out, it renewed) behind its view.
    b.release("b", &[2, 3]).await.unwrap();
    let again = b.claim("b", 2).await.unwrap();
    assert!(again.iter().zip(&held_b).all(|(n, o)| n.epoch > o.epoch));
    assert!(b.take_owed(&held_b, true, 100).await.unwrap().is_empty());
    let modules = vec!["m".to_string()];
    let late = [ToRecord {
        id: 9,
        raw: "{}",
        modules: &modules,
        part: 2,
    }];
    assert_eq!(
        b.record_taking(&late, &[], &held_b).await.unwrap(),
        [(9, false)],
        "recorded, not taken under a stale epoch"
    );
    assert_eq!(
        ids(&b.take_owed(&again, false, 100).await.unwrap()),
        [3, 4, 9]
    );
}
