//! Several nodes of one bot on one throwaway PostgreSQL, as real processes: started, signalled,
//! and the database asked which node holds which partitions.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use botbox::store::pg::{PARTITIONS, partition_of};
use botbox_test_artifacts::CLICKER;
use throwaway_postgres::Postgres;

use crate::support::*;

/// Nodes of one bot: each with its own data directory and config, all on `server`.
pub struct Cluster {
    dirs: Vec<tempfile::TempDir>,
    configs: Vec<PathBuf>,
    /// The running processes, by node (`None` once killed or stopped).
    pub nodes: Vec<Option<tokio::process::Child>>,
}

impl Cluster {
    /// Starts `n` nodes of the clicker on `server` and waits until they share the partitions.
    pub async fn start(server: &Postgres, fake: &FakeBotApi, n: usize) -> Cluster {
        Cluster::start_with(server, fake, &vec![&[CLICKER][..]; n], "").await
    }

    /// Starts a node per entry of `modules`, each with those modules in its modules directory
    /// and `extra` TOML sections in its configuration, and waits until they share the
    /// partitions.
    pub async fn start_with(
        server: &Postgres,
        fake: &FakeBotApi,
        modules: &[&[&str]],
        extra: &str,
    ) -> Cluster {
        let n = modules.len();
        let store = format!("[store]\nurl = {:?}\n{extra}", server.url());
        let mut cluster = Cluster {
            dirs: Vec::new(),
            configs: Vec::new(),
            nodes: Vec::new(),
        };
        for wasm in modules {
            let dir = tempfile::tempdir().unwrap();
            let config = write_config(dir.path(), fake, &modules_dir(dir.path(), wasm), &store);
            let log = std::env::var("BOTBOX_TEST_NODE_LOG").unwrap_or_else(|_| "warn".into());
            cluster
                .nodes
                .push(Some(spawn_bot_with_env(&config, &[("BOTBOX_LOG", &log)])));
            cluster.configs.push(config);
            cluster.dirs.push(dir);
        }
        wait_for_owners(server, n).await;
        cluster
    }

    /// The name node `i` goes by in the database.
    pub fn name(&self, i: usize) -> String {
        std::fs::read_to_string(self.dirs[i].path().join("data/node-id"))
            .expect("a node's name")
            .trim()
            .to_string()
    }

    /// Node `i`'s data directory (its `admin.addr` and `admin.token`).
    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.dirs[i].path().join("data")
    }

    /// Node `i`'s admin API, once it listens.
    pub async fn admin(&self, i: usize) -> Admin {
        Admin::of(&self.data_dir(i)).await
    }

    /// Node `i`'s modules directory.
    pub fn modules_dir(&self, i: usize) -> PathBuf {
        self.dirs[i].path().join("modules")
    }

    /// The node that holds partition 0 (and so polls the Bot API).
    pub fn poller(&self, server: &Postgres) -> usize {
        let owner = server
            .psql("SELECT owner FROM botbox_partitions WHERE id = 0")
            .unwrap();
        (0..self.dirs.len())
            .find(|i| self.name(*i) == owner)
            .unwrap_or_else(|| panic!("partition 0 held by {owner:?}, none of the nodes"))
    }

    /// Sends `name` (`KILL`, `STOP`, `CONT`, `TERM`) to node `i`.
    pub fn signal(&self, i: usize, name: &str) {
        signal(self.nodes[i].as_ref().expect("the node runs"), name);
    }

    /// Kills node `i` with SIGKILL and waits for it.
    pub async fn kill(&mut self, i: usize) {
        let mut child = self.nodes[i].take().expect("the node runs");
        child.start_kill().unwrap();
        let _ = child.wait().await;
    }

    /// Whether every node not killed still runs.
    pub fn all_running(&mut self) -> bool {
        (self.nodes.iter_mut().flatten()).all(|c| c.try_wait().unwrap().is_none())
    }

    /// Stops every node (SIGTERM, then a kill after 30 s).
    pub async fn stop(mut self) {
        for i in 0..self.nodes.len() {
            if self.nodes[i].is_some() {
                self.signal(i, "TERM");
            }
        }
        for child in self.nodes.iter_mut().flatten() {
            if tokio::time::timeout(Duration::from_secs(30), child.wait())
                .await
                .is_err()
            {
                let _ = child.start_kill();
            }
        }
    }
}

/// Sends the signal `name` (`KILL`, `STOP`, `CONT`, `TERM`) to `child`.
pub fn signal(child: &tokio::process::Child, name: &str) {
    let pid = child.id().expect("running").to_string();
    let ok = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name} {pid}");
}

/// Waits (up to a minute) until exactly `n` nodes hold partitions and every partition has an
/// owner.
pub async fn wait_for_owners(server: &Postgres, n: usize) {
    let sql = "SELECT count(DISTINCT owner) || ' ' || count(*) FILTER (WHERE owner IS NULL) \
               FROM botbox_partitions";
    let want = format!("{n} 0");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let now = server.psql(sql).unwrap_or_default();
        if now == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the partitions never settled on {n} nodes: {now:?} (owners, unowned)"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Asserts the private chats of `users` are held by at least two nodes.
pub fn assert_spread(server: &Postgres, users: &[TestUser]) {
    let mut owners = owners_of(server, users);
    owners.sort();
    owners.dedup();
    assert!(
        owners.len() >= 2,
        "the users' chats are spread over the nodes: {owners:?}"
    );
}

/// The node names that hold the private chats of `users`, one per user.
pub fn owners_of(server: &Postgres, users: &[TestUser]) -> Vec<String> {
    users
        .iter()
        .map(|u| {
            let p = partition_of(u.id, PARTITIONS);
            server
                .psql(&format!(
                    "SELECT owner FROM botbox_partitions WHERE id = {p}"
                ))
                .unwrap()
        })
        .collect()
}

/// A node's admin API, with the token from its data directory.
pub struct Admin {
    /// Its address, `http://...`.
    pub url: String,
    /// Its bearer token.
    pub token: String,
    http: reqwest::Client,
}

impl Admin {
    /// Node `data`'s admin API, once it listens (it writes `admin.addr` then).
    pub async fn of(data: &Path) -> Admin {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !data.join("admin.addr").exists() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no admin.addr in {data:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let read = |f: &str| {
            std::fs::read_to_string(data.join(f))
                .expect(f)
                .trim()
                .to_string()
        };
        Admin {
            url: format!("http://{}", read("admin.addr")),
            token: read("admin.token"),
            http: reqwest::Client::new(),
        }
    }

    /// Sends `method path` with `body`; answers the status and the body.
    pub async fn call(&self, method: &str, path: &str, body: impl AsRef<[u8]>) -> (u16, String) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let resp = (self.http.request(method, format!("{}{path}", self.url)))
            .bearer_auth(&self.token)
            .body(body.as_ref().to_vec())
            .send()
            .await
            .expect("the admin API answers");
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// `call`, asserting a 2xx status; answers the body.
    pub async fn ok(&self, method: &str, path: &str, body: impl AsRef<[u8]>) -> String {
        let (status, text) = self.call(method, path, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {text}"
        );
        text
    }

    /// `ok`, its body as JSON.
    pub async fn json(&self, method: &str, path: &str) -> serde_json::Value {
        serde_json::from_str(&self.ok(method, path, "").await).unwrap()
    }
}
