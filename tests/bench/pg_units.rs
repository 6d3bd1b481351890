//! Clicker-shaped units of work on both stores, in one run: each update is recorded (in intake
//! batches of 100), then handled — the user's counter incremented, a reply queued, the update's
//! done mark — as one unit of work. On redb through the committer (group commit); on a throwaway
//! PostgreSQL (fsync on) with 1, 2 and 3 "nodes" in this process, each with its own connections,
//! owning a share of 64 partitions and handling its chats' updates under the fence. Figures:
//! updates/s and the latency from an update's arrival to its unit being durable (p50/p99).
//!
//! This is the store alone — no Bot API, no sandbox — on one machine whose cores the server, the
//! "nodes" and the bench share: it prices the store's path, not a cluster's capacity.
//!
//! With `new-keys`, every update is a new user's first click: its counter is a key nobody wrote
//! before, so every unit grows the namespace — on PostgreSQL that is what the usage's escrow
//! (`store/pg/usage.rs`) is for. Then 100,000 users clicked before, and keys are in hashed
//! order: new keys land all over a large index, as in a bot with many users, not on the one page
//! at its end (PostgreSQL's predicate locks are page-sized: new keys on one page conflict).
//!
//! Run: `cargo run --release -p botbox --example pg-units-bench [seconds] [new-keys]`; prints one
//! JSON object per scenario.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use botbox::store::{
    Committer, Db, Handled, Op,
    kv::{Applied, KvLimits, Namespace, Quota},
    pg::{Fence, PgStore, Unit, UnitOutcome, kv::PgNamespace, partition_of},
    records::{Action, Entry, Priority},
};
use throwaway_postgres::Postgres;
use tokio::sync::mpsc;

const USERS: i64 = 1000;
const BATCH: u64 = 100;
const HANDLERS_PER_NODE: usize = 16;
const PARTITIONS: u32 = 64;
const LIMITS: KvLimits = KvLimits {
    max_key: 64,
    max_value: 1024,
    max_scan: 100,
};
const QUOTA: Quota = Quota {
    max_bytes: 1 << 40,
    max_keys: 1 << 30,
};

fn reply(chat: i64, n: i64) -> Entry {
    Entry {
        module: "clicker".into(),
        chat_id: chat,
        priority: Priority::Interactive,
        ticket: None,
        action: Action::Send {
            text: format!("Clicks: {n}"),
            parse_mode: None,
            reply_markup: None,
            reply_to: None,
            silent: false,
        },
        queued_at_ms: 0,
    }
}

/// The chat of update `id` (users click in a fixed pseudo-random order).
fn chat_of(id: u64) -> i64 {
    (id.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) as i64 % USERS + 1
}

/// Users who clicked before, in `new-keys` mode.
const USERS_BEFORE_NEW: u64 = 100_000;

/// A new user's counter, for `n` (distinct `n`, distinct keys), in hashed order.
fn new_counter(n: u64) -> String {
    format!("clicks:{:016x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// The counter update `id` increments: its chat's, or with `new_keys` one of its own (a new
/// user's first click).
fn counter_of(id: u64, new_keys: bool) -> String {
    match new_keys {
        true => new_counter(id),
        false => format!("clicks:{}", chat_of(id)),
    }
}

/// The counters of the users who clicked before.
fn counters_before(new_keys: bool) -> Vec<String> {
    match new_keys {
        true => (0..USERS_BEFORE_NEW)
            .map(|u| new_counter(u64::MAX - u))
            .collect(),
        false => (1..=USERS).map(|chat| format!("clicks:{chat}")).collect(),
    }
}

fn report(store: &str, nodes: usize, secs: f64, mut lat: Vec<Duration>, extra: &str) {
    lat.sort();
    let pct =
        |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)].as_secs_f64() * 1e3;
    println!(
        "{{\"store\":\"{store}\",\"nodes\":{nodes},\"updates_per_s\":{:.0},\"p50_ms\":{:.2},\"p99_ms\":{:.2}{extra}}}",
        lat.len() as f64 / secs,
        pct(0.5),
        pct(0.99)
    );
}

/// The unit of work of a handler call on `ns` (no files, timers or dialogues here).
fn handled(
    ns: &Arc<Namespace>,
    update_id: Option<u64>,
    kv_seq: u64,
    writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    outbox: Vec<Entry>,
    done: tokio::sync::oneshot::Sender<Result<(), String>>,
) -> Op {
    Op::Handled(Box::new(Handled {
        namespace: ns.clone(),
        update_id,
        writes,
        kv_seq,
        outbox,
        files: Vec::new(),
        quarantine: None,
        tickets: None,
        timers: Vec::new(),
        cancel_timers: Vec::new(),
        fired_timer: None,
        expects: Vec::new(),
        broadcasts: Vec::new(),
        done: Some(done),
    }))
}

