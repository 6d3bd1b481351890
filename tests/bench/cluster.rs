//! One bot on several nodes of one PostgreSQL (issue 19), through the release binary and the
//! clicker, against the embedded store on one node, in one run.
//!
//! Throughput: for redb on one node, then PostgreSQL with 1, 2 and 3 nodes (a fresh fake and a
//! fresh throwaway PostgreSQL 15 each, all on this machine's cores), 1,000 users `/start`, a
//! backlog of 10 messages per user is queued at once and timed until the last reply
//! (updates/s), then `rate` updates a second for `seconds`, each reply's latency measured
//! (p50/p99) — the peers bench's phases (`peers/load.rs`), every answer checked.
//!
//! Takeover: 3 nodes on PostgreSQL; `kills` times, one node (each in turn, the poller among
//! them) is killed with SIGKILL and a user whose chat it held clicks at once: the time until
//! that click is answered is the takeover as a user sees it (the lease running out, the next
//! claim, the pickup of what the dead node left). The node is started again and the partitions
//! settle on three before the next kill. p50/p99 over the kills.
//!
//! Run: `cargo bench -p botbox --bench cluster`. `BOTBOX_BENCH_SECONDS` (10), `BOTBOX_BENCH_RATE`
//! (500), `BOTBOX_BENCH_USERS` (1000), `BOTBOX_BENCH_KILLS` (10), `BOTBOX_BENCH_NODES` (e.g.
//! `redb,1,2,3`, the default), `BOTBOX_BENCH_BIN` (another build of `botbox`). Prints one JSON
//! object per configuration, then the takeover's; never fails on speed.

mod latency;
#[path = "peers/load.rs"]
mod load;
mod support;

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use botbox::store::pg::{PARTITIONS, partition_of};
use fake_bot_api::{FakeBotApi, FakeConfig, Limits, TestUser};
use serde_json::{Value, json};
use throwaway_postgres::Postgres;

const TIMEOUT: Duration = Duration::from_secs(300);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A node: its process and its directory.
struct Node {
    child: Option<tokio::process::Child>,
    root: tempfile::TempDir,
    config: std::path::PathBuf,
}

impl Node {
    fn new(fake: &FakeBotApi, store: &str) -> Node {
        let root = tempfile::tempdir().expect("tempdir");
        let api_url = fake.api_url().to_string();
        let config = support::clicker_toml(root.path(), fake.token(), &api_url, store);
        let mut node = Node {
            child: None,
            root,
            config,
        };
        node.start();
        node
    }

    fn start(&mut self) {
        let program = std::env::var_os("BOTBOX_BENCH_BIN")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_botbox").into());
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.root.path().join("bot.log"))
            .expect("log");
        self.child = Some(
            tokio::process::Command::new(program)
                .args(["run", "--config"])
                .arg(&self.config)
                .env(
                    "BOTBOX_LOG",
                    std::env::var("BOTBOX_BENCH_LOG").unwrap_or_else(|_| "error".into()),
                )
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .kill_on_drop(true)
                .spawn()
                .expect("start botbox"),
        );
    }

    fn name(&self) -> String {
        let file = self.root.path().join("data/node-id");
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    /// The last lines of the node's log.
    fn log_tail(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self.root.path().join("bot.log")).unwrap_or_default();
        let tail: Vec<String> = log.lines().rev().take(10).map(str::to_owned).collect();
        tail.into_iter().rev().collect()
    }

    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
            if tokio::time::timeout(Duration::from_secs(15), child.wait())
                .await
                .is_err()
            {
                let _ = child.start_kill();
            }
        }
    }
}

fn fresh_fake() -> FakeBotApi {
    FakeBotApi::start(FakeConfig {
        limits: Limits::unlimited(),
        ..FakeConfig::default()
    })
    .expect("fake Bot API")
}

fn store_section(server: &Postgres) -> String {
    format!("[store]\nurl = {:?}\n", server.url())
}

