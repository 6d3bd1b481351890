//! `/forge`: forged keys reach only the module's own namespace; bad keys are error values.

use std::collections::BTreeMap;

use botbox_sdk::kv::{self, Entry, Key, Write};

use crate::{Probe, ensure};

/// The one key the probe owns before it forges anything, and its value.
const MINE: (&[u8], &[u8]) = (b"mine", b"probe");

/// The value the probe finally writes under every forged key.
const FORGED: &[u8] = b"forged";

/// Keys that would name someone else's data if the host mixed namespaces: the clicker's keys (as
/// text and in its binary format), paths that climb out, the host's table names, NUL, non-UTF-8,
/// and the longest key the host accepts (1024 bytes by default). All are valid keys.
fn forged_keys() -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = [
        &b"users"[..],
        b"user/1001",
        b"rank/",
        b"../clicker/users",
        b"../../clicker/users",
        b"/clicker/users",
        b"clicker/users",
        b"clicker\0users",
        b"kv:clicker",
        b"kv:clicker\0users",
        b"kv:kv-probe",
        b"inbox",
        b"outbox",
        b"pending",
        b"seen",
        b"tickets",
        b"meta",
        b"quarantine",
        b"/",
        b"//",
        b"..",
        b"../..",
        b"./mine",
        b"\0",
        b"\0\0clicker",
        b"\xff\xff",
        b"\x80\xfe\xff/users",
    ]
    .map(<[u8]>::to_vec)
    .to_vec();
    keys.push(Key::new("user/").i64(1001).into_bytes());
    keys.push(Key::new("rank/").u64_desc(3).u64(1).into_bytes());
    let mut longest = b"../".repeat(341);
    longest.push(b'x');
    keys.push(longest);
    keys.sort();
    keys.dedup();
    keys
}

/// Keys the host must refuse: empty, one byte over the default limit, 10 KiB.
fn bad_keys() -> [Vec<u8>; 3] {
    [Vec::new(), vec![b'a'; 1025], b"../clicker/".repeat(1000)]
}

pub fn run() -> Probe {
    clear()?;
    kv::set(MINE.0, MINE.1).map_err(|e| format!("set mine: {e}"))?;
    let mut own: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::from([(MINE.0.to_vec(), MINE.1.to_vec())]);
    let forged = forged_keys();
    for key in &forged {
        reads_see_only_own(key, &own)?;
    }
    ensure_exactly(&own, "before forging writes")?;
    bad_keys_are_error_values(&own)?;
    ensure_exactly(&own, "after the bad keys")?;
    for key in &forged {
        let swapped = kv::compare_and_swap(key, None, Some(FORGED))
            .map_err(|e| format!("cas {}: {e}", show(key)))?;
        ensure!(swapped, "cas of absent {} did not swap", show(key));
        let value = kv::get(key).map_err(|e| format!("get {}: {e}", show(key)))?;
        ensure!(
            value.as_deref() == Some(FORGED),
            "{} reads back {:?}",
            show(key),
            value.map(|v| show(&v))
        );
        own.insert(key.clone(), FORGED.to_vec());
    }
    ensure_exactly(&own, "after forging writes")?;
    Ok(())
}

/// Deletes everything the probe stored earlier, so every run starts from an empty namespace.
fn clear() -> Probe {
    for entry in collect(kv::scan(""), "scan everything")? {
        kv::delete(&entry.key).map_err(|e| format!("delete {}: {e}", show(&entry.key)))?;
    }
    Ok(())
}

/// Every read through `key` (get, delete, swap, scans and ranges from, to and after it) finds
/// nothing but `own`.
fn reads_see_only_own(key: &[u8], own: &BTreeMap<Vec<u8>, Vec<u8>>) -> Probe {
    let k = show(key);
    let value = kv::get(key).map_err(|e| format!("get {k}: {e}"))?;
    ensure!(
        value.is_none(),
        "get {k} found {:?}",
        value.map(|v| show(&v))
    );
    let existed = kv::delete(key).map_err(|e| format!("delete {k}: {e}"))?;
    ensure!(!existed, "delete {k} says it existed");
    let swapped = kv::compare_and_swap(key, Some(b"0".as_slice()), Some(b"1".as_slice()))
        .map_err(|e| format!("cas {k}: {e}"))?;
    ensure!(!swapped, "cas {k} expecting 0 swapped");
    for (what, scan) in [
        ("scan", kv::scan(key)),
        ("scan after", kv::scan("").after(key)),
        ("range from", kv::range(key, None)),
        ("range to", kv::range("", Some(key))),
        ("range after", kv::range("", None).after(key).page_size(2)),
    ] {
        for entry in collect(scan, &format!("{what} {k}"))? {
            ensure!(
                own.get(&entry.key) == Some(&entry.value),
                "{what} {k} found {} = {}",
                show(&entry.key),
                show(&entry.value)
            );
        }
    }
    Ok(())
}

