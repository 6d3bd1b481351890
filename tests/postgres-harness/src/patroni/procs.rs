//! The cluster's processes, found by their command lines: Patroni starts PostgreSQL detached
//! (`setsid`, reparented to init), so it is no child of ours.

use std::{
    path::Path,
    process::{Command, Stdio},
};

use crate::children_of;

/// The live processes whose command line names something under `dir` (Patroni, etcd, a
/// postmaster's `-D`), and their children (a postmaster's backends), zombies left out.
pub fn processes_in(dir: &Path) -> Vec<u32> {
    let needle = format!("{}/", dir.display());
    let Ok(proc) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let named: Vec<u32> = proc
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| {
                String::from_utf8_lossy(&c)
                    .replace('\0', " ")
                    .contains(&needle)
            })
        })
        .collect();
    let mut all = named.clone();
    for p in named {
        all.extend(children_of(p));
    }
    all.sort_unstable();
    all.dedup();
    all.retain(|p| !is_zombie(*p));
    all
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
        s.rfind(')')
            .and_then(|i| s[i + 1..].split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X")
    })
}

pub(super) fn kill_all(pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg("-KILL")
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status();
}
