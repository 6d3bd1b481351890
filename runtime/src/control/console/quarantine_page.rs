//! Quarantine: updates a module was given up on, each with its JSON and the error; retry hands
//! it back to its module, drop forgets it (the same code as `/v1/quarantine/...`).

use std::sync::Arc;

use axum::{
    Extension, Router,
    extract::{Path, Query, State},
    response::Response,
    routing::{get, post},
};
use maud::html;

use super::{
    Console, SessionOf,
    layout::Notice,
    layout::{Frame, back, page, post_button},
};

pub(super) fn routes() -> Router<Arc<Console>> {
    Router::new()
        .route("/console/quarantine", get(show))
        .route("/console/quarantine/{module}/{update}/retry", post(retry))
        .route("/console/quarantine/{module}/{update}/drop", post(drop_it))
}

async fn show(
    State(c): State<Arc<Console>>,
    Extension(s): Extension<SessionOf>,
    Query(n): Query<Notice>,
) -> Response {
    let rows = match c.quarantine.list_with_updates().await {
        Ok(r) => r,
        Err(e) => return back("/console", Err(e.to_string())),
    };
    let body = html! {
        @if rows.is_empty() { p id="none" { "Nothing is quarantined." } }
        ul.quarantine id="quarantined" {
            @for q in &rows {
                @let base = format!("/console/quarantine/{}/{}", q.module, q.update_id);
                li data-update=(q.update_id) data-module=(q.module) {
                    h2 { (q.module) ", update " (q.update_id) }
                    p.error-text { (q.reason) }
                    details {
                        summary { "The update" }
                        pre.json { (q.update.as_deref().map(pretty).unwrap_or_else(|| "(not kept: quarantined by an older version)".into())) }
                    }
                    div.actions {
                        @if q.update.is_some() {
                            (post_button(&s.csrf, &format!("{base}/retry"), "Retry", None))
                        }
                        (post_button(&s.csrf, &format!("{base}/drop"), "Drop", Some("Forget this update for good?")))
                    }
                }
            }
        }
    };
    page(&Frame::of("Quarantine", &s.csrf, &n), body)
}

fn pretty(raw: &str) -> String {
    serde_json::from_str::<serde_json::Value>(raw)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| raw.to_string())
}

async fn retry(
    State(c): State<Arc<Console>>,
    Path((module, update)): Path<(String, u64)>,
) -> Response {
    let result = c
        .intake
        .retry_quarantined(&module, update)
        .await
        .map(|()| format!("update {update} was handed back to {module}"))
        .map_err(|e| e.to_string());
    back("/console/quarantine", result)
}

async fn drop_it(
    State(c): State<Arc<Console>>,
    Path((module, update)): Path<(String, u64)>,
) -> Response {
    let result = (c.quarantine.forget(&module, update).await)
        .map(|()| format!("update {update} of {module} was dropped"))
        .map_err(|e| e.to_string());
    back("/console/quarantine", result)
}
