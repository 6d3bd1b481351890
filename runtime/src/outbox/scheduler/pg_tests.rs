//! The scheduler on PostgreSQL with real parts: a throwaway PostgreSQL (tests/postgres-harness),
//! entries committed by units of work (`PgNamespace::commit_unit`), the real scheduler sending to
//! the fake Bot API. What is checked is what a user and the operator see: the messages in the
//! chats (each once), the queue emptied in `botbox_outbox`, the tickets' records, the files'
//! Telegram ids, and deliveries recorded after PostgreSQL came back from a SIGKILL.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use fake_bot_api::{FakeBotApi, FakeConfig, TestUser};
use teloxide_core::Bot;
use throwaway_postgres::Postgres;
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
};

use super::{Deps, Uploads, run};
use crate::{
    config::OutboxConfig,
    outbox::{Action, Entry, Priority, Target, metrics::OutboxStats, queued},
    store::{
        Committer, Db,
        pg::{
            PgStore, Unit, UnitOutcome,
            kv::PgNamespace,
            tests::{LIMITS, ROOMY},
        },
        records::StoredFile,
    },
};

/// PostgreSQL, the fake Bot API, and the node-local parts the scheduler is given beside them.
struct Bench {
    server: Postgres,
    fake: FakeBotApi,
    pg: Arc<PgStore>,
    ns: PgNamespace,
    db: Arc<Db>,
    committer: Committer,
    _dir: tempfile::TempDir,
}

/// A running scheduler: its channel (what `Committer::committed_elsewhere` feeds) and its stop.
struct Running {
    tx: mpsc::UnboundedSender<(u64, Entry)>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    stats: Arc<OutboxStats>,
}

impl Running {
    /// Stops the scheduler as the runtime does at shutdown, and waits for it.
    async fn stop(self) {
        self.stop.send_replace(true);
        self.task.await.expect("the scheduler ends");
    }
}

async fn bench() -> Bench {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let fake = FakeBotApi::start(FakeConfig::default()).expect("the fake Bot API");
    fake.open_chats([TestUser::alice(), TestUser::bob()]);
    let pg = Arc::new(PgStore::open(&server.url()).await.expect("store"));
    let ns = PgNamespace::open(pg.pool().clone(), "m", LIMITS, ROOMY)
        .await
        .expect("namespace");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Arc::new(Db::open(dir.path()).expect("redb"));
    let (to_outbox, _) = mpsc::unbounded_channel();
    let (fatal, _) = watch::channel(None);
    let committer = Committer::start(db.raw().clone(), to_outbox, fatal).expect("committer");
    Bench {
        server,
        fake,
        pg,
        ns,
        db,
        committer,
        _dir: dir,
    }
}

impl Bench {
    /// Starts a scheduler (a node starting: nothing in memory) on `initial`.
    fn start(&self, initial: Vec<(u64, Entry)>) -> Running {
        let bot = Bot::new(self.fake.token()).set_api_url(self.fake.api_url());
        let stats = Arc::new(OutboxStats::default());
        let deps = Deps {
            transport: crate::bot_api::transport::Transport::of(&bot),
            bot: crate::bot_api::deadline::sending_bot(&bot),
            uploads: Arc::new(Uploads::default()),
            db: self.db.clone(),
            committer: self.committer.clone(),
            pg: Some(self.pg.clone()),
            stats: stats.clone(),
            blocked: Arc::default(),
            quotas: Arc::default(),
            queued: Arc::default(),
            checkouts: Arc::default(),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(deps, OutboxConfig::default(), initial, rx, stopped));
        Running {
            tx,
            stop,
            task,
            stats,
        }
    }

    /// Commits a unit (no update, no KV writes) queuing `outbox` with the files' bytes `files`;
    /// answers the entries with the sequence numbers PostgreSQL gave them.
    async fn queue(
        &self,
        outbox: Vec<Entry>,
        files: Vec<(String, bytes::Bytes)>,
    ) -> Vec<(u64, Entry)> {
        let unit = Unit {
            outbox: outbox.clone(),
            files,
            ..Unit::default()
        };
        let mut txn = self.ns.begin().await.expect("begin");
        match self.ns.commit_unit(&mut txn, &unit).await.expect("commit") {
            UnitOutcome::Committed { seqs } => seqs.into_iter().zip(outbox).collect(),
            other => panic!("the unit did not commit: {other:?}"),
        }
    }

    /// The queue's sequence numbers in `botbox_outbox`.
    async fn queued_seqs(&self) -> Vec<u64> {
        let rows = self.pg.outbox().await.expect("outbox");
        rows.into_iter().map(|(seq, _)| seq).collect()
    }

    /// A number `sql` answers (a count).
    async fn number(&self, sql: &str) -> i64 {
        let rows = self.pg.query(sql, &[]).await.expect("query");
        rows[0].get(0)
    }

    /// The delivered message id on `ticket`'s record, once it is recorded.
    async fn delivered(&self, ticket: u64) -> i32 {
        let mut id = None;
        eventually(
            &format!("ticket {ticket} recorded as delivered"),
            async || {
                id = self
                    .pg
                    .ticket(ticket)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|r| r.message_id);
                id.is_some()
            },
        )
        .await;
        id.expect("checked above")
    }
}

/// Waits until `check` holds, looking again every 20 ms; fails the test after 60 s.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "not within 60 s: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn text(chat: i64, text: &str, ticket: Option<u64>) -> Entry {
    Entry {
        module: "m".into(),
        chat_id: chat,
        priority: Priority::Interactive,
        ticket,
        action: Action::Send {
            text: text.into(),
            parse_mode: None,
            reply_markup: None,
            reply_to: None,
            silent: false,
        },
        queued_at_ms: 0,
    }
}

/// A photo sent through `bot-api`, uploading the file of SHA-256 `sha`.
fn photo(chat: i64, sha: &str, ticket: u64) -> Entry {
    let params = serde_json::json!({ "chat_id": chat, "photo": "attach://photo" });
    Entry {
        ticket: Some(ticket),
        action: Action::Call {
            name: "sendPhoto".into(),
            params: params.as_object().expect("an object").clone(),
            files: vec![StoredFile {
                name: "photo".into(),
                file_name: "p.png".into(),
                sha256: sha.into(),
                size: PNG.len() as u64,
                shared_by: 2,
            }],
            acting_on: None,
        },
        ..text(chat, "", None)
    }
}

/// The start of a 2×2 PNG: enough for the fake to read its size.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x02\0\0\0\x02\x08\x06\0\0\0\0\0\0\0";

/// The texts of the bot's messages in `chat` (edited ones as they read now).
fn texts(fake: &FakeBotApi, chat: i64) -> Vec<String> {
    fake.transcript(chat)
        .into_iter()
        .filter(|m| m.from_bot && !m.deleted)
        .map(|m| m.text)
        .collect()
}

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
    let initial = queued(&t.db, Some(&t.pg)).await.expect("queued");
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
    let rest = queued(&t.db, Some(&t.pg)).await.expect("queued");
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
    let s = t.start(queued(&t.db, Some(&t.pg)).await.expect("queued"));
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
    let read = queued(&t.db, Some(&t.pg)).await.expect("queued");
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
