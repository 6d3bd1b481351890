//! Modules' HTTP, both ways, with real clients and servers: requests to `/modules/<name>/...`
//! over HTTP/1.1 and h2c, gRPC from a tonic client, and a module calling real HTTP and tonic
//! servers it is granted (and refused those it is not).

pub(crate) mod peers;
mod private;
mod taken_port;

use crate::support::*;
use botbox::Config;
use botbox_test_artifacts::{CLICKER, HTTP_PROBE, TIMER_PROBE};
use peers::*;

fn setup(root: &std::path::Path, wasm: &[&str]) -> (FakeBotApi, Config) {
    let fake = unlimited_fake();
    let mut c = config(root, &fake, wasm);
    c.outbox.chat_per_second = 100.0;
    c.outbox.chat_burst = 100;
    c.http.addr = "127.0.0.1:0".into();
    // The peers below listen on loopback, which the operator must grant.
    c.modules
        .entry("http-probe".into())
        .or_default()
        .http_private = vec!["127.0.0.1".into()];
    (fake, c)
}

/// Sends a command and returns the bot's next answer.
async fn ask(fake: &FakeBotApi, user: &TestUser, text: &str) -> String {
    let before = bot_texts(fake, user.id).len();
    fake.send_text(user, text);
    fake.wait_until(WAIT, |v| {
        v.transcript(user.id).iter().filter(|e| e.from_bot).count() > before
    })
    .await
    .unwrap_or_else(|e| panic!("no answer to {text}: {e}"));
    bot_texts(fake, user.id).swap_remove(before)
}

