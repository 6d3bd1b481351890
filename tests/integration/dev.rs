//! `botbox dev`: the terminal chat, driven through stdin like a person would.

use std::process::Stdio;

use botbox_test_artifacts::CLICKER;
use tokio::io::AsyncWriteExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn botbox_dev_shows_the_clickers_replies_and_keyboard_in_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let modules = dir.path().join("modules");
    std::fs::create_dir_all(&modules).unwrap();
    std::fs::copy(CLICKER, modules.join("clicker.wasm")).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_botbox"))
        .arg("dev")
        .arg("--modules")
        .arg(&modules)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"/start\nClick\nClick\nRating\n")
        .await
        .unwrap();
    drop(stdin);
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("botbox dev exits after stdin closes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("[Click] [Rating]"), "{stdout}");
    let clicks: Vec<_> = stdout.lines().filter(|l| l.contains("Clicks: ")).collect();
    assert_eq!(clicks.len(), 2, "{stdout}");
    assert!(clicks[1].ends_with("Clicks: 2"), "{stdout}");
    assert!(stdout.contains("Total: 1"), "{stdout}");
    assert!(stdout.contains("1: Dev - 2"), "{stdout}");
}

/// A module project outside the repository: a counter whose replies start with `prefix`.
fn write_project(dir: &std::path::Path, prefix: &str) {
    let sdk = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("guest-sdk");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            r#"[package]
name = "counter"
version = "0.1.0"
edition = "2024"

[lib]
crate-type = ["cdylib"]

[dependencies]
botbox-sdk = {{ path = "{}" }}

[workspace]

[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
strip = true
"#,
            sdk.display()
        ),
    )
    .unwrap();
    let lock = sdk.parent().unwrap().join("example-modules/Cargo.lock");
    if !dir.join("Cargo.lock").exists() {
        std::fs::copy(lock, dir.join("Cargo.lock")).unwrap();
    }
    std::fs::write(
        dir.join("src/lib.rs"),
        format!(
            r#"use botbox_sdk::{{Error, Manifest, Module, Update, kv, reply}};

struct Counter;

impl Module for Counter {{
    fn init() -> Result<Manifest, Error> {{
        Ok(Manifest::new("counter", "0.1.0").wants_messages())
    }}

    fn handle_update(update: &Update) -> Result<(), Error> {{
        if update.text().is_some() {{
            let n = kv::increment("n", 1)?;
            reply(update, &format!("{prefix}: n={{n}}"))?;
        }}
        Ok(())
    }}
}}

botbox_sdk::export_module!(Counter);
"#
        ),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn botbox_dev_watch_rebuilds_and_swaps_the_module_keeping_the_chat_and_its_data() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("counter");
    write_project(&project, "v1");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_botbox"))
        .arg("dev")
        .arg("--watch")
        .arg("--project")
        .arg(&project)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    // Reads stdout until a line contains `needle` (the build may take a few minutes cold).
    let mut expect = async |needle: &str| {
        let found = tokio::time::timeout(std::time::Duration::from_secs(600), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                seen.push(line.clone());
                if line.contains(needle) {
                    return;
                }
            }
            panic!("botbox dev ended before `{needle}`:\n{}", seen.join("\n"));
        })
        .await;
        assert!(found.is_ok(), "no `{needle}` in:\n{}", seen.join("\n"));
    };
    expect("watching the sources").await;
    stdin.write_all(b"a\n").await.unwrap();
    expect("bot: v1: n=1").await;
    stdin.write_all(b"b\n").await.unwrap();
    expect("bot: v1: n=2").await;

    write_project(&project, "v2");
    expect("counter 0.1.0 swapped (chat and data kept)").await;
    stdin.write_all(b"c\n").await.unwrap();
    expect("bot: v2: n=3").await;

    // A build error leaves the running version serving.
    std::fs::write(project.join("src/lib.rs"), "this is not rust").unwrap();
    expect("the build failed, the running version stays").await;
    stdin.write_all(b"d\n").await.unwrap();
    expect("bot: v2: n=4").await;
    drop(stdin);
    let status = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait())
        .await
        .expect("botbox dev exits after stdin closes")
        .unwrap();
    assert!(status.success());
}

/// `botbox dev` with the qr module: a photo the bot sends is shown in words and kept as a file;
/// `:photo <path>` sends that file back as the user's photo, and the module reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn botbox_dev_shows_and_keeps_a_photo_and_sends_one_from_a_path() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let modules = dir.path().join("modules");
    std::fs::create_dir_all(&modules).unwrap();
    std::fs::copy(botbox_test_artifacts::QR, modules.join("qr.wasm")).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_botbox"))
        .arg("dev")
        .arg("--modules")
        .arg(&modules)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    stdin.write_all(b"/qr hello from dev\n").await.unwrap();
    let mut seen = Vec::new();
    let shown = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push(line.clone());
            if line.contains("[photo ") {
                return line;
            }
        }
        panic!("botbox dev ended without showing a photo: {seen:?}");
    })
    .await
    .expect("a photo shown in words");
    // `bot: [photo 290×290, 1 KB → botbox-dev/files/3-photo.png]`
    let path = shown
        .split("→ ")
        .nth(1)
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or_else(|| panic!("no kept file in {shown:?}"));
    let kept = dir.path().join(path);
    assert!(
        std::fs::read(&kept).unwrap().starts_with(b"\x89PNG"),
        "{kept:?}"
    );
    stdin
        .write_all(format!(":photo {}\n", kept.display()).as_bytes())
        .await
        .unwrap();
    let read = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("QR code says: hello from dev") {
                return;
            }
            seen.push(line);
        }
        panic!("no answer to the photo: {seen:?}");
    })
    .await;
    assert!(read.is_ok(), "{seen:?}");
    drop(stdin);
    let _ = child.wait().await;
}
