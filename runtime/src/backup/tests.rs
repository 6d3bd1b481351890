use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use redb::{Database, Key, ReadableDatabase, ReadableTable, TableDefinition, TableHandle, Value};

use super::*;
use crate::store::{self, Db};

const KV_ECHO: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("kv:echo");
const PAIR: TableDefinition<'_, &str, u64> = TableDefinition::new("pair");
const KV_LOAD: TableDefinition<'_, u64, u64> = TableDefinition::new("kv:load");

/// A database with the runtime's tables, a module namespace with binary keys and an empty one.
fn sample(dir: &Path) -> Db {
    let db = Db::open(dir).unwrap();
    let txn = db.raw().begin_write().unwrap();
    {
        let mut inbox = txn.open_table(store::INBOX).unwrap();
        inbox.insert(7, br#"{"update_id":7}"#.as_slice()).unwrap();
        inbox.insert(9, br#"{"update_id":9}"#.as_slice()).unwrap();
        let mut pending = txn.open_table(store::PENDING).unwrap();
        pending.insert((7, "echo"), ()).unwrap();
        pending.insert((9, "echo"), ()).unwrap();
        pending.insert((9, "clicker"), ()).unwrap();
        let mut seen = txn.open_table(store::SEEN).unwrap();
        seen.insert(7, 1_700_000_000).unwrap();
        seen.insert(9, 1_700_000_001).unwrap();
        let mut meta = txn.open_table(store::META).unwrap();
        meta.insert(store::META_NEXT_TICKET, 5u64.to_be_bytes().as_slice())
            .unwrap();
        let mut quarantine = txn.open_table(store::QUARANTINE).unwrap();
        quarantine.insert(("echo", 3), "trapped").unwrap();
        let mut timers = txn.open_table(store::TIMERS).unwrap();
        timers
            .insert(
                (1_700_000_500_000, 4),
                br#"{"module":"echo","chat_id":42,"payload_hex":"00ff"}"#.as_slice(),
            )
            .unwrap();
        txn.open_table(store::TIMER_DUE)
            .unwrap()
            .insert(4, 1_700_000_500_000)
            .unwrap();
        let mut kv = txn.open_table(KV_ECHO).unwrap();
        kv.insert(b"".as_slice(), b"empty key".as_slice()).unwrap();
        kv.insert(b"\x00\xff\x00".as_slice(), b"\xfe\xfd".as_slice())
            .unwrap();
        kv.insert(b"user:42".as_slice(), b"".as_slice()).unwrap();
        txn.open_table(TableDefinition::<&[u8], &[u8]>::new("kv:idle"))
            .unwrap();
        // A queued photo's bytes and its row (store/files.rs).
        txn.open_table(store::FILE_BYTES)
            .unwrap()
            .insert("ab12", b"\x89PNG".as_slice())
            .unwrap();
        txn.open_table(store::FILES)
            .unwrap()
            .insert("ab12", br#"{"refs":1}"#.as_slice())
            .unwrap();
        txn.open_table(store::OWNERS)
            .unwrap()
            .insert("poll:P1", "1700000000 echo")
            .unwrap();
    }
    txn.commit().unwrap();
    db
}

fn snapshot(db: &Database) -> Vec<u8> {
    let mut out = Vec::new();
    write_snapshot(db, &mut out).unwrap();
    out
}

/// A table's records as bytes, read through its real types.
fn rows<K: Key + 'static, V: Value + 'static>(
    db: &Database,
    table: TableDefinition<'_, K, V>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let txn = db.begin_read().unwrap();
    let table = txn.open_table(table).unwrap();
    table
        .iter()
        .unwrap()
        .map(|row| {
            let (k, v) = row.unwrap();
            let k = K::as_bytes(&k.value()).as_ref().to_vec();
            let v = V::as_bytes(&v.value()).as_ref().to_vec();
            (k, v)
        })
        .collect()
}

fn table_names(db: &Database) -> Vec<String> {
    let txn = db.begin_read().unwrap();
    let names = txn.list_tables().unwrap();
    names.map(|t| t.name().to_string()).collect()
}

fn verify_error(bytes: &[u8]) -> String {
    verify(bytes).expect_err("verify must refuse").to_string()
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn a_database_with_every_kind_of_table_round_trips_through_a_snapshot() {
    let from = tempfile::tempdir().unwrap();
    let original = sample(from.path());
    let bytes = snapshot(original.raw());
    let checked = verify(bytes.as_slice()).unwrap();
    // Every table of the sample, the crash counts (store/crashes.rs) and queued files
    // (store/files.rs), owners of polls and messages (store/owners.rs) and the dialogues waiting
    // for a user's answer (store/conversations.rs) among them.
    assert_eq!((checked.tables, checked.records), (16, 18));
    assert_eq!(checked.bytes, bytes.len() as u64);

    let to = tempfile::tempdir().unwrap();
    let restored_info = restore(bytes.as_slice(), &to.path().join("data")).unwrap();
    assert_eq!(restored_info, checked);
    let restored = Db::open(&to.path().join("data")).unwrap();
    let (a, b) = (original.raw().as_ref(), restored.raw().as_ref());

    assert_eq!(table_names(a), table_names(b));
    assert_eq!(rows(a, store::INBOX), rows(b, store::INBOX));
    assert_eq!(rows(a, store::PENDING), rows(b, store::PENDING));
    assert_eq!(rows(a, store::SEEN), rows(b, store::SEEN));
    assert_eq!(rows(a, store::META), rows(b, store::META));
    assert_eq!(rows(a, store::QUARANTINE), rows(b, store::QUARANTINE));
    assert_eq!(rows(a, store::TIMERS), rows(b, store::TIMERS));
    assert_eq!(rows(a, store::TIMER_DUE), rows(b, store::TIMER_DUE));
    assert_eq!(
        restored.due_timers(u64::MAX, 10).unwrap()[0]
            .record
            .payload_hex,
        "00ff"
    );
    assert_eq!(rows(a, KV_ECHO), rows(b, KV_ECHO));
    assert_eq!(rows(a, KV_ECHO).len(), 3);

    let pending = restored.pending_updates().unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[1].modules, ["clicker", "echo"]);
    assert_eq!(restored.last_ticket().unwrap(), 4);
    assert_eq!(
        restored.quarantined().unwrap(),
        [("echo".to_string(), 3, "trapped".to_string())]
    );
    let txn = b.begin_read().unwrap();
    let kv = txn.open_table(KV_ECHO).unwrap();
    assert_eq!(
        kv.get(b"\x00\xff\x00".as_slice()).unwrap().unwrap().value(),
        b"\xfe\xfd"
    );
}

#[test]
fn a_snapshot_taken_while_another_thread_writes_is_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Database::create(dir.path().join("live.redb")).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let writer = std::thread::spawn({
        let (db, stop) = (db.clone(), stop.clone());
        move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let txn = db.begin_write().unwrap();
                {
                    let mut pair = txn.open_table(PAIR).unwrap();
                    pair.insert("a", i).unwrap();
                    pair.insert("b", i).unwrap();
                    txn.open_table(KV_LOAD).unwrap().insert(i, i * i).unwrap();
                }
                txn.commit().unwrap();
            }
            i
        }
    });

    let mut seen = Vec::new();
    for n in 0..6 {
        std::thread::sleep(std::time::Duration::from_millis(30));
        let bytes = snapshot(&db);
        let data_dir = dir.path().join(format!("restored-{n}"));
        restore(bytes.as_slice(), &data_dir).unwrap();
        let copy = Database::open(data_dir.join("botbox.redb")).unwrap();
        if !table_names(&copy).contains(&"pair".to_string()) {
            continue; // taken before the first write
        }
        let pair = rows(&copy, PAIR);
        assert_eq!(pair[0].1, pair[1].1, "a and b are written together");
        let count = u64::from_le_bytes(pair[0].1.clone().try_into().unwrap());
        assert_eq!(rows(&copy, KV_LOAD).len() as u64, count);
        seen.push(count);
    }
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(seen.len() >= 3 && seen.windows(2).all(|w| w[0] <= w[1]));
    assert!(*seen.last().unwrap() <= written);
}

