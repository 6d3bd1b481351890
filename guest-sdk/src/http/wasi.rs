//! The `wasi:http` plumbing behind [`send`] and the incoming-handler export.

use super::{Error, Headers, Method, Request, Response};
use crate::__private::wasi::{
    http::{
        outgoing_handler,
        types::{
            self as wit, ErrorCode, Fields, IncomingBody, IncomingRequest, OutgoingBody,
            OutgoingRequest, OutgoingResponse, ResponseOutparam, Scheme,
        },
    },
    io::streams::{InputStream, OutputStream, StreamError},
};

/// Most bytes `blocking-write-and-flush` takes at once.
const WRITE_CHUNK: usize = 4096;
/// Longest error text kept from the host, in characters.
const MAX_MESSAGE_CHARS: usize = 300;
/// Bytes asked for per read.
const READ_CHUNK: u64 = 64 * 1024;

/// Sends `request` (its [`Request::path`] is the whole URL) and waits for the whole response,
/// trailers included. The host bounds how long it may take and how large the body may be.
pub fn send(request: Request) -> Result<Response, Error> {
    let (scheme, authority, path) = split_url(&request.path)?;
    let mut headers = request.headers.clone();
    // The body's size, so HTTP/1.1 sends it whole rather than chunked.
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        headers.push(("content-length".into(), request.body.len().to_string()));
    }
    let headers = fields(&headers).map_err(Error::InvalidRequest)?;
    let outgoing = OutgoingRequest::new(headers);
    let invalid = |what: &str| Error::InvalidRequest(format!("bad {what}"));
    outgoing
        .set_method(&to_wit_method(&request.method))
        .map_err(|()| invalid("method"))?;
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| invalid("scheme"))?;
    outgoing
        .set_authority(Some(authority))
        .map_err(|()| invalid("authority"))?;
    outgoing
        .set_path_with_query(Some(path))
        .map_err(|()| invalid("path"))?;
    let body = outgoing.body().map_err(|()| invalid("body"))?;
    let future = outgoing_handler::handle(outgoing, None).map_err(from_code)?;
    // The host may refuse the request (a host not granted) while its body is being written:
    // the body stream then closes, and the reason is the response's error, not the write's.
    let refused = |write_error: Error| {
        future.subscribe().block();
        match future.get() {
            Some(Ok(Err(code))) => from_code(code),
            _ => write_error,
        }
    };
    let written = {
        let stream = body.write().map_err(|()| invalid("body"))?;
        write_all(&stream, &request.body)
    };
    if let Err(e) = written {
        return Err(refused(Error::Failed(e)));
    }
    if let Err(code) = OutgoingBody::finish(body, None) {
        return Err(refused(from_code(code)));
    }
    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(from_code(code)),
        Some(Err(())) | None => return Err(Error::Failed("no response".into())),
    };
    let status = response.status();
    let headers = entries(response.headers());
    let incoming = response
        .consume()
        .map_err(|()| Error::Failed("body taken".into()))?;
    let (body, trailers) = read_body(incoming)?;
    Ok(Response {
        status,
        headers,
        body,
        trailers,
    })
}

/// Splits `scheme://authority/path?query`.
fn split_url(url: &str) -> Result<(Scheme, &str, &str), Error> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| Error::InvalidRequest(format!("not an absolute URL: {url}")))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => return Err(Error::InvalidRequest(format!("unsupported scheme {other}"))),
    };
    let at = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(at);
    if authority.is_empty() {
        return Err(Error::InvalidRequest(format!("no host in {url}")));
    }
    Ok((scheme, authority, if path.is_empty() { "/" } else { path }))
}

fn from_code(code: ErrorCode) -> Error {
    match code {
        ErrorCode::HttpRequestDenied => Error::Denied,
        ErrorCode::HttpRequestMethodInvalid
        | ErrorCode::HttpRequestUriInvalid
        | ErrorCode::HttpRequestUriTooLong => Error::InvalidRequest(format!("{code:?}")),
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::HttpResponseTimeout
        | ErrorCode::DnsTimeout => Error::Timeout(format!("{code:?}")),
        ErrorCode::HttpResponseBodySize(_) => Error::TooLarge(format!("{code:?}")),
        other => Error::Failed(truncated(format!("{other:?}"))),
    }
}

