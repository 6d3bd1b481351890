//! Logging in (with the admin token, or a one-time code from `botbox console`) and out.

use std::sync::Arc;

use axum::{
    Extension, Form,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use super::{Console, SessionOf, sessions};

#[derive(Deserialize)]
pub(super) struct CodeQuery {
    code: Option<String>,
}

/// The login page; with `?code=`, a one-click login with that code.
pub(super) async fn form(Query(q): Query<CodeQuery>) -> Response {
    login_page(q.code.as_deref(), None, StatusCode::OK)
}

#[derive(Deserialize)]
pub(super) struct Login {
    token: Option<String>,
    code: Option<String>,
}

/// Checks the token or code; on success starts a session and goes to the overview.
pub(super) async fn submit(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Form(login): Form<Login>,
) -> Response {
    if !c.sessions.may_try() {
        return login_page(
            None,
            Some("Too many wrong tokens: wait a minute and try again."),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let ok = match (&login.code, &login.token) {
        (Some(code), _) if !code.is_empty() => c.sessions.take_code(code),
        (_, Some(token)) => sessions::same_secret(token.trim(), &c.token.read()),
        _ => false,
    };
    if !ok {
        c.sessions.failed();
        tracing::warn!("console login refused");
        let why = if login.code.as_deref().is_some_and(|s| !s.is_empty()) {
            "This login link was used already or has expired: run `botbox console` for a new one."
        } else {
            "That is not the admin token."
        };
        return login_page(None, Some(why), StatusCode::UNAUTHORIZED);
    }
    let id = c.sessions.start();
    tracing::info!("console login");
    // Behind a TLS proxy (which says so), the cookie travels over HTTPS only.
    let secure = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let cookie = format!(
        "{}={id}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}{}",
        sessions::COOKIE,
        sessions::MAX_AGE.as_secs(),
        if secure { "; Secure" } else { "" }
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/console")).into_response()
}

/// Ends the session and forgets the cookie.
pub(super) async fn logout(
    State(c): State<Arc<Console>>,
    Extension(session): Extension<SessionOf>,
) -> Response {
    c.sessions.end(&session.id);
    let cookie = format!(
        "{}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0",
        sessions::COOKIE
    );
    (
        [(header::SET_COOKIE, cookie)],
        Redirect::to("/console/login"),
    )
        .into_response()
}

fn login_page(code: Option<&str>, error: Option<&str>, status: StatusCode) -> Response {
    let body: Markup = html! {
        (DOCTYPE)
        html lang="en" {
            head { (super::layout::head_tags("Log in")) }
            body.login {
                main id="main" {
                    h1 { "botbox console" }
                    @if let Some(e) = error { p.error role="alert" { (e) } }
                    form method="post" action="/console/login" {
                        @if let Some(code) = code {
                            input type="hidden" name="code" value=(code);
                            p { "This link logs you in once." }
                            button type="submit" id="login" { "Log in" }
                        } @else {
                            label for="token" { "Admin token" }
                            input id="token" name="token" type="password" autocomplete="current-password" required autofocus;
                            p.hint { "It is in " code { "admin.token" } " in the bot's data directory, or run "
                                code { "botbox console" } " on the bot's machine for a one-time link." }
                            button type="submit" id="login" { "Log in" }
                        }
                    }
                }
            }
        }
    };
    (status, Html(body.into_string())).into_response()
}
