//! The PostgreSQL KV's throughput on a throwaway server (fsync and synchronous_commit on), for
//! the handler shape "increment a counter, set a value" (one unit of work each), with 1 and 8
//! connections, on keys per connection (chats that do not share keys) and on one shared key
//! (every handler conflicts with every other).
//!
//! Run: `cargo run -p botbox --example pg-kv-bench [seconds]` (debug build: the client's cost is
//! small next to the server's round trips and fsyncs).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use botbox::store::{
    kv::{KvLimits, Quota},
    pg::{
        Pool,
        kv::{Outcome, PgNamespace},
    },
};
use throwaway_postgres::Postgres;

struct Run {
    committed: u64,
    refused: u64,
    latencies: Vec<Duration>,
}

async fn worker(ns: Arc<PgNamespace>, id: u32, shared: bool, until: Instant) -> Run {
    let key = if shared {
        b"counter".to_vec()
    } else {
        format!("c/{id}").into_bytes()
    };
    let last = format!("l/{id}").into_bytes();
    let mut run = Run {
        committed: 0,
        refused: 0,
        latencies: Vec::new(),
    };
    while Instant::now() < until {
        let started = Instant::now();
        loop {
            let mut t = ns.begin().await.expect("begin");
            let body = async {
                let n = ns.increment(&mut t, &key, 1).await?;
                ns.set(&mut t, &last, &n.to_be_bytes()).await
            }
            .await;
            match (body, ns.commit(&mut t).await.expect("commit")) {
                (Ok(()), Outcome::Committed) => break,
                (_, _) => run.refused += 1,
            }
        }
        run.committed += 1;
        run.latencies.push(started.elapsed());
    }
    run
}

async fn measure(pool: &Arc<Pool>, setting: &str, conns: u32, shared: bool, secs: u64) {
    let limits = KvLimits {
        max_key: 64,
        max_value: 1024,
        max_scan: 100,
    };
    let quota = Quota {
        max_bytes: 1 << 40,
        max_keys: 1 << 30,
    };
    let name = format!("bench-{setting}-{conns}-{shared}");
    let ns = Arc::new(
        PgNamespace::open(pool.clone(), &name, limits, quota)
            .await
            .expect("namespace"),
    );
    let until = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let tasks: Vec<_> = (0..conns)
        .map(|i| tokio::spawn(worker(ns.clone(), i, shared, until)))
        .collect();
    let (mut committed, mut refused, mut lat) = (0, 0, Vec::new());
    for t in tasks {
        let r = t.await.expect("worker");
        committed += r.committed;
        refused += r.refused;
        lat.extend(r.latencies);
    }
    let elapsed = started.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    println!(
        "| {setting} | {conns} | {} | {:.0} | {refused} | {:.2} | {:.2} |",
        if shared {
            "one shared key"
        } else {
            "a key per connection"
        },
        committed as f64 / elapsed,
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let secs = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let pg = Postgres::start().expect("a throwaway PostgreSQL");
    println!("fsync={}", pg.psql("SHOW fsync").expect("fsync"));
    let pool = Arc::new(Pool::open(&pg.url()).await.expect("pool"));
    println!(
        "| server setting | connections | keys | commits/s | refused runs | p50 ms | p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|");
    // The default (what botbox requires), then two settings for comparison: batching commits
    // harder, and not waiting for the WAL flush (loses acknowledged commits on a crash).
    for setting in [
        "synchronous_commit=on",
        "commit_delay=1000",
        "synchronous_commit=off",
    ] {
        let (name, value) = setting.split_once('=').expect("name=value");
        pg.psql("ALTER SYSTEM RESET ALL").expect("reset");
        pg.psql(&format!("ALTER SYSTEM SET {name} = '{value}'"))
            .expect("set");
        pg.psql("SELECT pg_reload_conf()").expect("reload");
        for (conns, shared) in [(1, false), (8, false), (8, true)] {
            measure(&pool, setting, conns, shared, secs).await;
        }
    }
}