/// The host's text may carry a whole error chain; a reason needs its start.
fn truncated(mut message: String) -> String {
    if let Some((at, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
        message.truncate(at);
        message.push('…');
    }
    message
}

/// A body error the host reported as text only (it carries no error code).
fn from_message(message: String) -> Error {
    let message = truncated(message);
    let lower = message.to_ascii_lowercase();
    if lower.contains("body size") {
        Error::TooLarge(message)
    } else if lower.contains("timeout") || lower.contains("timed out") {
        Error::Timeout(message)
    } else {
        Error::Failed(message)
    }
}

fn to_wit_method(method: &Method) -> wit::Method {
    match method {
        Method::Get => wit::Method::Get,
        Method::Head => wit::Method::Head,
        Method::Post => wit::Method::Post,
        Method::Put => wit::Method::Put,
        Method::Delete => wit::Method::Delete,
        Method::Connect => wit::Method::Connect,
        Method::Options => wit::Method::Options,
        Method::Trace => wit::Method::Trace,
        Method::Patch => wit::Method::Patch,
        Method::Other(m) => wit::Method::Other(m.clone()),
    }
}

fn from_wit_method(method: wit::Method) -> Method {
    match method {
        wit::Method::Get => Method::Get,
        wit::Method::Head => Method::Head,
        wit::Method::Post => Method::Post,
        wit::Method::Put => Method::Put,
        wit::Method::Delete => Method::Delete,
        wit::Method::Connect => Method::Connect,
        wit::Method::Options => Method::Options,
        wit::Method::Trace => Method::Trace,
        wit::Method::Patch => Method::Patch,
        wit::Method::Other(m) => Method::Other(m),
    }
}

fn fields(headers: &Headers) -> Result<Fields, String> {
    let list: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone().into_bytes()))
        .collect();
    Fields::from_list(&list).map_err(|e| format!("bad header: {e:?}"))
}

fn entries(fields: Fields) -> Headers {
    fields
        .entries()
        .into_iter()
        .map(|(n, v)| (n, String::from_utf8_lossy(&v).into_owned()))
        .collect()
}

fn write_all(stream: &OutputStream, mut bytes: &[u8]) -> Result<(), String> {
    while !bytes.is_empty() {
        let n = bytes.len().min(WRITE_CHUNK);
        stream
            .blocking_write_and_flush(&bytes[..n])
            .map_err(|e| format!("writing the body: {e:?}"))?;
        bytes = &bytes[n..];
    }
    Ok(())
}

fn read_stream(stream: &InputStream) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    loop {
        match stream.blocking_read(READ_CHUNK) {
            Ok(chunk) => out.extend_from_slice(&chunk),
            Err(StreamError::Closed) => return Ok(out),
            Err(StreamError::LastOperationFailed(e)) => {
                let code = wit::http_error_code(&e);
                return Err(match code {
                    Some(code) => from_code(code),
                    None => from_message(e.to_debug_string()),
                });
            }
        }
    }
}

/// Reads a body to its end, then its trailers.
fn read_body(body: IncomingBody) -> Result<(Vec<u8>, Headers), Error> {
    let bytes = {
        let stream = body
            .stream()
            .map_err(|()| Error::Failed("body stream taken".into()))?;
        read_stream(&stream)?
    };
    let trailers = IncomingBody::finish(body);
    trailers.subscribe().block();
    let trailers = match trailers.get() {
        Some(Ok(Ok(Some(t)))) => entries(t),
        Some(Ok(Ok(None))) => Vec::new(),
        Some(Ok(Err(code))) => return Err(from_code(code)),
        Some(Err(())) | None => Vec::new(),
    };
    Ok((bytes, trailers))
}

/// Runs `H` for one request of the `wasi:http/incoming-handler` export.
pub(crate) fn serve<H: super::Handler>(request: IncomingRequest, out: ResponseOutparam) {
    let method = from_wit_method(request.method());
    let path = request.path_with_query().unwrap_or_else(|| "/".into());
    let headers = entries(request.headers());
    let body = match request.consume() {
        Ok(body) => read_body(body).map(|(b, _)| b),
        Err(()) => Ok(Vec::new()),
    };
    drop(request);
    let body = match body {
        Ok(body) => body,
        Err(e) => {
            ResponseOutparam::set(out, Err(ErrorCode::InternalError(Some(e.to_string()))));
            return;
        }
    };
    let response = H::handle(Request {
        method,
        path,
        headers,
        body,
    });
    respond(out, response);
}

fn respond(out: ResponseOutparam, response: Response) {
    let headers = match fields(&response.headers) {
        Ok(h) => h,
        Err(e) => {
            ResponseOutparam::set(out, Err(ErrorCode::InternalError(Some(e))));
            return;
        }
    };
    let outgoing = OutgoingResponse::new(headers);
    if outgoing.set_status_code(response.status).is_err() {
        let e = format!("bad status {}", response.status);
        ResponseOutparam::set(out, Err(ErrorCode::InternalError(Some(e))));
        return;
    }
    let body = outgoing.body().expect("a new response has its body");
    ResponseOutparam::set(out, Ok(outgoing));
    {
        let stream = body.write().expect("a new body has its stream");
        if write_all(&stream, &response.body).is_err() {
            return; // the client went away
        }
    }
    let trailers = match response.trailers.is_empty() {
        true => None,
        false => fields(&response.trailers).ok(),
    };
    let _ = OutgoingBody::finish(body, trailers);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_authority_and_path() {
        let (s, a, p) = split_url("http://127.0.0.1:8080/a/b?c=1").unwrap();
        assert!(matches!(s, Scheme::Http));
        assert_eq!((a, p), ("127.0.0.1:8080", "/a/b?c=1"));
        let (_, a, p) = split_url("https://example.com").unwrap();
        assert_eq!((a, p), ("example.com", "/"));
        assert!(split_url("ftp://x/").is_err());
        assert!(split_url("/relative").is_err());
    }
}
