//! Moving a bot between the stores with the portable snapshot: redb → snapshot → PostgreSQL →
//! snapshot → redb gives back every row of every table; the restored bot goes on from there on
//! PostgreSQL; a restore never mixes two bots, and a snapshot it cannot place is refused whole.

use redb::{Database, ReadableDatabase, TableDefinition, TableHandle};

use throwaway_postgres::Postgres;

use super::{rows, snapshot};
use crate::{
    backup,
    store::{
        self, Db,
        pg::{
            Copied, PgStore, Unit, UnitOutcome,
            kv::PgNamespace,
            tests::{LIMITS, ROOMY},
        },
    },
};

const KV_CLICKER: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("kv:clicker");
const KV_IDLE: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("kv:idle");

const ENTRY: &[u8] = br#"{"module":"clicker","chat_id":42,"priority":"interactive","ticket":8,"action":{"method":"send","text":"Clicks: 3","parse_mode":null,"reply_markup":null,"reply_to":null,"silent":false},"queued_at_ms":5}"#;

/// A bot with a row in every table of the embedded store.
fn sample(dir: &std::path::Path) -> Db {
    let db = Db::open(dir).unwrap();
    let txn = db.raw().begin_write().unwrap();
    {
        txn.open_table(store::INBOX)
            .unwrap()
            .insert(9, UPDATE_9.as_bytes())
            .unwrap();
        let mut pending = txn.open_table(store::PENDING).unwrap();
        pending.insert((9, "clicker"), ()).unwrap();
        pending.insert((9, "echo"), ()).unwrap();
        let mut seen = txn.open_table(store::SEEN).unwrap();
        seen.insert(7, 1_700_000_000).unwrap();
        seen.insert(9, 1_700_000_001).unwrap();
        txn.open_table(store::OUTBOX)
            .unwrap()
            .insert(12, ENTRY)
            .unwrap();
        let ticket = br#"{"module":"clicker","chat_id":42,"message_id":null,"failed":null,"settled_at_secs":0}"#;
        txn.open_table(store::TICKETS)
            .unwrap()
            .insert(8, ticket.as_slice())
            .unwrap();
        let mut meta = txn.open_table(store::META).unwrap();
        meta.insert(store::META_NEXT_TICKET, 11u64.to_be_bytes().as_slice())
            .unwrap();
        meta.insert(store::META_NEXT_SEQ, 13u64.to_be_bytes().as_slice())
            .unwrap();
        txn.open_table(store::QUARANTINE)
            .unwrap()
            .insert(("echo", 3), "trapped")
            .unwrap();
        let raw = br#"{"update_id":3}"#.as_slice();
        txn.open_table(store::QUARANTINED_UPDATES)
            .unwrap()
            .insert(("echo", 3), raw)
            .unwrap();
        let timer = br#"{"module":"clicker","chat_id":42,"payload_hex":"00ff"}"#.as_slice();
        txn.open_table(store::TIMERS)
            .unwrap()
            .insert((1_700_000_500_000, 10), timer)
            .unwrap();
        txn.open_table(store::TIMER_DUE)
            .unwrap()
            .insert(10, 1_700_000_500_000)
            .unwrap();
        let mut kv = txn.open_table(KV_CLICKER).unwrap();
        kv.insert(b"".as_slice(), b"empty key".as_slice()).unwrap();
        kv.insert(b"\x00\xff\x00".as_slice(), b"\xfe\xfd".as_slice())
            .unwrap();
        kv.insert(b"clicks:42".as_slice(), 3i64.to_be_bytes().as_slice())
            .unwrap();
        txn.open_table(KV_IDLE).unwrap();
        txn.open_table(store::FILE_BYTES)
            .unwrap()
            .insert("ab12", b"\x89PNG".as_slice())
            .unwrap();
        txn.open_table(store::FILES)
            .unwrap()
            .insert("ab12", br#"{"refs":1}"#.as_slice())
            .unwrap();
        txn.open_table(store::OWNERS)
            .unwrap()
            .insert("poll:P1", "1700000000 echo")
            .unwrap();
        txn.open_table(store::CONVERSATIONS)
            .unwrap()
            .insert("42:7", "1700000900 dialogue")
            .unwrap();
        txn.open_table(store::BROADCASTS)
            .unwrap()
            .insert(8, br#"{"chats":1}"#.as_slice())
            .unwrap();
        txn.open_table(store::CRASHES)
            .unwrap()
            .insert(9, 2)
            .unwrap();
    }
    txn.commit().unwrap();
    db
}

/// Update 9, owed: a text in chat 42.
const UPDATE_9: &str = r#"{"update_id":9,"message":{"message_id":1,"date":0,"chat":{"id":42,"type":"private","first_name":"A"},"from":{"id":42,"is_bot":false,"first_name":"A"},"text":"hi"}}"#;

/// Every table of `a` and `b` holds the same records.
fn same_tables(a: &Database, b: &Database) {
    let names = |db: &Database| -> Vec<String> {
        let txn = db.begin_read().unwrap();
        let mut n: Vec<String> = txn
            .list_tables()
            .unwrap()
            .map(|t| t.name().to_string())
            .collect();
        n.sort();
        n
    };
    let kv: Vec<String> = names(a)
        .into_iter()
        .filter(|n| n.starts_with("kv:"))
        .collect();
    let kv_b: Vec<String> = names(b)
        .into_iter()
        .filter(|n| n.starts_with("kv:"))
        .collect();
    assert_eq!(kv, kv_b, "the same namespaces, the empty one too");
    macro_rules! same {
        ($($def:expr),*) => {$(
            assert_eq!(rows(a, $def), rows(b, $def), "table {}", $def.name());
        )*};
    }
    same!(
        store::INBOX,
        store::PENDING,
        store::SEEN,
        store::OUTBOX,
        store::TICKETS,
        store::META
    );
    same!(
        store::QUARANTINE,
        store::QUARANTINED_UPDATES,
        store::TIMERS,
        store::TIMER_DUE
    );
    same!(
        store::FILES,
        store::FILE_BYTES,
        store::OWNERS,
        store::CONVERSATIONS
    );
    same!(store::BROADCASTS, store::CRASHES, KV_CLICKER, KV_IDLE);
}

async fn restore_into(store: &PgStore, bytes: &[u8]) -> crate::Result<Copied> {
    let (_, db) = backup::read_into_empty(bytes).unwrap();
    store.restore_from(&db).await
}

#[tokio::test]
async fn a_bot_moves_from_redb_to_postgres_and_back_with_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let original = sample(dir.path());
    let a = snapshot(original.raw());
    let server = Postgres::start().unwrap();
    let pg = PgStore::open(&server.url()).await.unwrap();
    let copied = restore_into(&pg, &a).await.unwrap();
    assert_eq!(copied["kv:clicker"], 3);
    assert_eq!(copied["outbox"], 1);

    // The bot's state as the PostgreSQL store reads it.
    let pending = pg.pending_updates().await.unwrap();
    assert_eq!(
        (pending[0].update_id, pending[0].modules.clone()),
        (9, vec!["clicker".into(), "echo".into()])
    );
    assert_eq!(pg.outbox().await.unwrap(), [(12, ENTRY.to_vec())]);
    // The owed update, the message and the timer under chat 42's partition (its owner handles,
    // sends and fires them), the update and the message taken by nobody yet.
    let part = async |sql: &str| -> (u32, i64) {
        let row = &pg.query(sql, &[]).await.unwrap()[0];
        (row.get::<_, i32>(0) as u32, row.get::<_, i64>(1))
    };
    let of_42 = store::pg::partition_of(42, store::pg::PARTITIONS);
    assert_eq!(
        part("SELECT part, taken FROM botbox_outbox").await,
        (of_42, 0)
    );
    assert_eq!(
        part("SELECT part, taken FROM botbox_pending LIMIT 1").await,
        (of_42, 0)
    );
    assert_eq!(
        part("SELECT part, 0::bigint FROM botbox_timers").await,
        (of_42, 0)
    );
    assert_eq!(pg.ticket(8).await.unwrap().unwrap().chat_id, 42);
    assert_eq!(
        pg.due_timers(u64::MAX >> 1, 10).await.unwrap()[0]
            .record
            .payload_hex,
        "00ff"
    );
    assert_eq!(
        pg.quarantined_raw("echo", 3).await.unwrap().as_deref(),
        Some(r#"{"update_id":3}"#)
    );
    let ns = PgNamespace::open(pg.pool().clone(), "clicker", LIMITS, ROOMY)
        .await
        .unwrap();
    let mut t = ns.begin().await.unwrap();
    assert_eq!(ns.increment(&mut t, b"clicks:42", 1).await.unwrap(), 4);
    assert_eq!(
        ns.usage(&mut t).await.unwrap().keys,
        3,
        "the usage counts the restored keys"
    );
    ns.abort(&mut t).await;

    // Back to redb: every row of every table.
    let back = Database::builder()
        .create_with_backend(redb::backends::InMemoryBackend::new())
        .unwrap();
    pg.backup_into(&back).await.unwrap();
    let b = snapshot(&back);
    let info = backup::verify(b.as_slice()).unwrap();
    assert_eq!(info.records, backup::verify(a.as_slice()).unwrap().records);
    let (_, returned) = backup::read_into_empty(b.as_slice()).unwrap();
    same_tables(original.raw(), &returned);
}

#[tokio::test]
async fn the_restored_bot_goes_on_numbering_after_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let a = snapshot(sample(dir.path()).raw());
    let server = Postgres::start().unwrap();
    let pg = PgStore::open(&server.url()).await.unwrap();
    restore_into(&pg, &a).await.unwrap();
    let ns = PgNamespace::open(pg.pool().clone(), "clicker", LIMITS, ROOMY)
        .await
        .unwrap();
    let mut t = ns.begin().await.unwrap();
    let ids = pg.new_ids(1).await.unwrap();
    assert!(
        ids[0] > 10,
        "after the restored tickets and timers: {ids:?}"
    );
    let mut entry: crate::store::records::Entry = serde_json::from_slice(ENTRY).unwrap();
    entry.ticket = Some(ids[0]);
    let unit = Unit {
        update_id: Some(9),
        outbox: vec![entry],
        ..Unit::default()
    };
    let UnitOutcome::Committed { seqs } = ns.commit_unit(&mut t, &unit).await.unwrap() else {
        panic!("not committed");
    };
    assert!(seqs[0] > 12, "after the restored queue: {seqs:?}");
    let ids = pg.new_ids(1).await.unwrap();
    assert!(
        ids[0] > 10,
        "after the restored tickets and timers: {ids:?}"
    );
}

#[tokio::test]
async fn a_restore_into_a_database_that_holds_a_bot_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = snapshot(sample(dir.path()).raw());
    let server = Postgres::start().unwrap();
    let pg = PgStore::open(&server.url()).await.unwrap();
    restore_into(&pg, &a).await.unwrap();
    let before = server.psql("SELECT count(*) FROM botbox_kv").unwrap();
    let err = restore_into(&pg, &a).await.unwrap_err().to_string();
    assert!(err.contains("holds a bot already"), "{err}");
    assert_eq!(
        server.psql("SELECT count(*) FROM botbox_kv").unwrap(),
        before
    );
}

#[tokio::test]
async fn a_snapshot_with_a_table_the_store_does_not_know_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample(dir.path());
    let txn = db.raw().begin_write().unwrap();
    let later: TableDefinition<'_, u64, u64> = TableDefinition::new("a_later_version");
    txn.open_table(later).unwrap().insert(1, 1).unwrap();
    txn.commit().unwrap();
    let server = Postgres::start().unwrap();
    let pg = PgStore::open(&server.url()).await.unwrap();
    let err = restore_into(&pg, &snapshot(db.raw()))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("a_later_version"), "{err}");
    assert_eq!(server.psql("SELECT count(*) FROM botbox_kv").unwrap(), "0");
    assert_eq!(
        server.psql("SELECT count(*) FROM botbox_seen").unwrap(),
        "0"
    );
}
