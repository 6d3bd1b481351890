//! A module for the host's HTTP tests. Declares the outgoing host `127.0.0.1:*`, and the one
//! its setting `extra_host` names (`localhost:*`), if any.
//!
//! Incoming (`/modules/http-probe/...`):
//! - `POST /note/<chat>` with a text body: stores it under KV key `note/<chat>`, sends
//!   `note: <text>` to that chat and answers 201 `noted`;
//! - `GET /kv/<key>`: the value of KV key `<key>` (404 when absent);
//! - `GET /mount`: `<x-botbox-mount header> <path>`;
//! - `GET /trap`: panics;
//! - `GET /wait/<ms>`: sleeps `<ms>` milliseconds (no CPU time), then answers `waited`;
//! - gRPC `/probe.Probe/Echo` (`Note {chat, text}`): stores `grpc/<chat>`, sends
//!   `grpc: <text>` to the chat and answers the same note; `/probe.Probe/Fail` answers
//!   NOT_FOUND `no such note`.
//!
//! Outgoing, as commands: `/get <url>` answers `<status> <body>`; `/grpc <url> <text>` calls
//! `/probe.Probe/Echo` at `<url>` with `Note {chat, text}` and answers `grpc <text>`; failures
//! answer `error: <error>` (`HttpRequestDenied` for a host not granted). `/burst <n> <url>`
//! starts `<n>` GETs of the plain-HTTP `<url>` at once, then waits for them all, and answers the
//! outcomes counted, in order: `ok=3 ConnectionLimitReached=2`.

use botbox_sdk::{
    Error, Manifest, Message, Module, Update, grpc,
    http::{self, Method, Request, Response},
    kv, reply,
};

/// The gRPC message of the probe's service.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Note {
    /// The chat to tell.
    #[prost(int64, tag = "1")]
    pub chat: i64,
    /// The text.
    #[prost(string, tag = "2")]
    pub text: String,
}

struct HttpProbe;

impl Module for HttpProbe {
    fn init() -> Result<Manifest, Error> {
        let mut manifest = Manifest::new("http-probe", env!("CARGO_PKG_VERSION"))
            .command("get", "GET a URL: /get <url>")
            .command("grpc", "Call Probe/Echo: /grpc <url> <text>")
            .command("burst", "Start n GETs at once: /burst <n> <url>")
            .http_host("127.0.0.1:*");
        if let Some(host) = botbox_sdk::config::get("extra_host")? {
            manifest = manifest.http_host(host);
        }
        Ok(manifest)
    }

    fn handle_update(update: &Update) -> Result<(), Error> {
        let chat = update.chat_id().ok_or("no chat")?;
        let args = update.command_args();
        let answer = match update.command() {
            Some("get") => match http::get(args) {
                Ok(r) => format!("{} {}", r.status, r.text_body()),
                Err(e) => format!("error: {e}"),
            },
            Some("grpc") => {
                let (url, text) = args.split_once(' ').unwrap_or((args, ""));
                let note = Note {
                    chat,
                    text: text.into(),
                };
                match grpc::call::<Note, Note>(url, "/probe.Probe/Echo", &note) {
                    Ok(n) => format!("grpc {}", n.text),
                    Err(e) => format!("error: {e}"),
                }
            }
            Some("burst") => {
                let (n, url) = args.split_once(' ').unwrap_or((args, ""));
                burst(n.parse().map_err(|_| "bad count")?, url)
            }
            _ => return Ok(()),
        };
        let answer: String = answer.chars().take(1000).collect();
        reply(update, &answer)?;
        Ok(())
    }
}

