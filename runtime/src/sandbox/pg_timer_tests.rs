//! The timers imports on PostgreSQL with real parts: the timer probe (`tests/guests/timer-probe`)
//! compiled from source, the real `Sandbox`, each node's module with its KV (and so its timers)
//! on a throwaway PostgreSQL, its ids from `botbox_ids`, each call's transaction committed with
//! its unit of work (`commit_unit`, what the shard's `commit_call` does on PostgreSQL). What is
//! checked is what the probe answers its users and what the store holds. A timer's firing
//! through the intake's read and the shard's finish: `intake/timers/pg_tests.rs`.

use std::sync::Arc;

use throwaway_postgres::Postgres;

use super::{
    GuestLog, ModuleEnv, OutgoingLimits, Sandbox, TicketCounter,
    pg_kv_tests::{Node, message, replies},
};
use crate::{
    bindings::types,
    config::{Config, SandboxConfig},
    store::{
        Committer, Db,
        kv::Namespace,
        kv_txn::KvNamespace,
        pg::{PgIds, PgStore, Unit, UnitOutcome, kv::PgNamespace},
    },
};

pub(crate) const PROBE: &str = "timer-probe";
pub(crate) const ANN: i64 = 101;

/// The nodes' parts: the compiled probe, the process's committer, the redb file it needs.
pub(crate) struct Bench {
    pub(crate) server: Postgres,
    _dir: tempfile::TempDir,
    sandbox: Arc<Sandbox>,
    code: super::ModuleCode,
    pub(crate) db: Arc<Db>,
    pub(crate) committer: Committer,
}

pub(crate) async fn bench() -> Bench {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox =
        Sandbox::new(&SandboxConfig::default(), &dir.path().join("cache")).expect("engine");
    let bytes = std::fs::read(botbox_test_artifacts::TIMER_PROBE).expect("the probe");
    let code = sandbox
        .compile("timer-probe.wasm", &bytes)
        .expect("compiles");
    let db = Arc::new(Db::open(&dir.path().join("data")).expect("redb"));
    let (to_outbox, _) = tokio::sync::mpsc::unbounded_channel();
    let (fatal, _) = tokio::sync::watch::channel(None);
    let committer = Committer::start(db.raw().clone(), to_outbox, fatal).expect("committer");
    Bench {
        server,
        _dir: dir,
        sandbox,
        code,
        db,
        committer,
    }
}

/// The probe running as module `name` on a node of its own (own pool, own ids), allowed
/// `max_timers` pending timers of at most `max_bytes`.
pub(crate) async fn node(b: &Bench, name: &str, max_timers: u64, max_bytes: u64) -> Node {
    let config = Config::default();
    let store = PgStore::open(&b.server.url()).await.expect("store");
    let ns = PgNamespace::open(
        store.pool().clone(),
        name,
        config.kv_limits(),
        config.kv_quota(),
    );
    let ns = Arc::new(ns.await.expect("namespace"));
    let ids = PgIds::open(store.pool().clone(), 16).await.expect("ids");
    let env = Arc::new(ModuleEnv {
        name: name.into(),
        namespace: Arc::new(Namespace::for_init(
            b.db.raw().clone(),
            name,
            config.kv_limits(),
        )),
        kv: KvNamespace::Pg(ns.clone()),
        tag: name.into(),
        config: toml::Table::new(),
        log: GuestLog::new(name.into(), 60, 10),
        tickets: Arc::new(TicketCounter::shared(ids)),
        db: b.db.clone(),
        recent_tickets: Arc::default(),
        capabilities: parking_lot::RwLock::default(),
        max_timers,
        max_timer_bytes: max_bytes,
        queued_outbox: Arc::default(),
        max_queued_outbox_bytes: 1 << 20,
        clock: crate::clock::Clock::default(),
        http: OutgoingLimits::from_config(&config.http),
        bot: None,
        reads: Default::default(),
        wanted_kinds: Default::default(),
    });
    let mut instance = b
        .sandbox
        .instantiate(&b.code, env.clone())
        .await
        .expect("instance");
    instance.init().await.expect("init");
    env.capabilities.write().timers = true;
    Node {
        store,
        ns,
        instance,
        env,
    }
}

/// `/<cmd> <args>` from Ann, as update `id`, recorded as owed to `node`'s module.
pub(crate) async fn command(node: &Node, id: i64, cmd: &str, args: &str) -> types::Update {
    let mut update = message(id, ANN, "Ann", &format!("/{cmd} {args}"));
    update.command = Some(cmd.into());
    update.command_args = args.into();
    let owed = vec![node.env.name.to_string()];
    let fresh = node
        .store
        .record(&[(id as u64, "{}".into(), owed)], &[])
        .await;
    assert_eq!(fresh.expect("recorded"), [id as u64]);
    update
}

/// Runs the handler of `update` on `node`; answers its call's output, not committed yet.
async fn call(node: &mut Node, update: &types::Update) -> super::CallOutput {
    let (result, out) = node.instance.handle(update, Some(ANN)).await;
    result.expect("the handler succeeds");
    out
}

/// Commits the call `out` of update `id` on `node` with its unit of work: whether it committed
/// (false: PostgreSQL refused it, to be run again).
async fn commit(node: &Node, id: i64, mut out: super::CallOutput) -> bool {
    let unit = Unit {
        update_id: Some(id as u64),
        outbox: std::mem::take(&mut out.outbox),
        timers: std::mem::take(&mut out.timers),
        cancel_timers: std::mem::take(&mut out.cancel_timers),
        ..Unit::default()
    };
    let txn = out.txn.pg(&node.ns).await.expect("a transaction");
    match node.ns.commit_unit(txn, &unit).await.expect("commit") {
        UnitOutcome::Committed { .. } => true,
        UnitOutcome::Conflict => false,
        other => panic!("update {id}: {other:?}"),
    }
}

