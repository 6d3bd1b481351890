//! What the cluster says of itself: Patroni's REST API (`GET /cluster`), etcd's health, read
//! over a plain HTTP/1.0 request (no client library needed for three local GETs).

use std::{
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpStream},
    time::Duration,
};

use crate::{Error, err};

/// One member as Patroni's `/cluster` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberStatus {
    /// Its name (`pg0`, `pg1`, `pg2`).
    pub name: String,
    /// `leader`, `sync_standby` or `replica` (Patroni's words).
    pub role: String,
    /// `running`, `streaming`, `starting`, `stopped`, … (Patroni's words).
    pub state: String,
    /// Its PostgreSQL timeline.
    pub timeline: Option<u64>,
}

impl MemberStatus {
    /// Whether its PostgreSQL runs (as primary or as a standby replaying the primary's WAL).
    pub fn is_up(&self) -> bool {
        matches!(self.state.as_str(), "running" | "streaming")
    }
}

/// The body of `GET path` on 127.0.0.1:`port`, if it answers 200 within a couple of seconds.
pub(crate) fn http_get(port: u16, path: &str) -> Result<String, Error> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let fail = |e: std::io::Error| err(format!("GET 127.0.0.1:{port}{path}: {e}"));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).map_err(fail)?;
    s.set_read_timeout(Some(Duration::from_secs(3)))
        .map_err(fail)?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").map_err(fail)?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).map_err(fail)?;
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| err(format!("GET 127.0.0.1:{port}{path}: no HTTP answer: {raw}")))?;
    let status_line = head.lines().next().unwrap_or_default();
    if !status_line.contains(" 200 ") {
        return Err(err(format!(
            "GET 127.0.0.1:{port}{path}: {status_line}: {body}"
        )));
    }
    Ok(body.to_string())
}

/// The members Patroni's REST API on `api_port` lists.
pub(crate) fn cluster(api_port: u16) -> Result<Vec<MemberStatus>, Error> {
    let body = http_get(api_port, "/cluster")?;
    parse_cluster(&body)
}

fn parse_cluster(body: &str) -> Result<Vec<MemberStatus>, Error> {
    let v: serde_json::Value = serde_json::from_str(body)
        .map_err(|e| err(format!("Patroni's /cluster is not JSON ({e}): {body}")))?;
    let members = v
        .get("members")
        .and_then(|m| m.as_array())
        .ok_or_else(|| err(format!("Patroni's /cluster lists no members: {body}")))?;
    let text = |m: &serde_json::Value, k: &str| {
        m.get(k)
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_string()
    };
    Ok(members
        .iter()
        .map(|m| MemberStatus {
            name: text(m, "name"),
            role: text(m, "role"),
            state: text(m, "state"),
            timeline: m.get("timeline").and_then(|t| t.as_u64()),
        })
        .collect())
}

/// Whether etcd on `client_port` says it is healthy.
pub(crate) fn etcd_healthy(client_port: u16) -> bool {
    http_get(client_port, "/health").is_ok_and(|b| b.contains("\"health\":\"true\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patroni_cluster_answers_are_read() {
        let body = r#"{"members": [
            {"name": "pg0", "role": "leader", "state": "running", "api_url": "x", "timeline": 2},
            {"name": "pg1", "role": "sync_standby", "state": "streaming", "lag": 0, "timeline": 2},
            {"name": "pg2", "role": "replica", "state": "starting"}], "scope": "botbox-test"}"#;
        let m = parse_cluster(body).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].role, "leader");
        assert_eq!(m[0].timeline, Some(2));
        assert!(m[1].is_up());
        assert!(!m[2].is_up());
        assert!(parse_cluster("{}").is_err());
    }
}
