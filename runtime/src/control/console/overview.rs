//! The overview: the bot, what needs attention, and the last hour as charts.

use std::{sync::Arc, sync::atomic::Ordering};

use axum::{
    Extension,
    extract::{Query, State},
    response::Response,
};
use maud::{Markup, html};

use super::{
    Console, SessionOf,
    charts::{Series, line_chart},
    history::Sample,
    layout::{Frame, Notice, duration, page},
};
use crate::config::Mode;

/// `GET /console`.
pub(super) async fn show(
    State(c): State<Arc<Console>>,
    Extension(s): Extension<SessionOf>,
    Query(n): Query<Notice>,
) -> Response {
    let attention = attention(&c).await;
    let samples = c.history.samples();
    let username = c.registry.router().bot_username().to_string();
    let mode = match c.config.telegram.mode {
        Mode::Polling => "long polling",
        Mode::Webhook => "webhook",
    };
    let body = html! {
        section.facts aria-label="The bot" {
            dl {
                div { dt { "Bot" } dd { "@" (username) } }
                div { dt { "Mode" } dd { (mode) } }
                div { dt { "Up for" } dd { (duration(c.started.elapsed().as_secs())) } }
                div { dt { "Version" } dd { (env!("CARGO_PKG_VERSION")) } }
                div { dt { "Modules" } dd { (c.registry.list().len()) } }
            }
        }
        section aria-labelledby="attention" {
            h2 id="attention" { "Needs attention" }
            @if attention.is_empty() {
                p.ok id="all-well" { "Nothing: every module runs, nothing is quarantined, backups are current." }
            } @else {
                ul.attention {
                    @for (text, href) in &attention {
                        li { a href=(href) { (text) } }
                    }
                }
            }
        }
        section aria-labelledby="hour" {
            h2 id="hour" { "The last hour" }
            div.charts id="charts" { (charts(&samples, c.config.outbox.global_per_second)) }
        }
    };
    page(&Frame::of("Overview", &s.csrf, &n), body)
}

/// The four charts of the overview.
fn charts(samples: &[Sample], limit_per_s: u32) -> Markup {
    let col = |f: &dyn Fn(&Sample) -> f64| samples.iter().map(f).collect::<Vec<f64>>();
    html! {
        (line_chart("Updates handled", "/s", &[Series { label: "updates", values: col(&|s| s.updates_per_s), class: "s0" }], None))
        (line_chart("Handling time, slowest module p99", " ms", &[Series { label: "p99", values: col(&|s| s.handle_p99_ms), class: "s1" }], None))
        (line_chart("Outbox waiting, by priority", "", &[
            Series { label: "interactive", values: col(&|s| s.queued[1] as f64), class: "s0" },
            Series { label: "normal", values: col(&|s| s.queued[2] as f64), class: "s1" },
            Series { label: "bulk", values: col(&|s| s.queued[3] as f64), class: "s2" },
        ], None))
        (line_chart("Sent to Telegram", "/s", &[Series { label: "sent", values: col(&|s| s.sent_per_s), class: "s0" }], Some(f64::from(limit_per_s))))
        (line_chart("Problems", "", &[
            Series { label: "429 answers", values: col(&|s| s.rate_limited as f64), class: "s3" },
            Series { label: "given up", values: col(&|s| s.failed as f64), class: "s2" },
            Series { label: "module errors", values: col(&|s| s.module_errors as f64), class: "s1" },
        ], None))
    }
}

/// What an operator should look at, each with where to look.
async fn attention(c: &Console) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    if let Some(problem) = c.health.problem() {
        out.push((format!("The bot is unhealthy: {problem}"), "/console"));
    }
    for m in c.registry.list() {
        if let Some(why) = &m.disabled_reason {
            out.push((
                format!("Module {} is stopped: {why}", m.name),
                "/console/modules",
            ));
        }
        if m.awaiting_approval.is_some() {
            out.push((
                format!("A new version of {} awaits your approval", m.name),
                "/console/modules",
            ));
        }
    }
    if let Ok(q) = c.quarantine.list().await
        && !q.is_empty()
    {
        out.push((
            format!("{} quarantined update(s) wait for a decision", q.len()),
            "/console/quarantine",
        ));
    }
    let failures = c.intake.polling_stats().failures.load(Ordering::Relaxed);
    let backoff = c.intake.polling_stats().backoff_ms.load(Ordering::Relaxed);
    if backoff > 0 {
        out.push((
            format!(
                "Telegram cannot be reached: {failures} failed polls, next try in {} ms",
                backoff
            ),
            "/console",
        ));
    }
    if let Some(why) = super::backups_page::overdue(&c.config, c.started.elapsed().as_secs()) {
        out.push((why, "/console/backups"));
    }
    out
}
