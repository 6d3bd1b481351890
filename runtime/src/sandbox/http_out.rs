//! Outgoing HTTP for modules (`wasi:http/outgoing-handler`): the grant check, HTTP/2, limits.
//!
//! wasmtime-wasi-http builds the request from what the module wrote; this hook decides whether
//! it may leave and sends it. Rules:
//! - The authority must match the module's granted host patterns (see
//!   [`Capabilities::allows`]); otherwise the module gets `HTTP-request-denied` and no connection
//!   is made.
//! - The host resolves the name and connects only to addresses it checked: public ones, and
//!   loopback, private, link-local and other special addresses only inside the operator's
//!   `http_private` ranges (`http_out/addresses.rs`, `http_out/connect.rs`). A name that
//!   resolves to nothing else is refused with `HTTP-request-denied`, before any connection.
//! - `https://` offers ALPN `h2` and `http/1.1` and speaks what the server picks. Plain
//!   `http://` speaks HTTP/1.1, except a request with `content-type: application/grpc...`,
//!   which goes out as HTTP/2 with prior knowledge (gRPC over h2c).
//! - One request, from connect to the last byte of its response body, takes at most
//!   `http.outgoing_timeout_ms` of wall time, and its response body at most
//!   `http.outgoing_max_response_bytes`. Waiting costs the module no CPU budget: the epoch
//!   deadline counts only ticks in which the module's code runs.
//! - At most `http.outgoing_max_in_flight_per_instance` requests of one instance, and
//!   `http.outgoing_max_in_flight` of one module (all its instances), are in flight at once: a
//!   request holds its place from the moment the module sends it until its connection is closed
//!   (response read or dropped, or the deadline). Past either cap the request fails at once with
//!   `connection-limit-reached`; it never waits. So a module cannot open connections until the
//!   process runs out of file descriptors.

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
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

mod addresses;
mod connect;

/// The limits of one module's outgoing requests, and the count of those in flight.
#[derive(Debug, Clone)]
pub struct OutgoingLimits {
    /// Wall time of the whole request.
    pub timeout: Duration,
    /// Largest response body.
    pub max_response_bytes: usize,
    /// Most requests in flight for the whole module.
    pub max_in_flight: usize,
    /// Most requests in flight for one instance.
    pub max_in_flight_per_instance: usize,
    /// The module's requests in flight now, all its instances together.
    pub in_flight: Arc<AtomicUsize>,
    /// The host names whose refused addresses its log has told about.
    pub told: Arc<connect::Told>,
}

impl OutgoingLimits {
    /// The limits the operator's `[http]` section sets, with nothing in flight yet.
    pub fn from_config(http: &crate::config::HttpConfig) -> Self {
        OutgoingLimits {
            timeout: Duration::from_millis(http.outgoing_timeout_ms),
            max_response_bytes: http.outgoing_max_response_bytes,
            max_in_flight: http.outgoing_max_in_flight,
            max_in_flight_per_instance: http.outgoing_max_in_flight_per_instance,
            in_flight: Arc::default(),
            told: Arc::default(),
        }
    }
}

/// The `wasi:http` hooks of one instance.
pub struct HttpHooks {
    pub(super) env: Arc<ModuleEnv>,
    /// This instance's requests in flight.
    in_flight: Arc<AtomicUsize>,
}

impl HttpHooks {
    /// The hooks of a new instance of the module `env` describes.
    pub(super) fn new(env: Arc<ModuleEnv>) -> Self {
        HttpHooks {
            env,
            in_flight: Arc::default(),
        }
    }

    /// A place for one more request, or `None` past the instance's or the module's cap.
    fn take_place(&self) -> Option<Place> {
        let limits = &self.env.http;
        let instance = Counted::take(&self.in_flight, limits.max_in_flight_per_instance)?;
        let module = Counted::take(&limits.in_flight, limits.max_in_flight)?;
        Some(Place {
            _instance: instance,
            _module: module,
        })
    }
}

/// One request's place in its instance's and its module's count of requests in flight, given
/// back when dropped.
struct Place {
    _instance: Counted,
    _module: Counted,
}

/// One unit of a counter, given back when dropped.
struct Counted(Arc<AtomicUsize>);

impl Counted {
    /// Counts one more in `counter` if it is below `max`.
    fn take(counter: &Arc<AtomicUsize>, max: usize) -> Option<Counted> {
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Counted(counter.clone()))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;
type Sent = Result<(http::Response<WasiBody>, IoFuture), Error>;
type SendFuture = Box<dyn Future<Output = Sent> + Send>;

/// A request refused before anything was sent. The request lives until the refusal is read, so
/// the module writing its body meanwhile sees the refusal, not a closed body stream.
fn refused(error: Error, request: http::Request<WasiBody>) -> SendFuture {
    Box::new(async move {
        drop(request);
        Sent::Err(error)
    })
}

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
        let authority = || request.uri().authority().map_or("?", |a| a.as_str());
        if !allowed {
            self.env.log.refusal(&format!(
                "outgoing HTTP to {} refused: host not granted",
                authority()
            ));
            return refused(Error::HttpRequestDenied, request);
        }
        // Module-controlled count: checked here, when the module sends, never waited on.
        let Some(place) = self.take_place() else {
            let limits = &self.env.http;
            self.env.log.refusal(&format!(
                "outgoing HTTP to {} refused: too many requests in flight (at most {} per \
                 instance, {} per module)",
                authority(),
                limits.max_in_flight_per_instance,
                limits.max_in_flight
            ));
            return refused(Error::ConnectionLimitReached, request);
        };
        let limits = self.env.http.clone();
        let granted = self.env.capabilities.read().http_private.clone();
        let log = self.env.log.clone();
        Box::new(async move {
            let reach = connect::Reach {
                granted: &granted,
                log: &log,
                told: &limits.told,
            };
            send(request, options, &limits, reach, place).await
        })
    }
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// Connects, picks the protocol, sends; the response body is bounded by the deadline and size.
async fn send(
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
    limits: &OutgoingLimits,
    reach: connect::Reach<'_>,
    place: Place,
) -> Sent {
    let deadline = Instant::now() + limits.timeout;
    // The module's own timeouts may shorten the host's, never lengthen it.
    let connect_by = options
        .and_then(|o| o.connect_timeout)
        .map_or(deadline, |t| deadline.min(Instant::now() + t));
    let uri = request.uri().clone();
    let https = uri.scheme() == Some(&Scheme::HTTPS);
    let host = uri.host().ok_or(Error::HttpRequestUriInvalid)?.to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    // Resolved here, every address checked, and only a checked one connected to.
    let tcp = timeout_at(connect_by, connect::connect(&host, port, reach))
        .await
        .map_err(|_| Error::ConnectionTimeout)??;
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
            // The connection is closed: the request is no longer in flight.
            drop(place);
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
            // The connection is closed: the request is no longer in flight.
            drop(place);
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
