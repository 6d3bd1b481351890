//! Webhook delivery: while a webhook is set, every pending update is POSTed to it.
//!
//! One worker task watches the state. Whenever the webhook has free connections and no backoff
//! is running, it marks the oldest idle updates as in flight and POSTs each from a task of its
//! own (so at most `max_connections` run at once, and later updates may overtake earlier ones,
//! as with Telegram). A 2xx answer removes the update; anything else puts it back, records
//! `last_error_*` for getWebhookInfo, and pauses all deliveries for the backoff, which doubles
//! after each failure up to the configured maximum and resets after a success.

use std::{sync::Arc, time::Duration};

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::{config::WebhookRetry, json, state::Shared};

/// The header carrying `secret_token`.
pub(crate) const SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

/// A webhook set with setWebhook.
#[derive(Debug)]
pub(crate) struct Webhook {
    pub(crate) url: String,
    pub(crate) secret: Option<String>,
    pub(crate) max_connections: usize,
    /// Tells deliveries to this webhook from those to one it replaced.
    pub(crate) generation: u64,
    in_flight: usize,
    backoff: Duration,
    paused_until: Option<Instant>,
    last_error: Option<(i64, String)>,
}

impl Webhook {
    pub(crate) fn new(url: String, secret: Option<String>, max_connections: usize) -> Self {
        static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Self {
            url,
            secret,
            max_connections,
            generation: GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            in_flight: 0,
            backoff: Duration::ZERO,
            paused_until: None,
            last_error: None,
        }
    }

    /// getWebhookInfo's fields for this webhook (besides `pending_update_count`).
    pub(crate) fn info(&self, allowed_updates: &[String]) -> Value {
        let mut info = json!({
            "url": self.url,
            "has_custom_certificate": false,
            "max_connections": self.max_connections,
            "ip_address": "127.0.0.1",
        });
        if !allowed_updates.is_empty() {
            info["allowed_updates"] = json!(allowed_updates);
        }
        if let Some((date, message)) = &self.last_error {
            info["last_error_date"] = json!(date);
            info["last_error_message"] = json!(message);
        }
        info
    }
}

struct Job {
    update_id: i64,
    generation: u64,
    url: String,
    secret: Option<String>,
    body: String,
}

/// Delivers updates until the task is aborted.
pub(crate) async fn run(shared: Arc<Shared>) {
    let retry = shared.config.webhook_retry.clone();
    let client = match reqwest::Client::builder()
        .timeout(retry.request_timeout)
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "fake Bot API: cannot build the webhook client");
            return;
        }
    };
    let mut changes = shared.changes();
    loop {
        let (jobs, paused_until) = shared.write_silently(|state| {
            let Some(webhook) = state.webhook.as_mut() else {
                return (Vec::new(), None);
            };
            if webhook
                .paused_until
                .is_some_and(|until| until > Instant::now())
            {
                return (Vec::new(), webhook.paused_until);
            }
            let free = webhook.max_connections.saturating_sub(webhook.in_flight);
            let mut jobs = Vec::new();
            for queued in state.queue.idle_mut().take(free) {
                queued.in_flight = true;
                jobs.push(Job {
                    update_id: queued.id,
                    generation: webhook.generation,
                    url: webhook.url.clone(),
                    secret: webhook.secret.clone(),
                    body: queued.body.text(),
                });
            }
            webhook.in_flight += jobs.len();
            (jobs, None)
        });
        for job in jobs {
            tokio::spawn(deliver(shared.clone(), client.clone(), retry.clone(), job));
        }
        let pause = async {
            match paused_until {
                Some(until) => tokio::time::sleep_until(until).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            () = pause => {}
        }
    }
}

async fn deliver(shared: Arc<Shared>, client: reqwest::Client, retry: WebhookRetry, job: Job) {
    let mut request = client
        .post(&job.url)
        .header("Content-Type", "application/json")
        .body(job.body);
    if let Some(secret) = &job.secret {
        request = request.header(SECRET_HEADER, secret);
    }
    let error = match request.send().await {
        Ok(response) if response.status().is_success() => None,
        Ok(response) => Some(format!(
            "Wrong response from the webhook: {}",
            response.status()
        )),
        Err(error) if error.is_timeout() => Some("Read timeout expired".to_owned()),
        Err(_) => Some("Connection refused".to_owned()),
    };
    shared.write(|state| {
        state.queue.finish_delivery(job.update_id, error.is_none());
        match &error {
            None => state.counters.webhook_deliveries += 1,
            Some(_) => state.counters.webhook_failures += 1,
        }
        let Some(webhook) = state
            .webhook
            .as_mut()
            .filter(|webhook| webhook.generation == job.generation)
        else {
            return;
        };
        webhook.in_flight -= 1;
        match error {
            None => webhook.backoff = Duration::ZERO,
            Some(message) => {
                webhook.backoff = (webhook.backoff * 2).clamp(retry.initial, retry.max);
                webhook.paused_until = Some(Instant::now() + webhook.backoff);
                webhook.last_error = Some((json::now(), message));
            }
        }
    });
}
