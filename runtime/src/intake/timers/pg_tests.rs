//! Due timers read from PostgreSQL as the intake's timer task reads them every tick (its
//! `FAIR` bounds): a share per running module, modules not running never looked at, from the
//! index on `(module, due_ms, id)`; the task's check of the timers it has in hand; and a timer
//! handed over on two nodes (the timer probe, compiled from source, in the real sandbox;
//! finished by the shard's `commit_call`) fires once.

use std::collections::HashSet;

use throwaway_postgres::Postgres;

use super::{FAIR, work};
use crate::{
    modules::effects::{Lost, commit_call},
    sandbox::{
        pg_kv_tests::replies,
        pg_timer_tests::{ANN, PROBE, bench, command, node, pending, run},
    },
    store::{kv::Applied, pg::PgStore},
};

/// Stores `n` timers of `module`, ids from `first_id`, due from `first_due` one ms apart.
async fn timers(store: &PgStore, module: &str, first_id: i64, first_due: i64, n: i64) {
    store
        .query(
            "INSERT INTO botbox_timers (id, due_ms, module, rec) \
             SELECT $1::bigint + g, $2::bigint + g, $3::text, convert_to(json_build_object( \
                 'module', $3::text, 'chat_id', g, 'payload_hex', '')::text, 'UTF8') \
             FROM generate_series(0, $4::bigint - 1) AS g",
            &[&first_id, &first_due, &module, &n],
        )
        .await
        .expect("timers stored");
}

#[tokio::test]
async fn one_module_s_pile_of_due_timers_never_holds_back_another_s_and_stopped_ones_are_skipped() {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let store = PgStore::open(&server.url()).await.expect("store");
    let now = 1_000_000;
    // Oldest of all: 60,000 due timers of a module that is not running (more than the redb
    // read's whole scan), then a pile of 5,000 of a running one, then one of another module,
    // due last, and one of its timers not due yet.
    timers(&store, "stopped", 1, 1, 60_000).await;
    timers(&store, "pile", 100_001, 100_000, 5_000).await;
    timers(&store, "other", 200_001, 900_000, 1).await;
    timers(&store, "other", 300_001, now as i64 + 1, 1).await;
    let running: HashSet<String> = ["pile", "other"].map(String::from).into();

    let due = store
        .due_timers_fair(now, &running, FAIR, None)
        .await
        .expect("read");
    let of = |m: &str| due.iter().filter(|t| t.record.module == m).count();
    assert_eq!(of("other"), 1, "the other module's timer is read at once");
    assert_eq!(due.last().map(|t| t.id), Some(200_001));
    assert_eq!(of("pile"), FAIR.per_module, "the pile gets its share");
    assert_eq!(of("stopped"), 0);
    let pile: Vec<u64> = due.iter().take(FAIR.per_module).map(|t| t.id).collect();
    let oldest: Vec<u64> = (100_001..100_001 + FAIR.per_module as u64).collect();
    assert_eq!(pile, oldest, "the pile's oldest, in due order");
    assert!(due.windows(2).all(|w| w[0].due_ms <= w[1].due_ms));
    assert_eq!(due[0].record.chat_id, Some(0));

    // Cheap: each running module's timers come from the index, the stopped module's 60,000
    // rows are not read.
    let plan = store
        .query(
            "EXPLAIN SELECT t.id FROM unnest($1::text[]) AS m(name) \
             CROSS JOIN LATERAL (SELECT id, due_ms FROM botbox_timers \
                 WHERE module = m.name AND due_ms <= $2 ORDER BY due_ms, id LIMIT $3) AS t",
            &[
                &vec!["other", "pile"],
                &(now as i64),
                &(FAIR.per_module as i64),
            ],
        )
        .await
        .expect("plan");
    let text: Vec<String> = plan.iter().map(|r| r.get(0)).collect();
    let text = text.join("\n");
    assert!(text.contains("botbox_timers_module_due"), "{text}");
    assert!(!text.contains("Seq Scan on botbox_timers"), "{text}");

    // Once the modules run, the stopped one's timers come too, a share of them.
    let all: HashSet<String> = ["pile", "other", "stopped"].map(String::from).into();
    let due = store
        .due_timers_fair(now, &all, FAIR, None)
        .await
        .expect("read");
    assert_eq!(
        due.iter().filter(|t| t.record.module == "stopped").count(),
        FAIR.per_module
    );
    assert!(due.iter().any(|t| t.id == 200_001));
    // No running module: nothing read.
    let none = store
        .due_timers_fair(now, &HashSet::new(), FAIR, None)
        .await;
    assert!(none.expect("read").is_empty());

    // The timers in hand still pending: those whose rows are there, whichever node fired
    // or cancelled the others.
    store
        .query("DELETE FROM botbox_timers WHERE id = 100001", &[])
        .await
        .expect("fired elsewhere");
    let still = store
        .pending_timers([100_001, 100_002, 200_001, 999_999_999])
        .await
        .expect("read");
    assert_eq!(still, HashSet::from([100_002, 200_001]));
    assert_eq!(
        store.delete_timers_of("stopped").await.expect("deleted"),
        60_000
    );
}

#[tokio::test]
async fn a_due_timer_handed_to_its_module_on_two_nodes_fires_once() {
    let b = bench().await;
    let (mut a, mut c) = (
        node(&b, PROBE, 100, 1 << 20).await,
        node(&b, PROBE, 100, 1 << 20).await,
    );
    let wake = command(&a, 1, "remind", "0 wake up").await;
    let answer = run(&mut a, &wake).await;
    let id: u64 = answer
        .strip_prefix("scheduled ")
        .expect(&answer)
        .parse()
        .expect("an id");

    // Both nodes read it due and hand it to their module, as the task does; each finishes
    // the firing as the shard does. One commits, the other finds it fired.
    let running: HashSet<String> = [PROBE.to_string()].into();
    let now = crate::clock::unix_ms();
    let mut handed = Vec::new();
    for n in [&a, &c] {
        let nothing = HashSet::new();
        let read = super::read(
            &b.db,
            Some((&n.store, None)),
            &nothing,
            now,
            running.clone(),
        )
        .await;
        let (_, due) = read.expect("read");
        assert_eq!(due.iter().map(|t| t.id).collect::<Vec<_>>(), [id]);
        handed.push(work(due[0].clone(), now));
    }
    for (n, w) in [&mut a, &mut c].into_iter().zip(handed) {
        let (result, mut out) = n.instance.handle(&w.update, w.chat_id).await;
        result.expect("the handler succeeds");
        let mut lost = Lost::default();
        let env = &n.env;
        let r = commit_call(
            &b.committer,
            env,
            &mut out,
            None,
            w.timer_id,
            None,
            None,
            &mut lost,
        );
        assert!(matches!(r.await, Ok(Applied::Ok(..))), "finished");
    }
    let said = replies(&a, ANN).await;
    let firings = said.iter().filter(|t| t.starts_with("fired: wake up"));
    assert_eq!(firings.count(), 1, "{said:?}");
    // Out of both tasks' hands, and not due any more.
    let in_hand = HashSet::from([id]);
    let read = super::read(&b.db, Some((&c.store, None)), &in_hand, now, running).await;
    let (still, due) = read.expect("read");
    assert!(still.is_empty() && due.is_empty(), "{still:?} {due:?}");
    assert_eq!(pending(&a, PROBE).await, 0);
}
