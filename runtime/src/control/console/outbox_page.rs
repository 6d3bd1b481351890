//! The outbox: what waits in each priority class, broadcasts with their progress and why chats
//! were given up, and the latest messages Telegram refused with its reason.

use std::sync::Arc;

use axum::{
    Extension, Router,
    extract::{Query, State},
    response::Response,
    routing::get,
};
use maud::html;

use super::{
    Console, SessionOf,
    layout::Notice,
    layout::{Frame, duration, page, utc},
};

/// Broadcasts and give-ups listed.
const LISTED: usize = 20;

pub(super) fn routes() -> Router<Arc<Console>> {
    Router::new().route("/console/outbox", get(show))
}

async fn show(
    State(c): State<Arc<Console>>,
    Extension(s): Extension<SessionOf>,
    Query(n): Query<Notice>,
) -> Response {
    let m = c.outbox.metrics();
    let db = c.db.clone();
    let read = tokio::task::spawn_blocking(move || {
        Ok::<_, crate::Error>((db.broadcasts(LISTED)?, db.failed_tickets(LISTED)?))
    })
    .await;
    let (broadcasts, failed) = match read {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return super::layout::back("/console", Err(e.to_string())),
        Err(e) => return super::layout::back("/console", Err(e.to_string())),
    };
    let limit = c.config.outbox.global_per_second;
    let now = crate::clock::unix_ms();
    let body = html! {
        section aria-labelledby="queued" {
            h2 id="queued" { "Waiting now" }
            dl.facts id="classes" {
                div { dt { "Button answers" } dd { (m.queued_callback) } }
                div { dt { "Interactive" } dd { (m.queued_interactive) } }
                div { dt { "Normal" } dd { (m.queued_normal) } }
                div { dt { "Bulk" } dd { (m.queued_bulk) } }
                div { dt { "Oldest waiting" } dd { (duration(m.oldest_age_ms / 1000)) } }
                div { dt { "Sending" } dd { (format!("{:.1}", m.sent_per_second)) "/s of " (limit) "/s" } }
                div { dt { "Sent / 429s / given up" } dd { (m.sent_total) " / " (m.rate_limited_total) " / " (m.failed_total) } }
            }
        }
        section aria-labelledby="broadcasts" {
            h2 id="broadcasts" { "Broadcasts" }
            @if broadcasts.is_empty() { p { "None recently." } }
            ul.broadcasts id="broadcast-list" {
                @for b in &broadcasts {
                    @let done = b.delivered + b.failed;
                    li {
                        p {
                            strong { (b.record.module) } " to " (b.record.chats) " chats, started "
                            (duration(now.saturating_sub(b.record.started_ms) / 1000)) " ago"
                        }
                        label {
                            span.sr { "Progress of the broadcast of " (b.record.module) }
                            progress max=(b.record.chats) value=(done) { (done) " of " (b.record.chats) }
                        }
                        p.small { (b.delivered) " delivered, " (b.failed) " given up, " (b.waiting()) " waiting" }
                        @if !b.reasons.is_empty() {
                            ul.small { @for (why, n) in &b.reasons { li { (n) " × " (why) } } }
                        }
                    }
                }
            }
        }
        section aria-labelledby="failed" {
            h2 id="failed" { "Given up recently" }
            div.scroll {
                table id="failed-tickets" {
                    thead { tr { th { "When" } th { "Module" } th { "Chat" } th { "Telegram's reason" } } }
                    tbody {
                        @for f in &failed {
                            tr { td { (utc(f.at_secs)) } td { (f.module) } td { (f.chat_id) } td { (f.reason) } }
                        }
                        @if failed.is_empty() { tr { td colspan="4" { "None." } } }
                    }
                }
            }
        }
    };
    page(&Frame::of("Outbox", &s.csrf, &n), body)
}
