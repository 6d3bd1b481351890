//! Makes version 2 of the example clicker from its source: the same module (name, KV layout,
//! commands) with version `2.0.0` and `Clicks (v2): N` for `Clicks: N`, so a swap test can tell
//! which version answered while the data carries over.

use std::path::PathBuf;

fn main() {
    let src = PathBuf::from("../../../example-modules/clicker/src/lib.rs");
    println!("cargo::rerun-if-changed={}", src.display());
    let text = std::fs::read_to_string(&src).expect("the example clicker's source");
    let v2 = text
        .lines()
        .filter(|l| !l.starts_with("//!"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace(r#"env!("CARGO_PKG_VERSION")"#, r#""2.0.0""#)
        .replace(r#""Clicks: {}""#, r#""Clicks (v2): {}""#);
    assert!(
        v2.contains("Clicks (v2)") && v2.contains("\"2.0.0\""),
        "the clicker's source no longer has the wording this build script changes"
    );
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("clicker_v2.rs"), v2).expect("OUT_DIR is writable");
}
