//! A module for the host's HTTP tests. Declares the outgoing host `127.0.0.1:*`.
//!
//! Incoming (`/modules/http-probe/...`):
//! - `POST /note/<chat>` with a text body: stores it under KV key `note/<chat>`, sends
//!   `note: <text>` to that chat and answers 201 `noted`;
//! - `GET /kv/<key>`: the value of KV key `<key>` (404 when absent);
//! - `GET /mount`: `<x-botbox-mount header> <path>`;
//! - `GET /trap`: panics;
//! - gRPC `/probe.Probe/Echo` (`Note {chat, text}`): stores `grpc/<chat>`, sends
//!   `grpc: <text>` to the chat and answers the same note; `/probe.Probe/Fail` answers
//!   NOT_FOUND `no such note`.
//!
//! Outgoing, as commands: `/get <url>` answers `<status> <body>`; `/grpc <url> <text>` calls
//! `/probe.Probe/Echo` at `<url>` with `Note {chat, text}` and answers `grpc <text>`; failures
//! answer `error: <error>` (`HttpRequestDenied` for a host not granted).

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
        Ok(Manifest::new("http-probe", env!("CARGO_PKG_VERSION"))
            .command("get", "GET a URL: /get <url>")
            .command("grpc", "Call Probe/Echo: /grpc <url> <text>")
            .http_host("127.0.0.1:*"))
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
            _ => Ok(Response::new(404).with_body("no such route")),
        };
        result.unwrap_or_else(|e: Error| Response::new(500).with_body(e.to_string()))
    }
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
