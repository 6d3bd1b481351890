//! Intake: updates from Telegram, recorded durably before Telegram is told they arrived.
//!
//! Long polling moves `offset` past an update only after [`submit`] returned, that is, after
//! the update is in the database; the webhook answers 200 at the same moment. Either way an
//! update seen before (same `update_id`) is dropped, so Telegram's redeliveries are harmless.

pub mod webhook;

use std::time::Duration;

use serde::Serialize;
use teloxide_core::{
    RequestError,
    payloads::GetUpdates,
    requests::{JsonRequest, Payload, Request},
    types::Update,
};
use tokio::sync::{oneshot, watch};

use crate::{Error, Result, Runtime, store::Op};

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

/// The update types the loaded modules can use; `None` asks for Telegram's default set.
pub(crate) fn allowed_updates(rt: &Runtime) -> Option<Vec<&'static str>> {
    let router = rt.inner.registry.router();
    if router.wants_other() {
        return None;
    }
    let mut v = vec!["message", "callback_query"];
    if router.wants_edited() {
        v.push("edited_message");
    }
    Some(v)
}

/// Long polling until shutdown.
pub(crate) async fn poll(rt: Runtime, mut shutdown: watch::Receiver<bool>) {
    let inner = &rt.inner;
    // A webhook left over from another deployment makes getUpdates fail with 409.
    if let Err(e) = teloxide_core::prelude::Requester::delete_webhook(&inner.bot).await {
        tracing::warn!("deleteWebhook failed: {e}");
    }
    let mut offset = match inner.db.last_seen() {
        Ok(last) => last.map(|l| l as i64 + 1),
        Err(e) => {
            tracing::error!("cannot read the last update id: {e}");
            return;
        }
    };
    let mut backoff = Duration::from_millis(500);
    loop {
        let payload = GetUpdatesRaw {
            offset,
            limit: 100,
            timeout: inner.config.telegram.poll_timeout_secs,
            allowed_updates: allowed_updates(&rt),
        };
        let request = JsonRequest::new(inner.bot.clone(), payload).send();
        let result = tokio::select! {
            r = request => r,
            _ = shutdown.changed() => return,
        };
        match result {
            Ok(updates) => {
                tracing::debug!(count = updates.len(), ?offset, "getUpdates answered");
                backoff = Duration::from_millis(500);
                let next = updates
                    .iter()
                    .filter_map(|u| u.get("update_id").and_then(serde_json::Value::as_i64))
                    .max();
                if updates.is_empty() {
                    continue;
                }
                if let Err(e) = submit(&rt, updates).await {
                    tracing::error!("cannot record updates: {e}; stopping intake");
                    return;
                }
                if let Some(n) = next {
                    offset = Some(n + 1);
                }
            }
            Err(e) => {
                let wait = match &e {
                    RequestError::RetryAfter(s) => s.duration(),
                    _ => backoff,
                };
                tracing::warn!("getUpdates failed: {e}; retrying in {wait:?}");
                backoff = (backoff * 2).min(Duration::from_secs(30));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    }
}

/// Records updates durably, then dispatches them in update order.
pub(crate) async fn submit(rt: &Runtime, updates: Vec<serde_json::Value>) -> Result<()> {
    let inner = &rt.inner;
    let mut records: Vec<(u64, String, Vec<String>)> = Vec::new();
    let mut skipped: Vec<u64> = Vec::new();
    let mut parsed = Vec::new();
    let mut operator_commands = Vec::new();
    let router = inner.registry.router();
    {
        for raw in updates {
            let Some(id) = raw.get("update_id").and_then(serde_json::Value::as_u64) else {
                tracing::warn!(update = %truncate(&raw.to_string(), 200), "malformed update without update_id skipped");
                continue;
            };
            // A redelivery while the first copy is still being recorded, or after it was.
            if !inner.in_flight.lock().insert(id) {
                tracing::debug!(update = id, "duplicate update dropped");
                continue;
            }
            let seen = match inner.db.seen(id) {
                Ok(seen) => seen,
                Err(e) => {
                    let mut in_flight = inner.in_flight.lock();
                    in_flight.remove(&id);
                    for r in &records {
                        in_flight.remove(&r.0);
                    }
                    for s in &skipped {
                        in_flight.remove(s);
                    }
                    return Err(e);
                }
            };
            if seen {
                inner.in_flight.lock().remove(&id);
                tracing::debug!(update = id, "duplicate update dropped");
                continue;
            }
            // From text, not from the Value: teloxide's UpdateKind wants borrowed keys.
            let text = raw.to_string();
            match serde_json::from_str::<Update>(&text) {
                Ok(update) => {
                    if let Some(cmd) = crate::ops::operator_command(rt, &update) {
                        skipped.push(id);
                        operator_commands.push(cmd);
                        continue;
                    }
                    let routes = router.route(&update);
                    tracing::debug!(update = id, ?routes, "routed");
                    if routes.is_empty() {
                        skipped.push(id);
                        continue;
                    }
                    let modules = routes.iter().map(|(m, _)| m.clone()).collect();
                    records.push((id, text, modules));
                    parsed.push((id, raw, update, routes));
                }
                Err(e) => {
                    tracing::warn!(update = id, error = %e, raw = %truncate(&raw.to_string(), 200), "malformed update skipped");
                    skipped.push(id);
                }
            }
        }
    }
    let ids: Vec<u64> = records
        .iter()
        .map(|r| r.0)
        .chain(skipped.iter().copied())
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let (tx, rx) = oneshot::channel();
    let sent = inner.committer.send(Op::Record {
        updates: records,
        skipped,
        done: Some(tx),
    });
    let result = match sent {
        Ok(()) => rx
            .await
            .map_err(|_| Error::ShuttingDown)
            .and_then(|r| r.map_err(Error::Corrupt)),
        Err(e) => Err(e),
    };
    {
        let mut in_flight = inner.in_flight.lock();
        for id in &ids {
            in_flight.remove(id);
        }
    }
    result?;
    for cmd in operator_commands {
        tokio::spawn(crate::ops::run_operator_command(rt.clone(), cmd));
    }
    for (id, raw, update, routes) in parsed {
        rt.dispatch(id, &raw, &update, routes).await?;
    }
    Ok(())
}

fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
