//! Modules' HTTP address is where downloaders and other peers send what they send to modules:
//! a bot that cannot bind the address the operator configured stops at start, naming it,
//! instead of running while another program receives that traffic.

use std::time::Duration;

use crate::support::*;
use botbox_test_artifacts::CLICKER;

#[tokio::test]
async fn a_bot_whose_configured_http_address_is_taken_stops_at_start_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let modules = modules_dir(dir.path(), &[CLICKER]);
    // Another program holds the port first.
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = squatter.local_addr().unwrap();
    let config = write_config(
        dir.path(),
        &fake,
        &modules,
        &format!("[http]\naddr = \"{taken}\"\n"),
    );
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_botbox"))
            .args(["run", "--config"])
            .arg(&config)
            .env("BOTBOX_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the bot stops by itself")
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("http.addr {taken}: cannot listen")),
        "the error names the address: {stderr}"
    );
    // It never answered anyone, and the squatter got nothing.
    let alice = TestUser::alice();
    fake.send_text(&alice, "/start");
    assert!(
        fake.wait_for_bot_text(alice.id, "", Duration::from_secs(2))
            .await
            .is_err(),
        "a bot that stopped does not answer"
    );
    squatter.set_nonblocking(true).unwrap();
    assert!(
        squatter.accept().is_err(),
        "no connection reached the squatter"
    );

    // The same bot on a free address starts and answers.
    drop(squatter);
    let config = write_config(dir.path(), &fake, &modules, "");
    let _bot = spawn_bot(&config);
    fake.wait_for_bot_text(alice.id, "", Duration::from_secs(60))
        .await
        .expect("the bot answers once its address is free");
}
