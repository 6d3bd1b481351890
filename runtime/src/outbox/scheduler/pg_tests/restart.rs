//! What a node finds on PostgreSQL when it starts: the queue in order, the tickets its edits act
//! on, and the Telegram ids of files uploaded before.

use fake_bot_api::TestUser;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_uploaded_once_keeps_its_id_in_postgresql_and_a_later_copy_goes_by_it() {
    let t = bench().await;
    let (alice, bob) = (TestUser::alice().chat_id(), TestUser::bob().chat_id());
    let sha = "c".repeat(64);
    let png = bytes::Bytes::from_static(PNG);
    let both = vec![photo(alice, &sha, 1), photo(bob, &sha, 2)];
    let queued_now = t.queue(both, vec![(sha.clone(), png)]).await;
    let file = format!(
        "SELECT convert_from(v, 'UTF8')::jsonb ->> 'refs' FROM botbox_files WHERE k = '{sha}'"
    );
    let refs = async || {
        t.pg.query(&file, &[])
            .await
            .expect("query")
            .first()
            .map(|r| r.get::<_, String>(0))
    };

    // One node sends Alice's copy only, and stops.
    let s = t.start(vec![queued_now[0].clone()]);
    t.delivered(1).await;
    s.stop().await;
    assert_eq!(
        refs().await.as_deref(),
        Some("1"),
        "Bob's copy still needs the file"
    );
    let kept = t.pg.file_id(&sha).await.expect("read");
    assert!(kept.is_some(), "the upload's id is kept");
    assert_eq!(t.fake.counters().uploads, 1);

    // Restarted with nothing in memory: Bob's copy goes by the id PostgreSQL kept.
    let rest = queued(&t.db, Some(&t.pg), None).await.expect("queued");
    assert_eq!(rest, [queued_now[1].clone()]);
    let s = t.start(rest);
    t.delivered(2).await;
    let c = t.fake.counters();
    assert_eq!((c.uploads, c.sent_by_file_id, c.sends), (1, 1, 2));
    // Nothing queued needs the file any more: its row and bytes are gone.
    assert_eq!(refs().await, None);
    let bytes = format!("SELECT count(*) FROM botbox_file_bytes WHERE k = '{sha}'");
    assert_eq!(t.number(&bytes).await, 0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_queued_before_a_restart_are_read_back_in_order_and_an_edit_finds_its_ticket() {
    let t = bench().await;
    let (alice, bob) = (TestUser::alice().chat_id(), TestUser::bob().chat_id());
    let first = t.queue(vec![text(alice, "v1", Some(11))], Vec::new()).await;
    let s = t.start(queued(&t.db, Some(&t.pg), None).await.expect("queued"));
    t.delivered(11).await;
    s.stop().await;

    // Queued while no scheduler runs, by three units.
    let edit = Entry {
        action: Action::EditText {
            target: Target::Ticket(11),
            text: "v2".into(),
            parse_mode: None,
            reply_markup: None,
        },
        ..text(alice, "", None)
    };
    let mut expected = t.queue(vec![text(bob, "b1", None), edit], Vec::new()).await;
    expected.extend(t.queue(vec![text(bob, "b2", Some(12))], Vec::new()).await);
    expected.extend(t.queue(vec![text(alice, "a2", Some(13))], Vec::new()).await);
    let read = queued(&t.db, Some(&t.pg), None).await.expect("queued");
    assert_eq!(read, expected, "read back whole, in queue order");
    assert!(read.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(
        !read.iter().any(|(seq, _)| *seq == first[0].0),
        "the delivered one is gone"
    );

    // A fresh node sends them: the edit reads ticket 11's message id from PostgreSQL.
    let s = t.start(read);
    t.delivered(12).await;
    t.delivered(13).await;
    eventually("the queue emptied", async || {
        t.queued_seqs().await.is_empty()
    })
    .await;
    assert_eq!(texts(&t.fake, alice), ["v2", "a2"]);
    assert_eq!(texts(&t.fake, bob), ["b1", "b2"]);
    s.stop().await;
}
