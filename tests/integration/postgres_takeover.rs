//! A node of a bot on PostgreSQL paused past its lease (SIGSTOP) while users click: a second
//! node starts on the same database and takes the bot over; the first, thawed (SIGCONT),
//! commits nothing late (the partitions' fence refuses its units), sends nothing (it is not
//! sure of its lease), finds its partitions taken at its next renewal and rejoins: the two
//! share the bot from then on. Every click is counted once and answered, a reply repeated only
//! when it was in flight at the pause.

use std::time::Duration;

use botbox_test_artifacts::CLICKER;
use throwaway_postgres::Postgres;

use crate::{cluster_support::signal, support::*};

const USERS: i64 = 6;
const CLICKS: usize = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_paused_past_its_lease_is_taken_over_and_shares_the_bot_again_when_it_thaws() {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let fake = unlimited_fake();
    let store = format!("[store]\nurl = {:?}\n", server.url());
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = write_config(
        one.path(),
        &fake,
        &modules_dir(one.path(), &[CLICKER]),
        &store,
    );
    let second = write_config(
        two.path(),
        &fake,
        &modules_dir(two.path(), &[CLICKER]),
        &store,
    );
    let users = queue_clicks(&fake, 3000, "S", USERS, CLICKS);
    let mut a = spawn_bot(&first);
    wait_for_clicks_answered(&fake, &users, USERS as usize * CLICKS / 4).await;
    signal(&a, "STOP");
    let paused_at: usize = users.iter().map(|u| clicks_of(&fake, u.id).len()).sum();
    // Past the 15 s lease: the database lets another node take the bot.
    tokio::time::sleep(Duration::from_secs(17)).await;
    let mut b = spawn_bot(&second);
    wait_for_clicks_answered(&fake, &users, paused_at + USERS as usize).await;
    signal(&a, "CONT");
    let repeats = every_click_counted_once(&fake, &users, CLICKS).await;
    eprintln!("replies repeated across the takeover: {repeats}");
    crate::cluster_support::wait_for_owners(&server, 2).await;
    assert!(a.try_wait().unwrap().is_none(), "the thawed node rejoined");
    assert!(b.try_wait().unwrap().is_none(), "the new node still runs");
    for u in &users {
        fake.send_text(u, "Click");
    }
    every_click_counted_once(&fake, &users, CLICKS + 1).await;
    a.start_kill().unwrap();
    let _ = a.wait().await;
    b.start_kill().unwrap();
    let _ = b.wait().await;
}
