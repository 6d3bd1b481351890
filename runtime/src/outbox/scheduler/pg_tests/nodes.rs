//! Several nodes serving one bot on PostgreSQL: each node sends the messages of the chats of its
//! partitions — those its own units queued, and those it picks up from `botbox_outbox` (a
//! broadcast, a message a unit of another chat sent) — every message once; after a partition
//! moves, its new owner sends what the old one had taken and not sent, and the old one nothing
//! more of it; a row claimed before its local finish and answered after it is not sent again.

use std::{sync::atomic::Ordering, time::Duration};

use fake_bot_api::TestUser;

use super::*;
use crate::store::pg::Fence;

/// Users 3001.. with a chat open, each chat with the partition it is in.
fn users(fake: &FakeBotApi, n: i64) -> Vec<(i64, u32)> {
    let users: Vec<TestUser> = (0..n).map(|i| TestUser::new(3001 + i, "U")).collect();
    fake.open_chats(&users);
    let owned = Owned::new(PARTITIONS);
    users
        .iter()
        .map(|u| (u.id, owned.partition(u.id)))
        .collect()
}

impl Bench {
    /// Commits, as node `owned`, a unit of `chat` (fenced by its partition) queuing `outbox`,
    /// and hands its scheduler what `effects/pg.rs` hands it: the entries written taken.
    async fn queue_on(
        &self,
        node: (&Arc<Owned>, &Running),
        chat: i64,
        outbox: Vec<Entry>,
    ) -> Vec<(u64, Entry)> {
        let ns = PgNamespace::open(self.pg.pool().clone(), "m", LIMITS, ROOMY)
            .await
            .expect("namespace")
            .fenced_by(node.0.clone());
        let unit = Unit {
            outbox: outbox.clone(),
            fence: ns.fence_for(Some(chat)),
            ..Unit::default()
        };
        let mut txn = ns.begin().await.expect("begin");
        let seqs = match ns.commit_unit(&mut txn, &unit).await.expect("commit") {
            UnitOutcome::Committed { seqs } => seqs,
            other => panic!("the unit did not commit: {other:?}"),
        };
        let all: Vec<(u64, Entry)> = seqs.into_iter().zip(outbox).collect();
        for (seq, e) in &all {
            if unit.taken_at(e.chat_id) != 0 {
                node.1.tx.send((*seq, e.clone())).expect("sent");
            }
        }
        all
    }