/// Updates in flight at most (recorded, not yet handled): saturation without unbounded queues.
const IN_FLIGHT: u32 = 400;

/// Feeds batches of update ids to `record` until `until`, each id with its arrival time, once
/// `room` has a permit per update (handlers give one back per update handled).
async fn intake<F: AsyncFnMut(&[(u64, String, Vec<String>)])>(
    until: Instant,
    first: u64,
    room: &tokio::sync::Semaphore,
    mut record: F,
    out: Vec<mpsc::UnboundedSender<(u64, Instant)>>,
    route: impl Fn(u64) -> usize,
) {
    let mut next = first;
    while Instant::now() < until {
        room.acquire_many(BATCH as u32)
            .await
            .expect("open")
            .forget();
        let arrived = Instant::now();
        let batch: Vec<_> = (next..next + BATCH)
            .map(|id| {
                (
                    id,
                    format!("{{\"update_id\":{id}}}"),
                    vec!["clicker".to_string()],
                )
            })
            .collect();
        record(&batch).await;
        for id in next..next + BATCH {
            let _ = out[route(id)].send((id, arrived));
        }
        next += BATCH;
    }
}

async fn redb_run(secs: u64, new_keys: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path()).expect("db");
    let (outbox, _rx) = mpsc::unbounded_channel();
    let (fatal, _) = tokio::sync::watch::channel(None);
    let committer = Committer::start(db.raw().clone(), outbox, fatal).expect("committer");
    let ns = Arc::new(Namespace::open(db.raw().clone(), "clicker", LIMITS, QUOTA).expect("ns"));
    // Every user has clicked before: the measured clicks change values, not the key set (in
    // `new-keys` mode, each measured click adds a key).
    let mut t = ns.begin();
    for key in counters_before(new_keys) {
        ns.set(&mut t, key.as_bytes(), &0i64.to_be_bytes())
            .expect("set");
    }
    let (done, wait) = tokio::sync::oneshot::channel();
    let warm = ns.validate_and_apply(&mut t, |seq, writes| {
        committer.send(handled(&ns, None, seq, writes, Vec::new(), done))
    });
    assert!(matches!(warm, Applied::Ok(..)));
    wait.await.expect("committer").expect("durable");
    let until = Instant::now() + Duration::from_secs(secs);
    let (tx, rx) = mpsc::unbounded_channel::<(u64, Instant)>();
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let room = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT as usize));
    let handlers: Vec<_> = (0..HANDLERS_PER_NODE)
        .map(|_| {
            let (rx, ns, committer, room) =
                (rx.clone(), ns.clone(), committer.clone(), room.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                loop {
                    let Some((id, arrived)) = rx.lock().await.recv().await else {
                        return lat;
                    };
                    let chat = chat_of(id);
                    let key = counter_of(id, new_keys);
                    loop {
                        let mut t = ns.begin();
                        let n = ns.increment(&mut t, key.as_bytes(), 1).expect("increment");
                        let (done, wait) = tokio::sync::oneshot::channel();
                        let applied = ns.validate_and_apply(&mut t, |seq, writes| {
                            committer.send(handled(
                                &ns,
                                Some(id),
                                seq,
                                writes,
                                vec![reply(chat, n)],
                                done,
                            ))
                        });
                        if let Applied::Ok(..) = applied {
                            wait.await.expect("committer").expect("durable");
                            break;
                        }
                    }
                    lat.push(arrived.elapsed());
                    room.add_permits(1);
                }
            })
        })
        .collect();
    let started = Instant::now();
    let c = committer.clone();
    intake(
        until,
        1,
        &room,
        async |batch| {
            let updates = batch.to_vec();
            c.commit(|done| Op::Record {
                updates,
                skipped: Vec::new(),
                done: Some(done),
            })
            .await
            .expect("record");
        },
        vec![tx],
        |_| 0,
    )
    .await;
    let mut lat = Vec::new();
    for h in handlers {
        lat.extend(h.await.expect("handler"));
    }
    let extra = format!(
        ",\"new_keys\":{new_keys},\"fsyncs\":{}",
        committer.commits()
    );
    report("redb", 1, started.elapsed().as_secs_f64(), lat, &extra);
}

