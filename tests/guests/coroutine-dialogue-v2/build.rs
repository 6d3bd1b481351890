//! Makes a compatible version 2 of the example coroutine-dialogue from its source: the same
//! module and dialogues (same names, versions and questions), with version `2.0.0`, sums
//! answered `a + b = s (v2)` so a test can tell which version answered, and a trap (a panic)
//! when an answer is `trap`, for the test of a trap in one dialogue step.

use std::path::PathBuf;

fn main() {
    let src = PathBuf::from("../../../example-modules/coroutine-dialogue/src/lib.rs");
    println!("cargo::rerun-if-changed={}", src.display());
    let text = std::fs::read_to_string(&src).expect("the example's source");
    let v2 = text
        .lines()
        .filter(|l| !l.starts_with("//!"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace(r#"env!("CARGO_PKG_VERSION")"#, r#""2.0.0""#)
        .replace(r#""{a} + {b} = {}""#, r#""{a} + {b} = {} (v2)""#)
        .replace(
            "        match valid(&answer) {",
            "        assert_ne!(answer, \"trap\", \"the test asked for a trap\");\n        match valid(&answer) {",
        );
    assert!(
        v2.contains("(v2)") && v2.contains("\"2.0.0\"") && v2.contains("asked for a trap"),
        "the example's source no longer has the wording this build script changes"
    );
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("coroutine_dialogue_v2.rs"), v2).expect("OUT_DIR is writable");
}
