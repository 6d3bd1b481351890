//! Backups an attacker gets hold of or hands over: encrypted with age (`backup.encrypt_to`),
//! a crafted file that declares a 4 GiB record, and an older manifest pinned again in the
//! operators' chat. All through the real binary, real redb files and the fake Bot API.

use std::path::Path;

use age::secrecy::ExposeSecret;
use botbox_test_artifacts::CLICKER;

use crate::{
    operator::{botbox, register},
    support::*,
};

/// A new age key pair: the identity file written to `dir/name`, and the public key.
fn age_key(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let identity = age::x25519::Identity::generate();
    let path = dir.join(name);
    std::fs::write(&path, identity.to_string().expose_secret()).unwrap();
    (path, identity.to_public().to_string())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn botbox_backup_encrypts_to_the_configured_key_and_restore_needs_its_identity() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let alice = TestUser::alice();
    let rt = start(config(dir.path(), &fake, &[CLICKER])).await;
    register(&fake, &alice, 3).await;
    rt.stop().await;

    let (identity, public) = age_key(dir.path(), "operator.key");
    let (stranger, _) = age_key(dir.path(), "stranger.key");
    std::fs::write(
        dir.path().join("botbox.toml"),
        format!("[backup]\nencrypt_to = [{public:?}]\n"),
    )
    .unwrap();
    let file = dir.path().join("snap.bbk");
    let (ok, out, err) = botbox(
        dir.path(),
        &["backup", "--out", file.to_str().unwrap()],
        None,
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("encrypted with age"), "{out}");
    let sealed = std::fs::read(&file).unwrap();
    assert!(sealed.starts_with(b"age-encryption.org/v1\n"));
    assert!(!contains(&sealed, b"BOTBOXBK") && !contains(&sealed, b"kv:clicker"));

    // Alice clicks on; a restore must bring back the moment of the backup, or change nothing.
    let rt = start(config(dir.path(), &fake, &[CLICKER])).await;
    send_expecting(&fake, &alice, "Click", "Clicks: 4").await;
    rt.stop().await;
    let db = dir.path().join("data/botbox.redb");
    let before = std::fs::read(&db).unwrap();
    let path = file.to_str().unwrap();
    for (args, says) in [
        (vec!["restore", path], "give the age identity file"),
        (
            vec!["restore", path, "--identity", stranger.to_str().unwrap()],
            "none of the keys given opens it",
        ),
    ] {
        let (ok, _, err) = botbox(dir.path(), &args, None).await;
        assert!(!ok, "restored with {args:?}");
        assert!(err.contains(says) && err.contains("not restored"), "{err}");
        assert_eq!(
            std::fs::read(&db).unwrap(),
            before,
            "{args:?} changed the data"
        );
    }
    let (ok, out, err) = botbox(
        dir.path(),
        &["restore", path, "--identity", identity.to_str().unwrap()],
        None,
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("restored"), "{out}");
    let rt = start(config(dir.path(), &fake, &[CLICKER])).await;
    send_expecting(&fake, &alice, "Click", "Clicks: 4").await;
    rt.stop().await;
}

/// A snapshot that declares a record value of 4 GiB - 1 bytes and really holds them: zstd RLE
/// blocks of 128 KiB of zeros, 4 bytes each, so the file is 128 KiB. Its checksum is right (a
/// checksum is no signature: whoever crafts a file computes it), so only the record cap stops it.
fn crafted_4_gib_snapshot() -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut prefix = vec![b'T'];
    for s in ["kv:clicker", "&[u8]", "&[u8]"] {
        prefix.extend((s.len() as u32).to_le_bytes());
        prefix.extend(s.as_bytes());
    }
    prefix.push(b'R');
    prefix.extend(1u32.to_le_bytes());
    prefix.push(b'k');
    prefix.extend(u32::MAX.to_le_bytes());
    // A zstd frame: magic, no content size, a 128 KiB window; then a raw block with the prefix
    // and RLE blocks (header: last bit, type << 1, size << 3; then the repeated byte).
    let mut frame = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38];
    let block = |last: bool, kind: u32, size: u32| {
        let header = u32::from(last) | kind << 1 | size << 3;
        header.to_le_bytes()[..3].to_vec()
    };
    frame.extend(block(false, 0, prefix.len() as u32));
    frame.extend(&prefix);
    let (full, mut left) = (128 * 1024u64, u64::from(u32::MAX));
    while left > 0 {
        let size = left.min(full);
        left -= size;
        frame.extend(block(left == 0, 1, size as u32));
        frame.push(0);
    }
    let mut file = b"BOTBOXBK".to_vec();
    file.extend(1u32.to_le_bytes());
    file.extend(1_700_000_000u64.to_le_bytes());
    file.extend(frame);
    file.extend(1u64.to_le_bytes());
    file.extend(1u64.to_le_bytes());
    let sha = Sha256::digest(&file);
    file.extend(sha);
    file.extend(b"BBK-DONE");
    file
}

/// Runs the real binary's `restore FILE` for the data in `root` with its address space
/// limited to 1 GiB (`ulimit -v`): a restore that allocated gigabytes would die.
async fn restore_in_1_gib(root: &Path, file: &Path) -> (bool, String) {
    let out = tokio::process::Command::new("sh")
        .args(["-c", "ulimit -v 1048576 && exec \"$0\" restore \"$1\""])
        .arg(env!("CARGO_BIN_EXE_botbox"))
        .arg(file)
        .env("BOTBOX_DATA_DIR", root.join("data"))
        .current_dir(root)
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_file_declaring_a_4_gib_record_is_refused_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let alice = TestUser::alice();
    let rt = start(config(dir.path(), &fake, &[CLICKER])).await;
    register(&fake, &alice, 2).await;
    rt.stop().await;
    let good = dir.path().join("good.bbk");
    let (ok, _, err) = botbox(
        dir.path(),
        &["backup", "--out", good.to_str().unwrap()],
        None,
    )
    .await;
    assert!(ok, "{err}");
    // The limit leaves room for a real restore.
    let (ok, out) = restore_in_1_gib(dir.path(), &good).await;
    assert!(ok, "a good snapshot does not restore within 1 GiB: {out}");

    let crafted = crafted_4_gib_snapshot();
    assert!(crafted.len() < 200 * 1024, "{} bytes", crafted.len());
    let evil = dir.path().join("evil.bbk");
    std::fs::write(&evil, &crafted).unwrap();
    let db = dir.path().join("data/botbox.redb");
    let before = std::fs::read(&db).unwrap();
    let (ok, out) = restore_in_1_gib(dir.path(), &evil).await;
    assert!(!ok, "the crafted snapshot was restored");
    assert!(
        out.contains(
            "a record value of 4294967295 bytes, more than a snapshot may hold (67108864 bytes)"
        ) && out.contains("not restored"),
        "{out}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), before);
    let left: Vec<_> = std::fs::read_dir(dir.path().join("data"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("botbox.redb."))
        .collect();
    assert_eq!(
        left,
        ["botbox.redb.before-restore"],
        "only the good restore's copy"
    );
    let rt = start(config(dir.path(), &fake, &[CLICKER])).await;
    send_expecting(&fake, &alice, "Click", "Clicks: 3").await;
    rt.stop().await;
}
