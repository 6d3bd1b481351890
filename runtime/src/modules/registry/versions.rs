//! The versions of a module kept for rollback: `<data_dir>/versions/<name>/<hash>.wasm`, the
//! newest [`KEPT_VERSIONS`] of them.

use std::path::{Path, PathBuf};

/// How many versions of a module are kept for rollback (the newest).
pub(crate) const KEPT_VERSIONS: usize = 5;

/// Deletes all but the newest `keep` `*.wasm` files of `dir` (by modification time), never
/// `current`; returns the files that could not be deleted.
pub(super) fn forget_old_versions(
    dir: &Path,
    current: &Path,
    keep: usize,
) -> Vec<(PathBuf, std::io::Error)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut versions: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    versions.sort_by_key(|v| std::cmp::Reverse(v.0));
    versions
        .into_iter()
        .skip(keep)
        .filter(|(_, old)| old != current)
        .filter_map(|(_, old)| std::fs::remove_file(&old).err().map(|e| (old, e)))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    #[test]
    fn only_the_newest_versions_are_kept_and_never_the_one_serving() {
        let dir = tempfile::tempdir().unwrap();
        let start = SystemTime::now() - Duration::from_secs(3600);
        for i in 0..8u64 {
            let path = dir.path().join(format!("v{i}.wasm"));
            std::fs::write(&path, b"\0asm").unwrap();
            let file = std::fs::File::options().write(true).open(&path).unwrap();
            file.set_modified(start + Duration::from_secs(i * 60))
                .unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), b"kept").unwrap();
        // The one serving is the oldest file (a rollback far back whose time did not move).
        let current = dir.path().join("v0.wasm");
        assert!(forget_old_versions(dir.path(), &current, 5).is_empty());
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "notes.txt",
                "v0.wasm",
                "v3.wasm",
                "v4.wasm",
                "v5.wasm",
                "v6.wasm",
                "v7.wasm"
            ]
        );
    }
}
