//! Durable timers on a bot whose store is PostgreSQL: the behaviours `timers.rs` shows on the
//! embedded store, the same test bodies, on a throwaway PostgreSQL 15.

use throwaway_postgres::Postgres;

use crate::timers::{fires_late_after_a_stop, fires_once_and_a_cancelled_one_never, setup};

/// Timers left in the PostgreSQL store.
fn timers_left(server: &Postgres) -> usize {
    let n = server.psql("SELECT count(*) FROM botbox_timers").unwrap();
    n.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_timer_fires_once_in_its_chat_and_a_cancelled_one_never() {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let dir = tempfile::tempdir().unwrap();
    let (fake, mut c) = setup(dir.path());
    c.store.url = botbox::config::Secret::new(server.url());
    fires_once_and_a_cancelled_one_never(&fake, c, |_| timers_left(&server)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_timer_due_while_the_bot_was_down_fires_after_the_start_late() {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let dir = tempfile::tempdir().unwrap();
    let (fake, mut c) = setup(dir.path());
    c.store.url = botbox::config::Secret::new(server.url());
    fires_late_after_a_stop(&fake, c).await;
    assert_eq!(timers_left(&server), 0);
}
