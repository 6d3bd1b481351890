//! `botbox dev` driven through its terminal as a person would: lines typed on stdin, the chat
//! read from stdout.

use std::{path::Path, process::Stdio, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    process::{Child, ChildStdin, ChildStdout},
};

/// A running `botbox dev` and what it printed so far.
pub struct DevTerminal {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
    /// Every line read so far (shown when an expected line does not come).
    seen: Vec<String>,
}

impl DevTerminal {
    /// `botbox dev` in `dir` with the module `wasm` alone.
    pub fn start(dir: &Path, wasm: &str) -> DevTerminal {
        let modules = dir.join("modules");
        std::fs::create_dir_all(&modules).unwrap();
        let src = Path::new(wasm);
        std::fs::copy(src, modules.join(src.file_name().unwrap())).unwrap();
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_botbox"))
            .arg("dev")
            .arg("--modules")
            .arg(&modules)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        DevTerminal {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    /// Types `line`, then reads until a line contains `expect`.
    pub async fn say(&mut self, line: &str, expect: &str) {
        let stdin = self.stdin.as_mut().expect("still typing");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        self.read_until(expect).await;
    }

    /// Reads stdout until a line contains `needle` (a minute at most).
    pub async fn read_until(&mut self, needle: &str) {
        let (lines, seen) = (&mut self.lines, &mut self.seen);
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
            self.seen.join("\n")
        );
    }

    /// Closes stdin (the person leaves) and waits for `botbox dev` to end.
    pub async fn close(mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait().await;
    }
}
