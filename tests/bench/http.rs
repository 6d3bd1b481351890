//! Modules' HTTP: latency of requests through a module (`tests/guests/http-probe`) on one
//! kept-alive connection each, one at a time, with durable (fsync'd) commits. Prints one JSON
//! object per scenario: a read-only GET over HTTP/1.1, a POST that writes KV and queues a
//! message (HTTP/1.1 and h2c), and a unary gRPC call from a tonic client that does the same.
//! Never fails on speed.
//!
//! Run: `cargo bench -p botbox --bench http` (release build).

#[path = "../integration/http/peers.rs"]
#[expect(dead_code, reason = "shared with the tests; the bench uses part of it")]
mod peers;

mod support;

use std::time::{Duration, Instant};

use botbox::{Options, Runtime};
use bytes::Bytes;
use fake_bot_api::{FakeBotApi, FakeConfig, Limits};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use peers::{Note, grpc_call, grpc_client};

const N: usize = 1000;

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn report(scenario: &str, mut samples: Vec<f64>) {
    let p50 = pct(&mut samples, 0.5);
    let p99 = pct(&mut samples, 0.99);
    println!(
        "{}",
        serde_json::json!({"scenario": scenario, "requests": samples.len(), "p50_ms": p50, "p99_ms": p99})
    );
}

enum Sender {
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

async fn connect(addr: std::net::SocketAddr, h2: bool) -> Sender {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    // Without it, HTTP/2's separate HEADERS and DATA writes wait for a delayed ACK (~40 ms).
    stream.set_nodelay(true).expect("nodelay");
    let io = TokioIo::new(stream);
    if h2 {
        let (s, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .expect("h2");
        tokio::spawn(conn);
        Sender::H2(s)
    } else {
        let (s, conn) = hyper::client::conn::http1::handshake(io).await.expect("h1");
        tokio::spawn(conn);
        Sender::H1(s)
    }
}

async fn timed(
    sender: &mut Sender,
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &'static [u8],
) -> f64 {
    let req = hyper::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header("host", addr.to_string())
        .body(Full::new(Bytes::from_static(body)))
        .expect("request");
    let started = Instant::now();
    let response = match sender {
        Sender::H1(s) => {
            s.ready().await.expect("ready");
            let (mut parts, body) = req.into_parts();
            parts.uri = path.parse().expect("path");
            s.send_request(hyper::Request::from_parts(parts, body))
                .await
        }
        Sender::H2(s) => s.send_request(req).await,
    }
    .expect("response");
    assert!(response.status().is_success(), "{}", response.status());
    response.into_body().collect().await.expect("body");
    started.elapsed().as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = FakeBotApi::start(FakeConfig {
        limits: Limits::unlimited(),
        ..FakeConfig::default()
    })
    .expect("fake");
    let mut c = support::config(dir.path(), &fake, &[botbox_test_artifacts::HTTP_PROBE]);
    c.telegram.poll_timeout_secs = 1;
    c.outbox.chat_per_second = 1000.0;
    c.outbox.chat_burst = 1000;
    c.http.addr = "127.0.0.1:0".into();
    let rt = Runtime::start_with(
        c,
        Options {
            intake: false,
            ..Options::default()
        },
    )
    .await
    .expect("runtime");
    let addr = rt.http_addr().expect("served");

    for (name, h2) in [("http1", false), ("h2c", true)] {
        let mut sender = connect(addr, h2).await;
        let mut get = Vec::new();
        for _ in 0..N {
            get.push(timed(&mut sender, addr, "GET", "/modules/http-probe/mount", b"").await);
        }
        report(&format!("{name} GET, read-only"), get);
        let mut post = Vec::new();
        for _ in 0..N {
            post.push(
                timed(
                    &mut sender,
                    addr,
                    "POST",
                    "/modules/http-probe/note/42",
                    b"hello",
                )
                .await,
            );
        }
        report(&format!("{name} POST, KV write + message"), post);
    }
    let mut client = grpc_client(addr).await;
    let mut grpc = Vec::new();
    for i in 0..N {
        let note = Note {
            chat: 42,
            text: format!("n{i}"),
        };
        let started = Instant::now();
        grpc_call(&mut client, "/modules/http-probe/probe.Probe/Echo", note)
            .await
            .expect("echo");
        grpc.push(started.elapsed().as_secs_f64() * 1e3);
    }
    report("gRPC unary from tonic, KV write + message", grpc);
    tokio::time::sleep(Duration::from_millis(100)).await;
    rt.stop().await;
}
