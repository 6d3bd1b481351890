//! Connections to PostgreSQL with the store's statements prepared, and a small pool of them.

use parking_lot::Mutex;
use tokio_postgres::{Client, NoTls, Statement};

use super::{SCHEMA, io};
use crate::store::kv::KvError;

/// Idle connections kept for reuse.
const MAX_IDLE: usize = 64;

/// The statements of the KV, prepared once per connection (so a query is one message, and
/// queries can be pipelined: an unprepared one would wait for its `Parse` answer first).
pub(crate) struct Statements {
    pub get: Statement,
    pub range_to: Statement,
    pub range_open: Statement,
    pub upsert: Statement,
    pub delete: Statement,
    pub usage: Statement,
    pub add_usage: Statement,
    pub open_usage: Statement,
    /// A unit of work's rows (`unit.rs`).
    pub unit: super::unit::Statements,
}

/// One connection and its statements.
pub struct Conn {
    pub(crate) client: Client,
    pub(crate) st: Statements,
}

impl Conn {
    /// Connects to `url` (a libpq-style string or a `postgres://` URL) and prepares the
    /// statements. The connection's I/O runs on a task of the current tokio runtime.
    pub async fn connect(url: &str) -> Result<Conn, KvError> {
        let (client, connection) = tokio_postgres::connect(url, NoTls)
            .await
            .map_err(|e| io(&e))?;
        tokio::spawn(async move {
            // Its errors reach the client's calls; nothing else to do with them here.
            let _ = connection.await;
        });
        // A sequential scan in a SERIALIZABLE transaction locks the whole table for SSI, so
        // every concurrent write to it becomes a conflict and a rerun (PostgreSQL's manual,
        // "Serializable Isolation Level", advises steering the planner to index scans). On a
        // small or fresh table the planner prefers them: measured, a freshly loaded table ran
        // clicks at 301/s with 43,403 reruns in 8 s, the same table later at 4,159/s with none
        // (pg-units-bench). Every statement here is a key lookup or a key range.
        client
            .batch_execute("SET enable_seqscan = off")
            .await
            .map_err(|e| io(&e))?;
        let prepare = |sql: &'static str| client.prepare(sql);
        let (get, range_to, range_open, upsert, delete, usage, add_usage, open_usage) =
            futures::try_join!(
                prepare("SELECT v FROM botbox_kv WHERE ns = $1 AND k = $2"),
                prepare(
                    "SELECT k, v FROM botbox_kv WHERE ns = $1 AND k >= $2 AND k < $3 \
                     ORDER BY k LIMIT $4"
                ),
                prepare("SELECT k, v FROM botbox_kv WHERE ns = $1 AND k >= $2 ORDER BY k LIMIT $3"),
                prepare(
                    "INSERT INTO botbox_kv (ns, k, v) \
                     SELECT $1, k, v FROM unnest($2::bytea[], $3::bytea[]) AS t(k, v) \
                     ON CONFLICT (ns, k) DO UPDATE SET v = EXCLUDED.v"
                ),
                prepare("DELETE FROM botbox_kv WHERE ns = $1 AND k = ANY($2::bytea[])"),
                prepare("SELECT bytes, keys FROM botbox_kv_usage WHERE ns = $1"),
                prepare(
                    "UPDATE botbox_kv_usage SET bytes = bytes + $2, keys = keys + $3 \
                     WHERE ns = $1"
                ),
                prepare(
                    "INSERT INTO botbox_kv_usage (ns, bytes, keys) VALUES ($1, 0, 0) \
                     ON CONFLICT (ns) DO NOTHING"
                ),
            )
            .map_err(|e| io(&e))?;
        let unit = super::unit::Statements::prepare(&client)
            .await
            .map_err(|e| io(&e))?;
        let st = Statements {
            unit,
            get,
            range_to,
            range_open,
            upsert,
            delete,
            usage,
            add_usage,
            open_usage,
        };
        Ok(Conn { client, st })
    }
}

/// Connections to one database, made on demand and reused.
pub struct Pool {
    url: String,
    idle: Mutex<Vec<Conn>>,
}

impl Pool {
    /// A pool for `url`; creates the store's tables if they do not exist yet.
    pub async fn open(url: &str) -> Result<Pool, KvError> {
        let (client, connection) = tokio_postgres::connect(url, NoTls)
            .await
            .map_err(|e| io(&e))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client.batch_execute(SCHEMA).await.map_err(|e| io(&e))?;
        Ok(Pool {
            url: url.to_string(),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// An idle connection, or a new one. Connections that broke are dropped, not reused.
    pub async fn get(&self) -> Result<Conn, KvError> {
        loop {
            let conn = self.idle.lock().pop();
            match conn {
                Some(c) if !c.client.is_closed() => return Ok(c),
                Some(_) => {}
                None => return Conn::connect(&self.url).await,
            }
        }
    }

    /// Gives back a connection that is outside any transaction.
    pub fn put(&self, conn: Conn) {
        let mut idle = self.idle.lock();
        if !conn.client.is_closed() && idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}
