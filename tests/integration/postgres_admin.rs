//! The admin API of a bot on PostgreSQL, through any of its nodes (two real `botbox` processes
//! on one throwaway PostgreSQL): a module's data read and changed through one node is what the
//! other node and the bot see, an export imports back, an import over the quota writes nothing,
//! and a quarantined update listed through one node and handed back through the other is
//! handled once, by the node that holds its chat.

use std::time::Duration;

use botbox_test_artifacts::{BAD_TRAP, CLICKER};
use throwaway_postgres::Postgres;

use crate::{cluster_support::*, support::*};

/// Two nodes of the clicker and bad-trap, with a KV quota of 40 keys per module and an update
/// given up after 2 failed attempts.
async fn two_nodes(server: &Postgres, fake: &FakeBotApi) -> (Cluster, [Admin; 2]) {
    let extra = "[sandbox]\nmax_attempts = 2\nkv_max_keys = 40\n";
    let cluster = Cluster::start_with(server, fake, &[&[CLICKER, BAD_TRAP][..]; 2], extra).await;
    let admins = [cluster.admin(0).await, cluster.admin(1).await];
    (cluster, admins)
}

/// A user (id from `from`) whose private chat node `node` holds.
fn user_held_by(server: &Postgres, cluster: &Cluster, node: usize, from: i64) -> TestUser {
    (from..)
        .map(|id| TestUser::new(id, format!("U{id}")))
        .find(|u| owners_of(server, std::slice::from_ref(u))[0] == cluster.name(node))
        .unwrap()
}

/// The clicker's record of `user` (its key in hex, its JSON), read through `admin`.
async fn record_of(admin: &Admin, user: &TestUser) -> (String, String) {
    let page = admin
        .json(
            "GET",
            &format!("/v1/kv/clicker/scan?prefix={}", hex::encode("user/")),
        )
        .await;
    page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let value = hex::decode(e["value_hex"].as_str().unwrap()).unwrap();
            let key = e["key_hex"].as_str().unwrap().to_string();
            (key, String::from_utf8(value).unwrap())
        })
        .find(|(_, v)| v.contains(&format!("\"{}\"", user.first_name)))
        .unwrap_or_else(|| panic!("no record of {}: {page}", user.first_name))
}

