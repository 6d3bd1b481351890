//! Modules of one bot on three nodes (real processes, one throwaway PostgreSQL): a change made
//! through one node's admin API reaches every node. Two nodes start with no module at all and
//! get the clicker from the database; a swap through one node while users click through all
//! three switches every chat once, between two of its clicks, none counted twice or lost; a
//! rollback through another node, a version awaiting approval sent to one node and approved
//! through another, and a removal reach all of them too.

use std::time::Duration;

use botbox_test_artifacts::{CLICKER, CLICKER_V2, CLICKER_V3};
use throwaway_postgres::Postgres;

use crate::{cluster_support::*, support::*};

const USERS: i64 = 9;
const CLICKS: u64 = 30;

/// The clicker's hash as node `i` runs it (`None`: it has none).
async fn clicker_hash(cluster: &Cluster, i: usize) -> Option<String> {
    let list = cluster.admin(i).await.json("GET", "/v1/modules").await;
    list.as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "clicker")
        .map(|m| m["hash"].as_str().unwrap().to_string())
}

/// Waits (up to 30 s) until every node runs the clicker at `hash` (`None`: none runs it).
async fn wait_all_at(cluster: &Cluster, hash: Option<&str>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut at = Vec::new();
        for i in 0..3 {
            at.push(clicker_hash(cluster, i).await);
        }
        if at.iter().all(|h| h.as_deref() == hash) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the nodes never all ran {hash:?}: {at:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The click replies in `chat` as (version, count): v1 says `Clicks: N`, v2 `Clicks (v2): N`.
fn versioned_clicks(fake: &FakeBotApi, chat: i64) -> Vec<(u8, u64)> {
    bot_texts(fake, chat)
        .iter()
        .filter_map(|t| match t.strip_prefix("Clicks (v2): ") {
            Some(n) => Some((2, n.parse().unwrap())),
            None => t.strip_prefix("Clicks: ").map(|n| (1, n.parse().unwrap())),
        })
        .collect()
}

/// Each user clicks `clicks` times, each time once the last click was answered.
fn click_steadily(
    fake: &FakeBotApi,
    users: &[TestUser],
    clicks: u64,
) -> Vec<tokio::task::JoinHandle<()>> {
    users
        .iter()
        .map(|u| {
            let (fake, u) = (fake.clone(), u.clone());
            tokio::spawn(async move {
                for n in 1..=clicks {
                    fake.send_text(&u, "Click");
                    fake.wait_until(Duration::from_secs(120), |v| {
                        v.transcript(u.id)
                            .iter()
                            .filter(|e| e.from_bot && e.text.starts_with("Clicks"))
                            .count() as u64
                            >= n
                    })
                    .await
                    .unwrap();
                }
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_rollback_approval_and_removal_through_any_node_reach_all_three_while_users_click() {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let fake = unlimited_fake();
    // Only the first node has the clicker in its modules directory.
    let cluster = Cluster::start_with(&server, &fake, &[&[CLICKER], &[], &[]], "").await;
    let v1 = botbox::sandbox::module_hash(&std::fs::read(CLICKER).unwrap());
    let v2_bytes = std::fs::read(CLICKER_V2).unwrap();
    let v2 = botbox::sandbox::module_hash(&v2_bytes);
    wait_all_at(&cluster, Some(&v1)).await;
    for i in 1..3 {
        let file = cluster.modules_dir(i).join("clicker.wasm");
        let bytes =
            std::fs::read(&file).expect("the clicker's file written on the node that got it");
        assert_eq!(
            botbox::sandbox::module_hash(&bytes),
            v1,
            "{}",
            file.display()
        );
    }

    let users: Vec<TestUser> = (1..=USERS)
        .map(|i| TestUser::new(8000 + i, format!("M{i}")))
        .collect();
    for u in &users {
        send_expecting(&fake, u, "/start", "Hello").await;
    }
    assert_spread(&server, &users);
    let clickers = click_steadily(&fake, &users, CLICKS);
    wait_for_clicks_answered(&fake, &users, (USERS as u64 * CLICKS / 3) as usize).await;

    // The swap, through the second node (one that started without the clicker).
    (cluster.admin(1).await)
        .ok("PUT", "/v1/modules/clicker", v2_bytes)
        .await;
    wait_all_at(&cluster, Some(&v2)).await;
    for c in clickers {
        c.await.unwrap();
    }
    let mut answered_by = [0usize; 3];
    for u in &users {
        let replies = versioned_clicks(&fake, u.id);
        let counts: Vec<u64> = replies.iter().map(|r| r.1).collect();
        assert_eq!(
            counts,
            (1..=CLICKS).collect::<Vec<_>>(),
            "user {}: {replies:?}",
            u.id
        );
        // One switch per chat, between two clicks: v1 up to some click, v2 from the next on.
        let versions: Vec<u8> = replies.iter().map(|r| r.0).collect();
        let mut sorted = versions.clone();
        sorted.sort();
        assert_eq!(
            versions, sorted,
            "user {}: a chat never goes back to v1: {replies:?}",
            u.id
        );
        assert_eq!(
            versions.last(),
            Some(&2),
            "user {}: the last clicks by v2: {replies:?}",
            u.id
        );
        answered_by[1] += versions.iter().filter(|v| **v == 1).count();
        answered_by[2] += versions.iter().filter(|v| **v == 2).count();
    }
    eprintln!(
        "clicks answered by v1: {}, by v2: {}",
        answered_by[1], answered_by[2]
    );
    assert!(
        answered_by[1] > 0 && answered_by[2] > 0,
        "the swap came mid-stream"
    );

    // A rollback through the third node: every node back to v1, which answers next.
    (cluster.admin(2).await)
        .ok("POST", "/v1/modules/clicker/rollback", "")
        .await;
    wait_all_at(&cluster, Some(&v1)).await;
    for u in &users {
        send_expecting(&fake, u, "Click", &format!("Clicks: {}", CLICKS + 1)).await;
    }

    // A version asking for more, sent to the first node, awaits approval on every node; approved
    // through the third, it serves on all three.
    let v3_bytes = std::fs::read(CLICKER_V3).unwrap();
    let v3 = botbox::sandbox::module_hash(&v3_bytes);
    let (status, body) = (cluster.admin(0).await)
        .call("PUT", "/v1/modules/clicker", v3_bytes)
        .await;
    assert_eq!(status, 409, "awaits approval: {body}");
    let third = cluster.admin(2).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let info = third.json("GET", "/v1/modules/clicker").await;
        if info["awaiting_approval"]["version"] == "3.0.0" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never awaited on the third node: {info}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let approved = third.json("POST", "/v1/modules/clicker/approve").await;
    assert_eq!(approved["action"], "swapped", "{approved}");
    wait_all_at(&cluster, Some(&v3)).await;
    for i in 0..3 {
        let info = cluster
            .admin(i)
            .await
            .json("GET", "/v1/modules/clicker")
            .await;
        assert!(info["awaiting_approval"].is_null(), "node {i}: {info}");
    }
    for u in &users {
        send_expecting(&fake, u, "Click", &format!("Clicks (v3): {}", CLICKS + 2)).await;
    }

    // A removal through the first node: no node runs it, its file gone from every directory.
    (cluster.admin(0).await)
        .ok("DELETE", "/v1/modules/clicker", "")
        .await;
    wait_all_at(&cluster, None).await;
    for i in 0..3 {
        assert!(
            !cluster.modules_dir(i).join("clicker.wasm").exists(),
            "node {i}'s file removed"
        );
    }
    cluster.stop().await;
}
