//! HTTP out of the module and into it.
//!
//! **Outgoing**: [`get`], [`post`] and [`send`] reach the hosts the module's manifest declares
//! ([`Manifest::http_host`](crate::Manifest::http_host)) and the operator keeps; any other host is
//! refused with [`Error::Denied`] before a connection is made. The host speaks HTTP/1.1, and
//! HTTP/2 where it must: `https://` negotiates it, and a plain `http://` request with
//! `content-type: application/grpc` goes out as HTTP/2 (gRPC over h2c).
//!
//! ```no_run
//! use botbox_sdk::http;
//!
//! # fn f() -> Result<(), http::Error> {
//! let response = http::get("https://api.example.com/v1/status")?;
//! if response.status == 200 {
//!     let text = String::from_utf8_lossy(&response.body);
//! }
//! # Ok(()) }
//! ```
//!
//! **Incoming**: implement [`Handler`] and name it in [`export_module!`](crate::export_module)
//! (`export_module!(MyModule, http = MyModule)`); the host then sends requests for
//! `/modules/<name>/...` to [`Handler::handle`], with the `/modules/<name>` prefix stripped from
//! [`Request::path`] (the prefix is in the `x-botbox-mount` header). Like an update, a request's
//! KV writes and queued messages are committed before its response is sent.

mod wasi;

pub(crate) use wasi::serve;

pub use wasi::send;

/// An HTTP method.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Method {
    /// `GET`
    #[default]
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `CONNECT`
    Connect,
    /// `OPTIONS`
    Options,
    /// `TRACE`
    Trace,
    /// `PATCH`
    Patch,
    /// Any other method, as written.
    Other(String),
}

/// Header names and values, in order; names are compared without regard to case.
pub type Headers = Vec<(String, String)>;

/// An HTTP request: one the module sends ([`send`]) or one it is handed ([`Handler::handle`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// Outgoing: the whole URL, `http://host:port/path?query` or `https://...`. Incoming: the path
    /// and query after the mount prefix, e.g. `/hooks/github?x=1` for a request to
    /// `/modules/<name>/hooks/github?x=1`, or `/pkg.Service/Method` for gRPC.
    pub path: String,
    /// The headers.
    pub headers: Headers,
    /// The body.
    pub body: Vec<u8>,
}

/// An HTTP response: one the module received or one it answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: Headers,
    /// The body.
    pub body: Vec<u8>,
    /// The trailers (gRPC sends its status in them); empty when there were none.
    pub trailers: Headers,
}

/// Why an outgoing request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The module may not reach this host (wasi:http's `HTTP-request-denied`): it is not in the
    /// manifest's `http_host` list, or the operator took it away, or it resolves only to
    /// loopback or private addresses the operator did not grant. Nothing was sent.
    #[error("HttpRequestDenied: the module is not granted this host")]
    Denied,
    /// The request was not valid: a bad URL, method or header.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The response (or its body) did not arrive in time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The response body was larger than the host allows.
    #[error("response too large: {0}")]
    TooLarge(String),
    /// Anything else: connection refused, DNS, TLS, protocol errors (the wasi:http error code).
    #[error("request failed: {0}")]
    Failed(String),
}

impl From<Error> for crate::Error {
    fn from(error: Error) -> Self {
        crate::Error::Other(format!("http: {error}"))
    }
}

/// Serves the HTTP requests the host mounts under `/modules/<name>/`. Name the implementing type
/// in [`export_module!`](crate::export_module): `export_module!(MyModule, http = MyModule)`.
pub trait Handler {
    /// Answers one request. The module's KV writes and queued messages of this call are
    /// committed before the response leaves; a panic traps the instance and the client gets 500.
    fn handle(request: Request) -> Response;
}

/// Sends a `GET` to `url`.
pub fn get(url: &str) -> Result<Response, Error> {
    send(Request::get(url))
}

/// Sends a `POST` of `body` to `url` with the given `content-type`.
pub fn post(url: &str, content_type: &str, body: impl Into<Vec<u8>>) -> Result<Response, Error> {
    send(Request::post(url, body).with_header("content-type", content_type))
}

fn find<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl Request {
    /// A request with this method and URL (or path), no headers and no body.
    pub fn new(method: Method, url: &str) -> Self {
        Request {
            method,
            path: url.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A `GET` of `url`.
    pub fn get(url: &str) -> Self {
        Self::new(Method::Get, url)
    }

    /// A `POST` of `body` to `url`.
    pub fn post(url: &str, body: impl Into<Vec<u8>>) -> Self {
        Self::new(Method::Post, url).with_body(body)
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The first value of header `name`, compared without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }

    /// The path without the query (`/a/b` for `/a/b?c=1`).
    pub fn path_only(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }
}

impl Response {
    /// A response with this status, no headers and no body.
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            trailers: Vec::new(),
        }
    }

    /// A `200 OK` with a `text/plain` body.
    pub fn text(body: impl Into<String>) -> Self {
        Self::new(200)
            .with_header("content-type", "text/plain; charset=utf-8")
            .with_body(body.into())
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Adds a trailer.
    pub fn with_trailer(mut self, name: &str, value: &str) -> Self {
        self.trailers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The first value of header `name`, compared without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }

    /// The first value of trailer `name`, compared without regard to case.
    pub fn trailer(&self, name: &str) -> Option<&str> {
        find(&self.trailers, name)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text_body(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_found_without_regard_to_case() {
        let r = Request::get("http://x/a?b=1").with_header("Content-Type", "text/plain");
        assert_eq!(r.header("content-type"), Some("text/plain"));
        assert_eq!(r.path_only(), "http://x/a");
        let r = Response::new(200).with_trailer("grpc-status", "0");
        assert_eq!(r.trailer("GRPC-STATUS"), Some("0"));
    }
}
