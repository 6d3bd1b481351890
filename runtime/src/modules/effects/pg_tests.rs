//! The finish of calls on PostgreSQL with real parts: the example clicker compiled from source,
//! the real `Sandbox`, a throwaway PostgreSQL, the real redb committer (whose outbox channel is
//! what the sender reads). What is checked is what the bot's users and its operator see: the
//! replies handed to the outbox and kept in `botbox_outbox`, updates still owed, quarantined.

use std::sync::Arc;

use throwaway_postgres::Postgres;
use tokio::sync::mpsc::UnboundedReceiver;

use super::{Lost, commit_call, finish_unhandled_after, pg::MAX_LOST};
use crate::{
    bindings::types,
    config::SandboxConfig,
    sandbox::{
        CallOutput, Sandbox, TicketCounter,
        pg_kv_tests::{MODULE, Node, message, node, record, replies},
    },
    store::{
        Committed, Committer, Db, HeldRecord, Op,
        kv::Applied,
        kv_txn::KvTxn,
        records::{Action, Entry},
    },
};

/// Two nodes of the clicker on one PostgreSQL, and the process's committer.
struct Bench {
    server: Postgres,
    _dir: tempfile::TempDir,
    committer: Committer,
    /// What the committer hands to the outbox's sender.
    sent: UnboundedReceiver<(u64, Entry)>,
    a: Node,
    b: Node,
}

async fn bench() -> Bench {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox =
        Sandbox::new(&SandboxConfig::default(), &dir.path().join("cache")).expect("engine");
    let bytes = std::fs::read(botbox_test_artifacts::CLICKER).expect("the clicker's component");
    let code = sandbox.compile("clicker.wasm", &bytes).expect("compiles");
    let db = Arc::new(Db::open(&dir.path().join("data")).expect("redb"));
    let tickets = Arc::new(TicketCounter::new(0));
    let (to_outbox, sent) = tokio::sync::mpsc::unbounded_channel();
    let (fatal, _) = tokio::sync::watch::channel(None);
    let committer = Committer::start(db.raw().clone(), to_outbox, fatal).expect("committer");
    let a = node(&server, &sandbox, &code, &db, &tickets).await;
    let b = node(&server, &sandbox, &code, &db, &tickets).await;
    Bench {
        server,
        _dir: dir,
        committer,
        sent,
        a,
        b,
    }
}

/// Runs the handler of `update` on `node`.
async fn handle(node: &mut Node, update: &types::Update) -> CallOutput {
    let (result, out) = node.instance.handle(update, Some(update.update_id)).await;
    result.expect("the handler succeeds");
    out
}

/// Finishes `node`'s call `out` of `update` as the shard does.
async fn commit(
    committer: &Committer,
    node: &Node,
    update: &types::Update,
    mut out: CallOutput,
    record: Option<&HeldRecord>,
) -> Result<Applied<()>, String> {
    let id = Some(update.update_id.cast_unsigned());
    let mut lost = Lost::default();
    let env = &node.env;
    commit_call(committer, env, &mut out, id, None, None, record, &mut lost).await
}

fn applied(r: Result<Applied<()>, String>) -> bool {
    match r {
        Ok(Applied::Ok(..)) => true,
        Ok(Applied::Conflict) => false,
        Err(e) => panic!("not finished: {e}"),
    }
}

fn text(e: &Entry) -> &str {
    match &e.action {
        Action::Send { text, .. } => text,
        other => panic!("not a message: {other:?}"),
    }
}

/// The texts handed to the outbox so far, with their sequence numbers.
fn sent(rx: &mut UnboundedReceiver<(u64, Entry)>) -> Vec<(u64, String)> {
    std::iter::from_fn(|| rx.try_recv().ok())
        .map(|(seq, e)| (seq, text(&e).to_string()))
        .collect()
}

