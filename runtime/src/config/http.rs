//! `[http]`: the listener that serves modules' HTTP, and the limits of modules' HTTP both ways.

use std::net::SocketAddr;

use serde::Deserialize;

use crate::{Error, Result};

/// Modules' HTTP: incoming requests on `/modules/<name>/...` and outgoing requests.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Where `/modules/<name>/...` is served, HTTP/1.1 and h2c on the same port
    /// (`BOTBOX_HTTP_ADDR`); `off` (or empty) serves nothing. Port 0 picks a free port, written
    /// to `<data_dir>/http.addr`.
    pub addr: String,
    /// Largest incoming request body, in bytes; larger ones get 413.
    pub max_body_bytes: usize,
    /// Largest response body a module may answer with, in bytes; larger ones become 500.
    pub max_response_bytes: usize,
    /// Wall time one incoming request may take in the module, in milliseconds (its CPU time is
    /// bounded by `sandbox.call_timeout_ms` like an update's); past it the client gets 500 and
    /// the instance is discarded.
    pub request_timeout_ms: u64,
    /// Wall time one outgoing request may take, connect, response and whole body, in
    /// milliseconds. Waiting for the network never counts against the CPU deadline.
    pub outgoing_timeout_ms: u64,
    /// Largest response body an outgoing request may receive, in bytes; the module gets an
    /// error (`HTTP-response-body-size`) when the response is longer.
    pub outgoing_max_response_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            addr: "127.0.0.1:8088".into(),
            max_body_bytes: 1 << 20,
            max_response_bytes: 8 << 20,
            request_timeout_ms: 30_000,
            outgoing_timeout_ms: 30_000,
            outgoing_max_response_bytes: 8 << 20,
        }
    }
}

impl HttpConfig {
    /// The address to listen on; `None` when serving is off.
    pub fn listen(&self) -> Result<Option<SocketAddr>> {
        match self.addr.trim() {
            "" | "off" => Ok(None),
            a => a.parse().map(Some).map_err(|e| {
                Error::Config(format!("http.addr `{a}` is not host:port or `off`: {e}"))
            }),
        }
    }

    /// Checks the ranges serde cannot.
    pub fn validate(&self) -> Result<()> {
        self.listen()?;
        let positive = [
            ("http.max_body_bytes", self.max_body_bytes as u64),
            ("http.max_response_bytes", self.max_response_bytes as u64),
            ("http.request_timeout_ms", self.request_timeout_ms),
            ("http.outgoing_timeout_ms", self.outgoing_timeout_ms),
            (
                "http.outgoing_max_response_bytes",
                self.outgoing_max_response_bytes as u64,
            ),
        ];
        match positive.iter().find(|(_, v)| *v == 0) {
            Some((name, _)) => Err(Error::Config(format!("{name} must be positive"))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listener_is_an_address_or_off() {
        let mut c = HttpConfig::default();
        assert_eq!(c.listen().unwrap(), Some(([127, 0, 0, 1], 8088).into()));
        c.addr = "off".into();
        assert_eq!(c.listen().unwrap(), None);
        c.addr = "nowhere".into();
        assert!(c.validate().is_err());
    }
}
