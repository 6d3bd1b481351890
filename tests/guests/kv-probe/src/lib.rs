//! KV probe: a test module that checks the KV API from inside the sandbox, where a wrong answer
//! is easiest to see, and attacks its own namespace and quota.
//!
//! Its manifest declares `kv_max_keys` / `kv_max_bytes` when its config sets `max_keys` /
//! `max_bytes`. Every command answers with one text message:
//!
//! - `/forge` tries to reach other modules' keys and the host's tables with forged keys (`../`,
//!   NUL, non-UTF-8, table names, another module's keys) through every KV call, and checks that
//!   it sees only what it wrote itself and that empty or oversized keys are `InvalidKey` errors:
//!   `forge ok` or `forge FAILED: <what>`. It leaves the forged keys written, so another module
//!   whose keys they imitate shows whether anything leaked.
//! - `/fill` writes `k0000`, `k0001`, ... with 100-byte values until a write fails:
//!   `filled <n> then <error>`.
//! - `/check <n>` checks that `k0000` .. `k<n-1>` hold their values and no other `k` key exists:
//!   `check ok <n>` or `check FAILED: <what>`.
//! - `/batch_over` checks that a batch past the quota fails and writes nothing and that a valid
//!   batch applies whole: `batch ok` or `batch FAILED: <what>`.
//! - `/cas` checks compare-and-swap and range scans with end bounds and paging: `cas ok` or
//!   `cas FAILED: <what>`.
//! - `/usage` answers `usage <bytes> <keys> <max_bytes> <max_keys>`.

mod forge;
mod ops;

use botbox_sdk::{Error, Manifest, Module, Update, config, kv, reply};

/// The outcome of a check: `Err` says what went wrong.
type Probe = Result<(), String>;

/// Fails the check with a message unless `$cond` holds.
macro_rules! ensure {
    ($cond:expr, $($message:tt)+) => {
        if !$cond {
            return Err(format!($($message)+));
        }
    };
}
pub(crate) use ensure;

struct KvProbe;

impl Module for KvProbe {
    fn init() -> Result<Manifest, Error> {
        let mut manifest = Manifest::new("kv-probe", env!("CARGO_PKG_VERSION"))
            .command("forge", "Try to reach other namespaces with forged keys")
            .command("fill", "Write keys until the quota stops it")
            .command("check", "Check the keys /fill wrote")
            .command("batch_over", "Check batches against the quota")
            .command("cas", "Check compare-and-swap and range scans")
            .command("usage", "Show KV usage and quota");
        if let Some(keys) = config::get_parsed::<u64>("max_keys")? {
            manifest = manifest.kv_max_keys(keys);
        }
        if let Some(bytes) = config::get_parsed::<u64>("max_bytes")? {
            manifest = manifest.kv_max_bytes(bytes);
        }
        Ok(manifest)
    }

    fn handle_update(update: &Update) -> Result<(), Error> {
        let answer = match update.command() {
            Some("forge") => outcome("forge", forge::run()),
            Some("fill") => fill(),
            Some("check") => match update.command_args().parse::<usize>() {
                Ok(n) => match check(n) {
                    Ok(()) => format!("check ok {n}"),
                    Err(what) => format!("check FAILED: {what}"),
                },
                Err(_) => "usage: /check <n>".to_owned(),
            },
            Some("batch_over") => outcome("batch", ops::batch_over()),
            Some("cas") => outcome("cas", ops::cas()),
            Some("usage") => {
                let u = kv::usage()?;
                format!(
                    "usage {} {} {} {}",
                    u.bytes, u.keys, u.max_bytes, u.max_keys
                )
            }
            _ => return Ok(()),
        };
        reply(update, &answer)?;
        Ok(())
    }
}

fn outcome(name: &str, probe: Probe) -> String {
    match probe {
        Ok(()) => format!("{name} ok"),
        Err(what) => format!("{name} FAILED: {what}"),
    }
}

/// The key `/fill` writes `i`-th.
fn fill_key(i: usize) -> String {
    format!("k{i:04}")
}

/// The 100-byte value `/fill` writes under its `i`-th key.
fn fill_value(i: usize) -> String {
    format!("v{i:04}").repeat(20)
}

/// Writes keys until one fails; the ones before it are committed with the reply.
fn fill() -> String {
    // A bound in case the quota is the host's large default.
    for i in 0..100_000 {
        if let Err(error) = kv::set(fill_key(i), fill_value(i)) {
            return format!("filled {i} then {error}");
        }
    }
    "filled 100000 without an error".to_owned()
}

fn check(n: usize) -> Probe {
    for i in 0..n {
        let value = kv::get(fill_key(i)).map_err(|e| format!("get {}: {e}", fill_key(i)))?;
        ensure!(
            value.as_deref() == Some(fill_value(i).as_bytes()),
            "{} holds {:?}",
            fill_key(i),
            value.map(|v| String::from_utf8_lossy(&v).into_owned())
        );
    }
    let count = kv::scan("k")
        .map(|entry| entry.map_err(|e| format!("scan: {e}")))
        .collect::<Result<Vec<_>, _>>()?
        .len();
    ensure!(count == n, "{count} keys start with k, expected {n}");
    Ok(())
}

botbox_sdk::export_module!(KvProbe);
