//! Health and metrics for monitoring, on the admin port: `GET /healthz` and `GET /metrics`.
//!
//! Neither needs the admin token. `/healthz` is what a load balancer, a container runtime or a
//! watchdog asks; `/metrics` is the Prometheus text format (version 0.0.4) with counters and
//! gauges only: no message text, no user ids, no token. The admin API listens on 127.0.0.1 by
//! default; whoever moves it to a public address must put a firewall or a proxy in front of it
//! (the KV and backup routes stay token-protected either way).
//!
//! | metric | type | what |
//! |---|---|---|
//! | `botbox_up` | gauge | 1 |
//! | `botbox_build_info{version}` | gauge | 1, with the version |
//! | `botbox_modules_loaded` | gauge | modules in service |
//! | `botbox_module_running{module}` | gauge | 1 for a module in service, 0 for one disabled or stopped by the circuit breaker |
//! | `botbox_updates_handled_total{module}` | counter | updates a module finished (durably), since start |
//! | `botbox_module_calls_total{module}` | counter | calls of its handler (retries count) |
//! | `botbox_module_errors_total{module}` | counter | calls that returned an error value |
//! | `botbox_module_traps_total{module}` | counter | calls that trapped or ran out of time or memory |
//! | `botbox_module_quarantined_total{module}` | counter | updates given up after failing too often |
//! | `botbox_module_kv_conflicts_total{module}` | counter | handler reruns because another shard changed what it read |
//! | `botbox_module_handle_seconds{module,quantile}` | gauge | recent handling time, p50 and p99 |
//! | `botbox_updates_unfinished` | gauge | updates recorded and not yet handled by every module |
//! | `botbox_store_rows{table}` | gauge | rows of each of the store's own tables (`inbox`, `pending`, `seen`, `tickets`, `quarantine`, `crashes`), kept flat by their retention |
//! | `botbox_updates_quarantined` | gauge | updates given up after failing too often (kept for inspection) |
//! | `botbox_outbox_queued{priority}` | gauge | messages waiting, by priority class |
//! | `botbox_outbox_stored` | gauge | outbox entries in the database (waiting or in flight) |
//! | `botbox_outbox_oldest_age_seconds` | gauge | age of the oldest waiting message |
//! | `botbox_outbox_sent_per_second` | gauge | delivery rate over the last half second or so |
//! | `botbox_outbox_sent_total` | counter | requests Telegram accepted |
//! | `botbox_outbox_rate_limited_total` | counter | 429 answers |
//! | `botbox_outbox_failed_total` | counter | messages given up (blocked chats, bad requests, ...) |
//! | `botbox_outbox_coalesced_total` | counter | edits merged into a later edit |
//! | `botbox_store_disk_full` | gauge | 1 while the disk holding the database is full (intake and delivery paused), else 0 |
//! | `botbox_store_disk_full_total` | counter | times the disk was found full since start |
//! | `botbox_polling_failures_total` | counter | getUpdates calls that failed (the Bot API unreachable or answering errors) |
//! | `botbox_polling_backoff_seconds` | gauge | the wait before the next getUpdates after a failure; 0 when polling works |
//! | `process_resident_memory_bytes`, `process_virtual_memory_bytes`, `process_cpu_seconds_total`, `process_open_fds`, `process_threads`, `process_start_time_seconds` | | the usual process figures, from `/proc/self` |

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::{
        Arc, Weak,
        atomic::{AtomicU64, Ordering},
    },
};

use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use parking_lot::Mutex;
use redb::ReadableDatabase;
use tokio::sync::broadcast::error::RecvError;

mod store_sizes;

use crate::{
    health::Health,
    intake::PollingStats,
    modules::ModuleStats,
    modules::registry::Registry,
    outbox::metrics::OutboxStats,
    store::{Committed, Committer, Db, OUTBOX},
};
use store_sizes::{shared_tables, tables};

/// Where the figures come from.
pub struct Sources {
    /// The database (table sizes, health).
    pub db: Arc<Db>,
    /// The outbox's counters.
    pub outbox: Arc<OutboxStats>,
    /// The group committer: every durable "update handled" is counted.
    pub committer: Committer,
    /// The modules and their counters.
    pub registry: Arc<Registry>,
    /// The process's health: `/healthz` answers 503 with its failure.
    pub health: Health,
    /// Long polling's failures and backoff.
    pub polling: Arc<PollingStats>,
    /// The bot's store on PostgreSQL, when it is there: its tables are counted, not the file's.
    pub pg: Option<Arc<crate::store::pg::PgStore>>,
}

