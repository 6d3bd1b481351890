//! Modules: the list with their figures, a drop zone that adds or swaps a module from a
//! `.wasm` file, and one page per module (capabilities, rollback, enable, disable, approve,
//! remove, configuration, live log). Changes call the registry as the admin API does.

use std::{convert::Infallible, sync::Arc, time::Duration};

use axum::{
    Extension, Form, Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, Query, State},
    http::StatusCode,
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::{get, post},
};
use maud::html;
use serde::Deserialize;

use super::{
    Console, SessionOf,
    layout::Notice,
    layout::{Frame, back, csrf_field, page, post_button},
};
use crate::modules::registry::{Awaiting, Expect};

pub(super) fn routes() -> Router<Arc<Console>> {
    Router::new()
        .route("/console/modules", get(list).post(upload))
        .route("/console/modules/{name}", get(one))
        .route("/console/modules/{name}/config", post(config))
        .route("/console/modules/{name}/log", get(log_events))
        .route("/console/modules/{name}/{action}", post(act))
        .layer(DefaultBodyLimit::max(256 << 20))
}

async fn list(
    State(c): State<Arc<Console>>,
    Extension(s): Extension<SessionOf>,
    Query(n): Query<Notice>,
) -> Response {
    let modules = c.registry.list();
    let body = html! {
        section aria-labelledby="add" {
            h2 id="add" { "Add or swap a module" }
            div.drop id="drop" tabindex="0" role="button" aria-describedby="drop-help" {
                p { "Drop a " code { ".wasm" } " file here, or choose one:" }
                label for="wasm" { "Module file" }
                input id="wasm" type="file" accept=".wasm,application/wasm";
                p.hint id="drop-help" { "A module of a new name is added; one of a running module's name replaces it while chats go on. A version asking for more than the running one waits for your approval." }
            }
            p id="upload-result" role="status" aria-live="polite" {}
        }
        section aria-labelledby="running" {
            h2 id="running" { "Modules" }
            div.scroll {
                table id="modules" {
                    thead { tr { th { "Module" } th { "Version" } th { "State" } th { "Calls" } th { "Errors" } th { "p99" } th { "Hash" } } }
                    tbody {
                        @for m in &modules {
                            tr data-module=(m.name) {
                                td { a href=(format!("/console/modules/{}", m.name)) { (m.name) } }
                                td.version { (m.version) }
                                td { span class=(format!("state {}", m.state.as_str())) { (m.state.as_str()) }
                                     @if m.awaiting_approval.is_some() { " · " strong { "awaits approval" } } }
                                td { (m.calls) }
                                td { (m.errors + m.traps) }
                                td { (m.latency_p99_us.map(|us| format!("{:.1} ms", f64::from(us) / 1000.0)).unwrap_or_else(|| "—".into())) }
                                td { code { (m.hash.get(..12).unwrap_or(&m.hash)) } }
                            }
                        }
                    }
                }
            }
        }
    };
    page(&Frame::of("Modules", &s.csrf, &n), body)
}

async fn one(
    State(c): State<Arc<Console>>,
    Extension(s): Extension<SessionOf>,
    Path(name): Path<String>,
    Query(n): Query<Notice>,
) -> Response {
    let m = match c.registry.info(&name) {
        Ok(m) => m,
        Err(e) => return back("/console/modules", Err(e.to_string())),
    };
    let base = format!("/console/modules/{}", m.name);
    let caps = m
        .capabilities
        .as_ref()
        .and_then(|c| serde_json::to_string_pretty(c).ok())
        .unwrap_or_else(|| "none".into());
    let current_config = c
        .registry
        .config_of(&m.name)
        .or_else(|| c.config.modules.get(&m.name).map(|s| s.config.clone()))
        .map(|t| serde_json::to_string_pretty(&t).unwrap_or_default())
        .unwrap_or_else(|| "{}".into());
    let body = html! {
        dl.facts {
            div { dt { "Version" } dd id="version" { (m.version) } }
            div { dt { "State" } dd id="state" { (m.state.as_str()) @if let Some(w) = &m.disabled_reason { " — " (w) } } }
            div { dt { "Hash" } dd { code { (m.hash) } } }
            div { dt { "Calls / errors / traps" } dd { (m.calls) " / " (m.errors) " / " (m.traps) } }
            div { dt { "Handling p50 / p99" } dd { (fmt_us(m.latency_p50_us)) " / " (fmt_us(m.latency_p99_us)) } }
            div { dt { "Quarantined" } dd { (m.quarantined) } }
            div { dt { "Commands" } dd { (m.commands.join(", ")) } }
        }
        @if let Some(a) = &m.awaiting_approval {
            section.warn aria-labelledby="approval" {
                h2 id="approval" { "Version " (a.version) " awaits approval" }
                ul { @for line in a.changes.lines() { li { (line) } } }
                (post_button(&s.csrf, &format!("{base}/approve"), "Approve and swap", None))
            }
        }
        section.actions aria-label="Actions" {
            @if m.previous.is_some() { (post_button(&s.csrf, &format!("{base}/rollback"), "Roll back", Some("Go back to the previous version?"))) }
            @if m.state.as_str() == "running" {
                (post_button(&s.csrf, &format!("{base}/disable"), "Disable", Some("Stop routing updates to this module?")))
            } @else {
                (post_button(&s.csrf, &format!("{base}/enable"), "Enable", None))
            }
            (post_button(&s.csrf, &format!("{base}/remove"), "Remove", Some("Remove this module? Its data stays.")))
            a.button href=(format!("/console/data/{}", m.name)) { "Its data" }
        }
        section aria-labelledby="caps" {
            h2 id="caps" { "Capabilities granted" }
            pre { (caps) }
        }
        section aria-labelledby="cfg" {
            h2 id="cfg" { "Configuration" }
            form method="post" action=(format!("{base}/config")) {
                (csrf_field(&s.csrf))
                label for="config" { "Settings (a JSON object); the module restarts with them" }
                textarea id="config" name="config" rows="6" spellcheck="false" { (current_config) }
                button type="submit" { "Save and restart" }
            }
        }
        section aria-labelledby="log" {
            h2 id="log" { "Live log" }
            ol.log id="live-log" data-source=(format!("{base}/log")) aria-live="polite" {}
        }
    };
    page(&Frame::of("Modules", &s.csrf, &n), body)
}

