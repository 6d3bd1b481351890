//! Attacks on the KV store: keys that would name another module's data, a giant value, and
//! writes past the quota.

use botbox_sdk::kv::{self, Key};

/// What `/escape` writes under every key it forged.
const JUNK: &[u8] = b"hostile junk";

/// The prefix of the keys `/bigvalue` fills the quota with.
const FILL: &str = "fill/";

/// Keys that would reach the clicker's data if the host mixed namespaces: its own keys (for the
/// given user ids), paths that climb out, NUL, and the longest key the host accepts by default.
fn forged_keys(user_ids: &str) -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = [
        &b"users"[..],
        b"rank/",
        b"user/",
        b"../clicker/users",
        b"../../clicker/users",
        b"/clicker/users",
        b"clicker/users",
        b"clicker\0users",
        b"kv:clicker\0users",
        b"\0",
        b"..",
        b"/",
    ]
    .map(<[u8]>::to_vec)
    .to_vec();
    for id in user_ids.split_whitespace().filter_map(|id| id.parse().ok()) {
        keys.push(Key::new("user/").i64(id).into_bytes());
        keys.push(format!("user/{id}").into_bytes());
        keys.push(format!("../clicker/user/{id}").into_bytes());
    }
    let mut longest = b"../".repeat(341);
    longest.push(b'x');
    keys.push(longest);
    // Past the host's key limit: refused.
    keys.push(b"../clicker/".repeat(100));
    keys
}

/// Whether the module itself wrote `key` = `value` (in an earlier `/escape`, `/bigvalue` or
/// `/flood`).
fn own(key: &[u8], value: &[u8]) -> bool {
    value == JUNK || key.starts_with(FILL.as_bytes()) || key == crate::FLOOD_REPORT.as_bytes()
}

/// `/escape <user id>...`: reads through forged keys and scans the whole namespace, then writes
/// junk under the forged keys.
pub fn escape(user_ids: &str) -> String {
    let keys = forged_keys(user_ids);
    let mut refused = 0;
    for key in &keys {
        match kv::get(key) {
            Ok(None) => {}
            Ok(Some(value)) if own(key, &value) => {}
            Ok(Some(_)) => return format!("escape: SAW {}", key.escape_ascii()),
            Err(kv::Error::InvalidKey(_)) => refused += 1,
            Err(error) => return format!("escape: get {} failed: {error}", key.escape_ascii()),
        }
    }
    for prefix in [&b""[..], b"rank/", b"user/", b"../"] {
        for entry in kv::scan(prefix) {
            match entry {
                Ok(entry) if own(&entry.key, &entry.value) => {}
                Ok(entry) => return format!("escape: SAW {}", entry.key.escape_ascii()),
                Err(error) => return format!("escape: scan failed: {error}"),
            }
        }
    }
    for key in &keys {
        match kv::set(key, JUNK) {
            Ok(()) | Err(kv::Error::InvalidKey(_)) => {}
            Err(error) => return format!("escape: set {} failed: {error}", key.escape_ascii()),
        }
    }
    format!(
        "escape: saw nothing of clicker ({} keys tried, {refused} refused)",
        keys.len()
    )
}

/// `/bigvalue`: a 2 MiB value, then 1000-byte values until the quota refuses one.
pub fn big_value() -> String {
    let big = match kv::set("big", vec![b'b'; 2 << 20]) {
        Ok(()) => "2 MiB value ACCEPTED".to_owned(),
        Err(error) => error.to_string(),
    };
    let mut filled = 0;
    let stopped = loop {
        if filled == 1000 {
            break "no error".to_owned();
        }
        match kv::set(format!("{FILL}{filled:03}"), [b'f'; 1000]) {
            Ok(()) => filled += 1,
            Err(error) => break error.to_string(),
        }
    };
    let usage = match kv::usage() {
        Ok(u) => format!("usage {} of {} bytes", u.bytes, u.max_bytes),
        Err(error) => format!("usage failed: {error}"),
    };
    format!("bigvalue: {big}; filled {filled} then {stopped}; {usage}")
}

/// `/readloop`: reads one 1 KiB key over and over (the host tracks every read until the commit)
/// and deletes 1 KiB keys that never existed, until the host refuses:
/// `readloop: <n> reads, then <error>; <m> deletes, then <error>`.
pub fn read_loop() -> String {
    let key = vec![b'r'; 1024];
    let mut reads = 0u64;
    let read_error = loop {
        match kv::get(&key[..]) {
            Ok(_) => reads += 1,
            Err(error) => break error.to_string(),
        }
        if reads == 10_000_000 {
            break "never refused".to_owned();
        }
    };
    let mut deletes = 0u64;
    let delete_error = loop {
        let mut doomed = key.clone();
        doomed[..8].copy_from_slice(&deletes.to_be_bytes());
        match kv::delete(&doomed[..]) {
            Ok(_) => deletes += 1,
            Err(error) => break error.to_string(),
        }
        if deletes == 10_000_000 {
            break "never refused".to_owned();
        }
    };
    format!("readloop: {reads} reads, then {read_error}; {deletes} deletes, then {delete_error}")
}
