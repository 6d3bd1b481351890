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

async fn rotate(c: &botbox::Config) -> Result<String, String> {
    use botbox::cli::admin_token::{AdminCommand, admin};
    let mut out = Vec::new();
    match admin(c, AdminCommand::RotateToken, &mut out).await {
        Ok(()) => Ok(String::from_utf8(out).unwrap()),
        Err(e) => Err(format!("{e:#}")),
    }
}

/// The status the admin API at `addr` answers `GET /v1/modules` with `token`.
async fn status_with(addr: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("http://{}/v1/modules", addr.trim()))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_rotates_at_once_and_the_cli_reaches_the_bot_over_its_private_socket() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let c = config(dir.path(), &fake, &[CLICKER]);
    let rt = start(c.clone()).await;
    let socket = c.data_dir.join("admin.sock");
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the socket is the bot user's only");

    // Without the TCP address, the CLI finds the bot through the socket.
    let addr = std::fs::read_to_string(c.data_dir.join("admin.addr")).unwrap();
    std::fs::remove_file(c.data_dir.join("admin.addr")).unwrap();
    let listed = list(&c)
        .await
        .expect("the CLI reaches the bot over its socket");
    assert!(listed.contains("clicker"), "{listed}");

    // Rotated: the old token is refused at once, the new one is kept 0600 and works.
    let old = std::fs::read_to_string(c.data_dir.join("admin.token")).unwrap();
    assert_eq!(status_with(&addr, &old).await, 200);
    let said = rotate(&c).await.unwrap();
    assert!(said.contains("the admin token was rotated"), "{said}");
    let token_file = c.data_dir.join("admin.token");
    let new = std::fs::read_to_string(&token_file).unwrap();
    assert_ne!(new.trim(), old.trim());
    assert_eq!(new.trim().len(), 32);
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(status_with(&addr, &old).await, 401);
    assert_eq!(status_with(&addr, &new).await, 200);
    assert!(list(&c).await.unwrap().contains("clicker"));
    rt.stop().await;
    assert!(!socket.exists(), "a clean stop removes the socket");

    // A token set in the configuration is changed there, not rotated.
    let mut c = c;
    c.admin.token = botbox::config::Secret::new("configured-token-0123456789abcdef");
    let rt = start(c.clone()).await;
    let refused = rotate(&c).await.unwrap_err();
    assert!(refused.contains("set in the configuration"), "{refused}");
    rt.stop().await;
}
