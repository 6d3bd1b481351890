//! PostgreSQL killed with SIGKILL while transactions stream: the client gets a clear error, and
//! after the restart every transaction is there entirely or not at all.

use super::*;
use crate::store::kv::Write;

/// Keys each transaction writes.
const GROUP: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_mid_stream_leaves_whole_transactions_and_a_clear_error() {
    let big = Quota {
        max_bytes: 1 << 40,
        max_keys: 1 << 30,
    };
    let (mut pg, _pool, ns) = server(LIMITS, big).await;
    let ns = Arc::new(ns);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let writer = tokio::spawn({
        let ns = ns.clone();
        async move {
            let mut outcomes = Vec::new();
            for g in 0..100_000u32 {
                let r = async {
                    let mut t = ns.begin().await?;
                    let writes: Vec<Write> = (0..GROUP)
                        .map(|i| (format!("g{g:06}/{i:02}").into_bytes(), Some(vec![7u8; 16])))
                        .collect();
                    ns.batch(&mut t, &writes).await?;
                    ns.commit(&mut t).await
                }
                .await;
                let failed = r.is_err();
                outcomes.push((g, r));
                let _ = tx.send(());
                if failed {
                    break;
                }
            }
            outcomes
        }
    });
    for _ in 0..25 {
        rx.recv().await.expect("the writer commits");
    }
    pg.kill().expect("kill -9");
    let outcomes = writer.await.expect("writer");
    let (last, result) = outcomes.last().expect("outcomes");
    match result {
        Err(KvError::Io(m)) => assert!(m.starts_with("PostgreSQL: "), "unclear error: {m}"),
        other => panic!("the writer went on after the kill: {other:?}"),
    }
    // While the server is down, a new call gets the same kind of error.
    let down = ns.begin().await.err().expect("no server");
    assert!(
        matches!(&down, KvError::Io(m) if m.starts_with("PostgreSQL: ")),
        "{down:?}"
    );

    pg.restart().expect("restart");
    let groups = pg
        .psql(
            "SELECT convert_from(substring(k from 1 for 7), 'UTF8'), count(*) FROM botbox_kv \
             WHERE ns = 'm' GROUP BY 1 ORDER BY 1",
        )
        .expect("count");
    let mut present = std::collections::BTreeSet::new();
    for line in groups.lines() {
        let (g, n) = line.split_once('|').expect("g|n");
        assert_eq!(n, GROUP.to_string(), "group {g} is half applied");
        present.insert(g[1..].parse::<u32>().expect("group number"));
    }
    for (g, r) in &outcomes {
        match r {
            Ok(Outcome::Committed) => assert!(present.contains(g), "committed {g} is lost"),
            // The last one's outcome is unknown (the connection died): either is fine.
            _ if g == last => {}
            other => panic!("group {g}: {other:?}"),
        }
    }
    assert!(present.len() >= 25 && present.iter().all(|g| g <= last));
    let usage = pg
        .psql("SELECT sum(keys) FROM botbox_kv_usage WHERE ns = 'm'")
        .expect("usage");
    assert_eq!(
        usage,
        (present.len() * GROUP).to_string(),
        "usage matches the rows"
    );
    // The pool drops the dead connections and makes new ones.
    let mut t = ns.begin().await.expect("begin after the restart");
    ns.set(&mut t, b"after", b"1").await.unwrap();
    assert!(commit(&ns, &mut t).await);
}
