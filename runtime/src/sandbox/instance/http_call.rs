//! One HTTP request through a module's `wasi:http/incoming-handler` export.
//!
//! The module answers through a response-outparam and streams the body; the host collects the
//! whole response (bounded) while the call runs, so the caller can commit the call's effects
//! before a single byte of the response leaves.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use tokio::sync::oneshot;
use wasmtime_wasi_http::{WasiHttpView, p2::bindings::http::types::Scheme};

use super::{CallError, Instance};
use crate::sandbox::CallOutput;

/// A module's whole answer to one request.
#[derive(Debug)]
pub struct HttpReply {
    /// The status.
    pub status: http::StatusCode,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The body.
    pub body: Bytes,
    /// The trailers, if the module sent any.
    pub trailers: Option<http::HeaderMap>,
}

impl Instance {
    /// Whether this instance exports `wasi:http/incoming-handler`.
    pub fn serves_http(&self) -> bool {
        self.http.is_some()
    }

    /// Hands `request` to the module inside a fresh KV transaction, waiting at most `wall`
    /// for the call (its CPU time is bounded by the epoch deadline as for updates) and taking a
    /// response body of at most `max_response` bytes. Returns the call's effects even when it
    /// failed, so the caller can abort them; after a [`CallError::Trap`] the instance must not
    /// be used again.
    pub async fn serve_http(
        &mut self,
        request: http::Request<Full<Bytes>>,
        max_response: usize,
        wall: Duration,
    ) -> (Result<HttpReply, CallError>, CallOutput) {
        let started_ms = crate::clock::unix_ms();
        let started = tokio::time::Instant::now();
        self.store.data_mut().begin_call(None, Vec::new(), None);
        self.store.set_epoch_deadline(1);
        let (tx, rx) = oneshot::channel();
        let resources = {
            let mut view = self.store.data_mut().http();
            let req = view.new_incoming_request(Scheme::Http, request);
            let out = view.new_response_outparam(tx);
            req.and_then(|r| out.map(|o| (r, o)))
        };
        let collector = tokio::spawn(collect(rx, max_response));
        let call = match (&self.http, resources) {
            (Some(guest), Ok((req, out))) => {
                let call = guest.call_handle(&mut self.store, req, out);
                match tokio::time::timeout(wall, call).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(wasmtime::Error::msg(format!(
                        "wall time limit of {} ms for an HTTP request exceeded",
                        wall.as_millis()
                    ))),
                }
            }
            (None, _) => Err(wasmtime::Error::msg("the module does not serve HTTP")),
            (_, Err(e)) => Err(e),
        };
        let output = self
            .store
            .data_mut()
            .end_call()
            .expect("begin_call was called above");
        if let Err(e) = call {
            collector.abort();
            return (Err(self.trap(e, started_ms)), output);
        }
        // The module returned; its body is finished unless it kept it open, which the rest
        // of the wall time bounds.
        let left = wall.saturating_sub(started.elapsed());
        let result = match tokio::time::timeout(left, collector).await {
            Ok(Ok(Ok(reply))) => Ok(reply),
            Ok(Ok(Err(refused))) => Err(CallError::Refused(super::refusal(&refused))),
            Ok(Err(e)) => Err(CallError::Refused(format!("collecting the response: {e}"))),
            Err(_) => Err(CallError::Trap(
                "the module returned without finishing its response body".into(),
            )),
        };
        (result, output)
    }
}

type Answer = Result<
    hyper::Response<wasmtime_wasi_http::p2::body::HyperOutgoingBody>,
    wasmtime_wasi_http::p2::bindings::http::types::ErrorCode,
>;

/// Waits for the module's response and reads its body and trailers.
async fn collect(rx: oneshot::Receiver<Answer>, max_response: usize) -> Result<HttpReply, String> {
    let response = rx
        .await
        .map_err(|_| "the module returned without setting a response".to_string())?
        .map_err(|code| format!("the module answered with the error {code:?}"))?;
    let (parts, mut body) = response.into_parts();
    let mut bytes = BytesMut::new();
    let mut trailers = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("the module's response body failed: {e}"))?;
        match frame.into_data() {
            Ok(data) => {
                // Module-controlled size: bounded before it is kept.
                if bytes.len() + data.len() > max_response {
                    return Err(format!(
                        "the module's response body is larger than {max_response} bytes"
                    ));
                }
                bytes.extend_from_slice(&data);
            }
            Err(frame) => {
                if let Ok(t) = frame.into_trailers() {
                    trailers = Some(t);
                }
            }
        }
    }
    Ok(HttpReply {
        status: parts.status,
        headers: parts.headers,
        body: bytes.freeze(),
        trailers,
    })
}
