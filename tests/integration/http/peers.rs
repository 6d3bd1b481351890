//! The real peers of the HTTP tests: an HTTP/1.1 and h2c client, a plain HTTP server, a tonic
//! gRPC server and client. gRPC messages are written by hand with prost (no protoc needed).

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::{body::Frame, service::service_fn};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use tonic::codegen::{BoxFuture, Context, Poll, Service, http::uri::PathAndQuery};

/// How long the slow route takes to answer, in milliseconds.
pub const SLOW_MS: u64 = 600;

/// The probe's gRPC message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Note {
    /// The chat.
    #[prost(int64, tag = "1")]
    pub chat: i64,
    /// The text.
    #[prost(string, tag = "2")]
    pub text: String,
}

/// The HTTP version a request is sent with.
#[derive(Debug, Clone, Copy)]
pub enum Version {
    Http1,
    /// HTTP/2 with prior knowledge, cleartext.
    H2c,
}

/// Sends one request on a fresh connection; the status and the body as text.
pub async fn request(
    addr: SocketAddr,
    version: Version,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, String) {
    let io = TokioIo::new(TcpStream::connect(addr).await.expect("connect"));
    let builder = hyper::Request::builder()
        .method(method)
        .header("content-type", "text/plain");
    let body = Full::new(Bytes::copy_from_slice(body));
    let response = match version {
        Version::Http1 => {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
            tokio::spawn(conn);
            let req = builder.uri(path).header("host", addr.to_string());
            sender.send_request(req.body(body).unwrap()).await
        }
        Version::H2c => {
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                    .await
                    .unwrap();
            tokio::spawn(conn);
            let req = builder.uri(format!("http://{addr}{path}"));
            sender.send_request(req.body(body).unwrap()).await
        }
    }
    .expect("a response");
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        String::from_utf8_lossy(&bytes).trim_end().to_string(),
    )
}

/// A plain HTTP/1.1 server: `/hello` answers `hello`, `/slow` answers `slow` after
/// [`SLOW_MS`], `/endless` never stops sending. Counts the connections it accepts.
pub struct WebServer {
    pub port: u16,
    connections: Arc<AtomicUsize>,
}

impl WebServer {
    pub async fn start() -> WebServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let service =
                        service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                            let body: http_body_util::combinators::BoxBody<Bytes, Infallible> =
                                match req.uri().path() {
                                    "/hello" => Full::new(Bytes::from("hello")).boxed(),
                                    "/slow" => {
                                        tokio::time::sleep(Duration::from_millis(SLOW_MS)).await;
                                        Full::new(Bytes::from("slow")).boxed()
                                    }
                                    _ => {
                                        let chunk = Bytes::from(vec![b'x'; 64 << 10]);
                                        let endless = futures::stream::repeat(chunk)
                                            .map(|c| Ok::<_, Infallible>(Frame::data(c)));
                                        BodyExt::boxed(StreamBody::new(endless))
                                    }
                                };
                            Ok::<_, Infallible>(hyper::Response::new(body))
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        WebServer { port, connections }
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A tonic server of `probe.Probe/Echo`, answering the note with ` (from tonic)` appended.
pub struct GrpcServer {
    pub port: u16,
    calls: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct ProbeService {
    calls: Arc<AtomicUsize>,
}

impl tonic::server::NamedService for ProbeService {
    const NAME: &'static str = "probe.Probe";
}

struct Echo;

impl tonic::server::UnaryService<Note> for Echo {
    type Response = Note;
    type Future = BoxFuture<tonic::Response<Note>, tonic::Status>;

    fn call(&mut self, request: tonic::Request<Note>) -> Self::Future {
        Box::pin(async move {
            let mut note = request.into_inner();
            note.text.push_str(" (from tonic)");
            Ok(tonic::Response::new(note))
        })
    }
}

impl Service<http::Request<tonic::body::Body>> for ProbeService {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let codec = tonic_prost::ProstCodec::<Note, Note>::default();
            Ok(tonic::server::Grpc::new(codec).unary(Echo, request).await)
        })
    }
}

impl GrpcServer {
    pub async fn start() -> GrpcServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let calls = Arc::new(AtomicUsize::new(0));
        let service = ProbeService {
            calls: calls.clone(),
        };
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
        );
        GrpcServer { port, calls }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

/// A tonic client of the runtime's module HTTP listener.
pub async fn grpc_client(addr: SocketAddr) -> tonic::client::Grpc<tonic::transport::Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("connect");
    tonic::client::Grpc::new(channel)
}

/// Calls unary method `path` with `note`.
pub async fn grpc_call(
    client: &mut tonic::client::Grpc<tonic::transport::Channel>,
    path: &str,
    note: Note,
) -> Result<Note, tonic::Status> {
    client.ready().await.expect("ready");
    let codec = tonic_prost::ProstCodec::<Note, Note>::default();
    let path = PathAndQuery::try_from(path.to_string()).unwrap();
    client
        .unary(tonic::Request::new(note), path, codec)
        .await
        .map(tonic::Response::into_inner)
}

/// Opens a raw TCP connection to `addr`, writes `bytes`, and reads what the server sends until
/// it closes the connection or what was read satisfies `enough`. `None` when neither happened
/// within `wait`: the server left the connection hanging.
pub async fn raw_exchange(
    addr: SocketAddr,
    bytes: &[u8],
    enough: impl Fn(&str) -> bool,
    wait: Duration,
) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    let read = async {
        let mut got = Vec::new();
        let mut buf = [0; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            if enough(&String::from_utf8_lossy(&got)) {
                break;
            }
        }
        String::from_utf8_lossy(&got).into_owned()
    };
    tokio::time::timeout(wait, read).await.ok()
}
