//! The listener for modules' HTTP: `/modules/<name>/...` goes to module `name`'s
//! `wasi:http/incoming-handler` export, over HTTP/1.1 and h2c (HTTP/2 with prior knowledge) on
//! the same port, so modules can serve gRPC.
//!
//! The `/modules/<name>` prefix is stripped: the module sees `/rest?query` (gRPC clients send
//! `/package.Service/Method` under a mount they do not know about) and the prefix in the
//! `x-botbox-mount` header. The body is read whole first, at most `http.max_body_bytes` (413
//! beyond) within `http.request_timeout_ms` (408 past it); the module's effects are durable
//! before the response head is sent.
//!
//! Limits, so that clients cannot exhaust the process or the other modules:
//! - at most `http.max_connections` connections are open; a connection past it gets 503 and is
//!   closed;
//! - a client has `http.header_read_timeout_ms` to send its first bytes and each request head
//!   (a connection idle that long between requests is closed too, over HTTP/1.1 by hyper's
//!   header timeout, over h2c with a GOAWAY: see [`connection`]);
//! - at most `http.max_requests_in_flight` requests are being served by modules, and
//!   `http.module_max_requests_in_flight` by one module (503 past them). Each one holds an
//!   instance from the sandbox's pooling allocator, which every module's shards share; the
//!   global cap is at most half of it (see `config::http::MAX_HTTP_INSTANCES`), so requests
//!   never take the instances the shards need;
//! - an accept error (EMFILE: out of file descriptors) is followed by a short sleep, so the
//!   loop cannot spin.

use std::{
    collections::HashMap,
    convert::Infallible,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use tokio::{
    net::TcpListener,
    sync::{OwnedSemaphorePermit, Semaphore, watch},
    task::JoinHandle,
};

mod connection;

use crate::{Error, Result, config::HttpConfig, modules::HttpFailure, modules::registry::Registry};
use connection::serve_connection;

/// The header that carries the stripped mount prefix (`/modules/<name>`).
pub const MOUNT_HEADER: &str = "x-botbox-mount";

/// How long the accept loop waits after an accept error (EMFILE, ENFILE, ...), so that it does
/// not spin while the process is out of file descriptors.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// What a connection past `http.max_connections` is told before it is closed.
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: text/plain; charset=utf-8\r\ncontent-length: 38\r\nconnection: close\r\n\r\n\
too many connections; try again later\n";

struct State {
    registry: Arc<Registry>,
    config: HttpConfig,
    admission: Admission,
}

/// The count of requests being served by modules: all together
/// (`http.max_requests_in_flight`) and per module (`http.module_max_requests_in_flight`).
struct Admission {
    global: Arc<Semaphore>,
    global_max: usize,
    per_module: parking_lot::Mutex<HashMap<String, Arc<Semaphore>>>,
    module_max: usize,
}

impl Admission {
    fn new(config: &HttpConfig) -> Self {
        Admission {
            global: Arc::new(Semaphore::new(config.max_requests_in_flight)),
            global_max: config.max_requests_in_flight,
            per_module: parking_lot::Mutex::default(),
            module_max: config.module_max_requests_in_flight,
        }
    }

    /// A place for one more request to `module`, held until dropped, or why there is none.
    fn admit(&self, module: &str) -> std::result::Result<[OwnedSemaphorePermit; 2], String> {
        let mine = {
            let mut map = self.per_module.lock();
            // Client-controlled names: only modules that exist get an entry (the caller looked
            // the name up in the registry first), and idle entries are dropped. A permit holds
            // its semaphore: an entry no request holds is idle.
            map.retain(|_, s| Arc::strong_count(s) > 1);
            map.entry(module.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(self.module_max)))
                .clone()
        };
        let module_permit = mine.try_acquire_owned().map_err(|_| {
            format!(
                "module `{module}` is serving {} requests already; try again later",
                self.module_max
            )
        })?;
        let global = self.global.clone().try_acquire_owned().map_err(|_| {
            format!(
                "{} requests are being served already; try again later",
                self.global_max
            )
        })?;
        Ok([module_permit, global])
    }
}