#[tokio::test]
async fn a_reply_reaches_the_outbox_with_postgresql_s_sequence_once_and_a_conflict_runs_again() {
    let mut t = bench().await;
    let mut events = t.committer.subscribe();
    let ann = 101;
    let start = message(1, ann, "Ann", "/start");
    record(&t.a, &start).await;
    let out = handle(&mut t.a, &start).await;
    assert!(applied(commit(&t.committer, &t.a, &start, out, None).await));
    let hello = sent(&mut t.sent);
    assert!(
        hello.len() == 1 && hello[0].1.starts_with("Hello, Ann!"),
        "{hello:?}"
    );
    let kept = t.a.store.outbox().await.expect("outbox");
    assert_eq!(
        kept.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(),
        [hello[0].0],
        "the reply is in botbox_outbox under the sequence number the sender got"
    );

    // A click finished, then the same update handled again (another node, or a run whose
    // outcome was lost): the second finds it done, and nothing more is sent or counted.
    let click = message(2, ann, "Ann", "Click");
    record(&t.a, &click).await;
    let out = handle(&mut t.a, &click).await;
    assert!(applied(commit(&t.committer, &t.a, &click, out, None).await));
    let again = handle(&mut t.b, &click).await;
    assert!(applied(
        commit(&t.committer, &t.b, &click, again, None).await
    ));
    let clicked = sent(&mut t.sent);
    assert_eq!(
        clicked.iter().map(|c| &*c.1).collect::<Vec<_>>(),
        ["Clicks: 1"]
    );
    assert!(clicked[0].0 > hello[0].0);

    // Two clicks at once on both nodes: both read 1 click. The second to commit is refused
    // and sends nothing; run again, it counts on.
    let (on_a, on_b) = (
        message(3, ann, "Ann", "Click"),
        message(4, ann, "Ann", "Click"),
    );
    record(&t.a, &on_a).await;
    record(&t.b, &on_b).await;
    let (out_a, out_b) = (handle(&mut t.a, &on_a).await, handle(&mut t.b, &on_b).await);
    assert!(applied(
        commit(&t.committer, &t.a, &on_a, out_a, None).await
    ));
    assert!(!applied(
        commit(&t.committer, &t.b, &on_b, out_b, None).await
    ));
    assert_eq!(sent(&mut t.sent).len(), 1);
    let pending = t.b.store.pending_updates().await.expect("pending");
    assert_eq!(pending.iter().map(|p| p.update_id).collect::<Vec<_>>(), [4]);
    let rerun = handle(&mut t.b, &on_b).await;
    assert!(applied(
        commit(&t.committer, &t.b, &on_b, rerun, None).await
    ));
    assert_eq!(sent(&mut t.sent)[0].1, "Clicks: 3");

    let ann_sees = replies(&t.a, ann).await;
    assert_eq!(ann_sees[1..], ["Clicks: 1", "Clicks: 2", "Clicks: 3"]);
    assert!(
        t.a.store
            .pending_updates()
            .await
            .expect("pending")
            .is_empty()
    );
    // Each handling reported once, as the monitoring counts them.
    let handled: Vec<u64> = std::iter::from_fn(|| events.try_recv().ok())
        .map(|Committed::Handled { update_id, .. }| update_id)
        .collect();
    assert_eq!(handled, [1, 2, 3, 4]);
}

#[tokio::test]
async fn an_update_given_up_on_postgresql_is_quarantined_and_a_held_record_is_refused_not_lost() {
    let mut t = bench().await;
    let click = message(5, 202, "Bob", "Click");
    record(&t.a, &click).await;
    finish_unhandled_after(
        &t.committer,
        &t.a.env,
        Some(5),
        None,
        Some("module stopped: unreachable".into()),
        None,
    )
    .await;
    let quarantined = t.a.store.quarantined().await.expect("quarantine");
    let reason = "module stopped: unreachable".to_string();
    assert_eq!(quarantined, [(MODULE.to_string(), 5, reason)]);
    let raw = t.a.store.quarantined_raw(MODULE, 5).await.expect("raw");
    assert_eq!(raw.as_deref(), Some("{}"), "kept for the operator's retry");
    assert!(
        t.a.store
            .pending_updates()
            .await
            .expect("pending")
            .is_empty()
    );
    assert!(sent(&mut t.sent).is_empty());

    // An update handled before its record is durable (handle-at-once) is the redb writer's:
    // on PostgreSQL it is refused with an error, and stays owed and held.
    let at_once = message(6, 202, "Bob", "Click");
    record(&t.b, &at_once).await;
    let held = HeldRecord::new(Op::Record {
        updates: vec![(6, "{}".into(), vec![MODULE.into()])],
        skipped: Vec::new(),
        done: None,
    });
    let out = handle(&mut t.b, &at_once).await;
    let refused = commit(&t.committer, &t.b, &at_once, out, Some(&held)).await;
    assert!(matches!(&refused, Err(e) if e.contains("not supported")));
    finish_unhandled_after(&t.committer, &t.b.env, Some(6), None, None, Some(&held)).await;
    assert!(held.is_held());
    let pending = t.b.store.pending_updates().await.expect("pending");
    assert_eq!(pending.iter().map(|p| p.update_id).collect::<Vec<_>>(), [6]);
    assert!(sent(&mut t.sent).is_empty());
}

#[tokio::test]
async fn with_postgresql_gone_a_commit_is_run_again_after_pauses_then_left_owed() {
    let mut t = bench().await;
    let click = message(8, 303, "Cy", "/start");
    record(&t.a, &click).await;
    let handled = handle(&mut t.a, &click).await;
    t.server.kill().expect("kill -9");
    let started = std::time::Instant::now();
    let (mut lost, mut runs, mut first) = (Lost::default(), 0, Some(handled));
    let result = loop {
        // After the first, each run's KV is never reached: its transaction cannot begin.
        let mut out = first.take().unwrap_or_else(|| CallOutput {
            txn: KvTxn::Pg(None),
            chat_id: None,
            outbox: Vec::new(),
            timers: Vec::new(),
            cancel_timers: Vec::new(),
            files: Vec::new(),
            expects: Vec::new(),
            broadcasts: Vec::new(),
        });
        runs += 1;
        let env = &t.a.env;
        match commit_call(
            &t.committer,
            env,
            &mut out,
            Some(8),
            None,
            None,
            None,
            &mut lost,
        )
        .await
        {
            Ok(Applied::Conflict) => {}
            other => break other,
        }
    };
    assert!(matches!(&result, Err(e) if e.contains("left owed")));
    assert_eq!(runs, MAX_LOST, "bounded");
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(3100),
        "{waited:?}: paused, not spinning"
    );
    assert!(sent(&mut t.sent).is_empty());
}
