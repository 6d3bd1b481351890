//! The fuzz corpus, replayed on stable: every input in `fuzz/corpus/<target>/` goes through the
//! same entry point the fuzz target calls, so what the fuzzer once found stays fixed. Crashes
//! the fuzzer found have their own tests below, named for what went wrong.

use std::path::PathBuf;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 7] = [
    ("update_convert", super::update_convert),
    ("router", super::router),
    ("webhook", super::webhook),
    ("backup_reader", super::backup_reader),
    ("kv_keys", super::kv_keys),
    ("config", super::config),
    ("manifest", super::manifest),
];

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("a corpus file");
            (p, bytes)
        })
        .collect()
}

#[test]
fn every_corpus_input_of_every_target_runs_without_a_panic() {
    for (target, run) in TARGETS {
        let inputs = corpus(target);
        assert!(!inputs.is_empty(), "fuzz/corpus/{target} is empty");
        for (path, bytes) in inputs {
            if std::panic::catch_unwind(|| run(&bytes)).is_err() {
                panic!("{target} panicked on {}", path.display());
            }
        }
    }
}

#[test]
fn the_webhook_refuses_a_wrong_secret_and_an_oversized_body_and_takes_any_other_body() {
    // The target asserts the status itself: 401, 413, 200.
    super::webhook(b"wrong\n{\"update_id\":1}");
    super::webhook(b"\n{}");
    super::webhook(&[b"fuzz-secret_1\n".as_slice(), &[b' '; 5000]].concat());
    super::webhook(b"fuzz-secret_1\nnot json");
}
