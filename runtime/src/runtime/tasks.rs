//! The runtime's background tasks, each started under a name and supervised: a task that
//! panics, or ends while no one asked it to stop, is a failure the process cannot go on after
//! (a dead outbox sends nothing, a dead intake hears nothing). It is recorded in [`Health`]:
//! `/healthz` answers 503 with it and `botbox run` exits with it, so the service manager
//! restarts the bot, which resumes everything from the database.

use std::future::Future;

use parking_lot::Mutex;
use tokio::{sync::watch, task::JoinHandle};

use crate::health::Health;

/// The background tasks of one runtime.
pub(crate) struct Tasks {
    handles: Mutex<Vec<(&'static str, JoinHandle<()>)>>,
    health: Health,
    shutdown: watch::Receiver<bool>,
}

impl Tasks {
    /// Tasks that report to `health` unless `shutdown` was asked for.
    pub(crate) fn new(health: Health, shutdown: watch::Receiver<bool>) -> Tasks {
        Tasks {
            handles: Mutex::default(),
            health,
            shutdown,
        }
    }

    /// Runs `task` in the background as `name`, supervised.
    pub(crate) fn spawn(
        &self,
        name: &'static str,
        task: impl Future<Output = ()> + Send + 'static,
    ) {
        self.add(name, tokio::spawn(task));
    }

    /// Supervises a task already started (a server that was bound first).
    pub(crate) fn add(&self, name: &'static str, handle: JoinHandle<()>) {
        let (health, shutdown) = (self.health.clone(), self.shutdown.clone());
        let supervisor = tokio::spawn(async move {
            let ended = handle.await;
            if *shutdown.borrow() {
                return;
            }
            match ended {
                Err(e) if e.is_panic() => {
                    let why = e.into_panic();
                    let why = why
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| why.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    health.fail(format!("background task `{name}` panicked: {why}"));
                }
                Err(e) => health.fail(format!("background task `{name}` failed: {e}")),
                Ok(()) => health.fail(format!("background task `{name}` ended unexpectedly")),
            }
        });
        self.handles.lock().push((name, supervisor));
    }

    /// Waits until every task has ended (after shutdown was asked for).
    pub(crate) async fn join_all(&self) {
        let tasks = std::mem::take(&mut *self.handles.lock());
        for (name, handle) in tasks {
            if let Err(e) = handle.await {
                tracing::error!(task = name, "background task failed: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_that_panics_or_ends_on_its_own_is_a_failure_and_one_stopped_is_not() {
        let (stop, shutdown) = watch::channel(false);
        let health = Health::default();
        let tasks = Tasks::new(health.clone(), shutdown);
        tasks.spawn("outbox", async { panic!("inf is not a duration") });
        let why = tokio::time::timeout(std::time::Duration::from_secs(10), health.failed())
            .await
            .expect("reported");
        assert_eq!(
            why,
            "background task `outbox` panicked: inf is not a duration"
        );

        let health = Health::default();
        let (stop2, shutdown) = watch::channel(false);
        let tasks = Tasks::new(health.clone(), shutdown);
        tasks.spawn("polling", async {});
        let why = tokio::time::timeout(std::time::Duration::from_secs(10), health.failed())
            .await
            .expect("reported");
        assert_eq!(why, "background task `polling` ended unexpectedly");

        let health = Health::default();
        let (stop3, shutdown) = watch::channel(false);
        let tasks = Tasks::new(health.clone(), shutdown);
        let mut asked = stop3.subscribe();
        tasks.spawn("timers", async move {
            let _ = asked.changed().await;
        });
        stop3.send(true).unwrap();
        tasks.join_all().await;
        assert_eq!(
            health.problem(),
            None,
            "a task asked to stop is not a failure"
        );
        drop((stop, stop2));
    }
}
