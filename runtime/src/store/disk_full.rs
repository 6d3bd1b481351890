//! "The disk is full": a state of the store, not a failure.
//!
//! A write of the database that the filesystem refuses for want of space (`ENOSPC`, or
//! `EDQUOT` over a quota) waits in the storage layer ([`super::patient_file`]) and is tried
//! again until it goes through. Meanwhile this flag is up: intake records nothing new (polling
//! leaves the updates at Telegram, the webhook answers 500), the outbox starts no request, and
//! `/metrics` and `/healthz` say so. The log says it once when it starts and once when it ends.
//! Nothing is lost and nothing runs twice: the commit that met the full disk is the same one
//! that completes, in its place in the commit order.

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::{Duration, Instant},
};

use parking_lot::Mutex;
use tokio::sync::watch;

/// The first wait before a refused write is tried again; it doubles up to [`MAX_WAIT`].
pub(crate) const FIRST_WAIT: Duration = Duration::from_millis(500);
/// The longest wait between two tries of a refused write.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(5);

/// Whether the disk holding the database is full, shared by the store and its readers.
#[derive(Debug)]
pub struct DiskFull {
    /// The database file (for the log).
    path: PathBuf,
    full: watch::Sender<bool>,
    since: Mutex<Option<Instant>>,
    /// Times the disk was found full since start.
    episodes: AtomicU64,
    /// Set when the runtime stops: a write waiting for room gives up (the commit fails and the
    /// next start resumes from what is durable).
    give_up: AtomicBool,
}

impl DiskFull {
    pub(crate) fn new(path: &Path) -> DiskFull {
        DiskFull {
            path: path.to_path_buf(),
            full: watch::Sender::new(false),
            since: Mutex::new(None),
            episodes: AtomicU64::new(0),
            give_up: AtomicBool::new(false),
        }
    }

    /// Whether a write of the database is waiting for room right now.
    pub fn is_full(&self) -> bool {
        *self.full.borrow()
    }

    /// How long the disk has been full, if it is.
    pub fn full_for(&self) -> Option<Duration> {
        self.since.lock().map(|s| s.elapsed())
    }

    /// Times the disk was found full since start.
    pub fn episodes(&self) -> u64 {
        self.episodes.load(Ordering::Relaxed)
    }

    /// Resolves once the disk is not full (at once if it is not).
    pub async fn room(&self) {
        let mut rx = self.full.subscribe();
        let _ = rx.wait_for(|full| !full).await;
    }

    /// Resolves once the disk is full (never, if it never is).
    pub async fn filled(&self) {
        let mut rx = self.full.subscribe();
        let _ = rx.wait_for(|full| *full).await;
    }

    /// Makes writes waiting for room give up (the runtime stops).
    pub fn give_up(&self) {
        self.give_up.store(true, Ordering::Relaxed);
    }

    pub(crate) fn giving_up(&self) -> bool {
        self.give_up.load(Ordering::Relaxed)
    }

    /// A write was refused for want of room: the state starts (logged once).
    pub(crate) fn refused(&self, error: &std::io::Error) {
        let mut since = self.since.lock();
        if since.is_none() {
            *since = Some(Instant::now());
            self.episodes.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                database = %self.path.display(),
                "the disk is full ({error}): botbox pauses (no new updates are taken, no messages \
                 sent) and goes on by itself once there is room; free space on this filesystem"
            );
            self.full.send_replace(true);
        }
    }

    /// A write went through: the state ends, if it was on (logged once).
    pub(crate) fn written(&self) {
        if !self.is_full() {
            return;
        }
        let mut since = self.since.lock();
        if let Some(start) = since.take() {
            tracing::warn!(
                database = %self.path.display(),
                "there is room on the disk again after {:.0?}: botbox goes on",
                start.elapsed()
            );
            self.full.send_replace(false);
        }
    }
}

/// Whether `e` says the filesystem has no room (no space, no inodes, or over a quota).
pub(crate) fn no_room(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(e.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded)
}

/// Below this much free space (and 5%) a filesystem counts as nearly full.
const NEARLY_FULL_BYTES: u64 = 2 << 30;

/// The room on the filesystem holding a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// Bytes an unprivileged user may still write.
    pub available: u64,
    /// The filesystem's size in bytes.
    pub total: u64,
    /// Files (inodes) that may still be created; `None` when the filesystem does not count them.
    pub files_available: Option<u64>,
}

impl Space {
    /// Whether nothing more fits: under 1 MiB, or no inode left.
    pub fn is_full(&self) -> bool {
        self.available < (1 << 20) || self.files_available == Some(0)
    }

    /// Whether it is nearly full: under 5% of its size left and under 2 GiB. (A large disk with
    /// gigabytes free is not nearly full for a bot, whatever the percentage says.)
    pub fn is_nearly_full(&self) -> bool {
        self.available.saturating_mul(20) < self.total && self.available < NEARLY_FULL_BYTES
    }
}

/// The room on the filesystem holding `path` (statvfs).
pub fn space(path: &Path) -> std::io::Result<Space> {
    let s = rustix::fs::statvfs(path)?;
    let block = s.f_frsize;
    Ok(Space {
        available: s.f_bavail.saturating_mul(block),
        total: s.f_blocks.saturating_mul(block),
        files_available: (s.f_files > 0).then_some(s.f_favail),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_space_and_over_quota_are_no_room_and_other_errors_are_not() {
        for errno in [28, 122] {
            assert!(
                no_room(&std::io::Error::from_raw_os_error(errno)),
                "{errno}"
            );
        }
        assert!(!no_room(&std::io::Error::from_raw_os_error(5)), "EIO");
    }

    #[test]
    fn the_state_starts_and_ends_once_however_many_writes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let disk = DiskFull::new(&dir.path().join("botbox.redb"));
        let err = std::io::Error::from_raw_os_error(28);
        disk.refused(&err);
        disk.refused(&err);
        assert!(disk.is_full() && disk.full_for().is_some());
        disk.written();
        disk.written();
        assert!(!disk.is_full() && disk.full_for().is_none());
        assert_eq!(disk.episodes(), 1);
    }

    #[test]
    fn the_room_of_a_real_filesystem_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let s = space(dir.path()).unwrap();
        assert!(s.total > 0 && s.available <= s.total);
    }
}
