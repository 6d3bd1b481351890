//! Long polling: `getUpdates` in a loop, `offset` moved past an update only once it is durable.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use serde::Serialize;
use teloxide_core::{
    Bot, RequestError,
    payloads::GetUpdates,
    requests::{JsonRequest, Payload, Request},
};
use tokio::sync::watch;

use super::Intake;

/// `getUpdates` returning the updates as raw JSON, so that a module gets exactly what Telegram
/// sent and one malformed update cannot hide the others.
#[derive(Debug, Clone, Serialize)]
struct GetUpdatesRaw {
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<i64>,
    limit: u8,
    timeout: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_updates: Option<Vec<&'static str>>,
}

impl Payload for GetUpdatesRaw {
    type Output = Vec<serde_json::Value>;
    const NAME: &'static str = <GetUpdates as Payload>::NAME;

    fn timeout_hint(&self) -> Option<Duration> {
        Some(Duration::from_secs(u64::from(self.timeout)))
    }
}

/// What long polling reports about itself (for `/metrics`).
#[derive(Debug, Default)]
pub struct PollingStats {
    /// getUpdates calls that failed since start (client-side timeouts of a quiet poll are not
    /// failures).
    pub failures: AtomicU64,
    /// The wait before the next try after the last failure, in milliseconds; 0 once a poll
    /// succeeds.
    pub backoff_ms: AtomicU64,
}

/// How much longer than the long poll itself the HTTP client waits for getUpdates' answer:
/// Telegram answers an idle poll when its `timeout` ends, so the client must outlast it.
const CLIENT_MARGIN: Duration = Duration::from_secs(10);

/// A Bot API client for getUpdates whose request timeout outlasts a long poll of
/// `poll_timeout_secs` (teloxide's default client gives up after 17 s whatever the poll's
/// timeout, which made every idle poll past 17 s a network error).
fn long_poll_client(bot: &Bot, poll_timeout_secs: u32) -> Bot {
    let timeout = Duration::from_secs(u64::from(poll_timeout_secs)) + CLIENT_MARGIN;
    match teloxide_core::net::default_reqwest_settings()
        .timeout(timeout)
        .build()
    {
        Ok(client) => Bot::with_client(bot.token(), client).set_api_url(bot.api_url()),
        Err(e) => {
            tracing::warn!("cannot build the long-poll client ({e}); using the default one");
            bot.clone()
        }
    }
}

/// Whether `e` is a client-side timeout: the poll took longer than expected, which is no sign
/// that the Bot API is failing, so it is retried at once and the backoff does not grow.
fn is_timeout(e: &RequestError) -> bool {
    matches!(e, RequestError::Network(n) if n.is_timeout())
}

/// Long polling until shutdown.
pub(crate) async fn poll(intake: Intake, mut shutdown: watch::Receiver<bool>) {
    let inner = &intake.inner;
    let poll_bot = long_poll_client(&inner.bot, inner.telegram.poll_timeout_secs);
    // A webhook left over from another deployment makes getUpdates fail with 409.
    if let Err(e) = teloxide_core::prelude::Requester::delete_webhook(&inner.bot).await {
        tracing::warn!("deleteWebhook failed: {e}");
    }
    let mut offset = None;
    // Whether `offset` is known: read from the store when this node starts polling — at
    // start, or on PostgreSQL when it takes partition 0 (another node polled meanwhile).
    let mut polling = false;
    let mut backoff = Duration::from_millis(500);
    let disk = inner.db.disk().clone();
    loop {
        // Updates that cannot be recorded are not fetched: they wait at Telegram.
        if inner.pg.is_none() && disk.is_full() {
            tokio::select! {
                () = disk.room() => {}
                _ = shutdown.changed() => return,
            }
        }
        // On PostgreSQL the node that holds partition 0 polls; a node not sure it still holds
        // it (after a pause, until its renewal tells) leaves the updates at Telegram.
        if !intake.polls() {
            polling = false;
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(200)) => continue,
                _ = shutdown.changed() => return,
            }
        }
        if !polling {
            let last = match &inner.pg {
                Some(pg) => pg.last_seen().await,
                None => inner.db.last_seen(),
            };
            match last {
                Ok(last) => offset = last.map(|l| l as i64 + 1),
                Err(e) if inner.pg.is_some() => {
                    tracing::warn!("cannot read the last update id: {e}; trying again");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => continue,
                        _ = shutdown.changed() => return,
                    }
                }
                Err(e) => {
                    tracing::error!("cannot read the last update id: {e}");
                    return;
                }
            }
            if inner.pg.is_some() {
                tracing::info!("this node polls the Bot API for the bot");
            }
            polling = true;
        }
        let payload = GetUpdatesRaw {
            offset,
            limit: 100,
            timeout: inner.telegram.poll_timeout_secs,
            allowed_updates: intake.allowed_updates(),
        };
        let request = JsonRequest::new(poll_bot.clone(), payload).send();
        let result = tokio::select! {
            r = request => r,
            _ = shutdown.changed() => return,
        };
        match result {
            Ok(updates) => {
                tracing::debug!(count = updates.len(), ?offset, "getUpdates answered");
                backoff = Duration::from_millis(500);
                inner.polling.backoff_ms.store(0, Ordering::Relaxed);
                let next = updates
                    .iter()
                    .filter_map(|u| u.get("update_id").and_then(serde_json::Value::as_i64))
                    .max();
                if updates.is_empty() {
                    continue;
                }
                match intake.submit(updates).await {
                    Ok(()) => {}
                    // The offset stays: Telegram sends these again once there is room (those
                    // already on their way to the disk are then duplicates, dropped).
                    Err(crate::Error::DiskFull) => continue,
                    // PostgreSQL unreachable, or this node unsure of its lease: the updates
                    // stay at Telegram and are fetched again.
                    Err(e) if inner.pg.is_some() => {
                        tracing::warn!("cannot record updates: {e}; fetching them again");
                        tokio::select! {
                            () = tokio::time::sleep(backoff) => continue,
                            _ = shutdown.changed() => return,
                        }
                    }
                    Err(e) => {
                        tracing::error!("cannot record updates: {e}; stopping intake");
                        return;
                    }
                }
                if let Some(n) = next {
                    offset = Some(n + 1);
                }
            }
            Err(e) if is_timeout(&e) => {
                tracing::debug!("getUpdates timed out on the client side; polling again");
            }
            Err(e) => {
                let wait = match &e {
                    RequestError::RetryAfter(s) => s.duration(),
                    _ => backoff,
                };
                tracing::warn!("getUpdates failed: {e}; retrying in {wait:?}");
                inner.polling.failures.fetch_add(1, Ordering::Relaxed);
                let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
                inner.polling.backoff_ms.store(wait_ms, Ordering::Relaxed);
                backoff = (backoff * 2).min(Duration::from_secs(30));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    }
}