    /// Waits until the queue in `botbox_outbox` is empty, then a few pickups more.
    async fn all_sent(&self) {
        eventually("the queue emptied", async || {
            self.queued_seqs().await.is_empty()
        })
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn delivered(r: &Running) -> u64 {
    r.stats.delivered.load(Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_each_send_their_partitions_messages_and_every_message_goes_once() {
    let t = bench().await;
    let chats = users(&t.fake, 16);
    let half = PARTITIONS / 2;
    let (a, b) = (
        t.node("a", half as usize).await,
        t.node("b", half as usize).await,
    );
    for o in [&a, &b] {
        o.set_nodes(2);
    }
    let (on_a, on_b) = (
        t.start_holding(Vec::new(), Some(a.clone())),
        t.start_holding(Vec::new(), Some(b.clone())),
    );
    let mine = |p: u32| p < half;
    assert!(chats.iter().any(|c| mine(c.1)) && chats.iter().any(|c| !mine(c.1)));
    // Each chat's own unit replies to it, on the node that holds the chat.
    for &(chat, p) in &chats {
        let node = if mine(p) { (&a, &on_a) } else { (&b, &on_b) };
        t.queue_on(node, chat, vec![text(chat, "reply", None)])
            .await;
    }
    // And a broadcast to all of them, from a unit of one chat on node a.
    let from = chats.iter().find(|c| mine(c.1)).expect("a chat of a").0;
    let all = chats.iter().map(|c| text(c.0, "news", None)).collect();
    t.queue_on((&a, &on_a), from, all).await;

    t.all_sent().await;
    for &(chat, _) in &chats {
        assert_eq!(
            texts(&t.fake, chat),
            ["reply", "news"],
            "chat {chat}, once each"
        );
    }
    let of_a = chats.iter().filter(|c| mine(c.1)).count() as u64;
    let of_b = chats.len() as u64 - of_a;
    assert_eq!(
        delivered(&on_a),
        2 * of_a,
        "a sends its chats' messages only"
    );
    assert_eq!(
        delivered(&on_b),
        2 * of_b,
        "b sends its chats' messages only"
    );
    assert_eq!(t.fake.counters().sends, 2 * chats.len() as u64);
    on_a.stop().await;
    on_b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_to_a_chat_of_another_node_is_sent_by_that_node_once() {
    let t = bench().await;
    let chats = users(&t.fake, 16);
    let half = PARTITIONS / 2;
    let (a, b) = (
        t.node("a", half as usize).await,
        t.node("b", half as usize).await,
    );
    let (on_a, on_b) = (
        t.start_holding(Vec::new(), Some(a.clone())),
        t.start_holding(Vec::new(), Some(b.clone())),
    );
    let of_a = chats.iter().find(|c| c.1 < half).expect("a chat of a").0;
    let of_b = chats.iter().find(|c| c.1 >= half).expect("a chat of b").0;
    // A unit of a's chat sends to b's chat (a ticket, so the record says who delivered it).
    let sent = t
        .queue_on((&a, &on_a), of_a, vec![text(of_b, "over there", Some(5))])
        .await;
    let taken = format!("SELECT taken FROM botbox_outbox WHERE seq = {}", sent[0].0);
    assert_eq!(t.number(&taken).await, 0, "left for b to pick up");
    t.delivered(5).await;
    t.all_sent().await;
    assert_eq!(texts(&t.fake, of_b), ["over there"]);
    assert_eq!((delivered(&on_a), delivered(&on_b)), (0, 1));
    on_a.stop().await;
    on_b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_partition_moves_its_new_owner_sends_what_the_old_one_took_and_the_old_one_nothing()
{
    let t = bench().await;
    let chats = users(&t.fake, 4);
    let (chat, p) = chats[0];
    // Node a holds every partition; it queues three messages of the chat, taken by it, and is
    // paused before sending any (its lease is not sure).
    let a = t.node("a", PARTITIONS as usize).await;
    a.renewed(
        Instant::now() - Duration::from_secs(60),
        Duration::from_secs(15),
    );
    let on_a = t.start_holding(Vec::new(), Some(a.clone()));
    let msgs = ["one", "two", "three"]
        .map(|m| text(chat, m, None))
        .to_vec();
    let fence = a.fence(chat);
    let ns = PgNamespace::open(t.pg.pool().clone(), "m", LIMITS, ROOMY)
        .await
        .expect("namespace")
        .fenced_by(a.clone());
    let unit = Unit {
        outbox: msgs.clone(),
        fence: Some(fence),
        ..Unit::default()
    };
    let mut txn = ns.begin().await.expect("begin");
    let UnitOutcome::Committed { seqs } = ns.commit_unit(&mut txn, &unit).await.expect("commit")
    else {
        panic!("not committed")
    };
    for q in seqs.iter().copied().zip(msgs) {
        on_a.tx.send(q).expect("sent");
    }
    let taken = format!(
        "SELECT count(*) FROM botbox_outbox WHERE taken = {}",
        fence.epoch
    );
    assert_eq!(t.number(&taken).await, 3, "taken by a");

    // The partition moves to node b, at a new epoch.
    t.pg.release("a", &[p]).await.expect("release");
    let b = t.node("b", 1).await;
    assert_eq!(
        b.held().iter().map(|f| f.partition).collect::<Vec<_>>(),
        [p]
    );
    assert!(b.fence(chat).epoch > fence.epoch);
    let on_b = t.start_holding(Vec::new(), Some(b.clone()));
    // Node a comes back from its pause and learns what it holds now.
    let left: Vec<Fence> = a.held().into_iter().filter(|f| f.partition != p).collect();
    a.set(&left);
    a.renewed(Instant::now(), Duration::from_secs(15));

    t.all_sent().await;
    assert_eq!(
        texts(&t.fake, chat),
        ["one", "two", "three"],
        "each once, in order"
    );
    assert_eq!((delivered(&on_a), delivered(&on_b)), (0, 3));
    on_a.stop().await;
    on_b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_with_its_partitions_at_the_same_epochs_sends_what_its_last_run_took() {
    let t = bench().await;
    let chats = users(&t.fake, 2);
    let chat = chats[0].0;
    // The last run took the chat's messages (its own unit's) and stopped before sending them
    // (unsure of its lease).
    let a = t.node("a", PARTITIONS as usize).await;
    a.renewed(
        Instant::now() - Duration::from_secs(60),
        Duration::from_secs(15),
    );
    let last = t.start_holding(Vec::new(), Some(a.clone()));
    let msgs = vec![text(chat, "one", None), text(chat, "two", None)];
    t.queue_on((&a, &last), chat, msgs).await;
    last.stop().await;
    let taken = format!(
        "SELECT count(*) FROM botbox_outbox WHERE taken = {}",
        a.fence(chat).epoch
    );
    assert_eq!(t.number(&taken).await, 2);
    // This run holds the same partitions at the same epochs, and read nothing at start (it
    // came to hold them later): its pickup takes those rows again.
    a.renewed(Instant::now(), Duration::from_secs(15));
    let this = t.start_holding(Vec::new(), Some(a.clone()));
    t.all_sent().await;
    assert_eq!(texts(&t.fake, chat), ["one", "two"], "each once");
    assert_eq!(delivered(&this), 2);
    this.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_claimed_before_its_delivery_was_recorded_and_answered_after_is_not_sent_again() {
    let t = bench().await;
    let alice = TestUser::alice().chat_id();
    let owned = t.node("a", PARTITIONS as usize).await;
    let bot = Bot::new(t.fake.token()).set_api_url(t.fake.api_url());
    let stats = Arc::new(OutboxStats::default());
    let deps = Deps {
        transport: crate::bot_api::transport::Transport::of(&bot),
        bot: crate::bot_api::deadline::sending_bot(&bot),
        uploads: Arc::new(Uploads::default()),
        db: t.db.clone(),
        committer: t.committer.clone(),
        pg: Some(t.pg.clone()),
        owned: Some(owned.clone()),
        stats: stats.clone(),
        blocked: Arc::default(),
        quotas: Arc::default(),
        queued: Arc::default(),
        checkouts: Arc::default(),
    };
    // The claims are this test's, not a pickup's.
    let (tx, rx) = mpsc::unbounded_channel();
    let (claims, claimed) = mpsc::unbounded_channel();
    let (stop, stopped) = watch::channel(false);
    let cfg = OutboxConfig::default();
    let task = tokio::spawn(super::super::run_with(
        deps,
        cfg,
        Vec::new(),
        rx,
        Some(claimed),
        stopped,
    ));
    let first = t
        .queue(vec![text(alice, "first", Some(1))], Vec::new())
        .await;
    // A claim begins; the entry reaches the scheduler, is delivered and recorded...
    let begun = Instant::now();
    tx.send(first[0].clone()).expect("sent");
    t.delivered(1).await;
    eventually("the delivery recorded", async || {
        t.queued_seqs().await.is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // ... and the claim's answer, holding the row, comes after.
    let rows = first.clone();
    claims
        .send(super::super::pickup::Claims { begun, rows })
        .expect("claimed");
    // A later claim with a new row: once it is sent, the first claim was taken in long ago.
    let second = t
        .queue(vec![text(alice, "second", Some(2))], Vec::new())
        .await;
    let rows = second.clone();
    let begun = Instant::now();
    claims
        .send(super::super::pickup::Claims { begun, rows })
        .expect("claimed");
    t.delivered(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(texts(&t.fake, alice), ["first", "second"], "each once");
    assert_eq!(stats.delivered.load(Ordering::Relaxed), 2);
    stop.send_replace(true);
    task.await.expect("the scheduler ends");
}
