//! The admin HTTP server (see the parent module for the routes).

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, Query, Request, State},
    http::{StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use tokio::sync::watch;

use super::kv_ops::{KvOps, Line};
use crate::{Error, Result, modules::registry::Registry, outbox::metrics::OutboxStats, store::Db};

pub(super) struct Ctx {
    /// The token in force: rotated in place (`POST /v1/admin/token`); the console checks
    /// logins against it.
    token: Arc<parking_lot::RwLock<String>>,
    /// Where the generated token is kept; `None` when the configuration sets it (then it is
    /// changed there, not rotated here).
    token_dir: Option<std::path::PathBuf>,
    kv: Arc<KvOps>,
    pub(super) registry: Arc<Registry>,
    pub(super) db: Arc<Db>,
    /// Quarantined updates, where the bot keeps them.
    pub(super) quarantine: Arc<super::quarantine_ops::QuarantineOps>,
    outbox: Arc<OutboxStats>,
    /// Where quarantined updates are handed back.
    pub(super) intake: crate::intake::Intake,
    /// The console's sessions: a login link is made here; a rotated token ends them all.
    pub(super) sessions: Arc<crate::control::console::sessions::Sessions>,
    /// The bot's store on PostgreSQL, when it is there (snapshots are read from it).
    pg: Option<Arc<crate::store::pg::PgStore>>,
}

/// What the console needs beyond what the admin API has.
pub struct ConsoleParts {
    /// Where updates enter (quarantined ones are handed back through it).
    pub intake: crate::intake::Intake,
    /// The configuration the bot runs with.
    pub config: Arc<crate::Config>,
    /// The Bot API client.
    pub bot: teloxide_core::Bot,
    /// When the bot started.
    pub started: std::time::Instant,
    /// The bot's store on PostgreSQL, when `[store] url` puts it there.
    pub pg: Option<Arc<crate::store::pg::PgStore>>,
}

/// Where the admin API listens and how its token is kept.
pub struct Listen {
    /// The TCP address (`admin.listen`).
    pub addr: SocketAddr,
    /// The Unix socket, if any (`<data_dir>/admin.sock`).
    pub socket: Option<std::path::PathBuf>,
    /// The token in force.
    pub token: String,
    /// Where a generated token is kept (the data directory); `None` when the configuration sets
    /// the token.
    pub token_dir: Option<std::path::PathBuf>,
}

/// Binds `listen` (and its socket) and serves until `shutdown` turns true.
pub async fn serve(
    listen: Listen,
    kv: KvOps,
    sources: super::monitoring::Sources,
    parts: ConsoleParts,
    shutdown: watch::Receiver<bool>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let Listen {
        addr: listen,
        socket,
        token,
        token_dir,
    } = listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Error::Config(format!("admin API cannot listen on {listen}: {e}")))?;
    let listen = listener
        .local_addr()
        .map_err(|e| Error::Config(format!("admin API address: {e}")))?;
    // Without the socket (a path too long for one, a filesystem without them) the CLI uses TCP.
    let unix = socket.as_deref().and_then(|path| {
        bind_socket(path)
            .inspect_err(|e| tracing::warn!("admin API socket not available: {e}"))
            .ok()
    });
    let token = Arc::new(parking_lot::RwLock::new(token));
    let kv = Arc::new(kv);
    let sessions = Arc::new(crate::control::console::sessions::Sessions::default());
    let quarantine = Arc::new(super::quarantine_ops::QuarantineOps::new(
        sources.db.clone(),
        parts.pg.clone(),
    ));
    let console = crate::control::console::Console {
        token: token.clone(),
        sessions: sessions.clone(),
        registry: sources.registry.clone(),
        db: sources.db.clone(),
        kv: kv.clone(),
        quarantine: quarantine.clone(),
        outbox: sources.outbox.clone(),
        intake: parts.intake.clone(),
        config: parts.config,
        bot: parts.bot,
        history: crate::control::console::history::History::start(
            &sources.committer,
            sources.registry.clone(),
            sources.outbox.clone(),
        ),
        started: parts.started,
        health: sources.health.clone(),
    };
    let ctx = Arc::new(Ctx {
        token,
        token_dir,
        kv,
        registry: sources.registry.clone(),
        db: sources.db.clone(),
        quarantine,
        outbox: sources.outbox.clone(),
        intake: parts.intake,
        sessions,
        pg: parts.pg,
    });
    let monitoring = super::monitoring::routes(sources);
    let app = Router::new()
        .route(
            "/v1/kv/{module}/keys/{key}",
            get(kv_get).put(kv_put).delete(kv_delete),
        )
        .route("/v1/kv/{module}/scan", get(kv_scan))
        .route("/v1/kv/{module}/export", get(kv_export))
        .route("/v1/kv/{module}/import", post(kv_import))
        .route("/v1/backup", post(backup))
        .route("/v1/outbox", get(outbox_metrics))
        .route("/v1/admin/token", post(rotate_token))
        .route("/v1/console/link", post(console_link))
        .merge(super::modules_api::routes())
        .layer(DefaultBodyLimit::max(256 << 20))
        .layer(middleware::from_fn_with_state(ctx.clone(), auth))
        .with_state(ctx.clone())
        .merge(monitoring)
        .merge(Router::new().route("/v1/hello", get(hello)).with_state(ctx))
        .merge(crate::control::console::routes(Arc::new(console)));
    tracing::info!(%listen, socket = ?socket, "admin API listening");
    let tcp =
        crate::intake::listen::serve_until(listener, app.clone(), shutdown.clone(), "admin API");
    let task = match unix {
        Some(unix) => {
            let unix = crate::intake::listen::serve_until(unix, app, shutdown, "admin API socket");
            tokio::spawn(async move {
                let _ = tokio::join!(tcp, unix);
            })
        }
        None => tcp,
    };
    Ok((listen, task))
}