fn fmt_us(us: Option<u32>) -> String {
    us.map_or_else(
        || "—".into(),
        |us| format!("{:.2} ms", f64::from(us) / 1000.0),
    )
}

#[derive(Deserialize, Default)]
struct UploadQuery {
    #[serde(default)]
    approve: bool,
}

/// `POST /console/modules`: the body is a component; it is added, or swapped for the running
/// module of its name. Answers JSON for the page's script: `{"notice"}` or `{"error"}`.
async fn upload(
    State(c): State<Arc<Console>>,
    Query(q): Query<UploadQuery>,
    body: Bytes,
) -> Response {
    match c.registry.install_expecting(&body, Expect::Any, q.approve).await {
        Ok(done) => Json(serde_json::json!({
            "notice": format!("{} {} {}", done.name, done.version, serde_json::to_value(done.action).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()),
            "name": done.name,
        }))
        .into_response(),
        Err(e) => {
            let status = if Awaiting::of(&e).is_some() { StatusCode::CONFLICT } else { StatusCode::UNPROCESSABLE_ENTITY };
            (status, Json(serde_json::json!({ "error": e.to_string() }))).into_response()
        }
    }
}

/// `POST /console/modules/{name}/{action}`: rollback, enable, disable, approve, remove.
async fn act(
    State(c): State<Arc<Console>>,
    Path((name, action)): Path<(String, String)>,
) -> Response {
    let r = &c.registry;
    let page = format!("/console/modules/{name}");
    let result = match action.as_str() {
        "rollback" => r
            .rollback(&name)
            .await
            .map(|i| format!("{name} is back to version {}", i.version)),
        "enable" => r.enable(&name).await.map(|_| format!("{name} is enabled")),
        "disable" => r
            .disable(&name, "disabled in the console")
            .await
            .map(|()| format!("{name} is disabled")),
        "approve" => r
            .approve(&name)
            .await
            .map(|i| format!("{name} {} is running", i.version)),
        "remove" => {
            return back(
                "/console/modules",
                r.remove(&name, false)
                    .await
                    .map(|()| format!("{name} was removed (its data stays)"))
                    .map_err(|e| e.to_string()),
            );
        }
        other => return (StatusCode::NOT_FOUND, format!("no action `{other}`\n")).into_response(),
    };
    back(&page, result.map_err(|e| e.to_string()))
}

#[derive(Deserialize)]
struct ConfigForm {
    config: String,
}

/// `POST /console/modules/{name}/config`: a JSON object, as `PUT /v1/modules/{name}/config`.
async fn config(
    State(c): State<Arc<Console>>,
    Path(name): Path<String>,
    Form(f): Form<ConfigForm>,
) -> Response {
    let page = format!("/console/modules/{name}");
    let table = serde_json::from_str::<serde_json::Value>(&f.config)
        .map_err(|e| format!("the configuration is not JSON: {e}"))
        .and_then(|v| {
            crate::control::admin::modules_api::config_table(&v).map_err(|e| e.to_string())
        });
    let result = match table {
        Ok(t) => c
            .registry
            .set_config(&name, t)
            .await
            .map(|_| format!("{name} restarted with its new configuration"))
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    back(&page, result)
}

/// `GET /console/modules/{name}/log`: the module's log as server-sent events, the last lines
/// first, then each new line as it is written.
async fn log_events(State(c): State<Arc<Console>>, Path(name): Path<String>) -> Response {
    if c.registry.logs(&name, 1).is_err() {
        return (StatusCode::NOT_FOUND, "no such module\n").into_response();
    }
    let state = (
        c,
        name,
        None::<(u64, usize)>,
        std::collections::VecDeque::<Event>::new(),
    );
    let stream = futures::stream::unfold(state, |(c, name, mut seen, mut ready)| async move {
        loop {
            if let Some(e) = ready.pop_front() {
                return Some((Ok::<_, Infallible>(e), (c, name, seen, ready)));
            }
            if seen.is_some() {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            let lines = c.registry.logs(&name, 200).ok()?;
            // Lines are told apart by (time, position among the lines of that millisecond).
            let mut same_ms = 0usize;
            let mut last_ms = 0u64;
            for l in lines {
                same_ms = if l.at_ms == last_ms { same_ms + 1 } else { 0 };
                last_ms = l.at_ms;
                if seen.is_none_or(|s| (l.at_ms, same_ms) > s) {
                    let data =
                        serde_json::json!({ "at_ms": l.at_ms, "level": l.level, "text": l.text });
                    ready.push_back(Event::default().data(data.to_string()));
                    seen = Some((l.at_ms, same_ms));
                }
            }
            seen.get_or_insert((0, 0));
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}
