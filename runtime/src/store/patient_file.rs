//! The database file as redb's storage: redb's own file backend, except that a write the
//! filesystem refuses for want of room waits and is tried again instead of failing.
//!
//! Why not let the commit fail and go on: redb (4.x) latches the first I/O error of its storage
//! (`CheckedBackend::io_failed`); from then on every transaction, reads of uncached pages too,
//! fails with `PreviousIo` until the `Database` is dropped and opened again, which repairs the
//! file. Reopening would mean closing every handle on the database at once (module namespaces,
//! readers) and throwing away the KV overlay of every commit that failed and of the handler
//! calls that read it. A write that waits instead keeps all of that true: the commit that met
//! the full disk completes in its place, readers go on reading the last durable state (redb
//! releases its header lock while a commit flushes), and the group committer simply takes
//! longer. Writes (`pwrite` at an offset) and growing the file (`set_len`) can be repeated
//! without harm.
//!
//! Not retried: a failed `fsync`. After one, Linux may already have dropped the dirty pages
//! and a second `fsync` can report success for data that never reached the disk, so it stays a
//! failure redb latches: the commit fails, the process exits and the next start repairs the file
//! and resumes from what was durable.

use std::{fs::File, ops::Bound, sync::Arc};

use redb::{BackendError, StorageBackend, backends::FileBackend};

use super::disk_full::{DiskFull, FIRST_WAIT, MAX_WAIT, no_room};

/// redb's file backend whose writes wait for room.
#[derive(Debug)]
pub(crate) struct PatientFile {
    file: FileBackend,
    disk: Arc<DiskFull>,
}

impl PatientFile {
    pub(crate) fn new(file: File, disk: Arc<DiskFull>) -> Result<PatientFile, redb::DatabaseError> {
        Ok(PatientFile {
            file: FileBackend::new(file)?,
            disk,
        })
    }

    /// Runs `op` until it succeeds or fails for another reason than a full disk (or the
    /// runtime stops). Waits between tries: one try every few seconds costs nothing.
    fn patiently(&self, mut op: impl FnMut() -> std::io::Result<()>) -> std::io::Result<()> {
        let mut wait = FIRST_WAIT;
        let mut refused = false;
        loop {
            match op() {
                Err(e) if no_room(&e) && !self.disk.giving_up() => {
                    refused = true;
                    self.disk.refused(&e);
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(MAX_WAIT);
                }
                Ok(()) => {
                    if refused {
                        self.disk.written();
                    }
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl StorageBackend for PatientFile {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.file.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.file.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.patiently(|| self.file.set_len(len))
    }

    fn sync_data(&self) -> Result<(), std::io::Error> {
        self.file.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        self.patiently(|| self.file.write(offset, data))
    }

    fn close(&self) -> Result<(), std::io::Error> {
        self.file.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.file.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.file.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.file.query_lock_range(start, end)
    }
}