/// Every user has clicked before (see `redb_run`).
async fn pg_warm_up(url: &str, new_keys: bool) {
    let store = PgStore::open(url).await.expect("store");
    let ns = PgNamespace::open(store.pool().clone(), "clicker", LIMITS, QUOTA)
        .await
        .expect("ns");
    let mut t = ns.begin().await.expect("begin");
    for key in counters_before(new_keys) {
        ns.set(&mut t, key.as_bytes(), &0i64.to_be_bytes())
            .await
            .expect("set");
    }
    ns.commit(&mut t).await.expect("commit");
}

async fn pg_run(url: &str, run: u64, nodes: usize, secs: u64, new_keys: bool) {
    let mut stores = Vec::new();
    let mut fences = Vec::new();
    for n in 0..nodes {
        let store = PgStore::open(url).await.expect("store");
        let node = format!("node-{run}-{n}");
        store
            .join(&node, PARTITIONS, Duration::from_secs(600))
            .await
            .expect("join");
        let share = (PARTITIONS as usize).div_ceil(nodes);
        fences.extend(
            store
                .claim(&node, share)
                .await
                .expect("claim")
                .into_iter()
                .map(|f| (f, n)),
        );
        stores.push(Arc::new(store));
    }
    let mut owner = vec![
        (
            Fence {
                partition: 0,
                epoch: 0
            },
            0usize
        );
        PARTITIONS as usize
    ];
    for (f, n) in fences {
        owner[f.partition as usize] = (f, n);
    }
    let owner = Arc::new(owner);
    let until = Instant::now() + Duration::from_secs(secs);
    let mut senders = Vec::new();
    let mut handlers = Vec::new();
    let refused = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let room = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT as usize));
    for store in &stores {
        let ns = Arc::new(
            PgNamespace::open(store.pool().clone(), "clicker", LIMITS, QUOTA)
                .await
                .expect("ns"),
        );
        let (tx, rx) = mpsc::unbounded_channel::<(u64, Instant)>();
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        senders.push(tx);
        for _ in 0..HANDLERS_PER_NODE {
            let (rx, ns, owner, refused) = (rx.clone(), ns.clone(), owner.clone(), refused.clone());
            let room = room.clone();
            handlers.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                loop {
                    let Some((id, arrived)) = rx.lock().await.recv().await else {
                        return lat;
                    };
                    let chat = chat_of(id);
                    let fence = owner[partition_of(chat, PARTITIONS) as usize].0;
                    loop {
                        let mut t = ns.begin().await.expect("begin");
                        // A refused transaction's read fails; its commit then says Conflict.
                        let key = counter_of(id, new_keys);
                        let n = ns.increment(&mut t, key.as_bytes(), 1).await.unwrap_or(0);
                        let unit = Unit {
                            update_id: Some(id),
                            outbox: vec![reply(chat, n)],
                            fence: Some(fence),
                            ..Unit::default()
                        };
                        match ns.commit_unit(&mut t, &unit).await.expect("commit") {
                            UnitOutcome::Committed { .. } => break,
                            UnitOutcome::Conflict => {
                                refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                            other => panic!("update {id}: {other:?}"),
                        }
                    }
                    lat.push(arrived.elapsed());
                    room.add_permits(1);
                }
            }));
        }
    }
    let started = Instant::now();
    let recorder = stores[0].clone();
    let owner2 = owner.clone();
    intake(
        until,
        run * 1_000_000_000,
        &room,
        async |batch| {
            recorder.record(batch, &[]).await.expect("record");
        },
        senders,
        move |id| owner2[partition_of(chat_of(id), PARTITIONS) as usize].1,
    )
    .await;
    let mut lat = Vec::new();
    for h in handlers {
        lat.extend(h.await.expect("handler"));
    }
    // The next run's nodes take the partitions over.
    for (n, store) in stores.iter().enumerate() {
        let all: Vec<u32> = (0..PARTITIONS).collect();
        let node = format!("node-{run}-{n}");
        store.release(&node, &all).await.expect("release");
    }
    let extra = format!(
        ",\"new_keys\":{new_keys},\"reruns\":{}",
        refused.load(std::sync::atomic::Ordering::Relaxed)
    );
    report(
        "postgres",
        nodes,
        started.elapsed().as_secs_f64(),
        lat,
        &extra,
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let secs = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let new_keys = std::env::args().nth(2).as_deref() == Some("new-keys");
    let pg = Postgres::start().expect("a throwaway PostgreSQL");
    redb_run(secs, new_keys).await;
    pg_warm_up(&pg.url(), new_keys).await;
    // One node twice: first on the freshly loaded table, then after the others ran.
    for (run, nodes) in [1, 2, 3, 1].into_iter().enumerate() {
        pg_run(&pg.url(), run as u64 + 1, nodes, secs, new_keys).await;
    }
}