#[test]
fn every_single_flipped_byte_is_refused_and_one_in_the_body_is_a_checksum_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = snapshot(sample(dir.path()).raw());
    for at in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x20;
        let error = verify_error(&damaged);
        if (20..bytes.len() - 8).contains(&at) {
            assert!(error.contains("checksum mismatch"), "byte {at}: {error}");
        }
    }
}

#[test]
fn a_truncated_snapshot_is_refused_as_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = snapshot(sample(dir.path()).raw());
    for len in [
        0,
        5,
        19,
        20,
        40,
        bytes.len() / 2,
        bytes.len() - 56,
        bytes.len() - 1,
    ] {
        let error = verify_error(&bytes[..len]);
        assert!(error.contains("truncated"), "{len} bytes: {error}");
    }
}

#[test]
fn a_file_with_the_wrong_magic_or_version_is_refused_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = snapshot(sample(dir.path()).raw());
    let mut sqlite = bytes.clone();
    sqlite[..8].copy_from_slice(b"SQLite f");
    assert!(verify_error(&sqlite).contains("not a botbox backup"));
    let mut newer = bytes.clone();
    newer[8] = 2;
    assert!(verify_error(&newer).contains("format version 2"));
    let mut appended = bytes;
    appended.extend_from_slice(b"extra");
    assert!(verify_error(&appended).contains("trailer is missing"));
}

