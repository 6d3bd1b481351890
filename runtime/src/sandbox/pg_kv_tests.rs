//! The KV seam's PostgreSQL side through the real sandbox: the example clicker, compiled from
//! source, runs `handle-update` with a `ModuleEnv` whose KV is a namespace on a throwaway
//! PostgreSQL; each call's transaction is committed with its unit of work (replies and the
//! update's done mark) by `PgNamespace::commit_unit`, as a node of a cluster will. Two "nodes"
//! (two pools, two instances) handle the same user's clicks at once: the second unit is refused
//! and run again, never lost, and its refused run leaves no reply.

use std::sync::Arc;

use throwaway_postgres::Postgres;

use super::{GuestLog, Instance, ModuleEnv, OutgoingLimits, Sandbox, TicketCounter};
use crate::{
    bindings::types,
    config::{Config, SandboxConfig},
    store::{
        Db,
        kv::Namespace,
        kv_txn::KvNamespace,
        pg::{PgStore, Unit, UnitOutcome, kv::PgNamespace},
    },
};

pub(crate) const MODULE: &str = "clicker";

/// One node: its store (own pool), the module's namespace on it, an instance of the clicker
/// and its environment.
pub(crate) struct Node {
    pub(crate) store: PgStore,
    pub(crate) ns: Arc<PgNamespace>,
    pub(crate) instance: Instance,
    pub(crate) env: Arc<ModuleEnv>,
}

/// `tickets`: the node's ticket counter; the test below shares one between its nodes, which
/// `pg_ticket_tests.rs` gives each node its own, drawn from PostgreSQL (`PgIds`).
pub(crate) async fn node(
    server: &Postgres,
    sandbox: &Sandbox,
    code: &super::ModuleCode,
    db: &Arc<Db>,
    tickets: &Arc<TicketCounter>,
) -> Node {
    let config = Config::default();
    let store = PgStore::open(&server.url()).await.expect("store");
    let ns = PgNamespace::open(
        store.pool().clone(),
        MODULE,
        config.kv_limits(),
        config.kv_quota(),
    );
    let ns = Arc::new(ns.await.expect("namespace"));
    let redb = Namespace::for_init(db.raw().clone(), MODULE, config.kv_limits());
    let env = Arc::new(ModuleEnv {
        name: MODULE.into(),
        namespace: Arc::new(redb),
        kv: KvNamespace::Pg(ns.clone()),
        tag: "c".into(),
        config: toml::Table::new(),
        log: GuestLog::new(MODULE.into(), 60, 10),
        tickets: tickets.clone(),
        db: db.clone(),
        recent_tickets: Arc::default(),
        capabilities: parking_lot::RwLock::default(),
        max_timers: 0,
        max_timer_bytes: 0,
        queued_outbox: Arc::default(),
        max_queued_outbox_bytes: 1 << 20,
        clock: crate::clock::Clock::default(),
        http: OutgoingLimits::from_config(&config.http),
        bot: None,
        reads: Default::default(),
        wanted_kinds: Default::default(),
    });
    let mut instance = sandbox
        .instantiate(code, env.clone())
        .await
        .expect("instance");
    instance.init().await.expect("init");
    Node {
        store,
        ns,
        instance,
        env,
    }
}

/// A private-chat message of `user` (chat id = user id) saying `text`.
pub(crate) fn message(update_id: i64, user: i64, name: &str, text: &str) -> types::Update {
    let from = types::User {
        id: user,
        is_bot: false,
        first_name: name.into(),
        last_name: None,
        username: None,
        language_code: None,
    };
    let chat = types::Chat {
        id: user,
        kind: types::ChatKind::Private,
        title: None,
        username: None,
        first_name: Some(name.into()),
    };
    types::Update {
        update_id,
        kind: types::UpdateKind::Message(types::Message {
            message_id: i32::try_from(update_id).expect("small"),
            chat,
            from: Some(from),
            date: 0,
            text: Some(text.into()),
            caption: None,
            reply_to_message_id: None,
        }),
        raw_json: "{}".into(),
        command: text.strip_prefix('/').map(str::to_string),
        command_args: String::new(),
    }
}

/// Records `update` as the intake does (owed to the clicker).
pub(crate) async fn record(node: &Node, update: &types::Update) {
    let id = update.update_id.cast_unsigned();
    let modules = vec![MODULE.to_string()];
    let fresh = node.store.record(&[(id, "{}".into(), modules)], &[]).await;
    assert_eq!(fresh.expect("recorded"), [id]);
}

/// Runs the handler on `node` and commits its call's transaction with its unit of work.
async fn handle(node: &mut Node, update: &types::Update) -> UnitOutcome {
    let chat = Some(update.update_id); // only for the default priority
    let (result, mut out) = node.instance.handle(update, chat).await;
    result.expect("the handler succeeds");
    let unit = Unit {
        update_id: Some(update.update_id.cast_unsigned()),
        outbox: std::mem::take(&mut out.outbox),
        ..Unit::default()
    };
    let txn = out
        .txn
        .pg(&node.ns)
        .await
        .expect("a PostgreSQL transaction");
    node.ns.commit_unit(txn, &unit).await.expect("commit")
}

/// Handles `update` on `node` until its unit commits; how many runs PostgreSQL refused.
pub(crate) async fn handled(node: &mut Node, update: &types::Update) -> u32 {
    let mut refused = 0;
    loop {
        match handle(node, update).await {
            UnitOutcome::Committed { .. } => return refused,
            UnitOutcome::Conflict => refused += 1,
            other => panic!("update {}: {other:?}", update.update_id),
        }
    }
}