async fn notes_reach_the_module_and_commit_before_the_answer(version: Version) {
    let dir = tempfile::tempdir().unwrap();
    let (fake, c) = setup(dir.path(), &[HTTP_PROBE]);
    let rt = start(c).await;
    let addr = rt.http_addr().expect("module HTTP is served");
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let path = format!("/modules/http-probe/note/{}", alice.id);
    let (status, body) = request(addr, version, "POST", &path, b"hello there").await;
    assert_eq!((status, body.as_str()), (201, "noted"));
    // The KV write is durable and visible to the next request; the message is delivered.
    let (status, body) = request(
        addr,
        version,
        "GET",
        &format!("/modules/http-probe/kv/note/{}", alice.id),
        b"",
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "hello there"));
    fake.wait_for_bot_text(alice.id, "note: hello there", WAIT)
        .await
        .unwrap();
    let (_, body) = request(addr, version, "GET", "/modules/http-probe/mount?x=1", b"").await;
    assert_eq!(body, "/modules/http-probe /mount?x=1");
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_get_and_post_reach_the_module_whose_kv_write_and_message_are_committed() {
    notes_reach_the_module_and_commit_before_the_answer(Version::Http1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_requests_work_over_h2c() {
    notes_reach_the_module_and_commit_before_the_answer(Version::H2c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tonic_client_calls_a_module_grpc_method_and_gets_its_error_status_from_trailers() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, c) = setup(dir.path(), &[HTTP_PROBE]);
    let rt = start(c).await;
    let addr = rt.http_addr().unwrap();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let mut client = grpc_client(addr).await;
    let note = Note {
        chat: alice.id,
        text: "via grpc".into(),
    };
    let echoed = grpc_call(
        &mut client,
        "/modules/http-probe/probe.Probe/Echo",
        note.clone(),
    )
    .await;
    assert_eq!(echoed.unwrap(), note);
    fake.wait_for_bot_text(alice.id, "grpc: via grpc", WAIT)
        .await
        .unwrap();
    let kv = format!("/modules/http-probe/kv/grpc/{}", alice.id);
    assert_eq!(
        request(addr, Version::H2c, "GET", &kv, b"").await.1,
        "via grpc"
    );
    let failed = grpc_call(
        &mut client,
        "/modules/http-probe/probe.Probe/Fail",
        note.clone(),
    )
    .await;
    let status = failed.unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
    assert_eq!(status.message(), "no such note");
    let missing = grpc_call(&mut client, "/modules/http-probe/probe.Probe/Nope", note).await;
    assert_eq!(missing.unwrap_err().code(), tonic::Code::Unimplemented);
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_calls_granted_http_and_grpc_servers_and_waiting_costs_it_no_cpu_time() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, c) = setup(dir.path(), &[HTTP_PROBE]);
    // support's CPU deadline is 300 ms; the slow route answers after 600 ms.
    assert!(c.sandbox.call_timeout_ms < SLOW_MS);
    let rt = start(c).await;
    let web = WebServer::start().await;
    let grpc = GrpcServer::start().await;
    let alice = TestUser::alice();
    let hello = format!("/get http://127.0.0.1:{}/hello", web.port);
    assert_eq!(ask(&fake, &alice, &hello).await, "200 hello");
    let slow = format!("/get http://127.0.0.1:{}/slow", web.port);
    assert_eq!(ask(&fake, &alice, &slow).await, "200 slow");
    let call = format!("/grpc http://127.0.0.1:{} ping", grpc.port);
    assert_eq!(ask(&fake, &alice, &call).await, "grpc ping (from tonic)");
    assert_eq!(grpc.calls(), 1);
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_not_granted_is_refused_with_an_error_value_and_no_connection() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, c) = setup(dir.path(), &[HTTP_PROBE]);
    let rt = start(c).await;
    let web = WebServer::start().await;
    let alice = TestUser::alice();
    // Granted: `127.0.0.1:*`. `localhost` is the same server under a name not granted.
    let asked = format!("/get http://localhost:{}/hello", web.port);
    let answer = ask(&fake, &alice, &asked).await;
    assert!(answer.starts_with("error: HttpRequestDenied"), "{answer}");
    assert_eq!(web.connections(), 0);
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_narrowing_a_grant_away_refuses_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, mut c) = setup(dir.path(), &[HTTP_PROBE]);
    c.modules.get_mut("http-probe").unwrap().http_hosts = Some(vec!["api.example.org".into()]);
    let rt = start(c).await;
    let web = WebServer::start().await;
    let alice = TestUser::alice();
    let asked = format!("/get http://127.0.0.1:{}/hello", web.port);
    let answer = ask(&fake, &alice, &asked).await;
    assert!(answer.starts_with("error: HttpRequestDenied"), "{answer}");
    assert_eq!(web.connections(), 0);
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_response_is_cut_at_the_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, mut c) = setup(dir.path(), &[HTTP_PROBE]);
    c.http.outgoing_max_response_bytes = 256 << 10;
    let rt = start(c).await;
    let web = WebServer::start().await;
    let alice = TestUser::alice();
    let asked = format!("/get http://127.0.0.1:{}/endless", web.port);
    let answer = ask(&fake, &alice, &asked).await;
    assert!(answer.starts_with("error: response too large"), "{answer}");
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_without_an_incoming_handler_answers_404_and_so_does_an_unknown_one() {
    let dir = tempfile::tempdir().unwrap();
    let (_fake, c) = setup(dir.path(), &[HTTP_PROBE, TIMER_PROBE]);
    let rt = start(c).await;
    let addr = rt.http_addr().unwrap();
    let (status, body) = request(addr, Version::Http1, "GET", "/modules/timer-probe/x", b"").await;
    assert_eq!(status, 404);
    assert!(body.contains("does not serve HTTP"), "{body}");
    let (status, body) = request(addr, Version::Http1, "GET", "/modules/nope/x", b"").await;
    assert_eq!(status, 404);
    assert!(body.contains("no module named `nope`"), "{body}");
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_gets_413_and_a_trap_500_and_the_next_request_works() {
    let dir = tempfile::tempdir().unwrap();
    let (_fake, mut c) = setup(dir.path(), &[HTTP_PROBE]);
    c.http.max_body_bytes = 1000;
    let rt = start(c).await;
    let addr = rt.http_addr().unwrap();
    for version in [Version::Http1, Version::H2c] {
        let big = vec![b'x'; 2000];
        let (status, _) = request(addr, version, "POST", "/modules/http-probe/note/1", &big).await;
        assert_eq!(status, 413);
        let (status, _) = request(addr, version, "GET", "/modules/http-probe/trap", b"").await;
        assert_eq!(status, 500);
        let (status, body) =
            request(addr, version, "POST", "/modules/http-probe/note/1", b"ok").await;
        assert_eq!((status, body.as_str()), (201, "noted"));
    }
    rt.stop().await;
}

/// Never enough: read until the server closes the connection.
fn until_closed(_: &str) -> bool {
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_get_503_and_are_closed_while_the_bot_still_answers_in_telegram() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, mut c) = setup(dir.path(), &[HTTP_PROBE, CLICKER]);
    c.http.max_connections = 3;
    c.http.header_read_timeout_ms = 60_000;
    let rt = start(c).await;
    let addr = rt.http_addr().unwrap();
    // Three clients connect and say nothing: they hold every connection there is.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    let refused = raw_exchange(addr, b"", until_closed, WAIT)
        .await
        .expect("the connection past the cap is closed, not left waiting");
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("too many connections"), "{refused}");
    // Telegram's side does not go through the listener: the clicker still answers.
    let alice = TestUser::alice();
    fake.send_text(&alice, "/start");
    fake.wait_for_bot_text(alice.id, "", WAIT)
        .await
        .expect("the clicker's greeting");
    // A connection given up frees its place for the next client.
    drop(held);
    let get = b"GET /modules/http-probe/mount HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
    let mut answer = String::new();
    for _ in 0..100 {
        answer = raw_exchange(addr, get, until_closed, WAIT)
            .await
            .unwrap_or_default();
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("/modules/http-probe /mount"), "{answer}");
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_half_a_header_and_stops_is_disconnected_and_so_is_one_that_sends_nothing()
 {
    let dir = tempfile::tempdir().unwrap();
    let (_fake, mut c) = setup(dir.path(), &[HTTP_PROBE]);
    c.http.header_read_timeout_ms = 300;
    let rt = start(c).await;
    let addr = rt.http_addr().unwrap();
    let half = b"GET /modules/http-probe/mount HTTP/1.1\r\nhost: x\r\n";
    let answer = raw_exchange(addr, half, until_closed, WAIT)
        .await
        .expect("half a header: the server closes the connection");
    assert!(!answer.contains("200"), "{answer}");
    raw_exchange(addr, b"", until_closed, WAIT)
        .await
        .expect("nothing sent: the server closes the connection");
    raw_exchange(addr, b"PRI * HTTP/2.0\r\n", until_closed, WAIT)
        .await
        .expect("half of HTTP/2's preface: the server closes the connection");
    // Whole requests are served as before, over both protocols.
    for version in [Version::Http1, Version::H2c] {
        let (status, _) = request(addr, version, "GET", "/modules/http-probe/mount", b"").await;
        assert_eq!(status, 200);
    }
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h2c_connection_that_asks_nothing_is_closed_after_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (_fake, mut c) = setup(dir.path(), &[HTTP_PROBE]);
    c.http.header_read_timeout_ms = 300;
    let rt = start(c).await;
    let addr = rt.http_addr().unwrap();
    // HTTP/2's preface and an empty SETTINGS frame, then nothing: a client that holds the
    // connection (one of `http.max_connections`) without asking anything.
    let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    hello.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    let answer = raw_exchange(addr, &hello, until_closed, WAIT)
        .await
        .expect("an idle h2c connection is closed");
    // The server spoke HTTP/2 (its SETTINGS frame, type 4, first) before it went away.
    assert!(answer.len() >= 9, "{answer:?}");
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_arrive_within_the_request_timeout_gets_408() {
    let dir = tempfile::tempdir().unwrap();
    let (_fake, mut c) = setup(dir.path(), &[HTTP_PROBE]);
    c.http.request_timeout_ms = 500;
    let rt = start(c).await;
    let addr = rt.http_addr().unwrap();
    let stalled =
        b"POST /modules/http-probe/note/1 HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nonly ten b";
    let answer = raw_exchange(addr, stalled, |s| s.contains("\r\n\r\n"), WAIT)
        .await
        .expect("an answer to a body that stopped coming");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_its_cap_of_requests_in_flight_a_module_answers_503_and_another_module_still_answers()
{
    let dir = tempfile::tempdir().unwrap();
    let (fake, mut c) = setup(dir.path(), &[HTTP_PROBE, CLICKER]);
    c.http.module_max_requests_in_flight = 2;
    c.http.max_requests_in_flight = 4;
    let rt = start(c).await;
    let addr = rt.http_addr().unwrap();
    // Five slow requests at once; each served one holds an instance until it answers.
    let slow: Vec<_> = (0..5)
        .map(|_| {
            tokio::spawn(async move {
                request(
                    addr,
                    Version::Http1,
                    "GET",
                    "/modules/http-probe/wait/3000",
                    b"",
                )
                .await
            })
        })
        .collect();
    let alice = TestUser::alice();
    fake.send_text(&alice, "/start");
    fake.wait_for_bot_text(alice.id, "", WAIT)
        .await
        .expect("the clicker answers while http-probe is busy");
    let mut answers = Vec::new();
    for request in slow {
        answers.push(request.await.unwrap());
    }
    let served = answers.iter().filter(|(s, b)| *s == 200 && b == "waited");
    assert_eq!(served.count(), 2, "{answers:?}");
    let refused: Vec<_> = answers.iter().filter(|(s, _)| *s == 503).collect();
    assert_eq!(refused.len(), 3, "{answers:?}");
    assert!(
        refused
            .iter()
            .all(|(_, b)| b.contains("module `http-probe` is serving 2 requests already")),
        "{answers:?}"
    );
    // Once they are done, the module serves again.
    let (status, _) = request(
        addr,
        Version::Http1,
        "GET",
        "/modules/http-probe/wait/1",
        b"",
    )
    .await;
    assert_eq!(status, 200);
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_starting_more_outgoing_requests_than_an_instance_may_gets_errors_for_the_extra_ones_and_keeps_answering()
 {
    let dir = tempfile::tempdir().unwrap();
    let (fake, mut c) = setup(dir.path(), &[HTTP_PROBE]);
    c.http.outgoing_max_in_flight_per_instance = 3;
    let rt = start(c).await;
    let web = WebServer::start().await;
    let alice = TestUser::alice();
    let burst = format!("/burst 5 http://127.0.0.1:{}/slow", web.port);
    assert_eq!(
        ask(&fake, &alice, &burst).await,
        "ok=3 ConnectionLimitReached=2"
    );
    assert_eq!(web.connections(), 3);
    // The places are given back when the requests end.
    let hello = format!("/get http://127.0.0.1:{}/hello", web.port);
    assert_eq!(ask(&fake, &alice, &hello).await, "200 hello");
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_module_wide_cap_on_outgoing_requests_in_flight_refuses_the_extra_ones_too() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, mut c) = setup(dir.path(), &[HTTP_PROBE]);
    c.http.outgoing_max_in_flight = 2;
    let rt = start(c).await;
    let web = WebServer::start().await;
    let alice = TestUser::alice();
    let burst = format!("/burst 4 http://127.0.0.1:{}/slow", web.port);
    assert_eq!(
        ask(&fake, &alice, &burst).await,
        "ok=2 ConnectionLimitReached=2"
    );
    let hello = format!("/get http://127.0.0.1:{}/hello", web.port);
    assert_eq!(ask(&fake, &alice, &hello).await, "200 hello");
    rt.stop().await;
}
