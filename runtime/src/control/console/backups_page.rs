//! Backups and timers: the snapshots in the backup directory (download), one made now (sent to
//! the operators' chat if asked, as the scheduled ones are), and the timers coming due.

use std::{path::PathBuf, sync::Arc};

use axum::{
    Extension, Form, Router,
    extract::{Path, Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use maud::html;
use serde::Deserialize;

use super::{
    Console, SessionOf,
    layout::Notice,
    layout::{Frame, back, csrf_field, duration, page, utc},
};
use crate::{Config, Error};

/// Timers listed.
const TIMERS: usize = 20;

pub(super) fn routes() -> Router<Arc<Console>> {
    Router::new()
        .route("/console/backups", get(show).post(make))
        .route("/console/backups/file/{name}", get(download))
}

/// Why the backups need a look: scheduled ones are on and the newest is more than two
/// intervals old.
pub(super) fn overdue(config: &Config, up_secs: u64) -> Option<String> {
    let every = config.backup.interval_secs;
    if every == 0 {
        return None;
    }
    let now = crate::clock::unix_secs();
    let newest = crate::backup::backups_in(&config.backup_dir())
        .ok()
        .and_then(|b| b.last().map(|(t, _)| *t));
    match newest {
        Some(t) if now.saturating_sub(t) > 2 * every => Some(format!(
            "The newest backup is {} old, though one is made every {}: the scheduled backups may be failing (see the log)",
            duration(now - t),
            duration(every)
        )),
        None if up_secs > 2 * every => Some(format!(
            "No backup was written yet, though one is made every {}",
            duration(every)
        )),
        _ => None,
    }
}

async fn show(
    State(c): State<Arc<Console>>,
    Extension(s): Extension<SessionOf>,
    Query(n): Query<Notice>,
) -> Response {
    let dir = c.config.backup_dir();
    let files: Vec<(u64, PathBuf, u64)> = crate::backup::backups_in(&dir)
        .unwrap_or_default()
        .into_iter()
        .rev()
        .map(|(t, p)| {
            let size = std::fs::metadata(&p).map_or(0, |m| m.len());
            (t, p, size)
        })
        .collect();
    let db = c.db.clone();
    let (timers, pending) = match tokio::task::spawn_blocking(move || db.next_timers(TIMERS)).await
    {
        Ok(Ok(t)) => t,
        _ => (Vec::new(), 0),
    };
    let can_send = c.config.backup.telegram_chat_id.is_some();
    let now_ms = crate::clock::unix_ms();
    let body = html! {
        section aria-labelledby="now" {
            h2 id="now" { "Make a backup now" }
            form method="post" action="/console/backups" {
                (csrf_field(&s.csrf))
                @if can_send {
                    label.check { input type="checkbox" name="send" value="1"; " also send it to the operators' chat" }
                }
                button type="submit" id="make-backup" { "Back up now" }
            }
            p.hint { "Backups go to " code { (dir.display()) } "; the newest " (c.config.backup.keep) " are kept."
                @if c.config.backup.interval_secs > 0 { " One is made every " (duration(c.config.backup.interval_secs)) "." } }
        }
        section aria-labelledby="files" {
            h2 id="files" { "Backups" }
            div.scroll {
                table id="backups" {
                    thead { tr { th { "Made" } th { "Size" } th { span.sr { "Download" } } } }
                    tbody {
                        @for (t, p, size) in &files {
                            @let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                            tr { td { (utc(*t)) } td { (format!("{:.1} MB", *size as f64 / 1e6)) }
                                 td { a href=(format!("/console/backups/file/{name}")) download=(name) { "Download" } } }
                        }
                        @if files.is_empty() { tr { td colspan="3" { "None yet." } } }
                    }
                }
            }
        }
        section aria-labelledby="timers" {
            h2 id="timers" { "Timers due next" }
            p { (pending) " pending." }
            div.scroll {
                table id="timers-due" {
                    thead { tr { th { "Due" } th { "Module" } th { "Chat" } } }
                    tbody {
                        @for t in &timers {
                            tr { td { (utc(t.due_ms / 1000)) " (in " (duration(t.due_ms.saturating_sub(now_ms) / 1000)) ")" }
                                 td { (t.module) } td { (t.chat_id.map(|c| c.to_string()).unwrap_or_default()) } }
                        }
                    }
                }
            }
        }
    };
    page(&Frame::of("Backups", &s.csrf, &n), body)
}

#[derive(Deserialize)]
struct Make {
    send: Option<String>,
}

/// `POST /console/backups`: a snapshot now, kept like a scheduled one.
async fn make(State(c): State<Arc<Console>>, Form(f): Form<Make>) -> Response {
    let Some(seal) = crate::backup::schedule::seal(&c.config) else {
        return back(
            "/console/backups",
            Err("backups cannot be sealed as configured (see the log)".into()),
        );
    };
    let (db, dir, keep) = (c.db.clone(), c.config.backup_dir(), c.config.backup.keep);
    let written = tokio::task::spawn_blocking(move || {
        let written = crate::backup::write_backup_file(db.raw(), &dir, &seal)?;
        crate::backup::prune_backups(&dir, keep)?;
        Ok::<_, Error>(written)
    })
    .await
    .map_err(|e| Error::Join(e.to_string()))
    .and_then(|r| r);
    let (path, info) = match written {
        Ok(w) => w,
        Err(e) => return back("/console/backups", Err(format!("the backup failed: {e}"))),
    };
    let mut notice = format!(
        "backup written: {} ({} records)",
        path.display(),
        info.records
    );
    if f.send.is_some()
        && let Some(chat) = c.config.backup.telegram_chat_id
    {
        match crate::backup::schedule::send_file_to_telegram(&c.bot, &c.config, chat, &path, &info)
            .await
        {
            Ok(()) => notice.push_str(", and sent to the operators' chat"),
            Err(e) => {
                return back(
                    "/console/backups",
                    Err(format!("{notice}, but not sent to Telegram: {e}")),
                );
            }
        }
    }
    back("/console/backups", Ok(notice))
}

/// `GET /console/backups/file/{name}`: only files named as backups are, in the backup directory.
async fn download(State(c): State<Arc<Console>>, Path(name): Path<String>) -> Response {
    let dir = c.config.backup_dir();
    let known = crate::backup::backups_in(&dir)
        .unwrap_or_default()
        .into_iter()
        .find(|(_, p)| p.file_name().and_then(|n| n.to_str()) == Some(name.as_str()));
    let Some((_, path)) = known else {
        return (StatusCode::NOT_FOUND, "no such backup\n").into_response();
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}