impl http::Handler for HttpProbe {
    fn handle(request: Request) -> Response {
        if grpc::Router::is_grpc(&request) {
            return grpc::Router::new()
                .unary("/probe.Probe/Echo", |note: Note| {
                    echo(&note)
                        .map(|()| note)
                        .map_err(|e| grpc::Status::new(grpc::Code::Internal, e.to_string()))
                })
                .unary(
                    "/probe.Probe/Fail",
                    |_: Note| -> Result<Note, grpc::Status> {
                        Err(grpc::Status::new(grpc::Code::NotFound, "no such note"))
                    },
                )
                .handle(&request);
        }
        let path = request.path_only().to_string();
        let result = match (&request.method, path.as_str()) {
            (Method::Post, p) if p.starts_with("/note/") => note(&p["/note/".len()..], &request),
            (Method::Get, p) if p.starts_with("/kv/") => match kv::get(&p["/kv/".len()..]) {
                Ok(Some(v)) => Ok(Response::text(String::from_utf8_lossy(&v))),
                Ok(None) => Ok(Response::new(404)),
                Err(e) => Err(e.into()),
            },
            (Method::Get, "/mount") => Ok(Response::text(format!(
                "{} {}",
                request.header("x-botbox-mount").unwrap_or("-"),
                request.path
            ))),
            (Method::Get, "/trap") => panic!("asked to trap"),
            (Method::Get, p) if p.starts_with("/wait/") => match p["/wait/".len()..].parse() {
                Ok(ms) => {
                    std::thread::sleep(std::time::Duration::from_millis(ms));
                    Ok(Response::text("waited"))
                }
                Err(_) => Ok(Response::new(400).with_body("bad wait")),
            },
            _ => Ok(Response::new(404).with_body("no such route")),
        };
        result.unwrap_or_else(|e: Error| Response::new(500).with_body(e.to_string()))
    }
}

/// Starts `n` GETs of `url` (`http://host:port/path`) before waiting for any; the outcomes,
/// counted.
fn burst(n: usize, url: &str) -> String {
    use botbox_sdk::__private::wasi::http::{
        outgoing_handler,
        types::{Fields, OutgoingRequest, Scheme},
    };
    use std::collections::BTreeMap;
    let Some((authority, path)) = url
        .strip_prefix("http://")
        .map(|rest| rest.split_once('/').unwrap_or((rest, "")))
    else {
        return "error: only http:// URLs".into();
    };
    let path = format!("/{path}");
    let mut outcomes = BTreeMap::<String, usize>::new();
    let mut pending = Vec::new();
    for _ in 0..n {
        let request = OutgoingRequest::new(Fields::new());
        let _ = request.set_scheme(Some(&Scheme::Http));
        let _ = request.set_authority(Some(authority));
        let _ = request.set_path_with_query(Some(&path));
        match outgoing_handler::handle(request, None) {
            Ok(future) => pending.push(future),
            Err(code) => *outcomes.entry(code_name(&code)).or_default() += 1,
        }
    }
    for future in pending {
        future.subscribe().block();
        let outcome = match future.get() {
            Some(Ok(Ok(_response))) => "ok".to_string(),
            Some(Ok(Err(code))) => code_name(&code),
            _ => "no-response".to_string(),
        };
        *outcomes.entry(outcome).or_default() += 1;
    }
    let mut outcomes: Vec<_> = outcomes.into_iter().collect();
    // `ok` first, then the errors by name.
    outcomes.sort_by_key(|(name, _)| (name != "ok", name.clone()));
    outcomes
        .iter()
        .map(|(name, count)| format!("{name}={count}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `ConnectionLimitReached` for `ErrorCode::ConnectionLimitReached`.
fn code_name(code: &impl std::fmt::Debug) -> String {
    let name = format!("{code:?}");
    name.trim_start_matches("ErrorCode::").to_string()
}

fn echo(note: &Note) -> Result<(), Error> {
    kv::set(format!("grpc/{}", note.chat), &note.text)?;
    Message::new(note.chat, format!("grpc: {}", note.text)).send()?;
    Ok(())
}

fn note(chat: &str, request: &Request) -> Result<Response, Error> {
    let chat: i64 = chat.parse().map_err(|_| "bad chat id")?;
    let text = String::from_utf8_lossy(&request.body).into_owned();
    kv::set(format!("note/{chat}"), &text)?;
    Message::new(chat, format!("note: {text}")).send()?;
    Ok(Response::new(201).with_body("noted"))
}

botbox_sdk::export_module!(HttpProbe, http = HttpProbe);