struct Ops {
    health: Health,
    polling: Arc<PollingStats>,
    db: Arc<Db>,
    outbox: Arc<OutboxStats>,
    registry: Arc<Registry>,
    pg: Option<Arc<crate::store::pg::PgStore>>,
    handled: Mutex<BTreeMap<Arc<str>, u64>>,
    /// Commits the counter missed because it fell behind (counted under `module="unknown"`).
    missed: AtomicU64,
}

/// The `/healthz` and `/metrics` routes, for any router state (they carry their own).
pub fn routes<S: Clone + Send + Sync + 'static>(sources: Sources) -> Router<S> {
    let mut commits = sources.committer.subscribe();
    let ops = Arc::new(Ops {
        health: sources.health,
        polling: sources.polling,
        db: sources.db,
        outbox: sources.outbox,
        registry: sources.registry,
        pg: sources.pg,
        handled: Mutex::default(),
        missed: AtomicU64::new(0),
    });
    // Holds the state weakly: the database must close when the runtime stops.
    let weak: Weak<Ops> = Arc::downgrade(&ops);
    tokio::spawn(async move {
        loop {
            let event = commits.recv().await;
            let Some(ops) = weak.upgrade() else { return };
            match event {
                Ok(Committed::Handled { module, .. }) => {
                    *ops.handled.lock().entry(module).or_default() += 1;
                }
                Err(RecvError::Lagged(n)) => {
                    ops.missed.fetch_add(n, Ordering::Relaxed);
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(ops)
}

async fn healthz(State(ops): State<Arc<Ops>>) -> Response {
    if let Some(problem) = ops.health.problem() {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("{problem}\n")).into_response();
    }
    if let Some(since) = ops.db.disk().full_for() {
        let problem = format!(
            "the disk holding the database is full (for {}s): no updates are taken and no \
             messages sent until there is room; botbox goes on by itself then\n",
            since.as_secs()
        );
        return (StatusCode::SERVICE_UNAVAILABLE, problem).into_response();
    }
    let db = ops.db.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let txn = db.raw().begin_read()?;
        txn.open_table(OUTBOX)?;
        Ok::<_, crate::Error>(())
    })
    .await;
    match answer {
        Ok(Ok(())) => (StatusCode::OK, "ok\n").into_response(),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the database does not answer: {e}\n"),
        )
            .into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
    }
}

