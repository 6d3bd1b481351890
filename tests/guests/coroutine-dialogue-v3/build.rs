//! Makes an incompatible version 3 of the example coroutine-dialogue from its source: version
//! `3.0.0`, and the `/sum` dialogue's version bumped from 1 to 2, so that a running sum
//! dialogue diverges after a swap to it.

use std::path::PathBuf;

fn main() {
    let src = PathBuf::from("../../../example-modules/coroutine-dialogue/src/lib.rs");
    println!("cargo::rerun-if-changed={}", src.display());
    let text = std::fs::read_to_string(&src).expect("the example's source");
    let v3 = text
        .lines()
        .filter(|l| !l.starts_with("//!"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace(r#"env!("CARGO_PKG_VERSION")"#, r#""3.0.0""#)
        .replace(
            r#".command("sum", "Add two numbers", 1, sum)"#,
            r#".command("sum", "Add two numbers", 2, sum)"#,
        );
    assert!(
        v3.contains("\"3.0.0\"") && v3.contains(r#""Add two numbers", 2, sum"#),
        "the example's source no longer has the wording this build script changes"
    );
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("coroutine_dialogue_v3.rs"), v3).expect("OUT_DIR is writable");
}
