//! The HTTP side: `POST /bot<token>/<method>` and `GET /file/bot<token>/<path>`.

use std::sync::Arc;

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, RawQuery, State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{any, get},
};

use crate::{error::ApiError, methods, params::Params, state::Shared};

/// Room for the other parts of a request besides its largest allowed upload, so that a file
/// just over the limit reaches the method, which refuses it.
const BODY_OVERHEAD: usize = 1024 * 1024;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let max_body = shared
        .config
        .file_limits
        .upload_max
        .saturating_add(BODY_OVERHEAD);
    Router::new()
        .route("/file/{token}/{*path}", get(download))
        .route("/{token}/{method}", any(call))
        .fallback(|| async { ApiError::not_found() })
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(shared)
}

/// 401 for a wrong token, 404 for a path that is not `bot<token>` at all.
fn check_token(shared: &Shared, segment: &str) -> Result<(), ApiError> {
    match segment.strip_prefix("bot") {
        Some(token) if token == shared.config.token => Ok(()),
        Some(_) => Err(ApiError::unauthorized()),
        None => Err(ApiError::not_found()),
    }
}

async fn call(
    State(shared): State<Arc<Shared>>,
    Path((token, method)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Err(error) = check_token(&shared, &token) {
        return error.into_response();
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return ApiError::too_large().into_response();
        }
        Err(rejection) => return rejection.into_response(),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let params = match Params::parse(content_type, query.as_deref(), &body) {
        Ok(params) => params,
        Err(error) => return error.into_response(),
    };
    match methods::call(&shared, &method, &params).await {
        Ok(reply) => {
            let mut body = format!("{{\"ok\":true,\"result\":{}", reply.result);
            if let Some(description) = reply.description {
                body.push_str(&format!(
                    ",\"description\":{}",
                    serde_json::json!(description)
                ));
            }
            body.push('}');
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Err(error) => {
            tracing::debug!(method, code = error.code, description = %error.description, "fake Bot API error");
            error.into_response()
        }
    }
}

async fn download(
    State(shared): State<Arc<Shared>>,
    Path((token, path)): Path<(String, String)>,
) -> Response {
    if let Err(error) = check_token(&shared, &token) {
        return error.into_response();
    }
    match methods::download(&shared, &path) {
        Some(bytes) => bytes.into_response(),
        None => ApiError::not_found().into_response(),
    }
}
