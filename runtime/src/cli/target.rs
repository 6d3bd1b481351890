//! Where an operator's command acts: the running bot (through its admin API, found through
//! `<data_dir>/admin.addr` and `admin.token`) or the stopped one (on the database directly).
//! Which one is decided by the database's lock: if this process can open the database, the
//! runtime is not running. A stopped node of a bot on PostgreSQL (`[store] url`) reads and
//! writes the modules' KV in that database, as a running node's admin API does.

use anyhow::{Context, bail};
use tokio::sync::{mpsc, watch};

use crate::{
    Config, Error,
    control::admin::{self, kv_ops::KvOps},
    store::{Committer, Db},
};

/// The bot a command acts on.
pub(crate) enum Target {
    Online {
        url: String,
        token: String,
        http: reqwest::Client,
    },
    Offline {
        db: std::sync::Arc<Db>,
        ops: Box<KvOps>,
        _keep: (
            mpsc::UnboundedReceiver<(u64, crate::outbox::Entry)>,
            watch::Receiver<Option<String>>,
        ),
    },
}

pub(crate) async fn target(config: &Config) -> anyhow::Result<Target> {
    let dir = &config.data_dir;
    if !dir.join("botbox.redb").exists() {
        bail!(
            "no botbox database in {} (set data_dir or BOTBOX_DATA_DIR)",
            dir.display()
        );
    }
    match Db::open(dir) {
        Ok(db) => {
            let db = std::sync::Arc::new(db);
            let (tx, rx) = mpsc::unbounded_channel();
            let (fatal, fatal_rx) = watch::channel(None);
            let committer = Committer::start(db.raw().clone(), tx, fatal)?;
            let quota = config.kv_quota();
            let mut ops = KvOps::offline(db.clone(), committer, config.kv_limits(), quota);
            if let Some(url) = config.store.postgres() {
                // The modules' KV is in the bot's PostgreSQL database, not in this node's file.
                let pg = crate::store::pg::PgStore::open(url)
                    .await
                    .context("`store.url`: cannot reach the bot's PostgreSQL database")?;
                ops = ops.offline_pg(pg.pool().clone());
            }
            Ok(Target::Offline {
                db,
                ops: Box::new(ops),
                _keep: (rx, fatal_rx),
            })
        }
        Err(Error::Database(redb::Error::DatabaseAlreadyOpen)) => {
            let AdminApi { url, token, http } = AdminApi::find(config).await?;
            Ok(Target::Online { url, token, http })
        }
        Err(e) => Err(e).context("cannot open the database"),
    }
}

pub(crate) fn bytes_of(s: &str, hex: bool) -> anyhow::Result<Vec<u8>> {
    if hex {
        hex::decode(s).context("not hex")
    } else {
        Ok(s.as_bytes().to_vec())
    }
}

/// A key or value for the terminal: text with its control characters escaped (a module wrote
/// it), or hex when it is not UTF-8 or `hex` is asked for. `whole` keeps its newlines and tabs
/// (one value printed alone) instead of escaping them (one line of a listing).
pub(crate) fn show(v: &[u8], hex: bool, whole: bool) -> String {
    match (hex, std::str::from_utf8(v)) {
        (false, Ok(t)) if whole => crate::text::printable_lines(t).into_owned(),
        (false, Ok(t)) => crate::text::printable(t, usize::MAX).into_owned(),
        _ => hex::encode(v),
    }
}

/// The running bot's admin API, verified to hold the token before the token is sent.
pub(crate) struct AdminApi {
    /// Its base URL (over the Unix socket, the host part means nothing).
    pub(crate) url: String,
    /// The admin token.
    pub(crate) token: String,
    /// A client that reaches it.
    pub(crate) http: reqwest::Client,
}

impl AdminApi {
    /// Finds the bot's admin API: its Unix socket in the data directory when it answers (only
    /// the bot's user can reach it), else the TCP address in `admin.addr`.
    pub(crate) async fn find(config: &crate::Config) -> anyhow::Result<AdminApi> {
        let dir = &config.data_dir;
        let token = admin::token(config.admin.token.expose(), dir)?;
        let socket = admin::socket_path(dir);
        if socket.exists() {
            let http = reqwest::Client::builder().unix_socket(socket).build()?;
            let url = "http://botbox".to_string();
            if verify_admin(&http, &url, &token).await.is_ok() {
                return Ok(AdminApi { url, token, http });
            }
        }
        let addr = std::fs::read_to_string(admin::addr_path(dir)).with_context(|| {
            format!(
                "is the bot running? no admin address in {} (data_dir)",
                dir.display()
            )
        })?;
        let url = format!("http://{}", addr.trim());
        let http = reqwest::Client::new();
        verify_admin(&http, &url, &token).await?;
        Ok(AdminApi { url, token, http })
    }
}

/// Sends `req` to the admin API with the token; an error status becomes an error naming it.
pub(crate) async fn call(
    url: &str,
    token: &str,
    req: reqwest::RequestBuilder,
) -> anyhow::Result<reqwest::Response> {
    let resp = req
        .bearer_auth(token)
        .send()
        .await
        .with_context(|| format!("cannot reach the admin API at {url}"))?;
    if resp.status().is_client_error() || resp.status().is_server_error() {
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if status == reqwest::StatusCode::NOT_FOUND && text.starts_with("no such key") {
            return Ok(reqwest::Response::from(http_404()));
        }
        bail!("{status}: {}", text.trim());
    }
    Ok(resp)
}

fn http_404() -> axum::http::Response<Vec<u8>> {
    let mut r = axum::http::Response::new(Vec::new());
    *r.status_mut() = axum::http::StatusCode::NOT_FOUND;
    r
}

/// Checks that the admin API at `url` is the bot that holds `token`, before the token is sent
/// there: it must answer a fresh nonce with the proof only the token's holder can compute (a
/// process that took the port of a stopped bot cannot).
pub(crate) async fn verify_admin(
    http: &reqwest::Client,
    url: &str,
    token: &str,
) -> anyhow::Result<()> {
    let nonce = {
        use rand::Rng;
        hex::encode(rand::rng().random::<[u8; 16]>())
    };
    let answer: serde_json::Value = http
        .get(format!("{url}/v1/hello"))
        .query(&[("nonce", &nonce)])
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| {
            format!("the bot's admin API at {url} does not answer: is the bot running?")
        })?
        .json()
        .await
        .with_context(|| format!("what answers at {url} is not botbox's admin API"))?;
    let proof = answer["proof"].as_str().unwrap_or_default();
    let expected = admin::proof(token, &nonce);
    let same = proof.len() == expected.len()
        && proof
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        bail!(
            "what answers at {url} is not this bot: it cannot prove it holds the admin token, so the token was not sent (is the bot running? an address left by a bot that was killed may be someone else's now)"
        );
    }
    Ok(())
}
