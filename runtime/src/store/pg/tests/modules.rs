//! The bot's modules as every node should run them: a change is read back by the changes
//! after the last one seen, a start publishes only what the database does not know, and a
//! module's versions beyond the newest five lose their bytes.

use super::*;
use crate::store::pg::{ModuleState, PgStore};

fn state(name: &str, hash: Option<&str>, disabled: Option<&str>) -> ModuleState {
    ModuleState {
        name: name.into(),
        hash: hash.map(Into::into),
        disabled: disabled.map(Into::into),
        config: None,
        awaiting: None,
    }
}

#[tokio::test]
async fn a_change_is_seen_once_by_what_changed_since_and_a_start_does_not_overwrite_it() {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let (a, b) = (
        PgStore::open(&server.url()).await.unwrap(),
        PgStore::open(&server.url()).await.unwrap(),
    );
    assert_eq!(a.modules_seq().await.unwrap(), 0);
    let first = a
        .publish_module(&state("clicker", Some("h1"), None), "a", false)
        .await
        .unwrap()
        .expect("written");
    // Another node starting with its own copy of an older version does not replace the bot's.
    let refused = b
        .publish_module(&state("clicker", Some("h0"), None), "b", true)
        .await
        .unwrap();
    assert_eq!(refused, None);
    let rows = b.modules_after(0).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, state("clicker", Some("h1"), None));
    assert_eq!((rows[0].seq, rows[0].node.as_str()), (first, "a"));
    assert!(b.modules_after(first).await.unwrap().is_empty());

    // Disabled on b, then removed on a: only the newest state is there, after `first`.
    b.publish_module(&state("clicker", Some("h1"), Some("crashed")), "b", false)
        .await
        .unwrap();
    let removed = a
        .publish_module(&state("clicker", None, None), "a", false)
        .await
        .unwrap()
        .unwrap();
    let rows = b.modules_after(first).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, state("clicker", None, None));
    assert_eq!(rows[0].seq, removed);
    assert_eq!(a.modules_seq().await.unwrap(), removed);
}

#[tokio::test]
async fn the_newest_five_versions_of_a_module_keep_their_bytes() {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let store = PgStore::open(&server.url()).await.unwrap();
    assert!(!store.touch_module_code("v0").await.unwrap());
    for i in 0..7u8 {
        store
            .keep_module_code("clicker", &format!("v{i}"), &[i; 3])
            .await
            .unwrap();
    }
    store.keep_module_code("echo", "e0", b"echo").await.unwrap();
    // v2 serves again (a rollback far back): the newest now, kept past the next version.
    assert!(store.touch_module_code("v2").await.unwrap());
    store
        .keep_module_code("clicker", "v7", &[7; 3])
        .await
        .unwrap();
    let mut kept = Vec::new();
    for i in 0..8u8 {
        if store.module_code(&format!("v{i}")).await.unwrap().is_some() {
            kept.push(i);
        }
    }
    assert_eq!(kept, [2, 4, 5, 6, 7]);
    assert_eq!(store.module_code("v6").await.unwrap(), Some(vec![6; 3]));
    assert_eq!(
        store.module_code("e0").await.unwrap(),
        Some(b"echo".to_vec())
    );
}