async fn metrics(State(ops): State<Arc<Ops>>) -> Response {
    let tables = match &ops.pg {
        Some(pg) => shared_tables(pg).await.ok(),
        None => {
            let db = ops.db.clone();
            tokio::task::spawn_blocking(move || tables(&db))
                .await
                .ok()
                .and_then(|t| t.ok())
        }
    };
    let db_ok = tables.is_some();
    let tables = tables.unwrap_or_default();
    let mut out = String::new();
    let m = &mut out;
    gauge(
        m,
        "botbox_up",
        "Whether the runtime answers (its database too).",
    );
    sample(m, "botbox_up", &[], u64::from(db_ok));
    gauge(m, "botbox_build_info", "The botbox version.");
    sample(
        m,
        "botbox_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1,
    );
    let stats = ops.registry.stats();
    let running: Vec<String> = ops
        .registry
        .running()
        .iter()
        .map(|r| r.name().to_string())
        .collect();
    let modules: Vec<String> = stats.keys().cloned().collect();
    gauge(m, "botbox_modules_loaded", "Modules in service.");
    sample(m, "botbox_modules_loaded", &[], running.len());
    gauge(
        m,
        "botbox_module_running",
        "1 for a module in service, 0 for one disabled or stopped by the circuit breaker.",
    );
    for name in &modules {
        let up = running.contains(name);
        sample(
            m,
            "botbox_module_running",
            &[("module", name)],
            u64::from(up),
        );
    }
    for (metric, help, counter_) in [
        (
            "botbox_module_calls_total",
            "Calls of the module's handler (each try counts).",
            (|s: &ModuleStats| s.calls.load(Ordering::Relaxed)) as fn(&ModuleStats) -> u64,
        ),
        (
            "botbox_module_errors_total",
            "Calls that returned an error value.",
            |s| s.errors.load(Ordering::Relaxed),
        ),
        (
            "botbox_module_traps_total",
            "Calls that trapped or ran out of time or memory.",
            |s| s.traps.load(Ordering::Relaxed),
        ),
        (
            "botbox_module_quarantined_total",
            "Updates given up after failing too often.",
            |s| s.quarantined.load(Ordering::Relaxed),
        ),
        (
            "botbox_module_kv_conflicts_total",
            "Handler reruns because another shard changed what it read.",
            |s| s.conflicts.load(Ordering::Relaxed),
        ),
    ] {
        counter(m, metric, help);
        for (name, s) in &stats {
            sample(m, metric, &[("module", name)], counter_(s));
        }
    }
    gauge(
        m,
        "botbox_module_handle_seconds",
        "Recent handling time of the module's calls (p50 and p99).",
    );
    for (name, s) in &stats {
        if let Some((p50, p99)) = s.latency_us() {
            for (q, us) in [("0.5", p50), ("0.99", p99)] {
                let _ = writeln!(
                    m,
                    "botbox_module_handle_seconds{} {}",
                    labels(&[("module", name), ("quantile", q)]),
                    f64::from(us) / 1e6
                );
            }
        }
    }

    counter(
        m,
        "botbox_updates_handled_total",
        "Updates a module finished handling (committed durably) since start.",
    );
    {
        let handled = ops.handled.lock();
        let mut names: Vec<&str> = modules.iter().map(String::as_str).collect();
        names.extend(handled.keys().map(|k| &**k));
        names.sort_unstable();
        names.dedup();
        for name in names {
            let n = handled.get(name).copied().unwrap_or(0);
            sample(m, "botbox_updates_handled_total", &[("module", name)], n);
        }
    }
    let missed = ops.missed.load(Ordering::Relaxed);
    if missed > 0 {
        sample(
            m,
            "botbox_updates_handled_total",
            &[("module", "unknown")],
            missed,
        );
    }
    let disk = ops.db.disk();
    gauge(
        m,
        "botbox_store_disk_full",
        "1 while the disk holding the database is full (intake and delivery paused).",
    );
    sample(m, "botbox_store_disk_full", &[], u64::from(disk.is_full()));
    counter(
        m,
        "botbox_store_disk_full_total",
        "Times the disk holding the database was found full since start.",
    );
    sample(m, "botbox_store_disk_full_total", &[], disk.episodes());
    gauge(
        m,
        "botbox_updates_unfinished",
        "Updates recorded and not yet handled by every module they go to.",
    );
    sample(m, "botbox_updates_unfinished", &[], tables.unfinished);
    gauge(
        m,
        "botbox_store_rows",
        "Rows of each of the store's own tables (kept flat by their retention, docs/operations.md).",
    );
    for (table, rows) in &tables.rows {
        sample(m, "botbox_store_rows", &[("table", table)], *rows);
    }
    gauge(
        m,
        "botbox_updates_quarantined",
        "Updates given up after failing too often, kept for inspection.",
    );
    sample(m, "botbox_updates_quarantined", &[], tables.quarantined);

    let o = ops.outbox.metrics();
    gauge(
        m,
        "botbox_outbox_queued",
        "Messages waiting, by priority class.",
    );
    for (class, n) in [
        ("callback", o.queued_callback),
        ("interactive", o.queued_interactive),
        ("normal", o.queued_normal),
        ("bulk", o.queued_bulk),
    ] {
        sample(m, "botbox_outbox_queued", &[("priority", class)], n);
    }
    gauge(
        m,
        "botbox_outbox_stored",
        "Outbox entries in the database (waiting or in flight).",
    );
    sample(m, "botbox_outbox_stored", &[], tables.outbox);
    gauge(
        m,
        "botbox_outbox_oldest_age_seconds",
        "Age of the oldest waiting message.",
    );
    sample_f(
        m,
        "botbox_outbox_oldest_age_seconds",
        o.oldest_age_ms as f64 / 1000.0,
    );
    gauge(
        m,
        "botbox_outbox_sent_per_second",
        "Requests Telegram accepted per second, recently.",
    );
    sample_f(m, "botbox_outbox_sent_per_second", o.sent_per_second);
    let outbox = &ops.outbox;
    for (name, help, counter_) in [
        (
            "botbox_outbox_sent_total",
            "Requests Telegram accepted since start.",
            &outbox.delivered,
        ),
        (
            "botbox_outbox_rate_limited_total",
            "429 Too Many Requests answers since start.",
            &outbox.rate_limited,
        ),
        (
            "botbox_outbox_failed_total",
            "Messages given up since start (blocked chats, bad requests, too many errors).",
            &outbox.failed,
        ),
        (
            "botbox_outbox_coalesced_total",
            "Edits merged into a later edit of the same message since start.",
            &outbox.coalesced,
        ),
    ] {
        counter(m, name, help);
        sample(m, name, &[], counter_.load(Ordering::Relaxed));
    }
    let polling = &ops.polling;
    counter(
        m,
        "botbox_polling_failures_total",
        "getUpdates calls that failed since start.",
    );
    let failures = polling.failures.load(Ordering::Relaxed);
    sample(m, "botbox_polling_failures_total", &[], failures);
    gauge(
        m,
        "botbox_polling_backoff_seconds",
        "The wait before the next getUpdates after a failure; 0 when polling works.",
    );
    let backoff = polling.backoff_ms.load(Ordering::Relaxed) as f64 / 1000.0;
    sample_f(m, "botbox_polling_backoff_seconds", backoff);
    process_metrics(m);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

/// The standard `process_*` figures, read from `/proc/self` (Linux; nothing elsewhere).
fn process_metrics(m: &mut String) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    if let Some(rss) = kb("VmRSS:") {
        gauge(m, "process_resident_memory_bytes", "Resident memory size.");
        sample(m, "process_resident_memory_bytes", &[], rss * 1024);
    }
    if let Some(vm) = kb("VmSize:") {
        gauge(m, "process_virtual_memory_bytes", "Virtual memory size.");
        sample(m, "process_virtual_memory_bytes", &[], vm * 1024);
    }
    if let Some(threads) = kb("Threads:") {
        gauge(m, "process_threads", "OS threads.");
        sample(m, "process_threads", &[], threads);
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        gauge(m, "process_open_fds", "Open file descriptors.");
        sample(m, "process_open_fds", &[], fds.count());
    }
    // /proc/self/stat: fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields, starttime the 22nd, in clock ticks (100 per second on Linux).
    const TICKS: f64 = 100.0;
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    if let (Some(user), Some(system)) = (field(14), field(15)) {
        counter(
            m,
            "process_cpu_seconds_total",
            "CPU time used, user and system.",
        );
        sample_f(m, "process_cpu_seconds_total", (user + system) / TICKS);
    }
    let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<f64>().ok())
    });
    if let (Some(boot), Some(start)) = (boot, field(22)) {
        gauge(
            m,
            "process_start_time_seconds",
            "Start time of the process, in Unix seconds.",
        );
        sample_f(m, "process_start_time_seconds", boot + start / TICKS);
    }
}

