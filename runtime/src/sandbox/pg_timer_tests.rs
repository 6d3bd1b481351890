//! Timers on PostgreSQL with real parts: the timer probe (`tests/guests/timer-probe`) compiled
//! from source, the real `Sandbox`, each node's module with its KV (and so its timers) on a
//! throwaway PostgreSQL, its ids from `botbox_ids`, and calls finished by the shard's own
//! `commit_call`. What is checked is what the probe answers its users and what the store holds.

use std::sync::Arc;

use throwaway_postgres::Postgres;

use super::{
    GuestLog, ModuleEnv, OutgoingLimits, Sandbox, TicketCounter,
    pg_kv_tests::{Node, message, replies},
};
use crate::{
    bindings::types,
    config::{Config, SandboxConfig},
    intake::timers::{FAIR, work},
    modules::effects::{Lost, commit_call},
    store::{
        Committer, Db,
        kv::{Applied, Namespace},
        kv_txn::KvNamespace,
        pg::{PgIds, PgStore, kv::PgNamespace},
    },
};

const PROBE: &str = "timer-probe";
const ANN: i64 = 101;

/// One node's parts: the compiled probe, the process's committer, the redb file it needs.
struct Bench {
    server: Postgres,
    _dir: tempfile::TempDir,
    sandbox: Arc<Sandbox>,
    code: super::ModuleCode,
    db: Arc<Db>,
    committer: Committer,
}

