//! Entries committed on PostgreSQL, delivered once and recorded there; PostgreSQL killed while
//! a delivery's record is being written.

use std::time::Duration;

use fake_bot_api::TestUser;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_committed_on_postgresql_is_delivered_once_and_recorded_there() {
    let t = bench().await;
    let alice = TestUser::alice().chat_id();
    let hello = t
        .queue(vec![text(alice, "Hello", Some(7))], Vec::new())
        .await;
    let nowhere = t
        .queue(vec![text(424_242, "Lost", Some(8))], Vec::new())
        .await;
    // Read at start, and handed over on the channel too (committed while the node started).
    let initial = queued(&t.db, Some(&t.pg), None).await.expect("queued");
    assert_eq!(initial, [hello.clone(), nowhere.clone()].concat());
    let s = t.start(initial);
    s.tx.send(hello[0].clone()).expect("sent");

    let id = t.delivered(7).await;
    eventually("the queue emptied in botbox_outbox", async || {
        t.queued_seqs().await.is_empty()
    })
    .await;
    let rec = t.pg.ticket(7).await.expect("read").expect("a record");
    assert_eq!((rec.chat_id, rec.failed), (alice, None));
    let sent = t.fake.transcript(alice);
    assert_eq!(sent.len(), 1, "delivered once: {sent:?}");
    assert_eq!(
        (sent[0].message_id, &*sent[0].text),
        (i64::from(id), "Hello")
    );
    let owner =
        format!("SELECT count(*) FROM botbox_owners WHERE k = 'msg:{alice}:{id}' AND v LIKE '% m'");
    assert_eq!(t.number(&owner).await, 1, "a reply to it is the module's");
    // The chat that does not exist: given up, and that is on its ticket.
    let lost = t.pg.ticket(8).await.expect("read").expect("a record");
    assert!(
        lost.message_id.is_none() && lost.failed.is_some(),
        "{lost:?}"
    );
    s.stop().await;
    assert!(t.db.outbox().expect("redb").is_empty() && t.db.ticket(7).expect("redb").is_none());
    assert_eq!(t.fake.counters().sends, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_killed_while_a_delivery_is_recorded_loses_nothing() {
    let mut t = bench().await;
    let alice = TestUser::alice().chat_id();
    let before = t
        .queue(vec![text(alice, "before", Some(21))], Vec::new())
        .await;
    let s = t.start(Vec::new());
    t.server.kill().expect("kill -9");
    s.tx.send(before[0].clone()).expect("sent");
    // Telegram took it; its record cannot land while the server is away.
    t.fake
        .wait_for_bot_text(alice, "before", Duration::from_secs(30))
        .await
        .expect("delivered");
    eventually("the delivery counted", async || {
        s.stats.delivered.load(std::sync::atomic::Ordering::Relaxed) == 1
    })
    .await;
    tokio::task::block_in_place(|| t.server.restart()).expect("restart");

    // Back: the record lands, and the scheduler goes on with the chat's next message.
    let id = t.delivered(21).await;
    eventually("the queue emptied", async || {
        t.queued_seqs().await.is_empty()
    })
    .await;
    let after = t
        .queue(vec![text(alice, "after", Some(22))], Vec::new())
        .await;
    s.tx.send(after[0].clone()).expect("sent");
    let next = t.delivered(22).await;
    assert!(next > id);
    assert_eq!(texts(&t.fake, alice), ["before", "after"], "each once");
    assert_eq!(t.fake.counters().sends, 2);
    assert!(!s.task.is_finished(), "the scheduler runs on");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_unsure_of_its_lease_sends_nothing_until_a_renewal_says_it_holds() {
    let t = bench().await;
    let alice = TestUser::alice().chat_id();
    let queued = t
        .queue(vec![text(alice, "after the pause", Some(31))], Vec::new())
        .await;
    // As after a pause: the last renewal began a minute ago, its 15 s are long over.
    let owned = t.node("n", PARTITIONS as usize).await;
    owned.renewed(
        Instant::now() - Duration::from_secs(60),
        Duration::from_secs(15),
    );
    let s = t.start_holding(queued, Some(owned.clone()));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        t.fake.transcript(alice).is_empty(),
        "sent while another node may hold the chat"
    );
    owned.renewed(Instant::now(), Duration::from_secs(15));
    t.delivered(31).await;
    assert_eq!(t.fake.transcript(alice).len(), 1);
    s.stop().await;
}
