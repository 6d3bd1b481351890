//! The store on PostgreSQL forgets what the embedded store forgets (`store/retention.rs`):
//! old update ids but the highest, settled tickets after a week but queued ones never, the
//! quarantine past the newest 1,000 of a module, old owners, expired conversations.

use throwaway_postgres::Postgres;

use crate::store::pg::PgStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_on_postgres_forgets_what_the_embedded_store_forgets_and_keeps_the_rest() {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let store = PgStore::open(&server.url()).await.expect("store");
    let now = crate::clock::unix_secs();
    let (day, week) = (24 * 3600, 7 * 24 * 3600);
    let old = now - 3 * day;
    let sql = format!(
        "INSERT INTO botbox_seen VALUES (1, {old}), (2, {old}), (3, {now}), (9, {old});
         INSERT INTO botbox_tickets VALUES
           (10, convert_to('{{\"module\":\"m\",\"chat_id\":1,\"message_id\":5,\"failed\":null,\"settled_at_secs\":{t_old}}}', 'UTF8')),
           (11, convert_to('{{\"module\":\"m\",\"chat_id\":1,\"message_id\":null,\"failed\":\"blocked\",\"settled_at_secs\":{t_old}}}', 'UTF8')),
           (12, convert_to('{{\"module\":\"m\",\"chat_id\":1,\"message_id\":null,\"failed\":null}}', 'UTF8')),
           (13, convert_to('{{\"module\":\"m\",\"chat_id\":1,\"message_id\":6,\"failed\":null,\"settled_at_secs\":{now}}}', 'UTF8'));
         INSERT INTO botbox_quarantine (module, update_id, reason)
           SELECT 'a', g, 'r' FROM generate_series(1, 1003) g;
         INSERT INTO botbox_quarantine (module, update_id, reason) VALUES ('b', 1, 'r');
         INSERT INTO botbox_owners VALUES ('msg:1:1', '{t_old} a'), ('msg:1:2', '{now} a');
         INSERT INTO botbox_conversations VALUES ('1:2', '{past} a'), ('1:3', '{future} a');",
        t_old = now - week - day,
        past = now - 1,
        future = now + 600,
    );
    server.psql(&sql).expect("rows");

    let pruned = store.prune().await.expect("prune");
    assert_eq!((pruned.seen, pruned.tickets, pruned.quarantine), (2, 2, 3));
    assert_eq!((pruned.owners, pruned.conversations), (1, 1));
    let rows = |q: &str| server.psql(q).expect("query");
    assert_eq!(
        rows("SELECT string_agg(update_id::text, ',' ORDER BY update_id) FROM botbox_seen"),
        "3,9",
        "the recent one, and the highest however old"
    );
    assert_eq!(
        rows("SELECT string_agg(ticket::text, ',' ORDER BY ticket) FROM botbox_tickets"),
        "12,13",
        "the queued one, and the one settled recently"
    );
    assert_eq!(
        rows(
            "SELECT min(update_id) || '-' || max(update_id) FROM botbox_quarantine WHERE module = 'a'"
        ),
        "4-1003",
        "the newest 1,000 of a module"
    );
    assert_eq!(
        rows("SELECT count(*) FROM botbox_quarantine WHERE module = 'b'"),
        "1"
    );
    assert_eq!(
        rows("SELECT string_agg(k, ',') FROM botbox_owners"),
        "msg:1:2"
    );
    assert_eq!(
        rows("SELECT string_agg(k, ',') FROM botbox_conversations"),
        "1:3"
    );
    assert_eq!(
        store.prune().await.expect("again"),
        Default::default(),
        "nothing more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_module_s_unfinished_updates_are_forgotten_and_others_still_owed() {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let store = PgStore::open(&server.url()).await.expect("store");
    let both = vec!["a".to_string(), "b".to_string()];
    let updates = vec![
        (1, "{\"update_id\":1}".to_string(), both),
        (2, "{\"update_id\":2}".to_string(), vec!["a".to_string()]),
    ];
    assert_eq!(store.record(&updates, &[]).await.expect("record"), [1, 2]);
    assert_eq!(store.forget_pending_of("a").await.expect("forget"), 2);
    let left = store.pending_updates().await.expect("pending");
    assert_eq!(left.len(), 1, "update 2 is gone, 1 is still b's");
    assert_eq!(
        (left[0].update_id, left[0].modules.clone()),
        (1, vec!["b".to_string()])
    );
    assert_eq!(store.forget_pending_of("a").await.expect("again"), 0);
}