/// The texts queued for `chat`, in outbox order.
pub(crate) async fn replies(node: &Node, chat: i64) -> Vec<String> {
    let outbox = node.store.outbox().await.expect("outbox");
    let texts = outbox.into_iter().filter_map(|(_, bytes)| {
        let entry: crate::store::records::Entry = serde_json::from_slice(&bytes).expect("entry");
        match entry.action {
            crate::store::records::Action::Send { text, .. } if entry.chat_id == chat => Some(text),
            _ => None,
        }
    });
    texts.collect()
}

/// The clicks the clicker keeps for `user` (its JSON record under `user/` + the id as the SDK
/// encodes it), read back through the namespace.
async fn clicks(ns: &PgNamespace, user: i64) -> u64 {
    let mut key = b"user/".to_vec();
    key.extend_from_slice(&(user.cast_unsigned() ^ (1 << 63)).to_be_bytes());
    let mut txn = ns.begin().await.expect("begin");
    let record = ns
        .get(&mut txn, &key)
        .await
        .expect("get")
        .expect("registered");
    ns.abort(&mut txn).await;
    let record: serde_json::Value = serde_json::from_slice(&record).expect("JSON");
    record["clicks"].as_u64().expect("clicks")
}

#[tokio::test]
async fn the_clicker_counts_on_postgresql_and_a_concurrent_click_is_run_again_not_lost() {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox =
        Sandbox::new(&SandboxConfig::default(), &dir.path().join("cache")).expect("engine");
    let bytes = std::fs::read(botbox_test_artifacts::CLICKER).expect("the clicker's component");
    let code = sandbox.compile("clicker.wasm", &bytes).expect("compiles");
    let db = Arc::new(Db::open(&dir.path().join("data")).expect("redb for tickets"));
    let tickets = Arc::new(TicketCounter::new(0));
    let mut a = node(&server, &sandbox, &code, &db, &tickets).await;
    let mut b = node(&server, &sandbox, &code, &db, &tickets).await;
    let (ann, bob) = (101, 202);

    // Two users register and click, one update at a time, on node a.
    let sequence = [
        message(1, ann, "Ann", "/start"),
        message(2, bob, "Bob", "/start"),
        message(3, ann, "Ann", "Click"),
        message(4, ann, "Ann", "Click"),
        message(5, bob, "Bob", "Click"),
    ];
    for update in &sequence {
        record(&a, update).await;
        assert_eq!(
            handled(&mut a, update).await,
            0,
            "nothing runs concurrently"
        );
    }
    assert_eq!((clicks(&a.ns, ann).await, clicks(&b.ns, bob).await), (2, 1));

    // Ann clicks twice at once, on both nodes: both calls read 2 clicks before either commits.
    let (on_a, on_b) = (
        message(6, ann, "Ann", "Click"),
        message(7, ann, "Ann", "Click"),
    );
    record(&a, &on_a).await;
    record(&b, &on_b).await;
    let (result_a, mut out_a) = a.instance.handle(&on_a, Some(ann)).await;
    let (result_b, mut out_b) = b.instance.handle(&on_b, Some(ann)).await;
    result_a.and(result_b).expect("both handlers succeed");
    let unit = |id: u64, out: &mut super::CallOutput| Unit {
        update_id: Some(id),
        outbox: std::mem::take(&mut out.outbox),
        ..Unit::default()
    };
    let (unit_a, unit_b) = (unit(6, &mut out_a), unit(7, &mut out_b));
    let txn_a = out_a.txn.pg(&a.ns).await.expect("begun");
    let first = a.ns.commit_unit(txn_a, &unit_a).await.expect("commit");
    assert!(matches!(first, UnitOutcome::Committed { .. }), "{first:?}");
    let txn_b = out_b.txn.pg(&b.ns).await.expect("begun");
    let second = b.ns.commit_unit(txn_b, &unit_b).await.expect("commit");
    assert_eq!(second, UnitOutcome::Conflict, "it read 2 clicks, now 3");
    // Refused whole: no reply of it, its update still owed.
    assert_eq!(clicks(&b.ns, ann).await, 3);
    let pending = b.store.pending_updates().await.expect("pending");
    assert_eq!(pending.iter().map(|p| p.update_id).collect::<Vec<_>>(), [7]);
    assert_eq!(
        replies(&b, ann).await.last().map(String::as_str),
        Some("Clicks: 3")
    );

    // Run again, as the host does after a conflict: it counts on from 3.
    assert_eq!(handled(&mut b, &on_b).await, 0);
    assert_eq!((clicks(&a.ns, ann).await, clicks(&a.ns, bob).await), (4, 1));
    assert!(b.store.pending_updates().await.expect("pending").is_empty());
    let ann_sees = replies(&a, ann).await;
    assert_eq!(ann_sees.len(), 5, "{ann_sees:?}");
    assert!(ann_sees[0].starts_with("Hello, Ann!"), "{ann_sees:?}");
    assert_eq!(
        ann_sees[1..],
        ["Clicks: 1", "Clicks: 2", "Clicks: 3", "Clicks: 4"]
    );
    let bob_sees = replies(&a, bob).await;
    assert!(
        bob_sees.len() == 2 && bob_sees[1] == "Clicks: 1",
        "{bob_sees:?}"
    );

    // The rating sees both users, from PostgreSQL, on either node.
    let rating = message(8, bob, "Bob", "Rating");
    record(&b, &rating).await;
    assert_eq!(handled(&mut b, &rating).await, 0);
    let board = replies(&a, bob).await.pop().expect("a rating");
    assert_eq!(board, "Total: 2\n1: Ann - 4\n2: Bob - 1");
}