/// Binds the Unix socket at `path` (a stale one left by a crash is replaced), readable and
/// writable by the bot's user only.
fn bind_socket(path: &std::path::Path) -> Result<tokio::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(path, e)),
    }
    let listener = tokio::net::UnixListener::bind(path).map_err(|e| {
        Error::Config(format!(
            "admin API cannot listen on {}: {e}",
            path.display()
        ))
    })?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::io(path, e))?;
    Ok(listener)
}

/// `POST /v1/admin/token`: a new token replaces the old one at once (kept in the data
/// directory, where the CLI reads it); the old one is refused from now on.
async fn rotate_token(State(ctx): State<Arc<Ctx>>) -> Response {
    let Some(dir) = &ctx.token_dir else {
        return (
            StatusCode::CONFLICT,
            Json(serde_json::json!({ "error": "the admin token is set in the configuration (admin.token or BOTBOX_ADMIN_TOKEN): change it there and restart the bot" })),
        )
            .into_response();
    };
    // Held across the write, so no request is checked against a token half replaced.
    let mut token = ctx.token.write();
    match super::rotate_token(dir) {
        Ok(new) => {
            *token = new;
            ctx.sessions.end_all();
            tracing::info!("admin token rotated; console sessions ended");
            Json(serde_json::json!({ "rotated": true })).into_response()
        }
        Err(e) => fail(e),
    }
}

/// `POST /v1/console/link`: a one-time login code for the console (`botbox console` prints
/// the link).
async fn console_link(State(ctx): State<Arc<Ctx>>) -> Response {
    let code = ctx.sessions.new_code();
    Json(serde_json::json!({
        "path": format!("/console/login?code={code}"),
        "valid_secs": crate::control::console::sessions::CODE_TTL.as_secs(),
    }))
    .into_response()
}

#[derive(Deserialize)]
struct Hello {
    nonce: String,
}

/// `GET /v1/hello?nonce=...`, without the token: proves this is the bot that holds it (see
/// [`super::proof`]).
async fn hello(State(ctx): State<Arc<Ctx>>, Query(q): Query<Hello>) -> Response {
    if q.nonce.len() < 16 || q.nonce.len() > 128 {
        return (StatusCode::BAD_REQUEST, "nonce: 16 to 128 characters").into_response();
    }
    let proof = super::proof(&ctx.token.read(), &q.nonce);
    Json(serde_json::json!({ "proof": proof })).into_response()
}

async fn auth(State(ctx): State<Arc<Ctx>>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let expected = ctx.token.read().clone();
    if !crate::control::console::sessions::same_secret(given, &expected) {
        return (StatusCode::UNAUTHORIZED, "missing or wrong admin token\n").into_response();
    }
    next.run(req).await
}