/// Which of the `listed` quarantined updates is `user`'s, read one by one through `admin`.
async fn quarantined_of(admin: &Admin, listed: &[serde_json::Value], user: &TestUser) -> u64 {
    for q in listed {
        let id = q["update_id"].as_u64().unwrap();
        let one = admin
            .json("GET", &format!("/v1/quarantine/bad-trap/{id}"))
            .await;
        let update = one["update"].as_str().unwrap_or_default();
        if update.contains(&format!("\"id\":{}", user.id)) {
            assert!(update.contains("/flaky"), "{update}");
            return id;
        }
    }
    panic!("no quarantined update of {}", user.first_name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_set_through_one_node_are_read_through_the_other_and_used_by_the_bot() {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let fake = unlimited_fake();
    let (cluster, [a, b]) = two_nodes(&server, &fake).await;
    let users = [
        user_held_by(&server, &cluster, 0, 7000),
        user_held_by(&server, &cluster, 1, 7000),
    ];
    for u in &users {
        send_expecting(&fake, u, "/start", "Hello").await;
        send_expecting(&fake, u, "Click", "Clicks: 1").await;
    }

    // Through node a, each user's clicks become 1000; node b reads it; both nodes' users count on.
    for u in &users {
        let (key, json) = record_of(&a, u).await;
        let edited = json.replace("\"clicks\":1", "\"clicks\":1000");
        a.ok("PUT", &format!("/v1/kv/clicker/keys/{key}"), &edited)
            .await;
        assert_eq!(
            b.ok("GET", &format!("/v1/kv/clicker/keys/{key}"), "").await,
            edited
        );
    }
    for u in &users {
        send_expecting(&fake, u, "Click", "Clicks: 1001").await;
    }

    // Exported through b, a record deleted through a, imported back through b: the bot counts on
    // from the restored record.
    let export = b.ok("GET", "/v1/kv/clicker/export", "").await;
    let (key, json) = record_of(&a, &users[1]).await;
    let deleted = a
        .json("DELETE", &format!("/v1/kv/clicker/keys/{key}"))
        .await;
    assert_eq!(deleted["existed"], true);
    let (status, _) = b
        .call("GET", &format!("/v1/kv/clicker/keys/{key}"), "")
        .await;
    assert_eq!(status, 404, "deleted for every node");
    let imported: serde_json::Value =
        serde_json::from_str(&b.ok("POST", "/v1/kv/clicker/import", &export).await).unwrap();
    assert_eq!(imported["imported"], export.lines().count());
    let restored = a.ok("GET", &format!("/v1/kv/clicker/keys/{key}"), "").await;
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
    assert_eq!(parse(&restored), parse(&json));
    assert_eq!(a.ok("GET", "/v1/kv/clicker/export", "").await, export);
    send_expecting(&fake, &users[1], "Click", "Clicks: 1002").await;

    // An import past the module's 40 keys is refused whole, through either node.
    let lines: String = (0..45)
        .map(|i| format!("{{\"key\":\"extra/{i:02}\",\"json\":{i}}}\n"))
        .collect();
    let before = b.ok("GET", "/v1/kv/clicker/export", "").await;
    let (status, why) = a.call("POST", "/v1/kv/clicker/import", &lines).await;
    assert_eq!(status, 400, "{why}");
    assert!(why.contains("Quota"), "{why}");
    let extra = b
        .json(
            "GET",
            &format!("/v1/kv/clicker/scan?prefix={}", hex::encode("extra/")),
        )
        .await;
    assert_eq!(extra["entries"], serde_json::json!([]), "nothing written");
    assert_eq!(b.ok("GET", "/v1/kv/clicker/export", "").await, before);

    // Bad input answers as on redb.
    let (status, _) = b.call("GET", "/v1/kv/clicker/keys/zz", "").await;
    assert_eq!(status, 400, "keys are hex");
    let (status, why) = b.call("GET", "/v1/kv/nosuch/keys/00", "").await;
    assert_eq!(
        (status, why.contains("no module `nosuch`")),
        (400, true),
        "{why}"
    );
    send_expecting(&fake, &users[0], "Click", "Clicks: 1002").await;

    // Node a stopped, `botbox kv` on its machine changes the bot's data in PostgreSQL (not the
    // node's own file): node b reads it.
    let mut cluster = cluster;
    cluster.signal(0, "TERM");
    let _ = cluster.nodes[0].take().unwrap().wait().await;
    let root = cluster.data_dir(0).parent().unwrap().to_path_buf();
    let (ok, _, err) =
        crate::operator::botbox(&root, &["kv", "set", "clicker", "motd", "hi"], None).await;
    assert!(ok, "{err}");
    assert_eq!(
        b.ok(
            "GET",
            &format!("/v1/kv/clicker/keys/{}", hex::encode("motd")),
            ""
        )
        .await,
        "hi"
    );
    let (ok, out, err) =
        crate::operator::botbox(&root, &["kv", "get", "clicker", "motd"], None).await;
    assert_eq!((ok, out.trim()), (true, "hi"), "{err}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarantined_update_listed_through_one_node_and_retried_through_the_other_is_handled_once()
 {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let fake = unlimited_fake();
    let (cluster, [a, b]) = two_nodes(&server, &fake).await;
    // Ann's chat is b's: her update is retried through a, and handled by b.
    let ann = user_held_by(&server, &cluster, 1, 8000);
    let bob = user_held_by(&server, &cluster, 0, 8000);
    fake.send_text(&ann, "/flaky");
    fake.send_text(&bob, "/flaky");

    let mut listed = serde_json::Value::Null;
    for _ in 0..150 {
        listed = b.json("GET", "/v1/quarantine").await;
        if listed.as_array().unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let listed = listed.as_array().unwrap().clone();
    assert_eq!(listed.len(), 2, "both given up: {listed:?}");
    assert!(
        listed.iter().all(|q| q["module"] == "bad-trap"),
        "{listed:?}"
    );
    // Each node's /metrics counts the bot's quarantine, not its own file's.
    for admin in [&a, &b] {
        let page = admin.ok("GET", "/metrics", "").await;
        assert_eq!(metric(&page, "botbox_updates_quarantined"), 2.0);
    }
    let ann_update = quarantined_of(&b, &listed, &ann).await;
    let bob_update = quarantined_of(&b, &listed, &bob).await;

    // Bob's is dropped through b; a no longer finds it.
    b.ok(
        "DELETE",
        &format!("/v1/quarantine/bad-trap/{bob_update}"),
        "",
    )
    .await;
    let (status, _) = a
        .call("GET", &format!("/v1/quarantine/bad-trap/{bob_update}"), "")
        .await;
    assert_eq!(status, 404);

    // The operator repairs the module's data through a, then retries Ann's through a.
    a.ok(
        "PUT",
        &format!("/v1/kv/bad-trap/keys/{}", hex::encode("fixed")),
        "yes",
    )
    .await;
    let retried = a
        .json(
            "POST",
            &format!("/v1/quarantine/bad-trap/{ann_update}/retry"),
        )
        .await;
    assert_eq!(retried["retried"], true);
    fake.wait_for_bot_text(ann.id, "flaky handled", WAIT)
        .await
        .expect("the retried update is handled");
    let (status, _) = a
        .call(
            "POST",
            &format!("/v1/quarantine/bad-trap/{ann_update}/retry"),
            "",
        )
        .await;
    assert_eq!(status, 404, "handed back once");

    // Handled once: one answer, nothing owed or quarantined left, on either node.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let answers = bot_texts(&fake, ann.id)
        .iter()
        .filter(|t| *t == "flaky handled")
        .count();
    assert_eq!(answers, 1);
    assert!(
        bot_texts(&fake, bob.id)
            .iter()
            .all(|t| t != "flaky handled"),
        "Bob's was dropped"
    );
    for admin in [&a, &b] {
        assert_eq!(
            admin.json("GET", "/v1/quarantine").await,
            serde_json::json!([])
        );
        let page = admin.ok("GET", "/metrics", "").await;
        assert_eq!(metric(&page, "botbox_updates_quarantined"), 0.0);
        assert_eq!(metric(&page, "botbox_updates_unfinished"), 0.0);
    }
    let owed = server.psql("SELECT count(*) FROM botbox_pending").unwrap();
    assert_eq!(owed, "0");
    cluster.stop().await;
}
