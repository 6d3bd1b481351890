//! Three nodes of one bot on one PostgreSQL, as real processes, while users click: the chats'
//! partitions shared out among them, one node killed with SIGKILL (the poller: polling moves
//! too), one paused past its lease and thawed, PostgreSQL itself killed and restarted. Every
//! click is counted once and answered; a reply is repeated only when it was in flight at the
//! fault (at most once per chat). And together the three stay within the bot's rate limit.

use std::time::Duration;

use throwaway_postgres::Postgres;

use crate::{cluster_support::*, support::*};

const USERS: i64 = 12;
const CLICKS: usize = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_the_chats_and_a_kill_9_of_the_poller_loses_no_click() {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let fake = unlimited_fake();
    let mut cluster = Cluster::start(&server, &fake, 3).await;
    let users = queue_clicks(&fake, 4000, "K", USERS, CLICKS);
    assert_spread(&server, &users);
    wait_for_clicks_answered(&fake, &users, USERS as usize * CLICKS / 4).await;
    let poller = cluster.poller(&server);
    let killed = cluster.name(poller);
    cluster.kill(poller).await;
    let answered: usize = users.iter().map(|u| clicks_of(&fake, u.id).len()).sum();
    assert!(
        answered < USERS as usize * CLICKS,
        "the kill came too late to test anything"
    );

    let repeats = every_click_counted_once(&fake, &users, CLICKS).await;
    eprintln!("replies repeated across the kill of the poller: {repeats}");
    wait_for_owners(&server, 2).await;
    let held = server
        .psql(&format!(
            "SELECT count(*) FROM botbox_partitions WHERE owner = '{killed}'"
        ))
        .unwrap();
    assert_eq!(held, "0", "the killed node's partitions moved");
    assert!(cluster.all_running(), "the two others run on");
    let next = format!("Clicks: {}", CLICKS + 1);
    send_expecting(&fake, &users[0], "Click", &next).await;
    cluster.stop().await;
    let owed = server
        .psql("SELECT (SELECT count(*) FROM botbox_pending) + (SELECT count(*) FROM botbox_outbox)")
        .unwrap();
    assert_eq!(owed, "0", "nothing owed after the clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_paused_past_its_lease_commits_nothing_late_and_rejoins_when_thawed() {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let fake = unlimited_fake();
    let mut cluster = Cluster::start(&server, &fake, 3).await;
    let users = queue_clicks(&fake, 5000, "S", USERS, CLICKS);
    wait_for_clicks_answered(&fake, &users, USERS as usize * CLICKS / 4).await;
    // A node that does not poll: its partitions' updates come to it through the database.
    let paused = (cluster.poller(&server) + 1) % 3;
    let name = cluster.name(paused);
    cluster.signal(paused, "STOP");
    // Past the 15 s lease, the other two take its partitions.
    tokio::time::sleep(Duration::from_secs(17)).await;
    wait_for_owners(&server, 2).await;
    let repeats = every_click_counted_once(&fake, &users, CLICKS).await;
    eprintln!("replies repeated across the pause: {repeats}");

    cluster.signal(paused, "CONT");
    wait_for_owners(&server, 3).await;
    let held: i64 = server
        .psql(&format!(
            "SELECT count(*) FROM botbox_partitions WHERE owner = '{name}'"
        ))
        .unwrap()
        .parse()
        .unwrap();
    assert!(held > 0, "the thawed node took a share again");
    assert!(cluster.all_running(), "every node runs on");
    // A second round through the three nodes, the thawed one included.
    for u in &users {
        fake.send_text(u, "Click");
    }
    let repeats = every_click_counted_once(&fake, &users, CLICKS + 1).await;
    eprintln!("replies repeated after the thaw: {repeats}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_ride_out_a_restart_of_postgres_under_load() {
    let mut server = Postgres::start().expect("a throwaway PostgreSQL");
    let fake = unlimited_fake();
    let mut cluster = Cluster::start(&server, &fake, 3).await;
    let users = queue_clicks(&fake, 6000, "R", USERS, CLICKS);
    wait_for_clicks_answered(&fake, &users, USERS as usize * CLICKS / 4).await;
    server.kill().expect("PostgreSQL killed");
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.restart().expect("PostgreSQL back");
    let repeats = every_click_counted_once(&fake, &users, CLICKS).await;
    eprintln!("replies repeated across the database's restart: {repeats}");
    assert!(cluster.all_running(), "no node stopped");
    wait_for_owners(&server, 3).await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_together_stay_within_the_bot_s_rate_limit() {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    // Telegram's limits: 30 messages a second over all chats; each node's outbox, on its own,
    // would send at 30.
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let cluster = Cluster::start(&server, &fake, 3).await;
    // One more renewal, so that every node counts the three.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let users = queue_clicks(&fake, 7000, "L", 90, 2);
    every_click_counted_once(&fake, &users, 2).await;
    let c = fake.counters();
    eprintln!("sent {}, answered 429: {}", c.sends, c.too_many_requests);
    assert_eq!(
        c.too_many_requests, 0,
        "the nodes together went past the bot's limit"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_shorter_lease_a_killed_node_s_chats_move_once_it_ran_out() {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let fake = unlimited_fake();
    let mut cluster = Cluster::start_with(
        &server,
        &fake,
        &[&[botbox_test_artifacts::CLICKER][..]; 2],
        "lease_secs = 6\n",
    )
    .await;
    // Each node's lease reaches at most 6 s past the database's clock (15 s by default).
    let ahead: f64 = server
        .psql("SELECT max(extract(epoch FROM lease_until - clock_timestamp())) FROM botbox_nodes")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        ahead > 0.0 && ahead <= 6.0,
        "the lease reaches {ahead} s ahead"
    );
    let users = queue_clicks(&fake, 9000, "L", USERS, 10);
    wait_for_clicks_answered(&fake, &users, USERS as usize * 10 / 4).await;
    let victim = (cluster.poller(&server) + 1) % 2;
    let killed_at = std::time::Instant::now();
    cluster.kill(victim).await;
    let repeats = every_click_counted_once(&fake, &users, 10).await;
    wait_for_owners(&server, 1).await;
    eprintln!(
        "lease 6 s: every click answered {:?} after the kill, {repeats} repeated",
        killed_at.elapsed()
    );
    cluster.stop().await;
}
