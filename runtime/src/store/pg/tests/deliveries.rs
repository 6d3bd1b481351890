//! The outbox's records on PostgreSQL (`deliveries.rs`) against the units that add to the same
//! rows: a file's references and bytes stay right while deliveries release it and units queue it
//! again at the same moment, and a record sent twice (its first outcome unknown) changes nothing
//! the second time.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use super::*;
use crate::store::{
    TicketRecord,
    pg::{
        Delivered, PgStore, Unit, UnitOutcome,
        txn::BEGIN,
        unit::{ADD_REFERENCES, STORE_BYTES},
    },
    records::StoredFile,
};

/// A photo to `chat` uploading the file `sha`.
fn photo(chat: i64, sha: &str) -> Entry {
    Entry {
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
        ..message("m", chat, "", None)
    }
}

/// Commits a unit queuing one photo of `sha` (run again after a conflict, as the host does);
/// answers its sequence number.
async fn queue_photo(ns: &PgNamespace, chat: i64, sha: &str) -> u64 {
    let unit = Unit {
        outbox: vec![photo(chat, sha)],
        files: vec![(sha.to_string(), bytes::Bytes::from_static(b"hello"))],
        ..Unit::default()
    };
    loop {
        let mut txn = ns.begin().await.expect("begin");
        match ns.commit_unit(&mut txn, &unit).await.expect("commit") {
            UnitOutcome::Committed { seqs } => return seqs[0],
            UnitOutcome::Conflict => continue,
            other => panic!("{other:?}"),
        }
    }
}

/// Records `d` until it lands, as the scheduler does (a refusal is tried again).
async fn finish(store: &PgStore, d: &Delivered) {
    for _ in 0..100 {
        if store.finish_entry(d).await.is_ok() {
            return;
        }
    }
    panic!("entry {} was never recorded", d.seq);
}

/// The file's (references, file id) in `botbox_files`, and whether its bytes are stored.
async fn file(store: &PgStore, sha: &str) -> (Option<(i64, Option<String>)>, bool) {
    let row = store
        .query(
            "SELECT (convert_from(v, 'UTF8')::jsonb ->> 'refs')::bigint, \
                    convert_from(v, 'UTF8')::jsonb ->> 'file_id' FROM botbox_files WHERE k = $1",
            &[&sha],
        )
        .await
        .expect("files");
    let bytes = store.file_bytes(sha).await.expect("bytes");
    (row.first().map(|r| (r.get(0), r.get(1))), bytes.is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_sent_twice_releases_its_files_once_and_keeps_the_upload_s_id() {
    let (pg, pool, ns) = server(LIMITS, ROOMY).await;
    let _keep = pg;
    let store = PgStore::with_pool(pool);
    let sha = "e".repeat(64);
    let first = queue_photo(&ns, 1, &sha).await;
    let _second = queue_photo(&ns, 2, &sha).await;
    assert_eq!(file(&store, &sha).await, (Some((2, None)), true));
    let sent = TicketRecord {
        module: "m".into(),
        chat_id: 1,
        message_id: Some(50),
        failed: None,
        settled_at_secs: 1,
        result: None,
    };
    let d = Delivered {
        seq: first,
        ticket: Some((40, sent.clone())),
        uploaded: vec![(sha.clone(), "FILE-ID".into())],
        owned: vec![("msg:1:50".into(), "m".into())],
    };
    store.finish_entry(&d).await.expect("recorded");
    store.finish_entry(&d).await.expect("recorded again");
    let kept = Some((1, Some("FILE-ID".to_string())));
    assert_eq!(file(&store, &sha).await, (kept, true), "one reference less");
    assert_eq!(
        store.file_id(&sha).await.expect("id").as_deref(),
        Some("FILE-ID")
    );
    assert_eq!(store.ticket(40).await.expect("ticket"), Some(sent));
    let owners = store
        .query("SELECT v FROM botbox_owners WHERE k = 'msg:1:50'", &[])
        .await
        .expect("owners");
    let owner: String = owners[0].get(0);
    assert!(owner.ends_with(" m"), "{owner}");
    assert_eq!(store.outbox().await.expect("outbox").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_released_and_queued_again_at_once_keeps_its_count_and_its_bytes() {
    let (pg, pool, ns) = server(LIMITS, ROOMY).await;
    let _keep = pg;
    let store = Arc::new(PgStore::with_pool(pool));
    let sha = "f".repeat(64);
    let mut held = queue_photo(&ns, 1, &sha).await;
    // Each round, the last queued copy is delivered while a unit queues the next one.
    for round in 0..40 {
        let d = Delivered {
            seq: held,
            ..Delivered::default()
        };
        let (next, ()) = tokio::join!(queue_photo(&ns, round, &sha), finish(&store, &d));
        held = next;
        assert_eq!(
            file(&store, &sha).await,
            (Some((1, None)), true),
            "round {round}: the queued copy's reference and its bytes"
        );
    }
    finish(
        &store,
        &Delivered {
            seq: held,
            ..Delivered::default()
        },
    )
    .await;
    assert_eq!(
        file(&store, &sha).await,
        (None, false),
        "nothing needs it any more"
    );
    assert!(store.outbox().await.expect("outbox").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_released_while_a_unit_queues_it_again_keeps_its_bytes() {
    let (pg, pool, ns) = server(LIMITS, ROOMY).await;
    let _keep = pg;
    let store = Arc::new(PgStore::with_pool(pool.clone()));
    let sha = "a".repeat(64);
    let last = queue_photo(&ns, 1, &sha).await;
    // A unit sending the file again, its file statements by hand: the bytes are there already.
    let unit = pool.get().await.expect("a connection");
    let c = &unit.client;
    let (shas, blobs) = (vec![sha.clone()], vec![&b"hello"[..]]);
    c.batch_execute(BEGIN).await.expect("begin");
    c.execute(STORE_BYTES, &[&shas, &blobs])
        .await
        .expect("bytes");
    // Meanwhile the delivery of the file's last queued copy is recorded: it waits for the unit.
    let releasing = tokio::spawn({
        let store = store.clone();
        async move {
            let d = Delivered {
                seq: last,
                ..Delivered::default()
            };
            finish(&store, &d).await
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'";
    while !releasing.is_finished()
        && store.query(waiting, &[]).await.expect("activity")[0].get::<_, i64>(0) == 0
    {
        assert!(
            Instant::now() < deadline,
            "the delivery neither waits nor ends"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The unit adds its reference and commits; refused (a deadlock), it runs again.
    let refs = vec![br#"{"refs":1}"#.to_vec()];
    let added = async {
        c.execute(ADD_REFERENCES, &[&shas, &refs]).await?;
        c.batch_execute("COMMIT").await
    };
    if added.await.is_err() {
        let _ = c.batch_execute("ROLLBACK").await;
        queue_photo(&ns, 2, &sha).await;
    }
    releasing.await.expect("recorded");
    assert_eq!(
        file(&store, &sha).await,
        (Some((1, None)), true),
        "the unit's reference, and the bytes it found"
    );
}
