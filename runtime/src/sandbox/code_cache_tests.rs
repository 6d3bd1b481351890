//! The compiled-module cache with real components and real files: what a restart finds, what a
//! damaged file does, what the size limit removes.

use std::os::unix::fs::MetadataExt;

use super::*;
use crate::sandbox::module_hash;

/// A real component whose core module exports a function returning `n`: different `n`,
/// different bytes.
fn component(n: u32) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(component
             (core module $m (func (export "f") (result i32) i32.const {n}))
             (core instance $i (instantiate $m)))"#
    ))
    .expect("valid WAT")
}

fn engine() -> Engine {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    Engine::new(&config).expect("engine")
}

fn artifacts(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("cache dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

/// Whether this process maps `path` (`/proc/self/maps`).
fn mapped(path: &Path) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
    maps.lines().any(|l| l.ends_with(&*path.to_string_lossy()))
}

#[test]
fn a_restart_maps_the_module_compiled_before_and_does_not_compile_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, bytes) = (engine(), component(7));
    let hash = module_hash(&bytes);
    let first = CodeCache::new(dir.path(), &engine).unwrap();
    let compiled = first.load(&engine, &hash, &bytes).expect("compiles");
    let files = artifacts(dir.path());
    assert_eq!(files.len(), 1, "one artifact, no temporary left: {files:?}");
    let file = &files[0];
    assert!(file.to_string_lossy().contains(&hash), "{file:?}");
    assert!(mapped(file), "the compiled module runs from its file");
    let inode = std::fs::metadata(file).unwrap().ino();
    drop(compiled);
    assert!(!mapped(file), "dropping the module unmaps it");

    // Another engine with the same settings, as after a restart.
    let engine = self::engine();
    let again = CodeCache::new(dir.path(), &engine).unwrap();
    let loaded = again.load(&engine, &hash, &bytes).expect("loads");
    assert_eq!(artifacts(dir.path()), files);
    assert_eq!(
        std::fs::metadata(file).unwrap().ino(),
        inode,
        "not written again"
    );
    assert!(mapped(file));
    assert!(
        loaded.get_export_index(None, "f").is_none(),
        "the component exports nothing"
    );
}

#[test]
fn a_damaged_artifact_is_compiled_again_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, bytes) = (engine(), component(1));
    let hash = module_hash(&bytes);
    let cache = CodeCache::new(dir.path(), &engine).unwrap();
    drop(cache.load(&engine, &hash, &bytes).unwrap());
    let file = artifacts(dir.path()).remove(0);
    let good = std::fs::read(&file).unwrap();
    for damage in [b"not an artifact".to_vec(), good[..good.len() / 2].to_vec()] {
        std::fs::write(&file, &damage).unwrap();
        let loaded = cache.load(&engine, &hash, &bytes).expect("compiled again");
        assert_eq!(
            std::fs::read(&file).unwrap(),
            good,
            "the artifact is whole again"
        );
        assert!(mapped(&file));
        drop(loaded);
    }
}

#[test]
fn bytes_that_are_not_a_component_are_refused_and_leave_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let cache = CodeCache::new(dir.path(), &engine).unwrap();
    let bytes = b"\0asm garbage".to_vec();
    let e = cache
        .load(&engine, &module_hash(&bytes), &bytes)
        .expect_err("not a component");
    assert!(!format!("{e:#}").is_empty());
    assert_eq!(artifacts(dir.path()), Vec::<PathBuf>::new());
}

#[test]
fn past_the_limit_the_least_recently_used_artifacts_go() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let cache = CodeCache::new(dir.path(), &engine).unwrap();
    let modules: Vec<Vec<u8>> = (0..3).map(component).collect();
    let hashes: Vec<String> = modules.iter().map(|b| module_hash(b)).collect();
    for (bytes, hash) in modules.iter().zip(&hashes) {
        drop(cache.load(&engine, hash, bytes).unwrap());
    }
    // Used long ago, in the order 1, 0, 2; then module 1 used again (a load marks it).
    let file = |i: usize| {
        artifacts(dir.path())
            .into_iter()
            .find(|p| p.to_string_lossy().contains(&hashes[i]))
    };
    let long_ago = SystemTime::now() - std::time::Duration::from_secs(3600);
    for (age, i) in [(3, 1), (2, 0), (1, 2)] {
        let f = std::fs::File::options()
            .append(true)
            .open(file(i).unwrap())
            .unwrap();
        f.set_modified(long_ago - std::time::Duration::from_secs(age))
            .unwrap();
    }
    drop(cache.load(&engine, &hashes[1], &modules[1]).unwrap());
    let size = std::fs::metadata(file(0).unwrap()).unwrap().len();
    cache.keep_within(size + size / 2);
    assert!(file(0).is_none(), "the least recently used went");
    assert!(file(2).is_none(), "and the next");
    assert!(file(1).is_some(), "the one used just now stays");
}

#[test]
fn wasmtime_s_own_cache_of_earlier_versions_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("modules/wasmtime-48.0.8");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(old.join("abc"), b"compressed code").unwrap();
    CodeCache::new(dir.path(), &engine()).unwrap();
    assert!(!dir.path().join("modules").exists());
}

#[test]
fn an_artifact_stored_by_one_engine_is_mapped_by_another_with_the_same_settings() {
    // As a compiling child (`compiler.rs`) stores and the bot maps.
    let dir = tempfile::tempdir().unwrap();
    let bytes = component(3);
    let hash = module_hash(&bytes);
    let child = engine();
    let stored = CodeCache::new(dir.path(), &child).unwrap();
    match stored.store(&child, "bad", b"no component") {
        Err(NotStored::Invalid(e)) => assert!(e.starts_with("not a valid component"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(artifacts(dir.path()), Vec::<PathBuf>::new());
    stored.store(&child, &hash, &bytes).expect("stored");
    let bot = engine();
    let cache = CodeCache::new(dir.path(), &bot).unwrap();
    assert!(
        cache.map(&bot, "0123").is_none(),
        "not compiled: nothing to map"
    );
    let _mapped = cache.map(&bot, &hash).expect("mapped");
    assert!(mapped(&artifacts(dir.path())[0]));
    // An engine with other settings has artifacts of its own.
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true).epoch_interruption(true);
    let other = Engine::new(&config).unwrap();
    let theirs = CodeCache::new(dir.path(), &other).unwrap();
    assert!(theirs.map(&other, &hash).is_none());
}

#[test]
fn a_module_that_compiles_but_cannot_be_written_is_not_kept_and_still_loads() {
    // A directory the cache cannot write into (as on a full disk): root ignores permissions,
    // so a file stands where the temporary file's directory would be needed.
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let cache = CodeCache::new(&dir.path().join("cache"), &engine).unwrap();
    std::fs::remove_dir(dir.path().join("cache")).unwrap();
    std::fs::write(dir.path().join("cache"), b"a file, not a directory").unwrap();
    let bytes = component(5);
    match cache.store(&engine, &module_hash(&bytes), &bytes) {
        Err(NotStored::NotKept(e)) => assert!(e.contains("cannot write"), "{e}"),
        other => panic!("{other:?}"),
    }
    let loaded = cache.load(&engine, &module_hash(&bytes), &bytes);
    assert!(loaded.is_ok(), "compiled and kept in memory");
}
