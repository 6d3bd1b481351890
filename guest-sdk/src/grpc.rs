//! gRPC over [`http`]: unary calls to a service ([`call`]) and unary handlers a
//! module serves ([`Router`]), with [prost] messages. The `.proto` file stays the source of
//! truth; write the message types with prost (by hand, or generated with `prost-build`).
//!
//! ```no_run
//! use botbox_sdk::{grpc, http};
//!
//! #[derive(Clone, PartialEq, prost::Message)]
//! struct Ping { #[prost(string, tag = "1")] text: String }
//!
//! // Calling: the host must grant `127.0.0.1:50051` (plain `http://` gRPC travels as h2c).
//! # fn f() -> Result<(), grpc::Status> {
//! let pong: Ping = grpc::call("http://127.0.0.1:50051", "/demo.Echo/Ping", &Ping { text: "hi".into() })?;
//! # Ok(()) }
//!
//! // Serving, from `http::Handler::handle`:
//! fn handle(request: http::Request) -> http::Response {
//!     grpc::Router::new()
//!         .unary("/demo.Echo/Ping", |ping: Ping| Ok::<_, grpc::Status>(ping))
//!         .handle(&request)
//! }
//! ```
//!
//! Only unary methods, uncompressed messages. Errors travel as `grpc-status` and
//! `grpc-message` trailers, as every gRPC implementation expects.

mod status;

use std::collections::HashMap;

pub use status::{Code, Status};

use crate::http::{self, Request, Response};

/// Largest message accepted, in bytes (the gRPC default).
pub const MAX_MESSAGE_BYTES: usize = 4 << 20;

/// Calls unary method `path` (`/package.Service/Method`) of the service at `base_url`
/// (`http://host:port`, or `https://...`) with `request`, and decodes its answer.
///
/// A refused host comes back as [`Code::PermissionDenied`], a network failure as
/// [`Code::Unavailable`], a timeout as [`Code::DeadlineExceeded`]; the service's own errors
/// keep its code and message.
pub fn call<Req, Resp>(base_url: &str, path: &str, request: &Req) -> Result<Resp, Status>
where
    Req: prost::Message,
    Resp: prost::Message + Default,
{
    let url = format!("{}{}", base_url.trim_end_matches('/'), path);
    let http_request = Request::post(&url, frame(request))
        .with_header("content-type", "application/grpc")
        .with_header("te", "trailers");
    let response = http::send(http_request).map_err(|e| match e {
        http::Error::Denied => Status::new(Code::PermissionDenied, e.to_string()),
        http::Error::Timeout(_) => Status::new(Code::DeadlineExceeded, e.to_string()),
        http::Error::TooLarge(_) => Status::new(Code::ResourceExhausted, e.to_string()),
        http::Error::InvalidRequest(_) => Status::new(Code::InvalidArgument, e.to_string()),
        _ => Status::new(Code::Unavailable, e.to_string()),
    })?;
    if response.status != 200 {
        return Err(Status::new(
            Code::from_http(response.status),
            format!("HTTP status {}", response.status),
        ));
    }
    // grpc-status comes in the trailers, or in the headers of a trailers-only response.
    let status = response
        .trailer("grpc-status")
        .or_else(|| response.header("grpc-status"))
        .map(|s| {
            s.trim()
                .parse::<i32>()
                .map_or(Code::Unknown, Code::from_i32)
        });
    let message = response
        .trailer("grpc-message")
        .or_else(|| response.header("grpc-message"))
        .map(status::percent_decode)
        .unwrap_or_default();
    match status {
        Some(Code::Ok) => unframe(&response.body),
        Some(code) => Err(Status::new(code, message)),
        None => Err(Status::new(
            Code::Internal,
            "no grpc-status in the response",
        )),
    }
}

/// A unary method: decodes the request body, runs the handler, encodes its answer.
type Method = Box<dyn Fn(&[u8]) -> Result<Vec<u8>, Status>>;

/// Routes gRPC requests to unary handlers by path; turns an incoming [`Request`] into a
/// [`Response`] with the gRPC framing and status trailers.
#[derive(Default)]
pub struct Router {
    methods: HashMap<String, Method>,
}

