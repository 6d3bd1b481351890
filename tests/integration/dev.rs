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
