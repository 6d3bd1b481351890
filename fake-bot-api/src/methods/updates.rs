//! getUpdates and the webhook methods.

use std::{sync::Arc, time::Duration};

use serde_json::{Value, json};
use tokio::time::Instant;

use super::Reply;
use crate::{
    error::ApiError,
    params::Params,
    state::{Shared, State},
    webhook::Webhook,
};

/// The longest long poll Telegram allows, in seconds.
const MAX_TIMEOUT: i64 = 50;
const DEFAULT_MAX_CONNECTIONS: i64 = 40;

/// What a long poll answers when a newer getUpdates took its place.
fn superseded() -> ApiError {
    ApiError::conflict(
        "terminated by other getUpdates request; make sure that only one bot instance is running",
    )
}

fn webhook_active() -> ApiError {
    ApiError::conflict(
        "can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
    )
}

/// getUpdates: confirms by `offset`, remembers `allowed_updates`, and waits up to `timeout`
/// seconds for the first update. A newer getUpdates ends an older one that is still waiting
/// with 409, as Telegram does.
pub(super) async fn get_updates(shared: &Arc<Shared>, params: &Params) -> Result<Reply, ApiError> {
    let offset = params.int("offset")?.unwrap_or(0);
    let limit = params.int("limit")?.unwrap_or(100).clamp(1, 100);
    let timeout = params.int("timeout")?.unwrap_or(0).clamp(0, MAX_TIMEOUT);
    let allowed = allowed_updates(params);
    let deadline = Instant::now() + Duration::from_secs(timeout.unsigned_abs());

    let mut changes = shared.changes();
    let generation = shared.write(|state| {
        if state.webhook.is_some() {
            return Err(webhook_active());
        }
        if let Some(allowed) = allowed {
            state.allowed_updates = allowed;
        }
        state.queue.confirm(offset);
        state.counters.polls += 1;
        state.poll_generation += 1;
        state.waiting_polls += 1;
        Ok(state.poll_generation)
    })?;
    // Counts this poll as waiting until it answers or its client goes away (then abandoned).
    let mut waiting = Waiting {
        shared,
        answered: false,
    };
    let answer = wait_for_batch(shared, generation, limit, deadline, &mut changes).await;
    // A poll that a newer one replaced was given up by its client too (it asked again).
    waiting.answered = !matches!(&answer, Err(e) if e.description == superseded().description);
    answer
}

/// Waits until there are updates for the poll `generation`, or its deadline, or shutdown.
async fn wait_for_batch(
    shared: &Arc<Shared>,
    generation: u64,
    limit: i64,
    deadline: Instant,
    changes: &mut tokio::sync::watch::Receiver<u64>,
) -> Result<Reply, ApiError> {
    loop {
        let batch = shared.read(|state| {
            if state.poll_generation != generation {
                return Err(superseded());
            }
            if state.webhook.is_some() {
                return Err(webhook_active());
            }
            let limit = usize::try_from(limit).unwrap_or(100);
            Ok(state
                .queue
                .first(limit)
                .map(|queued| queued.body.text())
                .collect::<Vec<_>>())
        })?;
        let closed = shared.read(|state| state.closed);
        if !batch.is_empty() || closed || Instant::now() >= deadline {
            return Ok(Reply {
                result: format!("[{}]", batch.join(",")),
                description: None,
            });
        }
        tokio::select! {
            _ = changes.changed() => {}
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// Uncounts a waiting getUpdates when dropped; counts it abandoned when its client went away
/// or asked again before it answered.
struct Waiting<'a> {
    shared: &'a Shared,
    answered: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let answered = self.answered;
        self.shared.write(|state| {
            state.waiting_polls -= 1;
            if !answered {
                state.abandoned_polls += 1;
            }
        });
    }
}

/// `allowed_updates` if the request has it (an array; anything else is ignored, as Telegram does).
fn allowed_updates(params: &Params) -> Option<Vec<String>> {
    let value = params.json("allowed_updates").ok().flatten()?;
    let kinds = value.as_array()?;
    Some(
        kinds
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
    )
}

/// setWebhook. Unlike Telegram, plain `http://` URLs on any port are accepted, so tests can
/// receive on 127.0.0.1.
pub(super) fn set_webhook(shared: &Arc<Shared>, params: &Params) -> Result<Reply, ApiError> {
    let url = params.str("url").unwrap_or_default();
    if url.is_empty() {
        return delete_webhook(shared, params);
    }
    let lower = url.to_ascii_lowercase();
    if !lower.starts_with("http://") && !lower.starts_with("https://") {
        return Err(ApiError::bad_request(
            "bad webhook: HTTPS url must be provided for webhook",
        ));
    }
    let secret = params
        .str("secret_token")
        .filter(|secret| !secret.is_empty());
    if secret.as_ref().is_some_and(|secret| {
        secret.len() > 256
            || !secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }) {
        return Err(ApiError::bad_request(
            "bad webhook: secret token contains unallowed characters",
        ));
    }
    let max_connections = params
        .int("max_connections")?
        .unwrap_or(DEFAULT_MAX_CONNECTIONS)
        .clamp(1, 100);
    let allowed = allowed_updates(params);
    let drop_pending = params.bool("drop_pending_updates");
    let already = shared.write(|state| {
        if drop_pending {
            state.queue.clear();
        }
        if let Some(allowed) = allowed {
            state.allowed_updates = allowed;
        }
        let already = state
            .webhook
            .as_ref()
            .is_some_and(|webhook| webhook.url == url);
        let max_connections = usize::try_from(max_connections).unwrap_or(1);
        state.webhook = Some(Webhook::new(url, secret, max_connections));
        already
    });
    Ok(Reply {
        result: "true".to_owned(),
        description: Some(if already {
            "Webhook is already set"
        } else {
            "Webhook was set"
        }),
    })
}

/// deleteWebhook (and setWebhook with an empty URL).
pub(super) fn delete_webhook(shared: &Arc<Shared>, params: &Params) -> Result<Reply, ApiError> {
    let drop_pending = params.bool("drop_pending_updates");
    let had = shared.write(|state| {
        if drop_pending {
            state.queue.clear();
        }
        state.webhook.take().is_some()
    });
    Ok(Reply {
        result: "true".to_owned(),
        description: Some(if had {
            "Webhook was deleted"
        } else {
            "Webhook is already deleted"
        }),
    })
}

/// getWebhookInfo's result.
pub(super) fn webhook_info(state: &State) -> Value {
    let mut info = match &state.webhook {
        Some(webhook) => webhook.info(&state.allowed_updates),
        None => json!({ "url": "", "has_custom_certificate": false }),
    };
    info["pending_update_count"] = json!(state.queue.len());
    info
}
