//! The operators' KV operations on a namespace in a real, throwaway PostgreSQL
//! (tests/postgres-harness): the redb path's answers, the module's quota, all or nothing, and
//! no lost update against a module's transaction running meanwhile.

use std::sync::Arc;

use throwaway_postgres::Postgres;

use super::KvOps;
use crate::{
    Error,
    store::{
        Committer, Db,
        kv::{KvLimits, Quota},
        pg::{
            PgStore,
            kv::{Outcome, PgNamespace},
        },
    },
};

const LIMITS: KvLimits = KvLimits {
    max_key: 64,
    max_value: 1024,
    max_scan: 2,
};

/// A stopped node's operations on the bot's database, with a quota of `keys` keys.
struct Bot {
    _server: Postgres,
    _dir: tempfile::TempDir,
    _keep: (
        tokio::sync::mpsc::UnboundedReceiver<(u64, crate::outbox::Entry)>,
        tokio::sync::watch::Receiver<Option<String>>,
    ),
    pg: PgStore,
    ops: KvOps,
    quota: Quota,
}

async fn bot(keys: u64) -> Bot {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let pg = PgStore::open(&server.url()).await.expect("store");
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(dir.path()).unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (fatal, fatal_rx) = tokio::sync::watch::channel(None);
    let committer = Committer::start(db.raw().clone(), tx, fatal).unwrap();
    let quota = Quota {
        max_bytes: 1 << 20,
        max_keys: keys,
    };
    let ops = KvOps::offline(db, committer, LIMITS, quota).offline_pg(pg.pool().clone());
    Bot {
        _server: server,
        _dir: dir,
        _keep: (rx, fatal_rx),
        pg,
        ops,
        quota,
    }
}

fn set(k: &str, v: &str) -> (Vec<u8>, Option<Vec<u8>>) {
    (k.as_bytes().to_vec(), Some(v.as_bytes().to_vec()))
}

#[tokio::test]
async fn values_written_are_read_scanned_exported_and_imported_back_in_postgres() {
    let b = bot(100).await;
    let existed = b
        .ops
        .write("m", vec![set("user:1", "5"), set("user:2", "\"x\"")]);
    assert_eq!(existed.await.unwrap(), [false, false]);
    let deleted = b
        .ops
        .write("m", vec![set("user:3", "z"), ("user:1".into(), None)]);
    assert_eq!(deleted.await.unwrap(), [false, true]);
    assert_eq!(
        b.ops.get("m", b"user:2").await.unwrap(),
        Some(b"\"x\"".to_vec())
    );
    assert_eq!(b.ops.get("m", b"user:1").await.unwrap(), None);

    // Pages of max_scan entries, with the cursor of the next.
    let (page, next) = b.ops.scan("m", b"user:", None, 10).await.unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(next, None);
    let (page, next) = b.ops.scan("m", b"", None, 1).await.unwrap();
    assert_eq!(
        (page[0].0.as_slice(), next.as_deref()),
        (&b"user:2"[..], Some(&b"user:2"[..]))
    );

    // The rows are where a module's handler reads them: the namespace `m` in PostgreSQL.
    let rows =
        b.pg.query("SELECT count(*) FROM botbox_kv WHERE ns = 'm'", &[])
            .await;
    assert_eq!(rows.unwrap()[0].get::<_, i64>(0), 2);

    let lines = b.ops.export_lines("m").await.unwrap();
    assert_eq!(
        lines,
        "{\"key\":\"user:2\",\"json\":\"x\"}\n{\"key\":\"user:3\",\"text\":\"z\"}\n"
    );
    let writes = crate::control::admin::parse_lines(&lines).unwrap();
    b.ops.write("copy", writes).await.unwrap();
    assert_eq!(b.ops.export_lines("copy").await.unwrap(), lines);
}

#[tokio::test]
async fn an_import_over_the_quota_or_with_a_bad_key_writes_nothing() {
    let b = bot(3).await;
    b.ops.write("m", vec![set("a", "1")]).await.unwrap();
    let over = vec![set("b", "2"), set("c", "3"), set("d", "4")];
    let e = b.ops.write("m", over).await.unwrap_err();
    assert!(matches!(&e, Error::Config(m) if m.contains("Quota")), "{e}");
    let empty_key = vec![set("b", "2"), set("", "3")];
    let e = b.ops.write("m", empty_key).await.unwrap_err();
    assert!(
        matches!(&e, Error::Config(m) if m.contains("InvalidKey")),
        "{e}"
    );
    assert_eq!(
        b.ops.export_lines("m").await.unwrap(),
        "{\"key\":\"a\",\"json\":1}\n",
        "nothing of either import was written"
    );
    // What fits still goes in, and the usage counted it: the quota's last key.
    b.ops
        .write("m", vec![set("b", "2"), set("c", "3")])
        .await
        .unwrap();
    let e = b.ops.write("m", vec![set("d", "4")]).await.unwrap_err();
    assert!(matches!(&e, Error::Config(m) if m.contains("Quota")), "{e}");
    let ns = PgNamespace::open(b.pg.pool().clone(), "m", LIMITS, b.quota)
        .await
        .unwrap();
    let mut t = ns.begin().await.unwrap();
    assert_eq!(ns.usage(&mut t).await.unwrap().keys, 3);
    ns.abort(&mut t).await;
}

#[tokio::test]
async fn an_operators_write_meanwhile_refuses_a_modules_transaction_that_read_the_old_value() {
    let b = bot(100).await;
    b.ops
        .write("m", vec![("n".into(), Some(1i64.to_be_bytes().to_vec()))])
        .await
        .unwrap();
    let ns = PgNamespace::open(b.pg.pool().clone(), "m", LIMITS, b.quota)
        .await
        .unwrap();

    // A handler reads n (1) and adds 1; the operator sets n to 100 before it commits.
    let mut t = ns.begin().await.unwrap();
    assert_eq!(ns.increment(&mut t, b"n", 1).await.unwrap(), 2);
    b.ops
        .write("m", vec![("n".into(), Some(100i64.to_be_bytes().to_vec()))])
        .await
        .unwrap();
    assert_eq!(
        ns.commit(&mut t).await.unwrap(),
        Outcome::Conflict,
        "no lost update"
    );

    // Run again, as the host runs a handler after a conflict: it sees the operator's value.
    let mut t = ns.begin().await.unwrap();
    assert_eq!(ns.increment(&mut t, b"n", 1).await.unwrap(), 101);
    assert_eq!(ns.commit(&mut t).await.unwrap(), Outcome::Committed);
    let n = b.ops.get("m", b"n").await.unwrap().unwrap();
    assert_eq!(i64::from_be_bytes(n.try_into().unwrap()), 101);
}
