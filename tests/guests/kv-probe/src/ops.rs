//! `/batch_over` and `/cas`: batches against the quota, compare-and-swap, ranges and paging.

use botbox_sdk::kv::{self, Usage, Write};

use crate::forge::show;
use crate::{Probe, ensure};

fn usage() -> Result<Usage, String> {
    kv::usage().map_err(|e| format!("usage: {e}"))
}

fn get(key: &str) -> Result<Option<Vec<u8>>, String> {
    kv::get(key).map_err(|e| format!("get {key}: {e}"))
}

fn keys(scan: kv::Scan, what: &str) -> Result<Vec<String>, String> {
    scan.map(|entry| {
        entry
            .map(|entry| show(&entry.key))
            .map_err(|e| format!("{what}: {e}"))
    })
    .collect()
}

/// A batch one key past the quota fails with `QuotaExceeded` and writes nothing; a batch with a
/// too-large value fails likewise; a valid batch applies whole, in order.
pub fn batch_over() -> Probe {
    let before = usage()?;
    let room = before.max_keys.saturating_sub(before.keys);
    ensure!(
        (2..5000).contains(&room),
        "the key quota leaves room for {room} keys; the probe needs 2 to 4999"
    );
    ensure!(
        keys(kv::scan("over/"), "scan over/")?.is_empty(),
        "over/ keys exist before the batch"
    );
    let over = (0..(room + 1).max(50)).map(|i| Write::set(format!("over/{i:05}"), "x"));
    let result = kv::batch(over);
    ensure!(
        matches!(result, Err(kv::Error::QuotaExceeded(_))),
        "a batch of {} new keys with room for {room} gave {result:?}",
        (room + 1).max(50)
    );
    let huge = vec![0u8; (1 << 20) + 1];
    let result = kv::batch([
        Write::set("over/small", "x"),
        Write::set("over/huge", &huge),
    ]);
    ensure!(
        matches!(result, Err(kv::Error::ValueTooLarge(_))),
        "a batch with a value of {} bytes gave {result:?}",
        huge.len()
    );
    let after = usage()?;
    ensure!(
        before == after,
        "failed batches changed the usage from {before:?} to {after:?}"
    );
    let left = keys(kv::scan("over/"), "scan over/")?;
    ensure!(left.is_empty(), "failed batches left {}", left.join(", "));

    kv::batch([
        Write::set("batch/a", "1"),
        Write::set("batch/b", "2"),
        Write::delete("batch/a"),
    ])
    .map_err(|e| format!("a valid batch: {e}"))?;
    ensure!(get("batch/a")?.is_none(), "batch/a survived its deletion");
    ensure!(
        get("batch/b")?.as_deref() == Some(b"2".as_slice()),
        "batch/b was not written"
    );
    let applied = usage()?;
    ensure!(
        (applied.keys, applied.bytes) == (before.keys + 1, before.bytes + 8),
        "after set a, set b, delete a the usage went from {before:?} to {applied:?}"
    );
    kv::delete("batch/b").map_err(|e| format!("delete batch/b: {e}"))?;
    Ok(())
}

/// Compare-and-swap as documented, then range scans with end bounds, cursors and paging.
pub fn cas() -> Probe {
    const X: &str = "cas/x";
    let swap = |expected: Option<&str>, new: Option<&str>| {
        kv::compare_and_swap(X, expected.map(str::as_bytes), new.map(str::as_bytes))
            .map_err(|e| format!("cas {expected:?} -> {new:?}: {e}"))
    };
    ensure!(get(X)?.is_none(), "{X} exists before the test");
    ensure!(
        !swap(Some("1"), None)?,
        "cas expecting 1 on an absent key swapped"
    );
    ensure!(get(X)?.is_none(), "a failed cas created {X}");
    ensure!(
        swap(None, Some("1"))?,
        "cas expecting absence on an absent key failed"
    );
    ensure!(get(X)?.as_deref() == Some(b"1".as_slice()), "{X} is not 1");
    ensure!(
        !swap(None, Some("2"))?,
        "cas expecting absence on 1 swapped"
    );
    ensure!(!swap(Some("9"), Some("2"))?, "cas expecting 9 on 1 swapped");
    ensure!(
        !swap(Some(""), Some("2"))?,
        "cas expecting empty on 1 swapped"
    );
    ensure!(
        get(X)?.as_deref() == Some(b"1".as_slice()),
        "failed swaps changed {X}"
    );
    ensure!(swap(Some("1"), Some("2"))?, "cas expecting 1 on 1 failed");
    ensure!(get(X)?.as_deref() == Some(b"2".as_slice()), "{X} is not 2");
    ensure!(
        swap(Some("2"), None)?,
        "cas expecting 2 on 2 to delete failed"
    );
    ensure!(get(X)?.is_none(), "cas to None did not delete {X}");
    ranges()
}

fn ranges() -> Probe {
    let all = ["r/1", "r/2", "r/3", "r/4", "r/5"];
    for (i, key) in all.iter().enumerate() {
        kv::set(key, (i + 1).to_string()).map_err(|e| format!("set {key}: {e}"))?;
    }
    // Keys beyond the `r/` ones, so that an end bound has something to stop before.
    kv::set("r0", "after").map_err(|e| format!("set r0: {e}"))?;
    kv::set("r", "before").map_err(|e| format!("set r: {e}"))?;
    let end = Some(b"r0".as_slice());
    for (what, scan, expected) in [
        (
            "range r/2..r/4",
            kv::range("r/2", Some(b"r/4".as_slice())),
            &all[1..3],
        ),
        (
            "range r/..r0 by 2",
            kv::range("r/", end).page_size(2),
            &all[..],
        ),
        (
            "range r/..r0 by 1",
            kv::range("r/", end).page_size(1),
            &all[..],
        ),
        (
            "range r/.. after r/1",
            kv::range("r/", end).after("r/1").limit(2),
            &all[1..3],
        ),
        ("range after r/9", kv::range("r/", end).after("r/9"), &[]),
        (
            "range r/3..r/3",
            kv::range("r/3", Some(b"r/3".as_slice())),
            &[],
        ),
        (
            "range r/4..r/2",
            kv::range("r/4", Some(b"r/2".as_slice())),
            &[],
        ),
        (
            "range r/5..",
            kv::range("r/5", None).limit(2),
            &["r/5", "r0"],
        ),
        ("scan r/ by 2", kv::scan("r/").page_size(2), &all[..]),
    ] {
        let found = keys(scan, what)?;
        ensure!(found == expected, "{what} gave [{}]", found.join(", "));
    }

    // Cursor paging by hand: every page holds at most 2 entries and the pages add up.
    let (mut after, mut found, mut pages) = (None::<Vec<u8>>, Vec::new(), 0);
    loop {
        let page = kv::range_page("r/", end, after.as_deref(), 2)
            .map_err(|e| format!("range page: {e}"))?;
        pages += 1;
        ensure!(
            page.entries.len() <= 2,
            "a page of 2 held {}",
            page.entries.len()
        );
        ensure!(pages <= 4, "5 entries by 2 took more than 4 pages");
        found.extend(page.entries.iter().map(|entry| show(&entry.key)));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    ensure!(found == all, "paging by hand gave [{}]", found.join(", "));

    for key in all.iter().chain(&["r0", "r"]) {
        kv::delete(key).map_err(|e| format!("delete {key}: {e}"))?;
    }
    Ok(())
}
