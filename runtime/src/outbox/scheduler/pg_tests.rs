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
            Owned, PARTITIONS, PgStore, Unit, UnitOutcome,
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
        self.start_holding(initial, None)
    }

    /// [`Bench::start`] for a node holding `owned` (its lease decides whether it sends).
    fn start_holding(&self, initial: Vec<(u64, Entry)>, owned: Option<Arc<Owned>>) -> Running {
        let bot = Bot::new(self.fake.token()).set_api_url(self.fake.api_url());
        let stats = Arc::new(OutboxStats::default());
        let deps = Deps {
            transport: crate::bot_api::transport::Transport::of(&bot),
            bot: crate::bot_api::deadline::sending_bot(&bot),
            uploads: Arc::new(Uploads::default()),
            db: self.db.clone(),
            committer: self.committer.clone(),
            pg: Some(self.pg.clone()),
            owned,
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

    /// A node `name` entered in the database holding `want` partitions (the lowest free ones),
    /// its lease renewed now.
    async fn node(&self, name: &str, want: usize) -> Arc<Owned> {
        let lease = Duration::from_secs(15);
        self.pg.join(name, PARTITIONS, lease).await.expect("join");
        let fences = self.pg.claim(name, want).await.expect("claim");
        let owned = Arc::new(Owned::new(PARTITIONS));
        owned.set(&fences);
        owned.renewed(Instant::now(), lease);
        owned
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

mod delivery;
mod nodes;
mod restart;
