//! A small filesystem of the test's own: a tmpfs mounted on a directory (unmounted when
//! dropped), and a filler file that takes every byte left on it.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::Command,
};

/// A tmpfs mounted at `path` for as long as this lives.
pub struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as `mount -o size=` takes it: `64m`) at `path`. Fails the test
    /// with the reason when mounting is not permitted (the test needs root, or a container
    /// allowed to mount): a skipped test would say nothing.
    pub fn mount(path: &Path, size: &str) -> Tmpfs {
        Self::mount_with(path, &format!("size={size}"))
    }

    /// Mounts a tmpfs with these `mount -o` options (`size=64m,noexec`) at `path`.
    pub fn mount_with(path: &Path, options: &str) -> Tmpfs {
        std::fs::create_dir_all(path).expect("create the mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(path)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs of its own, and could not: `mount -t tmpfs` said {:?} \
             (run it as root, or in a container allowed to mount)",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Tmpfs {
            path: path.to_path_buf(),
        }
    }

    /// Writes `filler` in the mounted directory until not one more byte fits; returns its path.
    pub fn fill(&self) -> PathBuf {
        let path = self.path.join("filler");
        let mut file = std::fs::File::create(&path).expect("create the filler");
        for chunk in [1 << 20, 4096, 1] {
            let buf = vec![0x5a; chunk];
            loop {
                match file.write(&buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                    Err(e) => panic!("filling {}: {e}", path.display()),
                }
            }
        }
        let _ = file.sync_all();
        path
    }

    /// Bytes still free on it.
    pub fn available(&self) -> u64 {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(&self.path)
            .output()
            .expect("run df");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .expect("df's answer")
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.path)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Still busy (a process that is being killed): detach it now, freed when unused.
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
    }
}
