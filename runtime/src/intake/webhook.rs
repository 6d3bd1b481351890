//! The webhook: Telegram POSTs each update to our HTTP server.
//!
//! A request without the configured `X-Telegram-Bot-Api-Secret-Token` gets 401 before its body
//! is read (the refusals are logged once, then at each power of two); a body over the size limit gets 413; a body that is not an update is logged and
//! answered 200 (Telegram would otherwise redeliver it forever); a valid update is answered 200
//! only after it is durably recorded, and 500 if it could not be (the disk is full, say), so
//! Telegram retries it.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Request, State},
    http::StatusCode,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{MethodRouter, post},
};
use tokio::sync::watch;

use super::Intake;
use crate::{Error, Result};

/// The header Telegram sends the secret in.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// The path updates are posted to: the path of the configured public URL, or `/telegram`.
pub fn path(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .map(|u| u.path().to_string())
        .filter(|p| p != "/")
        .unwrap_or_else(|| "/telegram".into())
}

/// Binds the server, registers the webhook when a public URL is configured, serves until shutdown.
pub(crate) async fn start(
    intake: Intake,
    shutdown: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>> {
    let cfg = intake.inner.telegram.webhook.clone();
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| Error::Config(format!("cannot listen on {}: {e}", cfg.listen)))?;
    tracing::info!(listen = %cfg.listen, path = %path(&cfg.url), "webhook server listening");
    if !cfg.url.is_empty() {
        reqwest::Url::parse(&cfg.url)
            .map_err(|e| Error::Config(format!("telegram.webhook.url: {e}")))?;
        let allowed = intake.allowed_updates();
        register(&intake, &allowed).await?;
        tokio::spawn(follow_modules(intake.clone(), allowed, shutdown.clone()));
    }
    let app = app(
        &path(&cfg.url),
        cfg.secret.expose().as_bytes(),
        cfg.max_body_bytes,
        post(receive),
        Arc::new(intake),
    );
    Ok(super::listen::serve_until(
        listener,
        app,
        shutdown,
        "webhook server",
    ))
}

/// The server: `receive` at `path`, behind the secret gate and the body limit.
pub(crate) fn app<S: Clone + Send + Sync + 'static>(
    path: &str,
    secret: &[u8],
    max_body_bytes: usize,
    receive: MethodRouter<S>,
    state: S,
) -> Router {
    let gate = Arc::new(Gate {
        secret: secret.to_vec(),
        refused: AtomicU64::new(0),
    });
    Router::new()
        .route(path, receive)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .route_layer(middleware::from_fn_with_state(gate, check_secret))
        .with_state(state)
}

/// Tells Telegram where to send updates, with the secret and the kinds the modules want.
async fn register(intake: &Intake, allowed: &Option<Vec<&'static str>>) -> Result<()> {
    let cfg = &intake.inner.telegram.webhook;
    let mut params = serde_json::Map::new();
    params.insert("url".into(), cfg.url.clone().into());
    params.insert("secret_token".into(), cfg.secret.expose().into());
    params.insert("max_connections".into(), cfg.max_connections.into());
    if let Some(kinds) = allowed {
        params.insert("allowed_updates".into(), serde_json::json!(kinds));
    }
    crate::bot_api::transport::Transport::of(&intake.inner.bot)
        .call(
            "setWebhook",
            &params,
            &[],
            std::time::Duration::from_secs(30),
        )
        .await
        .map(drop)
        .map_err(|e| Error::Config(format!("setWebhook failed: {e}")))
}

/// Registers the webhook again whenever the kinds of update the modules want change (a module
/// added, swapped or removed), until shutdown.
async fn follow_modules(
    intake: Intake,
    mut allowed: Option<Vec<&'static str>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut changes = intake.inner.registry.watch_router();
    loop {
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            _ = shutdown.changed() => return,
        }
        let now = intake.allowed_updates();
        if now == allowed {
            continue;
        }
        match register(&intake, &now).await {
            Ok(()) => {
                tracing::info!(allowed_updates = ?now, "webhook registered again for the modules' update kinds");
                allowed = now;
            }
            Err(e) => tracing::warn!("{e}; the webhook keeps its earlier update kinds"),
        }
    }
}

/// Compares without an early exit, so timing does not reveal how much of a guess was right.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The secret a request must carry, and how many did not.
struct Gate {
    secret: Vec<u8>,
    refused: AtomicU64,
}

/// Refuses a request without the secret before anything reads its body.
async fn check_secret(State(gate): State<Arc<Gate>>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if same_secret(given, &gate.secret) {
        return next.run(req).await;
    }
    // A client decides how often: said at the 1st, 2nd, 4th, 8th, ... refusal.
    let refused = gate.refused.fetch_add(1, Ordering::Relaxed) + 1;
    if refused.is_power_of_two() {
        tracing::warn!(
            refused,
            "webhook request with a wrong or missing secret token rejected"
        );
    }
    StatusCode::UNAUTHORIZED.into_response()
}

/// The body as a JSON object, or `None` (logged) when it is not one.
pub(crate) fn decode(body: &[u8]) -> Option<serde_json::Value> {
    match serde_json::from_slice(body) {
        Ok(v @ serde_json::Value::Object(_)) => Some(v),
        Ok(_) | Err(_) => {
            tracing::warn!(
                bytes = body.len(),
                "webhook body is not a JSON update; skipped"
            );
            None
        }
    }
}

async fn receive(State(intake): State<Arc<Intake>>, body: Bytes) -> StatusCode {
    let Some(value) = decode(&body) else {
        return StatusCode::OK;
    };
    match intake.submit(vec![value]).await {
        Ok(()) => StatusCode::OK,
        // Said once in the log when it started (`store/disk_full.rs`); Telegram tries again.
        Err(Error::DiskFull) => StatusCode::INTERNAL_SERVER_ERROR,
        Err(e) => {
            tracing::error!("cannot record a webhook update: {e}");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}
