//! How long the host waits for Telegram's answer to a request that must not be sent twice.
//!
//! A send whose answer never came is sent again, and Telegram has no idempotent send: if the
//! first one arrived, the user sees the message twice. So the wait is long (the outbox's two
//! minutes), and it counts the time the process ran, not the time that passed: a bot frozen
//! (SIGSTOP, a paused VM, a host under memory pressure) past a deadline finds, when it thaws,
//! the deadline passed *and* Telegram's answer waiting in the socket. The answer must win:
//! [`within_running_time`] notices that its timer fired late — the process was not running —
//! and gives the request a moment more to deliver what already came.
//!
//! reqwest's own timeout cannot do that (it checks its deadline before the answer), so the
//! requests that use this run on a client without a total timeout of its own ([`client`],
//! [`sending_bot`]).

use std::{future::Future, time::Duration};

use teloxide_core::Bot;
use tokio::time::Instant;

/// A timer that fires this much after its deadline fired while the process was not running.
const LATE: Duration = Duration::from_secs(1);

/// How long a request whose deadline passed while the process was not running may still take.
const GRACE: Duration = Duration::from_secs(5);

/// How long connecting may take (teloxide's default).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `fut`'s output, or `None` when it did not finish within `limit`. A deadline noticed more
/// than a second late (the process was frozen) gives `fut` five seconds more, once.
pub async fn within_running_time<F: Future>(limit: Duration, fut: F) -> Option<F::Output> {
    within(limit, LATE, GRACE, fut).await
}

async fn within<F: Future>(
    limit: Duration,
    late: Duration,
    grace: Duration,
    fut: F,
) -> Option<F::Output> {
    let deadline = Instant::now() + limit;
    tokio::pin!(fut);
    tokio::select! {
        biased;
        out = &mut fut => return Some(out),
        () = tokio::time::sleep_until(deadline) => {}
    }
    let noticed = Instant::now().duration_since(deadline);
    if noticed < late {
        return None;
    }
    tracing::info!(
        late = ?noticed,
        "a request's deadline passed while the process was not running; waiting a little more for its answer"
    );
    tokio::time::timeout(grace, fut).await.ok()
}

/// An HTTP client for the Bot API whose requests have no total timeout of their own (their
/// callers bound them with [`within_running_time`]); connecting is bounded as teloxide's is.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .build()
        .unwrap_or_else(|e| {
            tracing::warn!("cannot build the Bot API client ({e}); using reqwest's default");
            reqwest::Client::new()
        })
}

/// `bot` on a [`client`]: for the outbox's sends, each bounded by [`within_running_time`]
/// (teloxide's default client gives up after 17 s, whatever the caller waits for).
pub fn sending_bot(bot: &Bot) -> Bot {
    Bot::with_client(bot.token(), client()).set_api_url(bot.api_url())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_millis(300);
    const LATE: Duration = Duration::from_millis(100);
    const GRACE: Duration = Duration::from_secs(2);

    /// Freezes the runtime (current-thread: its only thread) for `d`, as SIGSTOP would: no
    /// timer fires, no socket is read, no task runs.
    fn freeze(d: Duration) {
        std::thread::sleep(d);
    }

    /// A request whose answer Telegram sends from another thread after `after`, and which the
    /// runtime reads 50 ms after it could (hyper's connection task forwards it).
    fn request(after: Duration) -> impl Future<Output = &'static str> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            std::thread::sleep(after);
            let _ = tx.send(());
        });
        async move {
            let _ = rx.await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            "answer"
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_answer_in_time_is_returned_and_none_when_none_comes() {
        let quick = within(LIMIT, LATE, GRACE, request(Duration::ZERO)).await;
        assert_eq!(quick, Some("answer"));
        let unanswered = within(LIMIT, LATE, GRACE, std::future::pending::<&str>()).await;
        assert_eq!(unanswered, None);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_answer_that_came_while_the_process_was_frozen_past_the_deadline_is_taken() {
        // Telegram answers 50 ms after the request; the process is frozen from 10 ms to 3× the
        // limit, and on waking its deadline's timer has fired long before the answer is read.
        let call = tokio::spawn(within(
            LIMIT,
            LATE,
            GRACE,
            request(Duration::from_millis(50)),
        ));
        tokio::time::sleep(Duration::from_millis(10)).await;
        freeze(LIMIT * 3);
        assert_eq!(call.await.unwrap(), Some("answer"));
        // The same without the grace: the frozen deadline gives the answer up.
        let call = tokio::spawn(within(
            LIMIT,
            LATE,
            Duration::ZERO,
            request(Duration::from_millis(50)),
        ));
        tokio::time::sleep(Duration::from_millis(10)).await;
        freeze(LIMIT * 3);
        assert_eq!(call.await.unwrap(), None, "what the grace is for");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_frozen_process_still_gives_up_a_request_that_has_no_answer() {
        let call = tokio::spawn(within(
            LIMIT,
            LATE,
            Duration::from_millis(200),
            std::future::pending::<&'static str>(),
        ));
        tokio::time::sleep(Duration::from_millis(10)).await;
        freeze(LIMIT * 3);
        assert_eq!(call.await.unwrap(), None);
    }
}
