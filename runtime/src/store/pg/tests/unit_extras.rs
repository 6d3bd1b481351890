//! The rest of what a handling carries on PostgreSQL: the files its messages upload, the
//! conversations it declared or withdrew, the broadcasts it queued — committed with its unit,
//! refused with it, and read back as the operator reads them after moving the bot, through a
//! backup of the PostgreSQL store (`export.rs`) and the embedded store's own readers.

use redb::{ReadableDatabase, ReadableTableMetadata};

use super::*;
use crate::store::{
    CONVERSATIONS, Db, FILES,
    conversations::Expect,
    files::FileRow,
    pg::{PgStore, Unit, UnitOutcome},
    records::StoredFile,
};

/// A photo sent to `chat`, uploading the file of SHA-256 `sha`.
fn photo(chat: i64, sha: &str) -> Entry {
    Entry {
        module: "m".into(),
        chat_id: chat,
        priority: Priority::Interactive,
        ticket: None,
        action: Action::Call {
            name: "sendPhoto".into(),
            params: serde_json::Map::new(),
            files: vec![StoredFile {
                name: "photo".into(),
                file_name: "p.png".into(),
                sha256: sha.into(),
                size: 5,
                shared_by: 1,
            }],
            acting_on: None,
        },
        queued_at_ms: 0,
    }
}

fn expect(module: &str, chat: i64, user: Option<i64>, until_secs: u64) -> Expect {
    Expect {
        module: module.into(),
        chat_id: chat,
        user_id: user,
        until_secs,
    }
}

/// Commits `unit` on `ns` with no KV writes.
async fn commit(ns: &PgNamespace, unit: &Unit) -> UnitOutcome {
    let mut txn = ns.begin().await.expect("begin");
    ns.commit_unit(&mut txn, unit).await.expect("commit")
}

#[tokio::test]
async fn files_conversations_and_broadcasts_land_with_their_unit_and_not_with_a_refused_one() {
    let (server, pool, m) = server(LIMITS, ROOMY).await;
    let store = PgStore::open(&server.url()).await.expect("store");
    let q = PgNamespace::open(pool.clone(), "q", LIMITS, ROOMY).await;
    let q = q.expect("namespace q");
    let owed = |ids: &[u64], module: &str| -> Vec<(u64, String, Vec<String>)> {
        let one = |&i: &u64| (i, "{}".to_string(), vec![module.to_string()]);
        ids.iter().map(one).collect()
    };
    store
        .record(&owed(&[1, 2], "m"), &[])
        .await
        .expect("record");
    store.record(&owed(&[3], "q"), &[]).await.expect("record");
    let later = crate::clock::unix_secs() + 600;
    let (a, b) = ("a".repeat(64), "b".repeat(64));

    // Another module waits for anyone's text in chat 5.
    let theirs = Unit {
        update_id: Some(3),
        expects: vec![expect("q", 5, None, later)],
        ..Unit::default()
    };
    assert!(matches!(
        commit(&q, &theirs).await,
        UnitOutcome::Committed { .. }
    ));

    // Update 1: two photos of one file, conversations declared (one withdrawn again at once),
    // a broadcast.
    let first = Unit {
        update_id: Some(1),
        outbox: vec![photo(7, &a), photo(8, &a)],
        files: vec![(a.clone(), bytes::Bytes::from_static(b"hello"))],
        expects: vec![
            expect("m", 7, Some(1), later),
            expect("m", 7, None, later),
            expect("m", 9, Some(1), later),
            expect("m", 9, Some(1), 0),
        ],
        broadcasts: vec![(100, 2)],
        ..Unit::default()
    };
    let seqs = match commit(&m, &first).await {
        UnitOutcome::Committed { seqs } => seqs,
        other => panic!("{other:?}"),
    };
    assert_eq!(seqs.len(), 2);

    // The same update again, with other rows: refused whole.
    let again = Unit {
        update_id: Some(1),
        outbox: vec![photo(7, &b)],
        files: vec![(b.clone(), bytes::Bytes::from_static(b"other"))],
        expects: vec![expect("m", 8, Some(1), later)],
        broadcasts: vec![(200, 5)],
        ..Unit::default()
    };
    assert!(matches!(
        commit(&m, &again).await,
        UnitOutcome::AlreadyDone(_)
    ));

    // Update 2: a third photo of the same file (its bytes sent again, stored once); withdraws
    // its conversation with user 1 in chat 7, and one in chat 5 it never declared.
    let second = Unit {
        update_id: Some(2),
        outbox: vec![photo(9, &a)],
        files: vec![(a.clone(), bytes::Bytes::from_static(b"hello"))],
        expects: vec![expect("m", 7, Some(1), 0), expect("m", 5, None, 0)],
        ..Unit::default()
    };
    assert!(matches!(
        commit(&m, &second).await,
        UnitOutcome::Committed { .. }
    ));

    // What a backup of the PostgreSQL store holds, read as the embedded store reads it.
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path()).expect("db");
    store.backup_into(db.raw()).await.expect("backup");
    assert_eq!(
        db.file_bytes(&a).expect("read").as_deref(),
        Some(&b"hello"[..])
    );
    assert_eq!(
        db.file_bytes(&b).expect("read"),
        None,
        "refused with its unit"
    );
    assert_eq!(db.stored_files().expect("files"), (1, 5));
    let read = db.raw().begin_read().expect("read");
    let files = read.open_table(FILES).expect("files");
    let row = files.get(a.as_str()).expect("get").expect("a's row");
    let row: FileRow = serde_json::from_slice(row.value()).expect("FileRow");
    assert_eq!((row.refs, row.file_id), (3, None), "one per queued photo");
    assert!(files.get(b.as_str()).expect("get").is_none());

    let owner = |chat, user| db.conversation_owner(chat, user).expect("owner");
    assert_eq!(
        owner(7, Some(1)).as_deref(),
        Some("m"),
        "chat 7's: anyone's"
    );
    assert_eq!(owner(7, Some(2)).as_deref(), Some("m"));
    assert_eq!(
        owner(9, Some(1)),
        None,
        "withdrawn in the unit that declared it"
    );
    assert_eq!(owner(8, Some(1)), None, "refused with its unit");
    assert_eq!(
        owner(5, Some(3)).as_deref(),
        Some("q"),
        "not m's to withdraw"
    );
    let talks = read.open_table(CONVERSATIONS).expect("conversations");
    assert_eq!(talks.len().expect("len"), 2, "7:* and 5:*; 7:1 withdrawn");

    let casts = db.broadcasts(10).expect("broadcasts");
    assert_eq!(casts.len(), 1, "{casts:?}");
    assert_eq!((casts[0].first_ticket, casts[0].record.chats), (100, 2));
    assert_eq!(casts[0].record.module, "m");
    assert_eq!(casts[0].waiting(), 2);
}
