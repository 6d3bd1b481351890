//! Telegram-shaped error answers.

use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

/// An error answer: `{"ok":false,"error_code":…,"description":…}` with the same HTTP status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) code: u16,
    pub(crate) description: String,
    pub(crate) retry_after: Option<u32>,
    /// `parameters.migrate_to_chat_id`: the supergroup a group became.
    pub(crate) migrate_to_chat_id: Option<i64>,
    /// A body to send instead of the JSON (forced raw failures).
    pub(crate) raw_body: Option<String>,
}

impl ApiError {
    pub(crate) fn new(code: u16, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            retry_after: None,
            migrate_to_chat_id: None,
            raw_body: None,
        }
    }

    /// 400 `Bad Request: {what}`.
    pub(crate) fn bad_request(what: impl std::fmt::Display) -> Self {
        Self::new(400, format!("Bad Request: {what}"))
    }

    /// 403 `Forbidden: {what}`.
    pub(crate) fn forbidden(what: impl std::fmt::Display) -> Self {
        Self::new(403, format!("Forbidden: {what}"))
    }

    pub(crate) fn unauthorized() -> Self {
        Self::new(401, "Unauthorized")
    }

    pub(crate) fn not_found() -> Self {
        Self::new(404, "Not Found")
    }

    /// 409 `Conflict: {what}`.
    pub(crate) fn conflict(what: impl std::fmt::Display) -> Self {
        Self::new(409, format!("Conflict: {what}"))
    }

    /// 429 with `parameters.retry_after`.
    pub(crate) fn too_many_requests(retry_after: u32) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(429, format!("Too Many Requests: retry after {retry_after}"))
        }
    }

    /// 413 `Request Entity Too Large`: an upload over the limit.
    pub(crate) fn too_large() -> Self {
        Self::new(413, "Request Entity Too Large")
    }

    pub(crate) fn chat_not_found() -> Self {
        Self::bad_request("chat not found")
    }

    /// 400 for any call to a group that became the supergroup `new_chat_id`, with
    /// `parameters.migrate_to_chat_id`.
    pub(crate) fn migrated(new_chat_id: i64) -> Self {
        Self {
            migrate_to_chat_id: Some(new_chat_id),
            ..Self::bad_request("group chat was upgraded to a supergroup chat")
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let Some(body) = self.raw_body {
            return (status, body).into_response();
        }
        let mut body = json!({
            "ok": false,
            "error_code": self.code,
            "description": self.description,
        });
        if let Some(retry_after) = self.retry_after {
            body["parameters"] = json!({ "retry_after": retry_after });
        }
        if let Some(chat_id) = self.migrate_to_chat_id {
            body["parameters"] = json!({ "migrate_to_chat_id": chat_id });
        }
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    }
}
