//! `botbox dev` with the shop: a person buys in the terminal — the invoice is shown with its
//! price, `:pay` pays it, the terminal says the payment went through and shows the receipt.

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
async fn botbox_dev_shows_an_invoice_and_pays_it_with_pay() {
    let dir = tempfile::tempdir().unwrap();
    let modules = dir.path().join("modules");
    std::fs::create_dir_all(&modules).unwrap();
    std::fs::copy(botbox_test_artifacts::SHOP, modules.join("shop.wasm")).unwrap();
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
    stdin.write_all(b"/shop\n").await.unwrap();
    read_until(&mut lines, &mut seen, "(Buy Sticker pack for 25 ⭐)").await;
    stdin
        .write_all("Buy Sticker pack for 25 ⭐\n".as_bytes())
        .await
        .unwrap();
    read_until(&mut lines, &mut seen, "Invoice: Sticker pack — 25 ⭐").await;
    read_until(&mut lines, &mut seen, "(Pay ⭐25)").await;
    stdin.write_all(b":pay\n").await.unwrap();
    read_until(&mut lines, &mut seen, "payment made: charge").await;
    read_until(
        &mut lines,
        &mut seen,
        "Thank you! Sticker pack is yours for 25 ⭐.",
    )
    .await;
    // The person at the terminal is the operator: the sale is theirs to see.
    stdin.write_all(b"/sales\n").await.unwrap();
    read_until(&mut lines, &mut seen, "Sold: 1 for 25 ⭐.").await;
    drop(stdin);
    let _ = child.wait().await;
}
