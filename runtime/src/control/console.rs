//! The operators' web console, served on the admin listener under `/console`: what the bot is
//! doing (charts of the last hour), its modules (upload to add or swap, rollback, enable,
//! disable, configuration, live log), each module's data, the outbox and its broadcasts,
//! quarantined updates, backups and timers. Pages are rendered on the server (`maud`), with a
//! little script of our own for what needs one (uploads, the live log, confirmations).
//!
//! Every change goes through the code the admin API and the CLI use — the registry's lifecycle,
//! `KvOps`, the store's quarantine, the backup writer — so the console can do nothing the API
//! cannot. Logging in takes the admin token or a one-time link (`botbox console`); a session is
//! an HttpOnly, SameSite=Strict cookie, and every change must carry the session's CSRF token
//! (a form's `csrf` field or the `X-CSRF-Token` header). See `sessions.rs` for when sessions end.

mod backups_page;
mod charts;
mod data_page;
pub mod history;
mod layout;
mod login;
mod modules_page;
mod outbox_page;
mod overview;
mod quarantine_page;
pub mod sessions;

use std::{sync::Arc, time::Instant};

use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    http::{Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use teloxide_core::Bot;

use self::{history::History, sessions::Sessions};
use super::admin::kv_ops::KvOps;
use crate::{
    Config, intake::Intake, modules::registry::Registry, outbox::metrics::OutboxStats, store::Db,
};

/// The biggest form the console reads (a module's configuration, a KV value).
const MAX_FORM: usize = 4 << 20;

/// What the console works with: the same handles the admin API has.
pub struct Console {
    /// The admin token in force (shared with the admin API, which rotates it).
    pub token: Arc<parking_lot::RwLock<String>>,
    /// Who is logged in.
    pub sessions: Arc<Sessions>,
    /// The modules.
    pub registry: Arc<Registry>,
    /// The database.
    pub db: Arc<Db>,
    /// Modules' data, as `botbox kv` changes it.
    pub kv: Arc<KvOps>,
    /// Quarantined updates, where the bot keeps them (as `/v1/quarantine` reads them).
    pub quarantine: Arc<super::admin::quarantine_ops::QuarantineOps>,
    /// The outbox's figures.
    pub outbox: Arc<OutboxStats>,
    /// Where quarantined updates are handed back.
    pub intake: Intake,
    /// The configuration the bot runs with.
    pub config: Arc<Config>,
    /// The Bot API client (backups sent to the operators' chat).
    pub bot: Bot,
    /// The last hour of figures.
    pub history: Arc<History>,
    /// When the bot started.
    pub started: Instant,
    /// The process's health (what `/healthz` says).
    pub health: crate::health::Health,
}

/// The session a request belongs to, put there by [`require_session`].
#[derive(Clone)]
pub struct SessionOf {
    /// The cookie's value.
    pub id: String,
    /// Its CSRF token.
    pub csrf: String,
}

/// The console's routes.
pub fn routes(console: Arc<Console>) -> Router {
    let pages = Router::new()
        .route("/console", get(overview::show))
        .route("/console/logout", post(login::logout))
        .merge(modules_page::routes())
        .merge(data_page::routes())
        .merge(outbox_page::routes())
        .merge(quarantine_page::routes())
        .merge(backups_page::routes())
        .layer(middleware::from_fn_with_state(
            console.clone(),
            require_session,
        ));
    Router::new()
        .route("/console/login", get(login::form).post(login::submit))
        .route("/console/assets/console.css", get(css))
        .route("/console/assets/console.js", get(js))
        .route("/console/", get(|| async { Redirect::to("/console") }))
        .merge(pages)
        .layer(middleware::from_fn(security_headers))
        .with_state(console)
}

/// Lets a request through with a live session; a change (any method but GET and HEAD) also
/// needs the session's CSRF token. A page asked for without a session goes to the login.
async fn require_session(State(c): State<Arc<Console>>, req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(sessions::cookie_value)
        .map(str::to_string);
    let Some((id, session)) = id.and_then(|id| c.sessions.get(&id).map(|s| (id, s))) else {
        return if req.method() == Method::GET {
            Redirect::to("/console/login").into_response()
        } else {
            (StatusCode::UNAUTHORIZED, "not logged in to the console\n").into_response()
        };
    };
    let mut req = if req.method() == Method::GET || req.method() == Method::HEAD {
        req
    } else {
        match check_csrf(req, &session.csrf).await {
            Ok(req) => req,
            Err(refused) => return refused,
        }
    };
    req.extensions_mut().insert(SessionOf {
        id,
        csrf: session.csrf,
    });
    next.run(req).await
}

/// The CSRF token from the `X-CSRF-Token` header, or else a form's `csrf` field (the body is
/// read and put back).
async fn check_csrf(req: Request, expected: &str) -> Result<Request, Response> {
    let refused = || (StatusCode::FORBIDDEN, "missing or wrong CSRF token\n").into_response();
    if let Some(given) = req.headers().get("x-csrf-token") {
        let given = given.to_str().unwrap_or_default();
        return if sessions::same_secret(given, expected) {
            Ok(req)
        } else {
            Err(refused())
        };
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(refused());
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_FORM)
        .await
        .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "form too large\n").into_response())?;
    let given = form_urlencoded_value(&bytes, "csrf").unwrap_or_default();
    if !sessions::same_secret(&given, expected) {
        return Err(refused());
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// One field of a urlencoded form.
fn form_urlencoded_value(body: &[u8], name: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// Headers every console answer carries: no framing (clickjacking), no sniffing, no referrer,
/// scripts and styles from the console only, nothing cached.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, axum::http::HeaderValue::from_static(v));
    };
    set(h, "x-frame-options", "DENY");
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "no-referrer");
    set(
        h,
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, "cache-control", "no-store");
    }
    res
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("console/assets/console.css"),
    )
        .into_response()
}

async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("console/assets/console.js"),
    )
        .into_response()
}
