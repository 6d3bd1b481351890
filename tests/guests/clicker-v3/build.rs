//! Makes version 3 of the example clicker from its source: the same module (name, KV layout,
//! commands) with version `3.0.0`, `Clicks (v3): N` for `Clicks: N`, and a manifest that asks
//! for an HTTP host, timers and edited messages besides.

use std::path::PathBuf;

fn main() {
    let src = PathBuf::from("../../../example-modules/clicker/src/lib.rs");
    println!("cargo::rerun-if-changed={}", src.display());
    let text = std::fs::read_to_string(&src).expect("the example clicker's source");
    let v3 = text
        .lines()
        .filter(|l| !l.starts_with("//!"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace(r#"env!("CARGO_PKG_VERSION")"#, r#""3.0.0""#)
        .replace(r#""Clicks: {}""#, r#""Clicks (v3): {}""#)
        .replace(
            ".wants_messages())",
            r#".wants_messages().wants_edited_messages().timers().http_host("api.example.com"))"#,
        );
    assert!(
        v3.contains("Clicks (v3)") && v3.contains("\"3.0.0\"") && v3.contains("api.example.com"),
        "the clicker's source no longer has the wording this build script changes"
    );
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("clicker_v3.rs"), v3).expect("OUT_DIR is writable");
}
