//! The real binary out of file descriptors (a low `RLIMIT_NOFILE` set from outside, as a busy
//! server meets it): the modules' HTTP listener's accept fails, and the loop must pause rather
//! than spin on a core; once descriptors are back, it serves again.

use std::time::Duration;

use botbox_test_artifacts::{CLICKER, HTTP_PROBE};

use crate::support::*;

/// Sets the open-files limit (the soft one, which the process could raise again itself) of the
/// running process `pid`.
fn set_open_files_limit(pid: u32, limit: usize) {
    let status = std::process::Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--nofile={limit}:")])
        .status()
        .expect("prlimit (util-linux) runs");
    assert!(status.success(), "prlimit --nofile={limit} for {pid}");
}

fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("/proc/<pid>/fd")
        .count()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_file_descriptors_the_http_listener_pauses_instead_of_spinning_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let modules = modules_dir(dir.path(), &[CLICKER, HTTP_PROBE]);
    let port = free_port();
    let extra = format!("[http]\naddr = \"127.0.0.1:{port}\"\nheader_read_timeout_ms = 60000\n");
    let config_file = write_config(dir.path(), &fake, &modules, &extra);
    let bot = spawn_bot(&config_file);
    let pid = bot.id().expect("running");
    let alice = TestUser::alice();
    send_expecting(&fake, &alice, "/start", "").await;
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();

    // A few descriptors to spare, then more clients than that: the extra ones wait in the
    // listen queue, and every accept fails with EMFILE while the socket stays readable.
    set_open_files_limit(pid, open_descriptors(pid) + 4);
    let mut held = Vec::new();
    for _ in 0..16 {
        held.push(tokio::net::TcpStream::connect(addr).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = cpu_seconds(pid);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let spent = cpu_seconds(pid) - before;
    eprintln!("CPU seconds in 3 s out of file descriptors: {spent:.2}");
    // A loop that spins burns the whole 3 s of a core.
    assert!(
        spent < 1.0,
        "{spent:.2} CPU seconds in 3 s: the accept loop spins"
    );

    // Descriptors back: the listener serves again, and so does the bot in Telegram.
    set_open_files_limit(pid, 1024);
    drop(held);
    let get = b"GET /modules/http-probe/mount HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
    let mut answer = String::new();
    for _ in 0..100 {
        answer = crate::http::peers::raw_exchange(addr, get, |_| false, WAIT)
            .await
            .unwrap_or_default();
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    send_expecting(&fake, &alice, "Click", "Clicks: 1").await;
}
