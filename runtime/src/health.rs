//! The process's health: the first failure it cannot continue after (a failed commit, a
//! background task that died). `botbox run` exits with it, so the service manager restarts the
//! bot, and `/healthz` answers 503 with it meanwhile. A full disk is not such a failure: the
//! bot pauses and goes on by itself (`store/disk_full.rs`).

use tokio::sync::watch;

/// Shared by the parts that can fail for good and those that report. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Health(watch::Sender<Option<String>>);

impl Default for Health {
    fn default() -> Self {
        Health(watch::Sender::new(None))
    }
}

impl Health {
    /// Records `why` the process cannot go on; only the first failure is kept.
    pub fn fail(&self, why: impl Into<String>) {
        let why = why.into();
        self.0.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            tracing::error!("{why}");
            *current = Some(why);
            true
        });
    }

    /// The failure, if there was one.
    pub fn problem(&self) -> Option<String> {
        self.0.borrow().clone()
    }

    /// A sender the committer reports a failed commit on.
    pub fn sender(&self) -> watch::Sender<Option<String>> {
        self.0.clone()
    }

    /// Resolves with the first failure.
    pub async fn failed(&self) -> String {
        let mut rx = self.0.subscribe();
        match rx.wait_for(Option::is_some).await {
            Ok(problem) => problem.clone().unwrap_or_default(),
            Err(_) => "the runtime stopped".into(),
        }
    }
}
