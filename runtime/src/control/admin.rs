//! The operator's door into a running runtime: an HTTP API on 127.0.0.1, authenticated with a
//! bearer token, used by the `botbox kv ...` and `botbox backup` commands.
//!
//! | method and path | what |
//! |---|---|
//! | `GET /v1/kv/{module}/keys/{hex key}` | the value (raw bytes), 404 when absent |
//! | `PUT /v1/kv/{module}/keys/{hex key}` | stores the body as the value |
//! | `DELETE /v1/kv/{module}/keys/{hex key}` | removes the key: `{"existed": bool}` |
//! | `GET /v1/kv/{module}/scan?prefix=&after=&limit=` | a page: `{"entries":[{"key_hex","value_hex"}],"next_hex"}` |
//! | `GET /v1/kv/{module}/export` | every entry as JSON lines (see [`kv_ops::Line`]) |
//! | `POST /v1/kv/{module}/import` | JSON lines in, applied atomically; `{"imported": n}` |
//! | `POST /v1/backup` | a consistent snapshot of the whole database (see [`crate::backup`]) |
//! | `GET /v1/outbox` | the outbox metrics |
//! | `GET /healthz` | `ok` while the database answers; no token needed (see [`ops`]) |
//! | `GET /metrics` | Prometheus text format; no token needed (see [`ops`]) |
//! | `GET /v1/modules` | every module: name, version, hash, state, shards, calls, errors, traps, latency, capabilities |
//! | `POST /v1/modules` | body: a component; adds it (409 when its name is taken) |
//! | `GET /v1/modules/{name}` | one module |
//! | `PUT /v1/modules/{name}` | body: a component; swaps the module for it (404 when absent; 409 with `awaiting_approval` when it asks for more, unless `?approve=true`) |
//! | `POST /v1/modules/{name}/approve` | swaps in the version awaiting approval |
//! | `DELETE /v1/modules/{name}` | stops and removes the module and its file (its KV data stays) |
//! | `POST /v1/modules/{name}/rollback` | back to the previous version |
//! | `POST /v1/modules/{name}/enable`, `.../disable` | start or stop routing updates to it |
//! | `PUT /v1/modules/{name}/config` | body: a JSON object; the module restarts with it |
//! | `GET /v1/modules/{name}/logs?lines=` | its last log lines and what the host did with it |
//! | `GET /v1/quarantine` | updates given up after failing: module, update id, reason |
//! | `GET /v1/quarantine/{module}/{update}` | one, with the update's JSON (`update`) |
//! | `POST /v1/quarantine/{module}/{update}/retry` | hands it back to its module |
//! | `DELETE /v1/quarantine/{module}/{update}` | forgets it |
//! | `POST /v1/console/link` | a one-time login link for the console: `{"path","valid_secs"}` |
//! | `/console/...` | the web console (see [`crate::control::console`]): its own login and cookie |
//!
//! Module changes answer `{"name","version","hash","action","replaced"}`; a refused change
//! answers 422 (or 404, 409) with `{"error": "..."}` saying why, and nothing changed.
//!
//! Keys travel hex-encoded because they are bytes. Without a configured token the runtime makes
//! one at start and keeps it in `<data_dir>/admin.token` (readable by its owner only), where the
//! CLI finds it; `POST /v1/admin/token` replaces it (the old one is refused at once). The same
//! routes answer on the Unix socket `<data_dir>/admin.sock` (0600), which the CLI prefers.

pub mod kv_ops;
pub(crate) mod modules_api;
pub mod monitoring;
pub mod quarantine_ops;
mod server;

use std::path::Path;

use crate::{Error, Result};

pub use server::{ConsoleParts, Listen, parse_lines, serve};

/// The file the admin API's address is written to at start.
pub fn addr_path(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("admin.addr")
}

/// Writes the admin API's address for the CLI.
pub fn write_addr(data_dir: &Path, addr: std::net::SocketAddr) -> Result<()> {
    let path = addr_path(data_dir);
    std::fs::write(&path, addr.to_string()).map_err(|e| Error::io(&path, e))
}

/// Removes the admin API's address and socket at shutdown, so that no command sends the token to whatever
/// listens there next.
pub fn remove_addr(data_dir: &Path) {
    for path in [addr_path(data_dir), socket_path(data_dir)] {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("cannot remove {}: {e}", path.display()),
        }
    }
}

/// The admin API's proof that it knows `token`, for a client's `nonce` (`GET /v1/hello`):
/// HMAC-SHA256 of the nonce under the token, in hex. A client checks it before it sends the
/// token, so a process that took the port of a stopped bot never receives it.
pub fn proof(token: &str, nonce: &str) -> String {
    use hmac::{Mac, digest::KeyInit};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(token.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(b"botbox-admin-hello:");
    mac.update(nonce.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The file the generated admin token is kept in.
pub fn token_path(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("admin.token")
}

/// The configured token, or the one in the data directory, made on first use.
pub fn token(configured: &str, data_dir: &Path) -> Result<String> {
    if !configured.is_empty() {
        return Ok(configured.to_string());
    }
    let path = token_path(data_dir);
    if let Ok(t) = std::fs::read_to_string(&path)
        && !t.trim().is_empty()
    {
        return Ok(t.trim().to_string());
    }
    std::fs::create_dir_all(data_dir).map_err(|e| Error::io(data_dir, e))?;
    let token = fresh_token();
    write_private(&path, &token)?;
    Ok(token)
}

/// A new admin token, kept in the data directory in place of the old one (written whole: a
/// temporary file renamed into place). The running admin API takes it at once
/// (`POST /v1/admin/token`, `botbox admin rotate-token`).
pub fn rotate_token(data_dir: &Path) -> Result<String> {
    let token = fresh_token();
    let path = token_path(data_dir);
    let tmp = data_dir.join("admin.token.new");
    write_private(&tmp, &token)?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    Ok(token)
}

/// 128 random bits in hex.
fn fresh_token() -> String {
    use rand::Rng;
    hex::encode(rand::rng().random::<[u8; 16]>())
}

/// The admin API's Unix socket: reachable only by the bot's own user (the data directory is
/// 0700, the socket 0600). The CLI prefers it to the TCP address.
pub fn socket_path(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("admin.sock")
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    let mut file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
    }
    .map_err(|e| Error::io(path, e))?;
    #[cfg(not(unix))]
    let mut file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| Error::io(path, e))
}
