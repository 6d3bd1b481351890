//! `botbox dev` with the guard: `:group` makes the person an admin of a simulated group;
//! someone asks to join and presses the captcha; a member floods and is muted; the person
//! bans them in reply — all typed in the terminal.

use std::{process::Stdio, time::Duration};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};

/// Reads stdout until a line contains `needle`; every line read is kept in `seen`.
async fn read_until(
    lines: &mut Lines<BufReader<tokio::process::ChildStdout>>,
    seen: &mut Vec<String>,
    needle: &str,
) {
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push(line.clone());
            if line.contains(needle) {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        matches!(found, Ok(true)),
        "no line with {needle:?} in:\n{}",
        seen.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn botbox_dev_puts_the_person_in_a_group_where_the_guard_answers_joins_and_bans() {
    let dir = tempfile::tempdir().unwrap();
    let modules = dir.path().join("modules");
    std::fs::create_dir_all(&modules).unwrap();
    std::fs::copy(botbox_test_artifacts::GUARD, modules.join("guard.wasm")).unwrap();
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
    let mut seen = Vec::new();
    let mut say = async |line: &str, expect: &str, seen: &mut Vec<String>| {
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        read_until(&mut lines, seen, expect).await;
    };
    say(":group", "you are an admin of Dev group", &mut seen).await;
    say(":join Pat", "You asked to join Dev group", &mut seen).await;
    say(
        ":press Pat I'm a person, let me in",
        "bot in Dev group: Welcome, Pat!",
        &mut seen,
    )
    .await;
    // `:as` prints nothing: Sam's message is in the group at once, for the reply.
    say(
        ":as Sam spam\n:reply Sam /ban",
        "bot in Dev group: Banned Sam.",
        &mut seen,
    )
    .await;
    drop(stdin);
    let _ = child.wait().await;
}
