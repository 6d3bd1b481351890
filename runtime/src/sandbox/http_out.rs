//! Outgoing HTTP for modules (`wasi:http/outgoing-handler`): the grant check, HTTP/2, limits.
//!
//! wasmtime-wasi-http builds the request from what the module wrote; this hook decides whether
//! it may leave and sends it. Rules:
//! - The authority must match the module's granted host patterns (see
//!   [`Capabilities::allows`]); otherwise the module gets `HTTP-request-denied` and no connection
//!   is made.
//! - `https://` offers ALPN `h2` and `http/1.1` and speaks what the server picks. Plain
//!   `http://` speaks HTTP/1.1, except a request with `content-type: application/grpc...`,
//!   which goes out as HTTP/2 with prior knowledge (gRPC over h2c).
//! - One request, from connect to the last byte of its response body, takes at most
//!   `http.outgoing_timeout_ms` of wall time, and its response body at most
//!   `http.outgoing_max_response_bytes`. Waiting costs the module no CPU budget: the epoch
//!   deadline counts only ticks in which the module's code runs.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::uri::Scheme;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpStream,
    time::{Instant, Sleep, timeout_at},
};
use tokio_rustls::rustls;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use super::ModuleEnv;

/// The limits of one outgoing request.
#[derive(Debug, Clone, Copy)]
pub struct OutgoingLimits {
    /// Wall time of the whole request.
    pub timeout: Duration,
    /// Largest response body.
    pub max_response_bytes: usize,
}

impl OutgoingLimits {
    /// The limits the operator's `[http]` section sets.
    pub fn from_config(http: &crate::config::HttpConfig) -> Self {
        OutgoingLimits {
            timeout: Duration::from_millis(http.outgoing_timeout_ms),
            max_response_bytes: http.outgoing_max_response_bytes,
        }
    }
}

/// The `wasi:http` hooks of one instance.
pub struct HttpHooks {
    pub(super) env: Arc<ModuleEnv>,
    pub(super) limits: OutgoingLimits,
}

type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;
type SendFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), Error>> + Send>;

impl WasiHttpHooks for HttpHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> SendFuture {
        let allowed = {
            let uri = request.uri();
            let https = uri.scheme() == Some(&Scheme::HTTPS);
            let default_port = if https { 443 } else { 80 };
            let port = uri.port_u16().unwrap_or(default_port);
            uri.host().is_some_and(|host| {
                self.env
                    .capabilities
                    .read()
                    .allows(host, port, default_port)
            })
        };
        if !allowed {
            self.env.log.host_event(&format!(
                "outgoing HTTP to {} refused: host not granted",
                request.uri().authority().map_or("?", |a| a.as_str())
            ));
        }
        let limits = self.limits;
        Box::new(async move {
            if !allowed {
                return Err(Error::HttpRequestDenied);
            }
            send(request, options, limits).await
        })
    }
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// Connects, picks the protocol, sends; the response body is bounded by the deadline and size.
async fn send(
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
    limits: OutgoingLimits,
) -> Result<(http::Response<WasiBody>, IoFuture), Error> {
    let deadline = Instant::now() + limits.timeout;
    // The module's own timeouts may shorten the host's, never lengthen it.
    let connect_by = options
        .and_then(|o| o.connect_timeout)
        .map_or(deadline, |t| deadline.min(Instant::now() + t));
    let uri = request.uri().clone();
    let https = uri.scheme() == Some(&Scheme::HTTPS);
    let host = uri.host().ok_or(Error::HttpRequestUriInvalid)?.to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tcp = timeout_at(connect_by, TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(Error::Connect)?;
    let _ = tcp.set_nodelay(true);
    let (stream, h2): (Box<dyn Stream>, bool) = if https {
        let tls = timeout_at(connect_by, tls_connect(&host, tcp))
            .await
            .map_err(|_| Error::ConnectionTimeout)??;
        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        (Box::new(tls), h2)
    } else {
        let grpc = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/grpc"));
        (Box::new(tcp), grpc)
    };
    let io = TokioIo::new(stream);
    let response = if h2 {
        // HTTP/2 takes the authority from the URI; a `host` header does not belong in it.
        request.headers_mut().remove(http::header::HOST);
        let (mut sender, conn) = timeout_at(
            connect_by,
            hyper::client::conn::http2::Builder::new(TokioExecutor::new()).handshake(io),
        )
        .await
        .map_err(|_| Error::ConnectionTimeout)??;
        tokio::spawn(async move {
            let _ = timeout_at(deadline, conn).await;
        });
        timeout_at(deadline, sender.send_request(request)).await
    } else {
        // HTTP/1.1 sends only the path; the `host` header names the server.
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        *request.uri_mut() = http::Uri::try_from(path).map_err(|_| Error::HttpRequestUriInvalid)?;
        let (mut sender, conn) = timeout_at(
            connect_by,
            hyper::client::conn::http1::Builder::new().handshake(io),
        )
        .await
        .map_err(|_| Error::ConnectionTimeout)??;
        tokio::spawn(async move {
            let _ = timeout_at(deadline, conn).await;
        });
        timeout_at(deadline, sender.send_request(request)).await
    };
    let response = response.map_err(|_| Error::HttpResponseTimeout)??;
    let response = response.map(|body| {
        Bounded {
            inner: body,
            left: limits.max_response_bytes,
            limit: limits.max_response_bytes,
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
        }
        .boxed_unsync()
    });
    Ok((response, Box::new(async { Ok(()) }) as IoFuture))
}

async fn tls_connect(
    host: &str,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Error> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.into(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::InternalError(Some(e.to_string())))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|_| Error::HttpRequestUriInvalid)?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(Error::Tls)
}

/// A response body cut at a size and a deadline.
struct Bounded {
    inner: hyper::body::Incoming,
    left: usize,
    limit: usize,
    deadline: Pin<Box<Sleep>>,
}

impl Body for Bounded {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Error::HttpResponseTimeout)));
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                // Server-controlled size: counted against the limit before the module sees it.
                if let Some(data) = frame.data_ref() {
                    if data.len() > self.left {
                        let limit = self.limit as u64;
                        return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(limit)))));
                    }
                    self.left -= data.len();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Error::Hyper(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
}
