//! The runtime's background tasks, each started under a name, so that stopping waits for all of
//! them and the log says which one ended.

use std::future::Future;

use parking_lot::Mutex;
use tokio::task::JoinHandle;

/// The background tasks of one runtime.
#[derive(Default)]
pub(crate) struct Tasks(Mutex<Vec<(&'static str, JoinHandle<()>)>>);

impl Tasks {
    /// Runs `task` in the background as `name`.
    pub(crate) fn spawn(
        &self,
        name: &'static str,
        task: impl Future<Output = ()> + Send + 'static,
    ) {
        self.add(name, tokio::spawn(task));
    }

    /// Adds a task already started (a server that was bound first).
    pub(crate) fn add(&self, name: &'static str, handle: JoinHandle<()>) {
        self.0.lock().push((name, handle));
    }

    /// Waits until every task has ended (after shutdown was asked for).
    pub(crate) async fn join_all(&self) {
        let tasks = std::mem::take(&mut *self.0.lock());
        for (name, handle) in tasks {
            if let Err(e) = handle.await {
                tracing::error!(task = name, "background task failed: {e}");
            }
        }
    }
}
