use super::*;
use crate::clock::unix_secs;

fn db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path()).unwrap();
    (dir, db)
}

fn ticket(message_id: Option<i32>, failed: bool, settled_at_secs: u64) -> Vec<u8> {
    serde_json::to_vec(&TicketRecord {
        module: "m".into(),
        chat_id: 1,
        message_id,
        failed: failed.then(|| "blocked".to_string()),
        settled_at_secs,
        result: None,
    })
    .unwrap()
}

#[test]
fn tickets_go_a_week_after_they_settle_and_queued_ones_stay() {
    let (_dir, db) = db();
    let now = unix_secs();
    let txn = db.raw().begin_write().unwrap();
    {
        let mut t = txn.open_table(TICKETS).unwrap();
        t.insert(1, ticket(Some(7), false, now - 10 * 86_400).as_slice())
            .unwrap();
        t.insert(2, ticket(None, false, 0).as_slice()).unwrap(); // queued a long time
        t.insert(3, ticket(None, true, now - 8 * 86_400).as_slice())
            .unwrap();
        t.insert(4, ticket(Some(9), false, 0).as_slice()).unwrap(); // settled before the field
        t.insert(5, ticket(Some(11), false, now - 3600).as_slice())
            .unwrap();
    }
    txn.commit().unwrap();
    assert_eq!(db.prune_tickets(TICKET_RETENTION).unwrap(), 3);
    assert!(db.ticket(1).unwrap().is_none());
    assert!(
        db.ticket(2).unwrap().is_some(),
        "a queued message keeps its ticket"
    );
    assert!(db.ticket(3).unwrap().is_none());
    assert!(db.ticket(4).unwrap().is_none());
    assert_eq!(db.ticket(5).unwrap().unwrap().message_id, Some(11));
}

#[test]
fn each_module_keeps_its_newest_quarantined_updates() {
    let (_dir, db) = db();
    let txn = db.raw().begin_write().unwrap();
    {
        let mut q = txn.open_table(QUARANTINE).unwrap();
        for id in 1..=5 {
            q.insert(("alpha", id), "trap").unwrap();
        }
        for id in [3, 8] {
            q.insert(("beta", id), "trap").unwrap();
        }
    }
    txn.commit().unwrap();
    assert_eq!(db.prune_quarantine(3).unwrap(), 2);
    let left: Vec<(String, u64)> = db
        .quarantined()
        .unwrap()
        .into_iter()
        .map(|(module, id, _)| (module, id))
        .collect();
    assert_eq!(
        left,
        [
            ("alpha".into(), 3),
            ("alpha".into(), 4),
            ("alpha".into(), 5),
            ("beta".into(), 3),
            ("beta".into(), 8)
        ]
    );
}

#[test]
fn a_removed_module_s_unfinished_updates_go_and_others_keep_theirs() {
    let (_dir, db) = db();
    let txn = db.raw().begin_write().unwrap();
    {
        let mut inbox = txn.open_table(INBOX).unwrap();
        let mut pending = txn.open_table(PENDING).unwrap();
        let mut crashes = txn.open_table(CRASHES).unwrap();
        inbox.insert(10, b"{}".as_slice()).unwrap();
        inbox.insert(11, b"{}".as_slice()).unwrap();
        pending.insert((10, "gone"), ()).unwrap();
        pending.insert((10, "stays"), ()).unwrap();
        pending.insert((11, "gone"), ()).unwrap();
        crashes.insert(11, 1).unwrap();
    }
    txn.commit().unwrap();
    assert_eq!(db.forget_pending_of("gone").unwrap(), 2);
    let sizes: std::collections::HashMap<_, _> = db.table_sizes().unwrap().into_iter().collect();
    assert_eq!(sizes["pending"], 1, "update 10 still waits for `stays`");
    assert_eq!(sizes["inbox"], 1);
    assert_eq!(sizes["crashes"], 0);
}

#[test]
fn a_prune_larger_than_a_batch_takes_several_transactions_and_keeps_the_highest_id() {
    let (_dir, db) = db();
    let old = unix_secs() - 3 * 86_400;
    let count = 2 * BATCH as u64 + 5;
    let txn = db.raw().begin_write().unwrap();
    {
        let mut seen = txn.open_table(SEEN).unwrap();
        for id in 1..=count {
            seen.insert(id, old).unwrap();
        }
    }
    txn.commit().unwrap();
    assert_eq!(db.prune_seen(SEEN_RETENTION).unwrap(), count as usize - 1);
    assert_eq!(db.last_seen().unwrap(), Some(count));
}
