//! The listener for modules' HTTP: `/modules/<name>/...` goes to module `name`'s
//! `wasi:http/incoming-handler` export, over HTTP/1.1 and h2c (HTTP/2 with prior knowledge) on
//! the same port, so modules can serve gRPC.
//!
//! The `/modules/<name>` prefix is stripped: the module sees `/rest?query` (gRPC clients send
//! `/package.Service/Method` under a mount they do not know about) and the prefix in the
//! `x-botbox-mount` header. The body is read whole first, at most `http.max_body_bytes` (413
//! beyond); the module's effects are durable before the response head is sent.

use std::{
    convert::Infallible,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Limited};
use hyper::{body::Incoming, service::service_fn};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};

use crate::{Error, Result, config::HttpConfig, modules::HttpFailure, modules::registry::Registry};

/// The header that carries the stripped mount prefix (`/modules/<name>`).
pub const MOUNT_HEADER: &str = "x-botbox-mount";

struct State {
    registry: Arc<Registry>,
    config: HttpConfig,
}

/// Listens on `addr` and serves until `shutdown` turns true. Returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    registry: Arc<Registry>,
    config: HttpConfig,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Config(format!("http.addr {addr}: cannot listen: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::Config(format!("http.addr {addr}: {e}")))?;
    let state = Arc::new(State { registry, config });
    let task = tokio::spawn(async move {
        // The connections, so that stopping ends them: they hold the registry, and with it
        // what the runtime waits for when it stops.
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!("module HTTP: accept failed: {e}");
                        continue;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
                _ = shutdown.changed() => break,
            };
            let _ = stream.set_nodelay(true);
            let state = state.clone();
            connections.spawn(async move {
                let service = service_fn(move |req| handle(state.clone(), req));
                let builder = auto::Builder::new(TokioExecutor::new());
                if let Err(e) = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!("module HTTP connection ended: {e}");
                }
            });
        }
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    });
    Ok((bound, task))
}

/// One request: route, read the body, hand it to the module, answer.
async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Reply>, Infallible> {
    let path = req.uri().path().to_string();
    let Some(rest) = path.strip_prefix("/modules/") else {
        return Ok(text(
            StatusCode::NOT_FOUND,
            "modules are served under /modules/<name>/",
        ));
    };
    let (name, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let Some(module) = state.registry.get(name) else {
        return Ok(text(
            StatusCode::NOT_FOUND,
            &format!("no module named `{name}`"),
        ));
    };
    if !module.current().code.serves_http() {
        return Ok(text(
            StatusCode::NOT_FOUND,
            &format!(
                "module `{name}` does not serve HTTP (it does not export wasi:http/incoming-handler)"
            ),
        ));
    }
    let (mut parts, body) = req.into_parts();
    // Client-controlled size: the body is read to at most the limit, whatever it announces.
    let limit = state.config.max_body_bytes;
    let too_large = || {
        text(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the body is larger than {limit} bytes"),
        )
    };
    let announced = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Ok(too_large());
    }
    let body = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Ok(too_large()),
        Err(e) => {
            return Ok(text(
                StatusCode::BAD_REQUEST,
                &format!("reading the body: {e}"),
            ));
        }
    };
    let authority = parts.uri.authority().map(|a| a.to_string());
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    parts.uri = match format!("/{tail}{query}").parse() {
        Ok(uri) => uri,
        Err(_) => return Ok(text(StatusCode::BAD_REQUEST, "bad path")),
    };
    if !parts.headers.contains_key(http::header::HOST) {
        // HTTP/2 names the server in the URI; the module reads it from `host`.
        let host = authority.unwrap_or_else(|| "localhost".into());
        if let Ok(v) = HeaderValue::from_str(&host) {
            parts.headers.insert(http::header::HOST, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&format!("/modules/{name}")) {
        parts.headers.insert(MOUNT_HEADER, v);
    }
    Ok(match module.serve_http(&parts, body, &state.config).await {
        Ok(reply) => {
            let mut response = Response::new(Reply {
                data: Some(reply.body).filter(|b| !b.is_empty()),
                trailers: reply.trailers,
            });
            *response.status_mut() = reply.status;
            *response.headers_mut() = reply.headers;
            response
        }
        Err(HttpFailure::NotServed) => text(
            StatusCode::NOT_FOUND,
            &format!("module `{name}` does not serve HTTP"),
        ),
        Err(HttpFailure::Failed(msg)) => {
            tracing::warn!(module = %name, "HTTP request failed: {msg}");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("module `{name}` failed to answer; its log says why"),
            )
        }
    })
}

fn text(status: StatusCode, body: &str) -> Response<Reply> {
    let mut response = Response::new(Reply {
        data: Some(Bytes::from(format!("{body}\n"))),
        trailers: None,
    });
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// A whole response body, then its trailers.
pub struct Reply {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl Body for Reply {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, Infallible>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match (&self.data, &self.trailers) {
            // Without trailers the length is known: HTTP/1.1 sends `content-length`.
            (data, None) => {
                http_body::SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            _ => http_body::SizeHint::default(),
        }
    }
}