async fn run_once(node: &mut Node, update: &types::Update) -> bool {
    let out = call(node, update).await;
    commit(node, update.update_id, out).await
}

/// Runs `update` on `node` until it commits; answers the probe's last reply to Ann.
pub(crate) async fn run(node: &mut Node, update: &types::Update) -> String {
    while !run_once(node, update).await {}
    replies(node, ANN).await.pop().unwrap_or_default()
}

/// The timers of `module` pending in the store.
pub(crate) async fn pending(node: &Node, module: &str) -> i64 {
    let sql = "SELECT count(*) FROM botbox_timers WHERE module = $1";
    let rows = node.store.query(sql, &[&module]).await;
    rows.expect("count")[0].get(0)
}

#[tokio::test]
async fn a_module_cancels_its_own_timers_on_any_node_and_never_another_module_s() {
    let b = bench().await;
    let (mut a, mut c) = (
        node(&b, PROBE, 100, 1 << 20).await,
        node(&b, PROBE, 100, 1 << 20).await,
    );
    let mut other = node(&b, "other-probe", 100, 1 << 20).await;
    // Another module's timer: the probe's cancel does not reach it, and it stays pending.
    let theirs = command(&other, 2, "remind", "60000 theirs").await;
    let answer = run(&mut other, &theirs).await;
    let theirs: u64 = answer
        .strip_prefix("scheduled ")
        .expect(&answer)
        .parse()
        .expect("id");
    let cancel = command(&a, 3, "cancel", &theirs.to_string()).await;
    assert_eq!(run(&mut a, &cancel).await, "cancelled false");
    assert_eq!(pending(&a, "other-probe").await, 1);
    // Its own, scheduled on the other node: cancelled.
    let mine = command(&c, 4, "remind", "60000 mine").await;
    let answer = run(&mut c, &mine).await;
    let mine = answer
        .strip_prefix("scheduled ")
        .expect(&answer)
        .to_string();
    let cancel = command(&a, 5, "cancel", &mine).await;
    assert_eq!(run(&mut a, &cancel).await, "cancelled true");
    assert_eq!(pending(&a, PROBE).await, 0);
}

#[tokio::test]
async fn past_max_timers_a_module_is_refused_as_on_redb_and_two_nodes_together_cannot_pass_it() {
    let b = bench().await;
    let (mut a, mut c) = (
        node(&b, PROBE, 5, 1 << 20).await,
        node(&b, PROBE, 5, 1 << 20).await,
    );
    let many = command(&a, 1, "many", "8").await;
    let answer = run(&mut a, &many).await;
    assert!(
        answer.starts_with("scheduled 5, then") && answer.contains("at most 5 timers pending"),
        "{answer}"
    );
    // Committed timers count, on the other node too.
    let one = command(&c, 2, "many", "1").await;
    assert!(run(&mut c, &one).await.starts_with("scheduled 0, then"));
    assert_eq!(pending(&a, PROBE).await, 5);

    // Both nodes schedule 3 at once: each counted 0 of the other's. One commit is refused;
    // run again, it counts them.
    a.store.delete_timers_of(PROBE).await.expect("emptied");
    let (on_a, on_c) = (
        command(&a, 3, "many", "3").await,
        command(&c, 4, "many", "3").await,
    );
    let (out_a, out_c) = (call(&mut a, &on_a).await, call(&mut c, &on_c).await);
    assert!(commit(&a, 3, out_a).await, "the first commits");
    assert!(!commit(&c, 4, out_c).await, "the second is refused");
    assert_eq!(pending(&a, PROBE).await, 3);
    let answer = run(&mut c, &on_c).await;
    assert!(answer.starts_with("scheduled 2, then"), "{answer}");
    assert_eq!(pending(&a, PROBE).await, 5);

    // Many at once on both nodes, each update run until it applies: never more than 5.
    a.store.delete_timers_of(PROBE).await.expect("emptied");
    let mut updates = Vec::new();
    for i in 0..12 {
        let n = if i % 2 == 0 { &a } else { &c };
        updates.push(command(n, 100 + i, "many", "1").await);
    }
    let (for_a, for_c): (Vec<_>, Vec<_>) = updates.iter().partition(|u| u.update_id % 2 == 0);
    let refused = std::cell::Cell::new(0);
    let loop_on = async |n: &mut Node, updates: Vec<&types::Update>| {
        for u in updates {
            while !run_once(n, u).await {
                refused.set(refused.get() + 1);
            }
        }
    };
    tokio::join!(loop_on(&mut a, for_a), loop_on(&mut c, for_c));
    assert_eq!(
        pending(&a, PROBE).await,
        5,
        "{} runs refused",
        refused.get()
    );
    let said = replies(&a, ANN).await;
    let scheduled = said.iter().filter(|t| *t == "scheduled 1").count();
    assert_eq!(scheduled, 5, "{said:?}");
}

#[tokio::test]
async fn the_bytes_of_pending_timers_are_capped_on_postgresql() {
    let b = bench().await;
    // A record of `/many`'s timer is about 70 bytes: room for 3.
    let mut a = node(&b, PROBE, 100, 220).await;
    let many = command(&a, 1, "many", "5").await;
    let answer = run(&mut a, &many).await;
    assert!(answer.contains("sandbox.max_timer_bytes"), "{answer}");
    let kept = pending(&a, PROBE).await;
    assert!((1..5).contains(&kept), "{kept}: {answer}");
    let again = command(&a, 2, "many", "1").await;
    let answer = run(&mut a, &again).await;
    assert!(answer.starts_with("scheduled 0, then"), "{answer}");
    assert_eq!(pending(&a, PROBE).await, kept);
}
