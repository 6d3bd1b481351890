//! Data: each module's KV entries, found by prefix; values shown as JSON (pretty), text, or hex
//! for bytes; edit, delete (after a confirmation), export and import. Reads and writes go
//! through `KvOps`, as `botbox kv` and `/v1/kv/...` do: a write is one durable transaction.

use std::sync::Arc;

use axum::{
    Extension, Form, Json, Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{
    Console, SessionOf,
    layout::{Frame, back, csrf_field, page, urlencode},
};
use crate::control::admin::parse_lines;

/// Entries shown per page.
const PAGE: u32 = 50;

pub(super) fn routes() -> Router<Arc<Console>> {
    Router::new()
        .route("/console/data", get(modules))
        .route("/console/data/{module}", get(browse))
        .route("/console/data/{module}/put", post(put))
        .route("/console/data/{module}/delete", post(delete))
        .route("/console/data/{module}/export", get(export))
        .route("/console/data/{module}/import", post(import))
}

async fn modules(State(c): State<Arc<Console>>, Extension(s): Extension<SessionOf>) -> Response {
    let body = html! {
        p { "Choose a module to see its data." }
        ul.cards {
            @for m in c.registry.list() {
                li { a href=(format!("/console/data/{}", m.name)) { (m.name) } }
            }
        }
    };
    page(&frame(&s, None, None), body)
}

#[derive(Deserialize, Default)]
struct Browse {
    #[serde(default)]
    prefix: String,
    after: Option<String>,
    edit: Option<String>,
    notice: Option<String>,
    error: Option<String>,
}

async fn browse(
    State(c): State<Arc<Console>>,
    Extension(s): Extension<SessionOf>,
    Path(module): Path<String>,
    Query(q): Query<Browse>,
) -> Response {
    let after = q.after.as_deref().and_then(|a| hex::decode(a).ok());
    let base = format!("/console/data/{module}");
    let (entries, next) = match c
        .kv
        .scan(&module, q.prefix.as_bytes(), after.as_deref(), PAGE)
        .await
    {
        Ok(p) => p,
        Err(e) => return back("/console/data", Err(e.to_string())),
    };
    let editing = q.edit.as_deref().and_then(|k| hex::decode(k).ok());
    let edit_value = match editing.as_deref() {
        Some(k) => c.kv.get(&module, k).await.ok().flatten(),
        None => None,
    };
    let body = html! {
        form.search method="get" action=(base) role="search" {
            label for="prefix" { "Keys starting with" }
            input id="prefix" name="prefix" value=(q.prefix) placeholder="e.g. user:";
            button type="submit" { "Find" }
        }
        div.scroll {
            table id="entries" {
                thead { tr { th { "Key" } th { "Value" } th { span.sr { "Actions" } } } }
                tbody {
                    @for (k, v) in &entries {
                        tr data-key=(hex::encode(k)) {
                            td { (shown_key(k)) }
                            td { (shown_value(v)) }
                            td.actions {
                                a href=(format!("{base}?prefix={}&edit={}", urlencode(&q.prefix), hex::encode(k))) { "Edit" }
                                (post_button_with_key(&s.csrf, &format!("{base}/delete"), k))
                            }
                        }
                    }
                    @if entries.is_empty() { tr { td colspan="3" { "No entries." } } }
                }
            }
        }
        @if let Some(n) = next {
            p { a href=(format!("{base}?prefix={}&after={}", urlencode(&q.prefix), hex::encode(n))) { "Next page" } }
        }
        section aria-labelledby="edit" {
            h2 id="edit" { @if editing.is_some() { "Edit an entry" } @else { "Add an entry" } }
            form method="post" action=(format!("{base}/put")) {
                (csrf_field(&s.csrf))
                @if let Some(k) = &editing {
                    input type="hidden" name="key_hex" value=(hex::encode(k));
                    p { "Key " (shown_key(k)) }
                } @else {
                    label for="key" { "Key (text)" }
                    input id="key" name="key" required;
                }
                label for="value" { "Value (text or JSON; bytes as hex with the box below ticked)" }
                textarea id="value" name="value" rows="6" spellcheck="false" {
                    @if let Some(v) = &edit_value { (editable(v)) }
                }
                label.check { input type="checkbox" name="hex" value="1" checked[edit_value.as_deref().is_some_and(|v| std::str::from_utf8(v).is_err())]; " the value is hex" }
                button type="submit" id="save" { "Save" }
            }
        }
        section aria-labelledby="move" {
            h2 id="move" { "Export and import" }
            p { a.button href=(format!("{base}/export")) download=(format!("{module}.jsonl")) { "Export all (JSON lines)" } }
            label for="import" { "Import JSON lines (as exported; applied at once, atomically)" }
            input id="import" type="file" accept=".jsonl,.json,application/x-ndjson" data-import=(format!("{base}/import"));
            p id="import-result" role="status" aria-live="polite" {}
        }
    };
    page(&frame(&s, q.notice.as_deref(), q.error.as_deref()), body)
}

fn frame<'a>(s: &'a SessionOf, notice: Option<&'a str>, error: Option<&'a str>) -> Frame<'a> {
    Frame {
        page: "Data",
        csrf: &s.csrf,
        notice,
        error,
    }
}

