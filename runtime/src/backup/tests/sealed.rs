//! Snapshots sealed with age: what opens them, what is refused, and that a refusal replaces
//! nothing.

use age::secrecy::{ExposeSecret, SecretString};

use super::*;

/// A data directory holding an empty database, and that database's bytes.
fn current_data() -> (tempfile::TempDir, Vec<u8>) {
    let data = tempfile::tempdir().unwrap();
    drop(Db::open(data.path()).unwrap());
    let before = std::fs::read(data.path().join("botbox.redb")).unwrap();
    (data, before)
}

fn assert_untouched(data: &Path, before: &[u8]) {
    assert_eq!(std::fs::read(data.join("botbox.redb")).unwrap(), before);
    assert_eq!(listing(data), ["botbox.redb"]);
}

fn identity_file(dir: &Path, name: &str) -> (std::path::PathBuf, age::x25519::Recipient) {
    let identity = age::x25519::Identity::generate();
    let path = dir.join(name);
    std::fs::write(&path, identity.to_string().expose_secret()).unwrap();
    (path, identity.to_public())
}

#[test]
fn a_snapshot_sealed_to_a_key_restores_only_with_its_identity() {
    let keys = tempfile::tempdir().unwrap();
    let (right, public) = identity_file(keys.path(), "right.txt");
    let (wrong, _) = identity_file(keys.path(), "wrong.txt");
    let source = tempfile::tempdir().unwrap();
    let db = sample(source.path());
    let backups = source.path().join("backups");
    let (path, info) =
        write_backup_file(db.raw(), &backups, &Seal::Recipients(vec![public])).unwrap();
    let sealed = std::fs::read(&path).unwrap();
    assert!(sealed.starts_with(b"age-encryption.org/v1\n"));
    // Nothing of the data shows: not the magic, not a module's value.
    let shows = |needle: &[u8]| sealed.windows(needle.len()).any(|w| w == needle);
    assert!(!shows(b"BOTBOXBK") && !shows(b"kv:echo"));

    let (data, before) = current_data();
    let error = restore(sealed.as_slice(), data.path()).unwrap_err();
    assert!(
        error.to_string().contains("encrypted") && error.to_string().contains("--identity"),
        "{error}"
    );
    assert_untouched(data.path(), &before);

    let wrong = Keys::from_files(Some(&wrong), None).unwrap();
    let error = restore_with(sealed.as_slice(), data.path(), &wrong, None).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("none of the keys given opens it"),
        "{error}"
    );
    assert_untouched(data.path(), &before);

    let right = Keys::from_files(Some(&right), None).unwrap();
    assert_eq!(verify_with(sealed.as_slice(), &right).unwrap(), info);
    let restored = restore_with(sealed.as_slice(), data.path(), &right, None).unwrap();
    assert_eq!(restored, info);
    let new = Database::open(data.path().join("botbox.redb")).unwrap();
    assert_eq!(rows(&new, KV_ECHO), rows(db.raw(), KV_ECHO));
}

#[test]
fn a_snapshot_sealed_with_a_passphrase_needs_that_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let (right, wrong) = (dir.path().join("right"), dir.path().join("wrong"));
    std::fs::write(&right, "correct horse battery staple\n").unwrap();
    std::fs::write(&wrong, "incorrect horse\n").unwrap();
    let db = sample(&dir.path().join("source"));
    let seal = Seal::Passphrase(SecretString::from(
        "correct horse battery staple".to_owned(),
    ));
    let sealed = seal.seal(snapshot(db.raw())).unwrap();

    let (data, before) = current_data();
    let error = restore(sealed.as_slice(), data.path()).unwrap_err();
    assert!(error.to_string().contains("--passphrase-file"), "{error}");
    let wrong = Keys::from_files(None, Some(&wrong)).unwrap();
    let error = restore_with(sealed.as_slice(), data.path(), &wrong, None).unwrap_err();
    assert!(
        error.to_string().contains("the one given does not open it"),
        "{error}"
    );
    assert_untouched(data.path(), &before);

    let right = Keys::from_files(None, Some(&right)).unwrap();
    restore_with(sealed.as_slice(), data.path(), &right, None).unwrap();
    let new = Database::open(data.path().join("botbox.redb")).unwrap();
    assert_eq!(rows(&new, store::INBOX).len(), 2);
}

#[test]
fn an_altered_sealed_snapshot_is_refused_and_replaces_nothing() {
    let keys = tempfile::tempdir().unwrap();
    let (identity, public) = identity_file(keys.path(), "id.txt");
    let db = sample(&keys.path().join("source"));
    let mut sealed = Seal::Recipients(vec![public])
        .seal(snapshot(db.raw()))
        .unwrap();
    let last = sealed.len() - 10;
    sealed[last] ^= 1;
    let (data, before) = current_data();
    let keys = Keys::from_files(Some(&identity), None).unwrap();
    let error = restore_with(sealed.as_slice(), data.path(), &keys, None).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("the encrypted snapshot was altered or damaged"),
        "{error}"
    );
    assert_untouched(data.path(), &before);
}

#[test]
fn a_snapshot_other_than_the_expected_one_is_refused_before_anything_is_replaced() {
    let source = tempfile::tempdir().unwrap();
    let bytes = snapshot(sample(source.path()).raw());
    let (data, before) = current_data();
    let error =
        restore_with(bytes.as_slice(), data.path(), &Keys::none(), Some("00ff")).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("not the 00ff its manifest names"),
        "{error}"
    );
    assert_untouched(data.path(), &before);
}

#[test]
fn a_value_longer_than_a_snapshot_holds_fails_the_backup_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::create(dir.path().join("big.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    let huge = vec![7u8; MAX_RECORD_VALUE as usize + 1];
    txn.open_table(KV_ECHO)
        .unwrap()
        .insert(b"k".as_slice(), huge.as_slice())
        .unwrap();
    txn.commit().unwrap();
    let error = write_snapshot(&db, std::io::sink()).unwrap_err();
    assert!(
        error
            .to_string()
            .contains(&format!("a snapshot holds at most {MAX_RECORD_VALUE}")),
        "{error}"
    );
}