async fn bench() -> Bench {
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
async fn node(b: &Bench, name: &str, max_timers: u64, max_bytes: u64) -> Node {
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
async fn command(node: &Node, id: i64, cmd: &str, args: &str) -> types::Update {
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

/// Runs `update` on `node` once and finishes the call as the shard does: whether it applied
/// (false: PostgreSQL refused it, to be run again).
async fn run_once(b: &Bench, node: &mut Node, update: &types::Update, timer: Option<u64>) -> bool {
    let (result, mut out) = node.instance.handle(update, Some(ANN)).await;
    result.expect("the handler succeeds");
    let id = (timer.is_none()).then_some(update.update_id as u64);
    let mut lost = Lost::default();
    let env = &node.env;
    let r = commit_call(
        &b.committer,
        env,
        &mut out,
        id,
        timer,
        None,
        None,
        &mut lost,
    )
    .await;
    match r.expect("finished") {
        Applied::Ok(..) => true,
        Applied::Conflict => false,
    }
}

/// Runs `update` on `node` until it applies; answers the probe's last reply to Ann.
async fn run(b: &Bench, node: &mut Node, update: &types::Update) -> String {
    while !run_once(b, node, update, None).await {}
    last_reply(node).await
}

async fn last_reply(node: &Node) -> String {
    replies(node, ANN).await.pop().unwrap_or_default()
}

/// The timers of `module` pending in the store.
async fn pending(node: &Node, module: &str) -> i64 {
    let sql = "SELECT count(*) FROM botbox_timers WHERE module = $1";
    let rows = node.store.query(sql, &[&module]).await;
    rows.expect("count")[0].get(0)
}

#[tokio::test]
async fn a_due_timer_fires_once_though_both_nodes_run_it_and_cancel_keeps_to_the_module_s_own() {
    let b = bench().await;
    let (mut a, mut c) = (
        node(&b, PROBE, 100, 1 << 20).await,
        node(&b, PROBE, 100, 1 << 20).await,
    );
    let mut other = node(&b, "other-probe", 100, 1 << 20).await;

    let wake = command(&a, 1, "remind", "0 wake up").await;
    let answer = run(&b, &mut a, &wake).await;
    let id: u64 = answer
        .strip_prefix("scheduled ")
        .expect(&answer)
        .parse()
        .expect("an id");

    // Both nodes read it due and hand it to their module; one firing commits.
    let running = [PROBE.to_string()].into();
    let now = crate::clock::unix_ms();
    let mut fired = Vec::new();
    for n in [&mut a, &mut c] {
        let due = n
            .store
            .due_timers_fair(now, &running, FAIR)
            .await
            .expect("read");
        assert_eq!(due.iter().map(|t| t.id).collect::<Vec<_>>(), [id]);
        let w = work(due[0].clone(), now);
        fired.push((w.update, w.timer_id));
    }
    for (n, (update, timer)) in [&mut a, &mut c].into_iter().zip(&fired) {
        assert!(
            run_once(&b, n, update, *timer).await,
            "finished (once: done)"
        );
    }
    let said = replies(&a, ANN).await;
    let firings = said
        .iter()
        .filter(|t| t.starts_with("fired: wake up"))
        .count();
    assert_eq!(firings, 1, "{said:?}");
    assert!(a.store.pending_timers([id]).await.expect("read").is_empty());

    // Another module's timer: the probe's cancel does not reach it, and it stays pending.
    let theirs = command(&other, 2, "remind", "60000 theirs").await;
    let answer = run(&b, &mut other, &theirs).await;
    let theirs: u64 = answer
        .strip_prefix("scheduled ")
        .expect(&answer)
        .parse()
        .expect("id");
    let cancel = command(&a, 3, "cancel", &theirs.to_string()).await;
    assert_eq!(run(&b, &mut a, &cancel).await, "cancelled false");
    assert_eq!(pending(&a, "other-probe").await, 1);
    // Its own, scheduled on the other node: cancelled.
    let mine = command(&c, 4, "remind", "60000 mine").await;
    let answer = run(&b, &mut c, &mine).await;
    let mine = answer
        .strip_prefix("scheduled ")
        .expect(&answer)
        .to_string();
    let cancel = command(&a, 5, "cancel", &mine).await;
    assert_eq!(run(&b, &mut a, &cancel).await, "cancelled true");
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
    let answer = run(&b, &mut a, &many).await;
    assert!(
        answer.starts_with("scheduled 5, then") && answer.contains("at most 5 timers pending"),
        "{answer}"
    );
    // Committed timers count, on the other node too.
    let one = command(&c, 2, "many", "1").await;
    assert!(run(&b, &mut c, &one).await.starts_with("scheduled 0, then"));
    assert_eq!(pending(&a, PROBE).await, 5);

    // Both nodes schedule 3 at once: each counted 0 of the other's. One commit is refused;
    // run again, it counts them.
    a.store.delete_timers_of(PROBE).await.expect("emptied");
    let (on_a, on_c) = (
        command(&a, 3, "many", "3").await,
        command(&c, 4, "many", "3").await,
    );
    let (result_a, mut out_a) = a.instance.handle(&on_a, Some(ANN)).await;
    let (result_c, mut out_c) = c.instance.handle(&on_c, Some(ANN)).await;
    result_a.and(result_c).expect("both handlers succeed");
    let mut lost = Lost::default();
    let finish = async |n: &Node, out: &mut super::CallOutput, id: u64, lost: &mut Lost| {
        commit_call(&b.committer, &n.env, out, Some(id), None, None, None, lost).await
    };
    let first = finish(&a, &mut out_a, 3, &mut lost).await;
    assert!(matches!(first, Ok(Applied::Ok(..))), "the first commits");
    let second = finish(&c, &mut out_c, 4, &mut lost).await;
    assert!(
        matches!(second, Ok(Applied::Conflict)),
        "the second is refused"
    );
    assert_eq!(pending(&a, PROBE).await, 3);
    let answer = run(&b, &mut c, &on_c).await;
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
    let (bb, refused) = (&b, std::cell::Cell::new(0));
    let loop_on = async |n: &mut Node, updates: Vec<&types::Update>| {
        for u in updates {
            while !run_once(bb, n, u, None).await {
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
    let answer = run(&b, &mut a, &many).await;
    assert!(answer.contains("sandbox.max_timer_bytes"), "{answer}");
    let kept = pending(&a, PROBE).await;
    assert!((1..5).contains(&kept), "{kept}: {answer}");
    let again = command(&a, 2, "many", "1").await;
    let answer = run(&b, &mut a, &again).await;
    assert!(answer.starts_with("scheduled 0, then"), "{answer}");
    assert_eq!(pending(&a, PROBE).await, kept);
}