fn gauge(m: &mut String, name: &str, help: &str) {
    let _ = writeln!(m, "# HELP {name} {help}\n# TYPE {name} gauge");
}

fn counter(m: &mut String, name: &str, help: &str) {
    let _ = writeln!(m, "# HELP {name} {help}\n# TYPE {name} counter");
}

fn labels(labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}

fn sample(m: &mut String, name: &str, l: &[(&str, &str)], value: impl TryInto<u64>) {
    let value: u64 = value.try_into().unwrap_or(u64::MAX);
    let _ = writeln!(m, "{name}{} {value}", labels(l));
}

fn sample_f(m: &mut String, name: &str, value: f64) {
    let _ = writeln!(m, "{name} {value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(
            labels(&[("module", "a\"b\\c\nd")]),
            r#"{module="a\"b\\c\nd"}"#
        );
        assert_eq!(labels(&[]), "");
    }

    #[test]
    fn process_figures_are_read_from_proc() {
        let mut m = String::new();
        process_metrics(&mut m);
        if std::path::Path::new("/proc/self/status").exists() {
            assert!(m.contains("\nprocess_resident_memory_bytes "), "{m}");
            assert!(m.contains("\nprocess_cpu_seconds_total "), "{m}");
            assert!(m.contains("\nprocess_start_time_seconds "), "{m}");
        }
    }
}
