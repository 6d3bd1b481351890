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
    /// to `<data_dir>/http.addr`. An address that cannot be bound stops the start.
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
    /// Connections open to the listener at once, all modules together; past it a new
    /// connection gets 503 and is closed.
    pub max_connections: usize,
    /// Requests being served by modules at once, all modules together; past it 503. Each holds
    /// an instance from the sandbox's pool (see [`MAX_HTTP_INSTANCES`]).
    pub max_requests_in_flight: usize,
    /// Requests being served by one module at once; past it 503.
    pub module_max_requests_in_flight: usize,
    /// Wall time a client has to send a request's head (and, on a new connection, its first
    /// bytes), in milliseconds; past it the connection is closed. An idle keep-alive
    /// connection is closed after it too.
    pub header_read_timeout_ms: u64,
    /// Outgoing requests one module may have in flight (connect to the end of the response),
    /// all its instances together; past it a request fails with `connection-limit-reached`.
    pub outgoing_max_in_flight: usize,
    /// Outgoing requests one instance (one shard, one HTTP request) may have in flight; past
    /// it a request fails with `connection-limit-reached`.
    pub outgoing_max_in_flight_per_instance: usize,
    /// Non-public addresses every module's outgoing HTTP may reach, besides each module's own
    /// `http_private`. Not read from the file: `botbox dev` and `botbox test-runner` set it to
    /// loopback ([`super::http_private::LOOPBACK`]); a running bot leaves it empty.
    #[serde(skip)]
    pub private_for_every_module: Vec<ipnet::IpNet>,
}

/// The most instances incoming HTTP requests may hold at once, all modules together: half of
/// the 1000 component instances the sandbox's pooling allocator holds for every module
/// (`total_component_instances` in `sandbox.rs`). The other half stays for the shards
/// (`sandbox.shards` per module, 2 by default), canaries, and the few idle instances each
/// module keeps for its next requests (at most 4, `modules/http_request.rs`), so requests can
/// never take the instances updates need. `max_requests_in_flight` may not exceed it, and
/// `module_max_requests_in_flight` may not exceed `max_requests_in_flight`. With the defaults
/// (64 and 16) requests hold at most 64 instances, leaving 936: a bot of 150 modules (2 shards
/// and 4 idle each) still fits.
pub const MAX_HTTP_INSTANCES: usize = 500;

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            addr: "127.0.0.1:8088".into(),
            max_body_bytes: 1 << 20,
            max_response_bytes: 8 << 20,
            request_timeout_ms: 30_000,
            outgoing_timeout_ms: 30_000,
            outgoing_max_response_bytes: 8 << 20,
            max_connections: 256,
            max_requests_in_flight: 64,
            module_max_requests_in_flight: 16,
            header_read_timeout_ms: 10_000,
            outgoing_max_in_flight: 64,
            outgoing_max_in_flight_per_instance: 16,
            private_for_every_module: Vec::new(),
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
            ("http.max_connections", self.max_connections as u64),
            (
                "http.max_requests_in_flight",
                self.max_requests_in_flight as u64,
            ),
            (
                "http.module_max_requests_in_flight",
                self.module_max_requests_in_flight as u64,
            ),
            ("http.header_read_timeout_ms", self.header_read_timeout_ms),
            (
                "http.outgoing_max_in_flight",
                self.outgoing_max_in_flight as u64,
            ),
            (
                "http.outgoing_max_in_flight_per_instance",
                self.outgoing_max_in_flight_per_instance as u64,
            ),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(Error::Config(format!("{name} must be positive")));
        }
        if self.max_requests_in_flight > MAX_HTTP_INSTANCES {
            return Err(Error::Config(format!(
                "http.max_requests_in_flight must be at most {MAX_HTTP_INSTANCES}: the rest of \
                 the sandbox's instances are kept for the shards"
            )));
        }
        if self.module_max_requests_in_flight > self.max_requests_in_flight {
            return Err(Error::Config(
                "http.module_max_requests_in_flight must be at most http.max_requests_in_flight"
                    .into(),
            ));
        }
        Ok(())
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

    #[test]
    fn caps_and_timeouts_must_be_positive_and_leave_instances_to_the_shards() {
        assert!(HttpConfig::default().validate().is_ok());
        let refused = |f: fn(&mut HttpConfig), what: &str| {
            let mut c = HttpConfig::default();
            f(&mut c);
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains(what), "{err}");
        };
        refused(|c| c.max_connections = 0, "http.max_connections");
        refused(
            |c| c.header_read_timeout_ms = 0,
            "http.header_read_timeout_ms",
        );
        refused(
            |c| c.outgoing_max_in_flight = 0,
            "http.outgoing_max_in_flight",
        );
        refused(
            |c| c.outgoing_max_in_flight_per_instance = 0,
            "http.outgoing_max_in_flight_per_instance",
        );
        refused(
            |c| c.max_requests_in_flight = MAX_HTTP_INSTANCES + 1,
            "kept for the shards",
        );
        refused(
            |c| c.module_max_requests_in_flight = c.max_requests_in_flight + 1,
            "http.module_max_requests_in_flight",
        );
    }
}