/// Empty and oversized keys fail with `InvalidKey` in every call, and nothing is written.
fn bad_keys_are_error_values(own: &BTreeMap<Vec<u8>, Vec<u8>>) -> Probe {
    let before = kv::usage().map_err(|e| format!("usage: {e}"))?;
    for key in bad_keys() {
        let k = format!("a key of {} bytes", key.len());
        let results = [
            ("get", kv::get(&key).map(drop)),
            ("set", kv::set(&key, "x")),
            ("delete", kv::delete(&key).map(drop)),
            ("increment", kv::increment(&key, 1).map(drop)),
            (
                "cas",
                kv::compare_and_swap(&key, None, Some(b"x".as_slice())).map(drop),
            ),
            (
                "batch",
                kv::batch([Write::set("ok", "x"), Write::set(&key, "x")]),
            ),
        ];
        for (call, result) in results {
            ensure!(
                matches!(result, Err(kv::Error::InvalidKey(_))),
                "{call} with {k} gave {result:?}"
            );
        }
        if !key.is_empty() {
            // Bounds and cursors are not keys, but the host bounds their size too: an error
            // value or the probe's own entries, never a trap.
            for (what, result) in [
                ("scan", kv::scan_page(&key, None, 10)),
                ("range", kv::range_page(&key, None, None, 10)),
                ("range end", kv::range_page("", Some(&key), None, 10)),
                ("scan after", kv::scan_page("", Some(&key), 10)),
            ] {
                match result {
                    Ok(page) => {
                        for entry in page.entries {
                            ensure!(
                                own.get(&entry.key) == Some(&entry.value),
                                "{what} with {k} found {}",
                                show(&entry.key)
                            );
                        }
                    }
                    Err(kv::Error::InvalidKey(_)) => {}
                    Err(error) => return Err(format!("{what} with {k} gave {error:?}")),
                }
            }
        }
    }
    let value = kv::get("ok").map_err(|e| format!("get ok: {e}"))?;
    ensure!(value.is_none(), "a failed batch wrote its valid write");
    let after = kv::usage().map_err(|e| format!("usage: {e}"))?;
    ensure!(before == after, "usage went from {before:?} to {after:?}");
    Ok(())
}

/// The whole namespace, scanned and ranged, is exactly `own`, and the usage counts just it.
fn ensure_exactly(own: &BTreeMap<Vec<u8>, Vec<u8>>, when: &str) -> Probe {
    let expected: Vec<(Vec<u8>, Vec<u8>)> =
        own.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for (what, scan) in [
        ("scan", kv::scan("")),
        ("paged scan", kv::scan("").page_size(3)),
        ("range", kv::range("", None)),
        ("range from NUL", kv::range("\0", None).page_size(2)),
    ] {
        let found: Vec<(Vec<u8>, Vec<u8>)> = collect(scan, what)?
            .into_iter()
            .map(|entry| (entry.key, entry.value))
            .collect();
        ensure!(
            found == expected,
            "{when}, {what} of everything found [{}]",
            found
                .iter()
                .map(|(k, _)| show(k))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let usage = kv::usage().map_err(|e| format!("usage: {e}"))?;
    let bytes: usize = own.iter().map(|(k, v)| k.len() + v.len()).sum();
    ensure!(
        (usage.keys, usage.bytes) == (own.len() as u64, bytes as u64),
        "{when}, usage says {} keys and {} bytes, the probe stored {} and {bytes}",
        usage.keys,
        usage.bytes,
        own.len()
    );
    Ok(())
}

fn collect(scan: kv::Scan, what: &str) -> Result<Vec<Entry>, String> {
    scan.collect::<Result<_, _>>()
        .map_err(|e| format!("{what}: {e}"))
}

/// A key or value for a message: escaped, and shortened when long.
pub fn show(bytes: &[u8]) -> String {
    let text = bytes.escape_ascii().to_string();
    if text.len() > 40 {
        format!("{}...({} bytes)", &text[..40], bytes.len())
    } else {
        text
    }
}