fn post_button_with_key(csrf: &str, action: &str, key: &[u8]) -> Markup {
    html! {
        form.inline method="post" action=(action) data-confirm="Delete this entry? The module will no longer see it." {
            (csrf_field(csrf))
            input type="hidden" name="key_hex" value=(hex::encode(key));
            button type="submit" aria-label=(format!("Delete {}", String::from_utf8_lossy(key))) { "Delete" }
        }
    }
}

/// A key as text when it is printable UTF-8, else as hex.
fn shown_key(k: &[u8]) -> Markup {
    match std::str::from_utf8(k) {
        Ok(t) if !t.chars().any(char::is_control) => html! { code { (t) } },
        _ => html! { code.hex title="bytes, in hex" { "0x" (hex::encode(k)) } },
    }
}

/// A value as pretty JSON, text, or hex.
fn shown_value(v: &[u8]) -> Markup {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(v) {
        return html! { pre.json { (serde_json::to_string_pretty(&json).unwrap_or_default()) } };
    }
    match std::str::from_utf8(v) {
        Ok(t) => html! { pre { (t) } },
        Err(_) => html! { pre.hex title="bytes, in hex" { (hex::encode(v)) } },
    }
}

/// A value as its edit box shows it: text when it is UTF-8, else hex.
fn editable(v: &[u8]) -> String {
    std::str::from_utf8(v).map_or_else(|_| hex::encode(v), str::to_string)
}

#[derive(Deserialize)]
struct Put {
    key: Option<String>,
    key_hex: Option<String>,
    value: String,
    hex: Option<String>,
}

async fn put(
    State(c): State<Arc<Console>>,
    Path(module): Path<String>,
    Form(f): Form<Put>,
) -> Response {
    let base = format!("/console/data/{module}");
    let key = match (&f.key_hex, &f.key) {
        (Some(h), _) if !h.is_empty() => {
            hex::decode(h).map_err(|_| "the key is not hex".to_string())
        }
        (_, Some(k)) if !k.is_empty() => Ok(k.as_bytes().to_vec()),
        _ => Err("a key is needed".to_string()),
    };
    let value = if f.hex.is_some() {
        hex::decode(f.value.trim())
            .map_err(|_| "the value is not hex (untick the box for text)".to_string())
    } else {
        Ok(f.value.replace("\r\n", "\n").into_bytes())
    };
    let result = match (key, value) {
        (Ok(k), Ok(v)) => {
            c.kv.write(&module, vec![(k, Some(v))])
                .await
                .map(|_| "saved".to_string())
                .map_err(|e| e.to_string())
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    back(&base, result)
}

#[derive(Deserialize)]
struct Delete {
    key_hex: String,
}

async fn delete(
    State(c): State<Arc<Console>>,
    Path(module): Path<String>,
    Form(f): Form<Delete>,
) -> Response {
    let base = format!("/console/data/{module}");
    let result = match hex::decode(&f.key_hex) {
        Ok(k) => {
            c.kv.write(&module, vec![(k, None)])
                .await
                .map(|e| {
                    if e[0] {
                        "deleted".to_string()
                    } else {
                        "it was already gone".to_string()
                    }
                })
                .map_err(|e| e.to_string())
        }
        Err(_) => Err("the key is not hex".into()),
    };
    back(&base, result)
}

async fn export(State(c): State<Arc<Console>>, Path(module): Path<String>) -> Response {
    match c.kv.export_lines(&module).await {
        Ok(out) => {
            let disposition = format!("attachment; filename=\"{module}.jsonl\"");
            (
                [
                    (header::CONTENT_TYPE, "application/x-ndjson".to_string()),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                out,
            )
                .into_response()
        }
        Err(e) => (StatusCode::NOT_FOUND, e.to_string()).into_response(),
    }
}

async fn import(
    State(c): State<Arc<Console>>,
    Path(module): Path<String>,
    body: Bytes,
) -> Response {
    let text = String::from_utf8_lossy(&body);
    let result = match parse_lines(&text) {
        Ok(writes) => {
            let n = writes.len();
            c.kv.write(&module, writes).await.map(|_| n)
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(n) => {
            Json(serde_json::json!({ "notice": format!("{n} entries imported") })).into_response()
        }
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}