/// Listens on `addr` and serves until `shutdown` turns true. Returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    registry: Arc<Registry>,
    config: HttpConfig,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        Error::Config(format!(
            "http.addr {addr}: cannot listen: {e}. Another program may hold it: choose a free \
                 address in [http] addr (BOTBOX_HTTP_ADDR), port 0 for any free port, or `off`"
        ))
    })?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::Config(format!("http.addr {addr}: {e}")))?;
    let connection_slots = Arc::new(Semaphore::new(config.max_connections));
    let state = Arc::new(State {
        registry,
        admission: Admission::new(&config),
        config,
    });
    let task = tokio::spawn(async move {
        // The connections, so that stopping ends them: they hold the registry, and with it
        // what the runtime waits for when it stops.
        let mut connections = tokio::task::JoinSet::new();
        // Failed accepts since the last one that worked: said once when they start and once
        // when they end, not ten times a second.
        let mut failed_accepts = 0u64;
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        if failed_accepts > 0 {
                            tracing::warn!(failed_accepts, "module HTTP: accepting connections again");
                            failed_accepts = 0;
                        }
                        stream
                    }
                    Err(e) => {
                        if failed_accepts == 0 {
                            tracing::warn!("module HTTP: accept failed: {e}; retrying every {ACCEPT_ERROR_PAUSE:?}");
                        }
                        failed_accepts += 1;
                        // Out of file descriptors, the listener stays readable: without a
                        // pause this loop would spin on one core.
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                        continue;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
                _ = shutdown.changed() => break,
            };
            let Ok(slot) = connection_slots.clone().try_acquire_owned() else {
                // Past the cap: say so if the socket takes it at once, never wait on it.
                let _ = stream.try_write(TOO_MANY_CONNECTIONS);
                tracing::debug!("module HTTP: connection refused, too many open");
                continue;
            };
            let _ = stream.set_nodelay(true);
            let state = state.clone();
            connections.spawn(async move {
                let _slot = slot;
                serve_connection(state, stream).await;
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
    // The whole body within the request's time: a client that trickles it, or stops, does not
    // hold the connection for ever.
    let read_for = Duration::from_millis(state.config.request_timeout_ms);
    let body = match tokio::time::timeout(read_for, Limited::new(body, limit).collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return Ok(too_large()),
        Ok(Err(e)) => {
            return Ok(text(
                StatusCode::BAD_REQUEST,
                &format!("reading the body: {e}"),
            ));
        }
        Err(_) => {
            return Ok(text(
                StatusCode::REQUEST_TIMEOUT,
                &format!(
                    "the body did not arrive within {} ms",
                    state.config.request_timeout_ms
                ),
            ));
        }
    };
    // Each request served holds an instance: past the caps, 503 rather than one more.
    let _permits = match state.admission.admit(name) {
        Ok(permits) => permits,
        Err(why) => return Ok(text(StatusCode::SERVICE_UNAVAILABLE, &why)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_global_cap_every_module_is_refused_and_a_finished_request_makes_room() {
        let config = HttpConfig {
            max_requests_in_flight: 3,
            module_max_requests_in_flight: 2,
            ..HttpConfig::default()
        };
        let admission = Admission::new(&config);
        let a1 = admission.admit("a").unwrap();
        let _a2 = admission.admit("a").unwrap();
        let err = admission.admit("a").unwrap_err();
        assert!(err.contains("module `a` is serving 2 requests"), "{err}");
        let _b1 = admission.admit("b").unwrap();
        let err = admission.admit("b").unwrap_err();
        assert!(err.contains("3 requests are being served already"), "{err}");
        let err = admission.admit("c").unwrap_err();
        assert!(err.contains("3 requests are being served already"), "{err}");
        // A refused request took nothing: once one ends, the next is served.
        drop(a1);
        let _c1 = admission.admit("c").unwrap();
        assert!(admission.admit("a").is_err());
    }
}
