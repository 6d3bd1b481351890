//! Moving a bot to PostgreSQL and back with two commands each way, through the real binary: a
//! clicker's count survives redb → snapshot → PostgreSQL → snapshot → redb, and the bot goes on
//! counting from it; a second restore into the same database is refused and changes nothing.

use botbox_test_artifacts::CLICKER;
use throwaway_postgres::Postgres;

use crate::{
    operator::{botbox, register},
    support::*,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_moves_to_postgres_and_back_and_counts_on() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let alice = TestUser::alice();
    let rt = start(config(dir.path(), &fake, &[CLICKER])).await;
    register(&fake, &alice, 3).await;
    rt.stop().await;
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let url = server.url();
    let (a, b) = (dir.path().join("a.bbk"), dir.path().join("b.bbk"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());

    let (ok, _, err) = botbox(dir.path(), &["backup", "--out", a], None).await;
    assert!(ok, "{err}");
    let (ok, out, err) = botbox(dir.path(), &["restore", a, "--postgres", &url], None).await;
    assert!(ok, "{err}");
    assert!(out.contains("restored"), "{out}");
    let count = "SELECT count(*) FROM botbox_kv WHERE ns = 'clicker'";
    let keys = server.psql(count).unwrap();
    assert_ne!(keys, "0", "the clicker's keys are in PostgreSQL");

    // Once there, the same database cannot take a second bot.
    let (ok, _, err) = botbox(dir.path(), &["restore", a, "--postgres", &url], None).await;
    assert!(!ok, "restored twice");
    assert!(err.contains("holds a bot already"), "{err}");
    assert_eq!(server.psql(count).unwrap(), keys);

    // And back: a snapshot from PostgreSQL restored into a blank data directory.
    let (ok, _, err) = botbox(
        dir.path(),
        &["backup", "--postgres", &url, "--out", b],
        None,
    )
    .await;
    assert!(ok, "{err}");
    std::fs::remove_dir_all(dir.path().join("data")).unwrap();
    let (ok, _, err) = botbox(dir.path(), &["restore", b], None).await;
    assert!(ok, "{err}");
    let rt = start(config(dir.path(), &fake, &[CLICKER])).await;
    send_expecting(&fake, &alice, "Click", "Clicks: 4").await;
    rt.stop().await;
}