/// Waits until `n` nodes hold every partition between them.
async fn settled(server: &Postgres, n: usize) -> Result<(), String> {
    let sql = "SELECT count(DISTINCT owner) || ' ' || count(*) FILTER (WHERE owner IS NULL) \
               FROM botbox_partitions";
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if server.psql(sql).unwrap_or_default() == format!("{n} 0") {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("the partitions never settled on {n} nodes"))
}

/// The throughput phases with `nodes` nodes (0: redb on one node).
async fn throughput(nodes: usize, seconds: u64, rate: u64, users: usize) -> Value {
    let fake = fresh_fake();
    let server = (nodes > 0).then(|| Postgres::start().expect("a throwaway PostgreSQL"));
    let store = server.as_ref().map_or(String::new(), store_section);
    let mut running: Vec<Node> = (0..nodes.max(1))
        .map(|_| Node::new(&fake, &store))
        .collect();
    let label = match nodes {
        0 => "redb, 1 node".to_string(),
        n => format!("PostgreSQL, {n} node{}", if n > 1 { "s" } else { "" }),
    };
    let mut figures = json!({ "store": label, "users": users });
    let outcome = async {
        if let Some(server) = &server {
            settled(server, nodes).await?;
        }
        let mut people = load::Users::new(1_000_000, users);
        load::register(&fake, &people, TIMEOUT).await?;
        let saturated = load::saturate(&fake, &mut people, 10, TIMEOUT).await?;
        load::verify(&fake, &people)?;
        figures["updates_per_second"] = json!(saturated.round());
        let steady = load::steady(&fake, &mut people, rate, seconds, TIMEOUT, || {}).await?;
        load::verify(&fake, &people)?;
        figures["steady"] = json!({
            "target_updates_per_second": rate,
            "fed_updates_per_second": steady.fed_per_second.round(),
            "seconds": seconds,
            "rate_above_saturation": rate as f64 > saturated,
            "latency": latency::summary(&steady.latencies_ms),
        });
        Ok::<(), String>(())
    }
    .await;
    if let Some(server) = &server {
        figures["postgres_transactions"] = json!(transactions(server));
    }
    if let Err(reason) = outcome {
        figures["failed"] = json!(reason);
        figures["left"] = json!(server.as_ref().map(left_in_the_database));
        figures["log_tails"] = json!(running.iter().map(Node::log_tail).collect::<Vec<_>>());
    }
    for node in &mut running {
        node.stop().await;
    }
    fake.shutdown();
    figures
}

/// The database's committed and rolled-back transactions (a rollback is mostly a unit of work
/// refused by SERIALIZABLE and run again).
fn transactions(server: &Postgres) -> Value {
    let sql = "SELECT xact_commit || ' ' || xact_rollback FROM pg_stat_database \
               WHERE datname = current_database()";
    let got = server.psql(sql).unwrap_or_default();
    let mut n = got.split(' ').map(|v| v.parse::<u64>().unwrap_or(0));
    json!({ "committed": n.next(), "rolled_back": n.next() })
}

/// What is left owed in the database after a failed run: updates and messages, by whether a
/// node took them and whether that node still holds their partition at that epoch.
fn left_in_the_database(server: &Postgres) -> String {
    let sql = "SELECT 'pending ' || coalesce(string_agg(x, ', '), 'none') FROM ( \
               SELECT p.update_id || '/' || p.module || ' taken ' || p.taken || ' epoch ' || pt.epoch \
               || ' owner ' || coalesce(pt.owner, '-') AS x FROM botbox_pending p \
               JOIN botbox_partitions pt ON pt.id = p.part LIMIT 5) q \
               UNION ALL SELECT 'outbox ' || coalesce(string_agg(x, ', '), 'none') FROM ( \
               SELECT o.seq || ' chat ' || o.chat || ' taken ' || o.taken || ' epoch ' || pt.epoch \
               || ' owner ' || coalesce(pt.owner, '-') AS x FROM botbox_outbox o \
               JOIN botbox_partitions pt ON pt.id = o.part LIMIT 5) q";
    server.psql(sql).unwrap_or_else(|e| e.to_string())
}

