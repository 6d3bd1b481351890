//! The admin API's module routes (see the parent module for the table).

use std::sync::Arc;

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use serde::Deserialize;

use super::server::Ctx;
use crate::{Error, modules::registry::Expect};

/// The routes under `/v1/modules` and `/v1/quarantine`.
pub(super) fn routes() -> Router<Arc<Ctx>> {
    Router::new()
        .route("/v1/modules", get(list).post(add))
        .route("/v1/modules/{name}", get(one).put(swap).delete(remove))
        .route("/v1/modules/{name}/rollback", post(rollback))
        .route("/v1/modules/{name}/approve", post(approve))
        .route("/v1/modules/{name}/enable", post(enable))
        .route("/v1/modules/{name}/disable", post(disable))
        .route("/v1/modules/{name}/config", put(config))
        .route("/v1/modules/{name}/logs", get(logs))
        .route("/v1/quarantine", get(quarantine))
        .route(
            "/v1/quarantine/{module}/{update}",
            get(quarantined).delete(drop_quarantined),
        )
        .route("/v1/quarantine/{module}/{update}/retry", post(retry))
}

/// An error as JSON: `{"error": "..."}` with a status that says what kind; a version awaiting
/// approval also says what it asks for (`awaiting_approval`).
fn fail(e: Error) -> Response {
    if let Some(awaiting) = crate::modules::registry::Awaiting::of(&e) {
        let body = serde_json::json!({ "error": e.to_string(), "awaiting_approval": awaiting });
        return (StatusCode::CONFLICT, Json(body)).into_response();
    }
    let status = match &e {
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::Module { .. } | Error::Config(_) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, Json(serde_json::json!({ "error": e.to_string() }))).into_response()
}

fn reply<T: serde::Serialize>(r: crate::Result<T>) -> Response {
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => fail(e),
    }
}

async fn list(State(ctx): State<Arc<Ctx>>) -> Response {
    Json(ctx.registry.list()).into_response()
}

async fn one(State(ctx): State<Arc<Ctx>>, Path(name): Path<String>) -> Response {
    reply(ctx.registry.info(&name))
}

/// `?approve=true`: the operator approves what the version asks for beyond the one it
/// replaces (the CLI sends it after showing the changes, or with `--approve`).
#[derive(Deserialize, Default)]
struct InstallQuery {
    #[serde(default)]
    approve: bool,
}

async fn add(State(ctx): State<Arc<Ctx>>, Query(q): Query<InstallQuery>, body: Bytes) -> Response {
    reply(
        ctx.registry
            .install_expecting(&body, Expect::New, q.approve)
            .await,
    )
}

async fn swap(
    State(ctx): State<Arc<Ctx>>,
    Path(name): Path<String>,
    Query(q): Query<InstallQuery>,
    body: Bytes,
) -> Response {
    reply(
        ctx.registry
            .install_expecting(&body, Expect::Swap(&name), q.approve)
            .await,
    )
}

async fn approve(State(ctx): State<Arc<Ctx>>, Path(name): Path<String>) -> Response {
    reply(ctx.registry.approve(&name).await)
}

async fn remove(State(ctx): State<Arc<Ctx>>, Path(name): Path<String>) -> Response {
    reply(
        ctx.registry
            .remove(&name, false)
            .await
            .map(|()| serde_json::json!({ "removed": name })),
    )
}

async fn rollback(State(ctx): State<Arc<Ctx>>, Path(name): Path<String>) -> Response {
    reply(ctx.registry.rollback(&name).await)
}

async fn enable(State(ctx): State<Arc<Ctx>>, Path(name): Path<String>) -> Response {
    reply(ctx.registry.enable(&name).await)
}

async fn disable(State(ctx): State<Arc<Ctx>>, Path(name): Path<String>) -> Response {
    reply(
        ctx.registry
            .disable(&name, "disabled by the operator")
            .await
            .map(|()| serde_json::json!({ "disabled": name })),
    )
}

async fn config(
    State(ctx): State<Arc<Ctx>>,
    Path(name): Path<String>,
    Json(value): Json<serde_json::Value>,
) -> Response {
    let table = match config_table(&value) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    reply(ctx.registry.set_config(&name, table).await)
}

/// A module's configuration from the JSON object an operator sent (the API and the console).
pub(crate) fn config_table(value: &serde_json::Value) -> Result<toml::Table, Error> {
    toml::Table::try_from(value).map_err(|e| {
        Error::Config(format!(
            "the configuration must be a JSON object of strings, numbers and booleans: {e}"
        ))
    })
}

#[derive(Deserialize)]
struct LogsQuery {
    lines: Option<usize>,
}

async fn logs(
    State(ctx): State<Arc<Ctx>>,
    Path(name): Path<String>,
    Query(q): Query<LogsQuery>,
) -> Response {
    reply(ctx.registry.logs(&name, q.lines.unwrap_or(50)))
}

async fn quarantine(State(ctx): State<Arc<Ctx>>) -> Response {
    reply(ctx.quarantine.list().await.map(|rows| {
        rows.into_iter()
            .map(|(module, update_id, reason)| {
                serde_json::json!({ "module": module, "update_id": update_id, "reason": reason })
            })
            .collect::<Vec<_>>()
    }))
}

async fn quarantined(
    State(ctx): State<Arc<Ctx>>,
    Path((module, update)): Path<(String, u64)>,
) -> Response {
    match ctx.quarantine.show(&module, update).await {
        Ok(Some(q)) => Json(q).into_response(),
        Ok(None) => fail(Error::NotFound(format!(
            "update {update} of `{module}` is not quarantined"
        ))),
        Err(e) => fail(e),
    }
}

async fn retry(
    State(ctx): State<Arc<Ctx>>,
    Path((module, update)): Path<(String, u64)>,
) -> Response {
    reply(
        ctx.intake
            .retry_quarantined(&module, update)
            .await
            .map(|()| serde_json::json!({ "retried": true })),
    )
}

async fn drop_quarantined(
    State(ctx): State<Arc<Ctx>>,
    Path((module, update)): Path<(String, u64)>,
) -> Response {
    let done = ctx.quarantine.forget(&module, update).await;
    reply(done.map(|()| serde_json::json!({ "dropped": true })))
}
