//! Several nodes of one bot on one throwaway PostgreSQL, as real processes: started, signalled,
//! and the database asked which node holds which partitions.

use std::{path::PathBuf, time::Duration};

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
        Cluster::start_with(server, fake, n, &[CLICKER], "").await
    }

    /// Starts `n` nodes of `modules` on `server`, with `extra` TOML sections in each node's
    /// configuration, and waits until they share the partitions.
    pub async fn start_with(
        server: &Postgres,
        fake: &FakeBotApi,
        n: usize,
        modules: &[&str],
        extra: &str,
    ) -> Cluster {
        let store = format!("[store]\nurl = {:?}\n{extra}", server.url());
        let mut cluster = Cluster {
            dirs: Vec::new(),
            configs: Vec::new(),
            nodes: Vec::new(),
        };
        for _ in 0..n {
            let dir = tempfile::tempdir().unwrap();
            let config = write_config(dir.path(), fake, &modules_dir(dir.path(), modules), &store);
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
