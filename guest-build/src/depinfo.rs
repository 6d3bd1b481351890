//! The files a guest build depends on, from cargo's dependency info.

use std::path::{Path, PathBuf};

use crate::BuildError;

/// The files whose change must rebuild the guests of `workspace_manifest`, given the
/// `components` [`build`](crate::build) returned: the workspace's `Cargo.toml` and `Cargo.lock`,
/// every local source file the components were compiled from (cargo lists them in the `.d` file
/// beside each component: the guest crates, path dependencies such as the SDK, and the WIT files
/// the bindings were generated from), and the `Cargo.toml` (and `build.rs`) of each crate those
/// sources belong to.
///
/// Files are listed rather than whole directories, so a `target/` dir left inside a guest
/// workspace by a manual build does not trigger rebuilds.
pub fn watched_files(
    workspace_manifest: &Path,
    components: &[PathBuf],
) -> Result<Vec<PathBuf>, BuildError> {
    let mut files = vec![
        workspace_manifest.to_path_buf(),
        workspace_manifest.with_file_name("Cargo.lock"),
    ];
    for component in components {
        let dep_info = component.with_extension("d");
        let text = std::fs::read_to_string(&dep_info).map_err(|source| BuildError::Io {
            path: dep_info,
            source,
        })?;
        for source in parse_dep_info(&text) {
            let is_rust = source
                .extension()
                .is_some_and(|extension| extension == "rs");
            if is_rust && let Some(manifest) = crate_manifest(&source) {
                let build_script = manifest.with_file_name("build.rs");
                if build_script.is_file() {
                    files.push(build_script);
                }
                files.push(manifest);
            }
            files.push(source);
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// [`watched_files`] as `cargo::rerun-if-changed=` lines for a build script to print.
pub fn rerun_if_changed_lines(
    workspace_manifest: &Path,
    components: &[PathBuf],
) -> Result<Vec<String>, BuildError> {
    Ok(watched_files(workspace_manifest, components)?
        .into_iter()
        .map(|file| format!("cargo::rerun-if-changed={}", file.display()))
        .collect())
}

/// The `Cargo.toml` of the crate a source file belongs to: the nearest one above it.
fn crate_manifest(source: &Path) -> Option<PathBuf> {
    source
        .ancestors()
        .skip(1)
        .map(|dir| dir.join("Cargo.toml"))
        .find(|manifest| manifest.is_file())
}

/// The prerequisites of a makefile-style dep-info file (`target: dep dep ...`, spaces in paths
/// escaped as `\ `).
fn parse_dep_info(text: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for line in text.lines() {
        let Some((_, deps)) = line.split_once(": ") else {
            continue;
        };
        let mut parts = deps.split(' ').filter(|part| !part.is_empty());
        while let Some(part) = parts.next() {
            let mut file = part.to_string();
            while file.ends_with('\\') {
                file.pop();
                file.push(' ');
                file.push_str(parts.next().unwrap_or_default());
            }
            files.push(PathBuf::from(file));
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dep_info_lists_prerequisites_with_escaped_spaces() {
        let text = "/t/echo.wasm: /w/echo/src/lib.rs /w/my\\ sdk/src/lib.rs /w/wit/kv.wit\n\n";
        assert_eq!(
            parse_dep_info(text),
            [
                PathBuf::from("/w/echo/src/lib.rs"),
                PathBuf::from("/w/my sdk/src/lib.rs"),
                PathBuf::from("/w/wit/kv.wit"),
            ]
        );
    }

    #[test]
    fn sources_bring_their_crate_manifest() {
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let source = manifest_dir.join("src/depinfo.rs");
        assert_eq!(
            crate_manifest(&source),
            Some(manifest_dir.join("Cargo.toml"))
        );
    }
}
