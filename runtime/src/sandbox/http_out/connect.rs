//! Where an outgoing request connects: the host resolves the granted name itself, checks every
//! address it resolves to (see `addresses.rs`), and connects only to addresses it checked, in
//! the resolver's order. Nothing resolves the name a second time.
//!
//! Resolution is `tokio::net::lookup_host`, the system resolver (`getaddrinfo` on a blocking
//! thread): the same answers the connection got before, `/etc/hosts` included, and no second
//! resolver to configure. The addresses it returns are what is checked and connected to.

use std::{
    collections::HashSet,
    net::{IpAddr, SocketAddr},
};

use ipnet::IpNet;
use tokio::net::TcpStream;
use wasmtime_wasi_http::Error;

use super::addresses;
use crate::sandbox::GuestLog;

/// Host names whose refused addresses a module's log has already told about: each is told
/// once, so a module asking again and again does not fill its log with the same line.
#[derive(Debug, Default)]
pub struct Told(parking_lot::Mutex<HashSet<String>>);

/// How many names [`Told`] remembers; past them every refusal is told (the module's log rate
/// limit still applies). Module-controlled count: bounded here.
const TOLD_MAX: usize = 1024;

impl Told {
    /// Whether `host` is told about now (the first time, or when too many were told).
    fn first(&self, host: &str) -> bool {
        let mut told = self.0.lock();
        if told.contains(host) {
            return false;
        }
        if told.len() < TOLD_MAX {
            told.insert(host.to_string());
        }
        true
    }
}

/// What a request needs to connect: the addresses the operator granted beyond the public ones,
/// and where to say why an address was refused.
pub struct Reach<'a> {
    /// The operator's `http_private` for the module (and loopback under `botbox dev`).
    pub granted: &'a [IpNet],
    /// The module's log.
    pub log: &'a GuestLog,
    /// The names already told about.
    pub told: &'a Told,
}

/// Resolves `host`, keeps the addresses the module may reach and connects to the first that
/// answers. A name with no such address is refused with `HTTP-request-denied`, before any
/// connection is made.
pub async fn connect(host: &str, port: u16, reach: Reach<'_>) -> Result<TcpStream, Error> {
    // `http::Uri::host` keeps an IPv6 literal's brackets.
    let name = host.trim_start_matches('[').trim_end_matches(']');
    let resolved: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
        .await
        .map_err(|e| Error::DnsError {
            rcode: Some(e.to_string()),
            info_code: None,
        })?
        .collect();
    let (checked, refused) = check(&resolved, reach.granted);
    if !refused.is_empty() && reach.told.first(name) {
        let what = if checked.is_empty() {
            "refused"
        } else {
            "skipped (its other addresses are used)"
        };
        reach.log.refusal(&format!(
            "outgoing HTTP to {host}:{port} {what}: it resolves to {}, which the operator has \
             not granted (`[modules.<name>] http_private`)",
            refused.join(", ")
        ));
    }
    if checked.is_empty() {
        return Err(if resolved.is_empty() {
            Error::DestinationNotFound
        } else {
            Error::HttpRequestDenied
        });
    }
    let mut last = None;
    for address in checked {
        match TcpStream::connect(address).await {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = Some(e),
        }
    }
    Err(Error::Connect(
        last.expect("at least one address was tried"),
    ))
}

/// Splits resolved addresses into those the module may reach (canonical: an IPv4-mapped
/// address becomes the IPv4 address it is) and the refused ones, each with its range's name.
fn check(resolved: &[SocketAddr], granted: &[IpNet]) -> (Vec<SocketAddr>, Vec<String>) {
    let mut checked = Vec::new();
    let mut refused = Vec::new();
    for address in resolved {
        let ip: IpAddr = addresses::canonical(address.ip());
        match addresses::allowed(ip, granted) {
            Ok(()) => checked.push(SocketAddr::new(ip, address.port())),
            Err(range) => refused.push(format!("{ip}, {range}")),
        }
    }
    (checked, refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn only_checked_addresses_are_kept_in_order_and_mapped_ones_become_ipv4() {
        let resolved = addrs(&[
            "[::1]:80",
            "127.0.0.1:80",
            "[::ffff:127.0.0.1]:80",
            "1.1.1.1:80",
        ]);
        let (checked, refused) = check(&resolved, &[]);
        assert_eq!(checked, addrs(&["1.1.1.1:80"]));
        assert_eq!(refused.len(), 3, "{refused:?}");
        assert!(refused[0].starts_with("::1, loopback"), "{refused:?}");
        let granted = ["127.0.0.0/8".parse().unwrap()];
        let (checked, refused) = check(&resolved, &granted);
        assert_eq!(
            checked,
            addrs(&["127.0.0.1:80", "127.0.0.1:80", "1.1.1.1:80"])
        );
        assert_eq!(refused.len(), 1);
    }

    #[test]
    fn a_name_is_told_about_once_and_the_memory_is_bounded() {
        let told = Told::default();
        assert!(told.first("a.example") && !told.first("a.example"));
        for i in 0..TOLD_MAX * 2 {
            told.first(&format!("h{i}.example"));
        }
        assert_eq!(told.0.lock().len(), TOLD_MAX);
        assert!(told.first("new.example") && told.first("new.example"));
    }

    #[tokio::test]
    async fn localhost_is_refused_without_a_grant_and_connects_with_one() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = GuestLog::new("probe".into(), 60, 10);
        let told = Told::default();
        for host in ["localhost", "127.0.0.1", "[::1]"] {
            let reach = Reach {
                granted: &[],
                log: &log,
                told: &told,
            };
            let refused = connect(host, port, reach).await.unwrap_err();
            assert!(
                matches!(refused, Error::HttpRequestDenied),
                "{host}: {refused}"
            );
        }
        // One line per name, saying which address and range were refused.
        let lines: Vec<String> = log.tail(10).into_iter().map(|l| l.text).collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(
            lines[0].contains("localhost") && lines[0].contains("loopback"),
            "{lines:?}"
        );
        assert!(
            lines[1].contains("127.0.0.1, loopback (127.0.0.0/8)"),
            "{lines:?}"
        );
        let granted = ["127.0.0.1/32".parse().unwrap()];
        let reach = Reach {
            granted: &granted,
            log: &log,
            told: &told,
        };
        let tcp = connect("localhost", port, reach).await.unwrap();
        assert_eq!(tcp.peer_addr().unwrap().ip(), IpAddr::from([127, 0, 0, 1]));
    }
}