impl Router {
    /// A router with no methods: every call answers [`Code::Unimplemented`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves unary method `path` (`/package.Service/Method`) with `handler`.
    pub fn unary<Req, Resp, F>(mut self, path: &str, handler: F) -> Self
    where
        Req: prost::Message + Default,
        Resp: prost::Message,
        F: Fn(Req) -> Result<Resp, Status> + 'static,
    {
        let method: Method = Box::new(move |body| {
            let request: Req = unframe(body)?;
            handler(request).map(|r| frame(&r))
        });
        self.methods.insert(path.to_string(), method);
        self
    }

    /// Whether `request` is a gRPC call (its content type is `application/grpc...`).
    pub fn is_grpc(request: &Request) -> bool {
        request
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/grpc"))
    }

    /// Answers `request`: the method's reply, or its error status, in gRPC's shape.
    pub fn handle(&self, request: &Request) -> Response {
        let result = match self.methods.get(request.path_only()) {
            Some(method) => method(&request.body),
            None => Err(Status::new(
                Code::Unimplemented,
                format!("no method {}", request.path_only()),
            )),
        };
        let response = Response::new(200).with_header("content-type", "application/grpc");
        match result {
            Ok(body) => response.with_body(body).with_trailer("grpc-status", "0"),
            Err(status) => response
                .with_trailer("grpc-status", &(status.code as i32).to_string())
                .with_trailer("grpc-message", &status::percent_encode(&status.message)),
        }
    }
}

/// A message in gRPC's length-prefixed framing: a zero "compressed" flag, the length as four
/// big-endian bytes, the message.
fn frame<M: prost::Message>(message: &M) -> Vec<u8> {
    let len = message.encoded_len();
    let mut out = Vec::with_capacity(5 + len);
    out.push(0);
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
    message
        .encode(&mut out)
        .expect("a Vec grows to fit the message");
    out
}

/// The one message in a length-prefixed body.
fn unframe<M: prost::Message + Default>(body: &[u8]) -> Result<M, Status> {
    let bad = |m: &str| Status::new(Code::Internal, m.to_string());
    let (header, rest) = body
        .split_first_chunk::<5>()
        .ok_or_else(|| bad("the body has no message frame"))?;
    if header[0] != 0 {
        return Err(Status::new(
            Code::Unimplemented,
            "compressed messages are not supported",
        ));
    }
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if len > MAX_MESSAGE_BYTES {
        return Err(Status::new(Code::ResourceExhausted, "message too large"));
    }
    let message = rest
        .get(..len)
        .ok_or_else(|| bad("the message is cut short"))?;
    M::decode(message).map_err(|e| bad(&format!("cannot decode the message: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, PartialEq, prost::Message)]
    struct Ping {
        #[prost(string, tag = "1")]
        text: String,
    }

    #[test]
    fn a_router_answers_framed_replies_and_error_trailers() {
        let router = Router::new().unary("/t.S/Echo", |p: Ping| Ok(p)).unary(
            "/t.S/Fail",
            |_: Ping| -> Result<Ping, Status> {
                Err(Status::new(Code::NotFound, "no such ping: 100%"))
            },
        );
        let ping = Ping { text: "hi".into() };
        let request = Request::post("/t.S/Echo", frame(&ping));
        let response = router.handle(&request);
        assert_eq!(response.trailer("grpc-status"), Some("0"));
        assert_eq!(unframe::<Ping>(&response.body).unwrap(), ping);
        let response = router.handle(&Request::post("/t.S/Fail", frame(&ping)));
        assert_eq!(response.trailer("grpc-status"), Some("5"));
        assert_eq!(
            response.trailer("grpc-message"),
            Some("no such ping: 100%25")
        );
        let response = router.handle(&Request::post("/t.S/Nope", frame(&ping)));
        assert_eq!(response.trailer("grpc-status"), Some("12"));
    }

    #[test]
    fn short_or_compressed_frames_are_refused() {
        assert!(unframe::<Ping>(&[0, 0, 0]).is_err());
        assert!(unframe::<Ping>(&[0, 0, 0, 0, 9, 1]).is_err());
        assert_eq!(
            unframe::<Ping>(&[1, 0, 0, 0, 0]).unwrap_err().code,
            Code::Unimplemented
        );
    }
}
