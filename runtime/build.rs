//! Embeds the module SDK (`guest-sdk/`), the test harness (`guest-test/`) and the contract
//! (`wit/`) in the binary, so `botbox new` can give a project the exact SDK this host speaks.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest
        .parent()
        .expect("the runtime is in the repository")
        .to_path_buf();
    let mut files = Vec::new();
    for (dir, wanted) in [
        ("guest-sdk", &["Cargo.toml", "src"][..]),
        ("guest-test", &["Cargo.toml", "src"][..]),
        ("wit", &[""][..]),
    ] {
        for w in wanted {
            let path = root.join(dir).join(w);
            println!("cargo:rerun-if-changed={}", path.display());
            collect(&root, &path, &mut files);
        }
    }
    files.sort();
    let mut out = String::from("/// The SDK's files: path in the SDK directory, content.\n");
    out.push_str("pub(crate) const SDK_FILES: &[(&str, &[u8])] = &[\n");
    for (rel, abs) in &files {
        writeln!(out, "    ({rel:?}, include_bytes!({abs:?})),").expect("a String");
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("sdk_files.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

/// Every file under `path` (or `path` itself), as (path relative to `root`, absolute path).
fn collect(root: &Path, path: &Path, files: &mut Vec<(String, String)>) {
    if path.is_dir() {
        let entries = std::fs::read_dir(path).expect("a readable source directory");
        for entry in entries {
            collect(
                root,
                &entry.expect("a readable directory entry").path(),
                files,
            );
        }
    } else if path.is_file() {
        let rel = path.strip_prefix(root).expect("under the root");
        files.push((
            rel.to_string_lossy().replace('\\', "/"),
            path.to_string_lossy().into_owned(),
        ));
    }
}