#[test]
fn restoring_a_corrupt_snapshot_leaves_the_current_database_untouched() {
    let source = tempfile::tempdir().unwrap();
    let mut bytes = snapshot(sample(source.path()).raw());
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;

    let data = tempfile::tempdir().unwrap();
    drop(Db::open(data.path()).unwrap());
    let before = std::fs::read(data.path().join("botbox.redb")).unwrap();
    let error = restore(bytes.as_slice(), data.path()).unwrap_err();
    assert!(error.to_string().contains("checksum mismatch"), "{error}");
    assert_eq!(
        std::fs::read(data.path().join("botbox.redb")).unwrap(),
        before
    );
    assert_eq!(listing(data.path()), ["botbox.redb"]);
}

#[test]
fn restoring_keeps_the_previous_database_and_refuses_while_it_is_open() {
    let source = tempfile::tempdir().unwrap();
    let bytes = snapshot(sample(source.path()).raw());

    let data = tempfile::tempdir().unwrap();
    let running = Db::open(data.path()).unwrap();
    let error = restore(bytes.as_slice(), data.path()).unwrap_err();
    assert!(
        error.to_string().contains("in use by a running botbox"),
        "{error}"
    );
    assert_eq!(listing(data.path()), ["botbox.redb"]);
    drop(running);

    restore(bytes.as_slice(), data.path()).unwrap();
    assert_eq!(
        listing(data.path()),
        ["botbox.redb", "botbox.redb.before-restore"]
    );
    let old = Database::open(data.path().join("botbox.redb.before-restore")).unwrap();
    assert!(rows(&old, store::INBOX).is_empty());
    let new = Database::open(data.path().join("botbox.redb")).unwrap();
    assert_eq!(rows(&new, store::INBOX).len(), 2);
}

#[test]
fn a_table_of_an_unknown_type_fails_the_snapshot_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::create(dir.path().join("odd.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    txn.open_table(TableDefinition::<u128, bool>::new("odd"))
        .unwrap()
        .insert(1, true)
        .unwrap();
    txn.commit().unwrap();
    let error = write_snapshot(&db, Vec::new()).unwrap_err().to_string();
    assert!(error.contains("odd") && error.contains("u128"), "{error}");
}

#[test]
fn split_parts_join_back_into_the_snapshot() {
    let snapshot: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
    let parts = split(&snapshot, 300);
    assert_eq!(
        parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
        [300, 300, 300, 100]
    );
    let owned: Vec<Vec<u8>> = parts.iter().map(|p| p.to_vec()).collect();
    assert_eq!(join(&owned), snapshot);
    assert_eq!(split(&snapshot, 1000).len(), 1);
    assert_eq!(split(&snapshot, TELEGRAM_UPLOAD_LIMIT).len(), 1);
}

#[test]
fn pruning_keeps_the_newest_backups_and_touches_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "botbox-100.bbk",
        "botbox-400.bbk",
        "botbox-200.bbk",
        "botbox-300.bbk",
        "botbox-500.bbk.part",
        "botbox-abc.bbk",
        "botbox-.bbk",
        "notes.txt",
    ] {
        std::fs::write(dir.path().join(name), name).unwrap();
    }
    std::fs::create_dir(dir.path().join("botbox-50.bbk")).unwrap();
    let deleted = prune_backups(dir.path(), 2).unwrap();
    assert_eq!(
        deleted,
        [
            dir.path().join("botbox-100.bbk"),
            dir.path().join("botbox-200.bbk")
        ]
    );
    assert_eq!(
        listing(dir.path()),
        [
            "botbox-.bbk",
            "botbox-300.bbk",
            "botbox-400.bbk",
            "botbox-50.bbk",
            "botbox-500.bbk.part",
            "botbox-abc.bbk",
            "notes.txt"
        ]
    );
    assert!(prune_backups(dir.path(), 2).unwrap().is_empty());
}

#[test]
fn a_backup_file_is_named_by_its_time_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample(&dir.path().join("data"));
    let backups = dir.path().join("backups");
    let (path, info) = write_backup_file(db.raw(), &backups, &Seal::Plain).unwrap();
    assert_eq!(path, backups.join(backup_file_name(info.created)));
    assert_eq!(listing(&backups), [backup_file_name(info.created)]);
    let file = std::fs::File::open(&path).unwrap();
    assert_eq!(verify(std::io::BufReader::new(file)).unwrap(), info);
}

mod postgres;
mod sealed;
