//! Modules compiled in a process of their own (`botbox compile-module`) and run mapped from the
//! code cache: the real binary, real modules.

use std::{os::unix::fs::PermissionsExt, path::Path, time::Duration};

use crate::{disk_full::tmpfs::Tmpfs, support::*};
use botbox::{
    config::SandboxConfig,
    sandbox::{Sandbox, compiler::NOT_KEPT},
};
use botbox_test_artifacts::{CLICKER, ECHO, REMINDER};

/// The compiled modules in a code cache directory.
fn artifacts(cache: &Path) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(cache)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    found.retain(|p| p.extension().is_some_and(|x| x == "cwasm"));
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_runs_its_modules_from_the_compiled_files_and_a_restart_compiles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let modules = modules_dir(dir.path(), &[CLICKER, REMINDER]);
    let config_file = write_config(dir.path(), &fake, &modules, "");
    let cache = dir.path().join("data/cache");
    let alice = TestUser::new(71, "Alice");

    let mut bot = spawn_bot(&config_file);
    send_expecting(&fake, &alice, "/start", "Hello, Alice").await;
    send_expecting(&fake, &alice, "Click", "Clicks: 1").await;
    let compiled = artifacts(&cache);
    assert_eq!(
        compiled.len(),
        2,
        "one compiled file per module: {compiled:?}"
    );
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", bot.id().unwrap())).unwrap();
    for file in &compiled {
        assert!(
            maps.contains(&*file.to_string_lossy()),
            "the bot runs {file:?} mapped from the cache"
        );
    }
    // A compile writes a new file and renames it over the old one: a new inode.
    let inodes = |files: &[std::path::PathBuf]| -> Vec<u64> {
        use std::os::unix::fs::MetadataExt;
        files
            .iter()
            .map(|f| std::fs::metadata(f).unwrap().ino())
            .collect()
    };
    let written = inodes(&compiled);
    bot.kill().await.unwrap();

    let mut bot = spawn_bot(&config_file);
    send_expecting(&fake, &alice, "Click", "Clicks: 2").await;
    assert_eq!(artifacts(&cache), compiled);
    assert_eq!(inodes(&compiled), written, "nothing compiled again");
    bot.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compile_in_a_child_reports_what_the_child_said_or_how_it_died() {
    let dir = tempfile::tempdir().unwrap();
    let limits = SandboxConfig::default();
    let cache = dir.path().join("cache");
    let botbox = Path::new(env!("CARGO_BIN_EXE_botbox")).to_path_buf();
    let sandbox = Sandbox::new_with_compiler(&limits, &cache, Some(botbox)).unwrap();
    let clicker = std::fs::read(CLICKER).unwrap();
    let code = sandbox.compile("clicker.wasm", &clicker).expect("compiles");
    assert_eq!(artifacts(&cache).len(), 1, "the child wrote the artifact");
    drop(code);

    let refusal = |sandbox: &Sandbox, bytes: &[u8]| match sandbox.compile("m.wasm", bytes) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    };
    let e = refusal(&sandbox, b"\0asm\x0d\0\x01\0 not really");
    assert!(
        e.contains("m.wasm") && e.contains("not a valid component"),
        "{e}"
    );
    assert_eq!(artifacts(&cache).len(), 1, "nothing written for it");

    // A compiler that compiled but could not write (a full disk): the bot compiles itself.
    let program = dir.path().join("no-room.sh");
    let script = format!("#!/bin/sh\ncat > /dev/null\necho 'no room' >&2\nexit {NOT_KEPT}\n");
    std::fs::write(&program, script).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let other_cache = dir.path().join("cache-no-room");
    let sandbox = Sandbox::new_with_compiler(&limits, &other_cache, Some(program)).unwrap();
    sandbox
        .compile("clicker.wasm", &clicker)
        .expect("compiled in the bot's process");
    assert_eq!(artifacts(&other_cache).len(), 1, "and kept, by the bot");

    // Compilers that die: by a signal (as the kernel's out-of-memory killer does), or silently.
    for (script, expected) in [
        ("kill -9 $$", "killed by signal 9"),
        ("exit 3", "exit code 3"),
    ] {
        let program = dir.path().join("compiler.sh");
        std::fs::write(&program, format!("#!/bin/sh\ncat > /dev/null\n{script}\n")).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let other_cache = dir.path().join(format!("cache-{}", expected.len()));
        let sandbox = Sandbox::new_with_compiler(&limits, &other_cache, Some(program)).unwrap();
        let e = refusal(&sandbox, &clicker);
        assert!(e.contains("clicker") || e.contains("m.wasm"), "{e}");
        assert!(e.contains(expected), "{e}");
        assert!(artifacts(&other_cache).is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compile_module_reads_a_component_and_says_why_it_refuses_one() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let run = |input: Vec<u8>| {
        let cache = cache.clone();
        async move {
            let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_botbox"))
                .arg("compile-module")
                .arg("--cache")
                .arg(&cache)
                .args([
                    "--stack-kib",
                    "512",
                    "--memory-mib",
                    "64",
                    "--table-elements",
                    "10000",
                ])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use tokio::io::AsyncWriteExt;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(&input).await.unwrap();
            drop(stdin);
            tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
                .await
                .expect("the compiler finishes")
                .unwrap()
        }
    };
    let out = run(b"hello".to_vec()).await;
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.starts_with("not a valid component"), "{said}");
    assert!(artifacts(&cache).is_empty());

    let out = run(std::fs::read(ECHO).unwrap()).await;
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    assert_eq!(artifacts(&cache).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_whose_data_directory_is_mounted_noexec_still_runs_its_modules() {
    // Compiled code cannot be mapped executable from there: each module is compiled again and
    // kept in memory, and the bot answers as usual.
    let dir = tempfile::tempdir().unwrap();
    let _data = Tmpfs::mount_with(&dir.path().join("data"), "size=256m,noexec");
    let fake = unlimited_fake();
    let modules = modules_dir(dir.path(), &[CLICKER]);
    let config_file = write_config(dir.path(), &fake, &modules, "");
    let alice = TestUser::new(72, "Alice");
    for (text, expected) in [("/start", "Hello, Alice"), ("Click", "Clicks: 1")] {
        let mut bot = spawn_bot(&config_file);
        send_expecting(&fake, &alice, text, expected).await;
        assert_eq!(
            artifacts(&dir.path().join("data/cache")),
            Vec::<std::path::PathBuf>::new(),
            "nothing kept that cannot run"
        );
        bot.kill().await.unwrap();
    }
}
