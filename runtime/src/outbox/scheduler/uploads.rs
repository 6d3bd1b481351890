//! Copies of one file sent side by side (a photo broadcast) upload it once: the first copy
//! takes the file's lock and uploads; the others wait for it and go by the file id it got.
//! The ids are kept here from the moment Telegram answers, before the store records them with
//! the delivery.

use std::{collections::HashMap, sync::Arc};

use parking_lot::Mutex;
use tokio::sync::OwnedMutexGuard;

/// Most file ids kept in memory; past it the oldest knowledge is dropped (the store keeps them
/// too while copies are queued).
const MAX_KNOWN: usize = 10_000;

/// Files being uploaded, and the ids Telegram just gave them, by SHA-256.
#[derive(Debug, Default)]
pub struct Uploads {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    ids: Mutex<HashMap<String, String>>,
}

impl Uploads {
    /// Waits until no other copy of the file `sha256` is being uploaded; the upload of this
    /// copy holds the guard.
    pub(super) async fn lock(&self, sha256: &str) -> OwnedMutexGuard<()> {
        let lock = self
            .locks
            .lock()
            .entry(sha256.to_string())
            .or_default()
            .clone();
        lock.lock_owned().await
    }

    /// Forgets the locks nobody holds or waits for.
    pub(super) fn tidy(&self) {
        self.locks.lock().retain(|_, l| Arc::strong_count(l) > 1);
    }

    /// The file id an upload of `sha256` just got.
    pub(super) fn id(&self, sha256: &str) -> Option<String> {
        self.ids.lock().get(sha256).cloned()
    }

    /// Remembers the file id Telegram gave an upload of `sha256`.
    pub(super) fn learned(&self, sha256: &str, file_id: &str) {
        let mut ids = self.ids.lock();
        if ids.len() >= MAX_KNOWN {
            ids.clear();
        }
        ids.insert(sha256.to_string(), file_id.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_copy_waits_for_the_first_upload_and_then_knows_its_id() {
        let uploads = Arc::new(Uploads::default());
        let first = uploads.lock("abc").await;
        let waiting = tokio::spawn({
            let uploads = uploads.clone();
            async move {
                let _guard = uploads.lock("abc").await;
                uploads.id("abc")
            }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the second copy waits");
        uploads.learned("abc", "FILE-ID");
        drop(first);
        assert_eq!(waiting.await.unwrap().as_deref(), Some("FILE-ID"));
        uploads.tidy();
        assert!(uploads.locks.lock().is_empty());
    }
}