fn fail(e: Error) -> Response {
    let status = match &e {
        Error::Config(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, format!("{e}\n")).into_response()
}

fn unhex(s: &str) -> std::result::Result<Vec<u8>, Box<Response>> {
    hex::decode(s)
        .map_err(|_| Box::new((StatusCode::BAD_REQUEST, "keys are hex-encoded\n").into_response()))
}

async fn kv_get(
    State(ctx): State<Arc<Ctx>>,
    Path((module, key)): Path<(String, String)>,
) -> Response {
    let key = match unhex(&key) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    match ctx.kv.get(&module, &key).await {
        Ok(Some(v)) => v.into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "no such key\n").into_response(),
        Err(e) => fail(e),
    }
}

async fn kv_put(
    State(ctx): State<Arc<Ctx>>,
    Path((module, key)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let key = match unhex(&key) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    match ctx
        .kv
        .write(&module, vec![(key, Some(body.to_vec()))])
        .await
    {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => fail(e),
    }
}

async fn kv_delete(
    State(ctx): State<Arc<Ctx>>,
    Path((module, key)): Path<(String, String)>,
) -> Response {
    let key = match unhex(&key) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    match ctx.kv.write(&module, vec![(key, None)]).await {
        Ok(existed) => Json(serde_json::json!({ "existed": existed[0] })).into_response(),
        Err(e) => fail(e),
    }
}

#[derive(Deserialize)]
struct ScanQuery {
    #[serde(default)]
    prefix: String,
    after: Option<String>,
    limit: Option<u32>,
}

async fn kv_scan(
    State(ctx): State<Arc<Ctx>>,
    Path(module): Path<String>,
    Query(q): Query<ScanQuery>,
) -> Response {
    let prefix = match unhex(&q.prefix) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let after = match q.after.as_deref().map(unhex).transpose() {
        Ok(a) => a,
        Err(r) => return *r,
    };
    match (ctx.kv)
        .scan(&module, &prefix, after.as_deref(), q.limit.unwrap_or(100))
        .await
    {
        Ok((entries, next)) => Json(serde_json::json!({
            "entries": entries
                .iter()
                .map(|(k, v)| serde_json::json!({ "key_hex": hex::encode(k), "value_hex": hex::encode(v) }))
                .collect::<Vec<_>>(),
            "next_hex": next.map(hex::encode),
        }))
        .into_response(),
        Err(e) => fail(e),
    }
}

async fn kv_export(State(ctx): State<Arc<Ctx>>, Path(module): Path<String>) -> Response {
    match ctx.kv.export_lines(&module).await {
        Ok(out) => ([(header::CONTENT_TYPE, "application/x-ndjson")], out).into_response(),
        Err(e) => fail(e),
    }
}

async fn kv_import(
    State(ctx): State<Arc<Ctx>>,
    Path(module): Path<String>,
    body: String,
) -> Response {
    let writes = match parse_lines(&body) {
        Ok(w) => w,
        Err(e) => return fail(e),
    };
    let n = writes.len();
    match ctx.kv.write(&module, writes).await {
        Ok(_) => Json(serde_json::json!({ "imported": n })).into_response(),
        Err(e) => fail(e),
    }
}

/// Parses JSON lines into writes; an error names the line.
pub fn parse_lines(text: &str) -> Result<Vec<crate::store::kv::Write>> {
    let mut writes = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let parsed: Line = serde_json::from_str(line)
            .map_err(|e| Error::Config(format!("line {}: {e}", i + 1)))?;
        let (k, v) = parsed
            .entry()
            .map_err(|e| Error::Config(format!("line {}: {e}", i + 1)))?;
        writes.push((k, Some(v)));
    }
    Ok(writes)
}

async fn backup(State(ctx): State<Arc<Ctx>>) -> Response {
    let source = match crate::backup::source::Source::of(&ctx.db, ctx.pg.as_deref()).await {
        Ok(source) => source,
        Err(e) => return fail(e),
    };
    let result = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        crate::backup::write_snapshot(source.raw(), &mut out).map(|_| out)
    })
    .await;
    match result {
        Ok(Ok(bytes)) => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
        }
        Ok(Err(e)) => fail(e),
        Err(e) => fail(Error::Join(e.to_string())),
    }
}

async fn outbox_metrics(State(ctx): State<Arc<Ctx>>) -> Response {
    Json(ctx.outbox.metrics()).into_response()
}
