//! The admin token stays with the bot: the CLI sends it only to an admin API that proves it holds
//! it (`GET /v1/hello` with a fresh nonce), and a clean stop removes the recorded address. A local
//! user who binds the port of a stopped (or killed) bot collects nothing.

use std::sync::Arc;

use botbox::cli::module::{ModuleCommand, module};
use botbox_test_artifacts::CLICKER;
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

async fn list(c: &botbox::Config) -> Result<String, String> {
    let mut out = Vec::new();
    match module(c, ModuleCommand::List, &mut out).await {
        Ok(()) => Ok(String::from_utf8(out).unwrap()),
        Err(e) => Err(format!("{e:#}")),
    }
}

/// A listener that answers every request like an admin API would, without the token, and keeps
/// what it was sent.
async fn impostor() -> (std::net::SocketAddr, Arc<Mutex<Vec<u8>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let kept = received.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0; 8192];
            let n = stream.read(&mut buf).await.unwrap_or(0);
            kept.lock().extend_from_slice(&buf[..n]);
            let body = r#"{"proof":"0000","modules":[]}"#;
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    (addr, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_sends_the_token_only_to_the_bot_that_proves_it_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let c = config(dir.path(), &fake, &[CLICKER]);
    let rt = start(c.clone()).await;
    let listed = list(&c).await.expect("the running bot answers the CLI");
    assert!(listed.contains("clicker"), "{listed}");
    let token = std::fs::read_to_string(c.data_dir.join("admin.token")).unwrap();

    rt.stop().await;
    assert!(
        !c.data_dir.join("admin.addr").exists(),
        "a clean stop leaves no address behind"
    );
    let stopped = list(&c).await.expect_err("no bot, no answer");
    assert!(stopped.contains("is the bot running?"), "{stopped}");

    // What kill -9 leaves: the address, now someone else's port.
    let (addr, received) = impostor().await;
    std::fs::write(c.data_dir.join("admin.addr"), addr.to_string()).unwrap();
    let refused = list(&c).await.expect_err("the impostor cannot prove it");
    assert!(
        refused.contains("cannot prove it holds the admin token"),
        "{refused}"
    );
    let received = String::from_utf8_lossy(&received.lock()).into_owned();
    assert!(received.contains("GET /v1/hello?nonce="), "{received}");
    assert!(
        !received.contains(token.trim()),
        "the token leaked: {received}"
    );
    assert!(
        !received.to_ascii_lowercase().contains("authorization"),
        "{received}"
    );
}