/// Which of `nodes` holds the chat of `user` (by the database).
fn holder(server: &Postgres, nodes: &[Node], user: &TestUser) -> Option<usize> {
    let p = partition_of(user.id, PARTITIONS);
    let owner = server
        .psql(&format!(
            "SELECT owner FROM botbox_partitions WHERE id = {p}"
        ))
        .ok()?;
    nodes.iter().position(|n| n.name() == owner)
}

/// `kills` kills with SIGKILL of one node of three, each time the time until a user of the
/// killed node's chats is answered.
async fn takeovers(kills: usize) -> Value {
    let fake = fresh_fake();
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let store = store_section(&server);
    let mut nodes: Vec<Node> = (0..3).map(|_| Node::new(&fake, &store)).collect();
    let people = load::Users::new(2_000_000, 60);
    let mut seconds = Vec::new();
    let mut failed = None;
    let outcome = async {
        settled(&server, 3).await?;
        load::register(&fake, &people, TIMEOUT).await?;
        for k in 0..kills {
            settled(&server, 3).await?;
            let victim = k % 3;
            let Some(user) =
                (people.people.iter()).find(|u| holder(&server, &nodes, u) == Some(victim))
            else {
                return Err(format!("no user's chat on node {victim}"));
            };
            let before = fake.bot_texts(user.id).len();
            nodes[victim].kill().await;
            let killed = Instant::now();
            fake.send_text(user, "Click");
            fake.wait_until(TIMEOUT, |v| v.bot_texts(user.id).len() > before)
                .await
                .map_err(|_| format!("kill {k}: the click was not answered within {TIMEOUT:?}"))?;
            seconds.push(killed.elapsed().as_secs_f64());
            nodes[victim].start();
        }
        Ok::<(), String>(())
    }
    .await;
    if let Err(reason) = outcome {
        failed = Some(reason);
    }
    for node in &mut nodes {
        node.stop().await;
    }
    fake.shutdown();
    let mut sorted = seconds.clone();
    sorted.sort_by(f64::total_cmp);
    let pick = |q: f64| -> Value {
        if sorted.is_empty() {
            return Value::Null;
        }
        let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
        json!((sorted[i] * 10.0).round() / 10.0)
    };
    json!({
        "takeover": "3 nodes on PostgreSQL, one killed with SIGKILL, until a user of its chats is answered",
        "lease_seconds": 15,
        "kills": seconds.len(),
        "seconds": seconds.iter().map(|s| (s * 10.0).round() / 10.0).collect::<Vec<_>>(),
        "p50_s": pick(0.5),
        "p99_s": pick(0.99),
        "failed": failed,
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seconds = env_or("BOTBOX_BENCH_SECONDS", 10);
    let rate = env_or("BOTBOX_BENCH_RATE", 500);
    let users = env_or("BOTBOX_BENCH_USERS", 1000);
    let kills = env_or("BOTBOX_BENCH_KILLS", 10);
    let chosen = std::env::var("BOTBOX_BENCH_NODES").unwrap_or_else(|_| "redb,1,2,3".into());
    for which in chosen.split(',').map(str::trim) {
        let nodes = if which == "redb" {
            0
        } else {
            match which.parse::<usize>() {
                Ok(n) if (1..=8).contains(&n) => n,
                _ => {
                    println!(
                        "{}",
                        json!({ "skipped": which, "why": "redb or 1 to 8 nodes" })
                    );
                    continue;
                }
            }
        };
        println!("{}", throughput(nodes, seconds, rate, users).await);
    }
    if kills > 0 {
        println!("{}", takeovers(kills).await);
    }
}
