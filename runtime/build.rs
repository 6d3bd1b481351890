//! Embeds the module SDK (`guest-sdk/`), the test harness (`guest-test/`) and the contract
//! (`wit/`) in the binary, so `botbox new` can give a project the exact SDK this host speaks,
//! and links the binary with packed relocations where the toolchain can (`build/`).

#[path = "build/packed_relocations.rs"]
mod packed_relocations;

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
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    std::fs::write(out_dir.join("sdk_files.rs"), out).expect("OUT_DIR is writable");
    packed_relocations::request_if_supported(&out_dir);
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
