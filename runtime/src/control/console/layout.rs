//! The frame every console page shares: the head, the navigation, the logout button, the
//! notice a change leaves, and small formatting helpers.

use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

/// The pages, in the navigation's order: (path, name).
const PAGES: [(&str, &str); 6] = [
    ("/console", "Overview"),
    ("/console/modules", "Modules"),
    ("/console/data", "Data"),
    ("/console/outbox", "Outbox"),
    ("/console/quarantine", "Quarantine"),
    ("/console/backups", "Backups"),
];

/// What a page is rendered with.
pub struct Frame<'a> {
    /// The page's name, as in the navigation.
    pub page: &'a str,
    /// The session's CSRF token, put into every form.
    pub csrf: &'a str,
    /// A notice from the change that led here (`?notice=`), shown once.
    pub notice: Option<&'a str>,
    /// An error from the change that led here (`?error=`).
    pub error: Option<&'a str>,
}

/// `?notice=` and `?error=` left by a change.
#[derive(serde::Deserialize, Default)]
pub struct Notice {
    pub notice: Option<String>,
    pub error: Option<String>,
}

impl<'a> Frame<'a> {
    /// The frame of `page` for the session whose CSRF token is `csrf`, with what the change
    /// that led here left.
    pub fn of(page: &'a str, csrf: &'a str, left: &'a Notice) -> Frame<'a> {
        Frame {
            page,
            csrf,
            notice: left.notice.as_deref(),
            error: left.error.as_deref(),
        }
    }
}

/// The tags every page's head starts with.
pub fn head_tags(title: &str) -> Markup {
    html! {
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        meta name="referrer" content="no-referrer";
        title { (title) " · botbox" }
        link rel="stylesheet" href="/console/assets/console.css";
    }
}

/// A whole page.
pub fn page(frame: &Frame<'_>, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                (head_tags(frame.page))
                meta name="csrf-token" content=(frame.csrf);
                script src="/console/assets/console.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to the content" }
                header.top {
                    span.brand { "botbox" }
                    nav aria-label="Console" {
                        ul {
                            @for (href, name) in PAGES {
                                li {
                                    @if name == frame.page {
                                        a href=(href) aria-current="page" { (name) }
                                    } @else {
                                        a href=(href) { (name) }
                                    }
                                }
                            }
                        }
                    }
                    form method="post" action="/console/logout" {
                        (csrf_field(frame.csrf))
                        button.quiet type="submit" { "Log out" }
                    }
                }
                main id="main" {
                    h1 { (frame.page) }
                    @if let Some(n) = frame.notice { p.notice role="status" { (n) } }
                    @if let Some(e) = frame.error { p.error role="alert" { (e) } }
                    (body)
                }
            }
        }
    };
    Html(markup.into_string()).into_response()
}

/// The hidden field that carries the CSRF token in a form.
pub fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

/// A button that posts to `action` (with the CSRF token); `confirm` asks first.
pub fn post_button(csrf: &str, action: &str, label: &str, confirm: Option<&str>) -> Markup {
    html! {
        form.inline method="post" action=(action) data-confirm=[confirm] {
            (csrf_field(csrf))
            button type="submit" { (label) }
        }
    }
}

/// Seconds as people say them: "42 s", "5 min", "3 h", "2 d".
pub fn duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
        _ => format!("{} d {} h", secs / 86_400, secs % 86_400 / 3600),
    }
}

/// A Unix time in UTC, to the second.
pub fn utc(unix_secs: u64) -> String {
    crate::backup::newest::utc(unix_secs)
}

/// A redirect after a change, with a notice or an error for the next page.
pub fn back(to: &str, result: Result<String, String>) -> Response {
    let (key, text) = match result {
        Ok(n) => ("notice", n),
        Err(e) => ("error", e),
    };
    let sep = if to.contains('?') { '&' } else { '?' };
    let location = format!("{to}{sep}{key}={}", urlencode(&text));
    (
        axum::http::StatusCode::SEE_OTHER,
        [(axum::http::header::LOCATION, location)],
    )
        .into_response()
}

/// Percent-encodes everything but unreserved characters.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_urls_read_well() {
        assert_eq!(duration(42), "42 s");
        assert_eq!(duration(3 * 3600 + 120), "3 h 2 min");
        assert_eq!(urlencode("a b/é"), "a%20b%2F%C3%A9");
    }
}
